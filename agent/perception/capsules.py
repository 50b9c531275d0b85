"""A capsule scene parser in the style of Stacked Capsule Autoencoders (Kosiorek et al., 2019).

Part capsules (PCAE): a CNN with attention pooling gives K parts per glimpse, each with
a pose (an affine transform), a presence probability and a feature vector. The image
is explained as a per-pixel mixture of K learned templates, each warped by its part's
pose and coloured from its features, plus a background component.

Object capsules (OCAE): the parts, with gradients stopped, pass through a Set
Transformer (self-attention masked by part presence) and are pooled by multi-head
attention into M object capsules. Each object has a presence, an object-to-viewer
pose and, for every part, an object-to-part pose, a vote presence and a vote scale.
Votes (OV @ OP) form, for each part, a mixture over objects under which the part's
pose should be likely. Sparsity terms on presences keep objects few per image and
every object capsule in use.

Every log has an epsilon, every division a floor, and the poses are bounded, because
PyTorch ports of SCAE are known for NaN losses.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import NamedTuple

import torch
from torch import nn
from torch.nn import functional as F

from agent.weights import building, load_weights, make_spec, read_model_config, save_model_files

EPS = 1e-6


@dataclass
class CapsuleSpec:
    n_parts: int = 16  # K part capsules per glimpse
    n_objects: int = 8  # M object capsules
    template_size: int = 11  # pixels per side of each learned template
    part_feature_dim: int = 16
    object_feature_dim: int = 32
    channels: list[int] = field(default_factory=lambda: [32, 64])  # part encoder CNN
    set_dim: int = 64  # width of the Set Transformer
    set_heads: int = 4
    set_layers: int = 2
    pixel_std: float = 0.08  # std of the per-pixel Gaussian of the image likelihood
    expected_objects: float = 4.0  # prior: object capsules present per image
    located_parts: bool = True  # part translation = soft-argmax of its attention map (False: regressed)


class PartCapsules(NamedTuple):
    pose: torch.Tensor  # (B, K, 3, 3) part-to-viewer affine
    presence: torch.Tensor  # (B, K)
    features: torch.Tensor  # (B, K, F)
    colour: torch.Tensor  # (B, K, 3)
    background: torch.Tensor  # (B, 3)


class ObjectCapsules(NamedTuple):
    pose: torch.Tensor  # (B, M, 3, 3) object-to-viewer
    presence: torch.Tensor  # (B, M)
    features: torch.Tensor  # (B, M, Fo)
    votes: torch.Tensor  # (B, M, K, 3, 3) predicted part poses
    vote_presence: torch.Tensor  # (B, M, K)
    vote_scale: torch.Tensor  # (B, M, K)


class ObjectPlaces(NamedTuple):
    """Where each object capsule is in the glimpse: the parts it explains, not its free pose.

    An object-to-viewer pose composed with object-to-part poses can put the object's own
    translation anywhere (only the votes must land on the parts), so the place read out
    for evaluation, the scene memory and the equivariance term is the centroid of the part
    translations the object claims, weighted by part presence and the posterior. Likewise its
    presence: the sparsity prior holds every object's own presence near expected/M in every
    glimpse (0.50 +- 0.01 measured on held-out fovea and periphery glimpses), so whether an
    object is there is read from the parts it owns.
    """

    position: torch.Tensor  # (B, M, 2) normalised image coordinates
    parts: torch.Tensor  # (B, M) expected number of present parts the object explains
    present: torch.Tensor  # (B, M) min(1, parts): above 0.5 when the object owns more than half a part


def pose_from_params(raw: torch.Tensor, min_scale: float = 0.05) -> torch.Tensor:
    """6 unconstrained numbers -> a bounded 3x3 affine: translation, scales, rotation, shear."""
    tx, ty = torch.tanh(raw[..., 0]), torch.tanh(raw[..., 1])
    sx = min_scale + (1 - min_scale) * torch.sigmoid(raw[..., 2])
    sy = min_scale + (1 - min_scale) * torch.sigmoid(raw[..., 3])
    theta = math.pi * torch.tanh(raw[..., 4])
    shear = 0.5 * torch.tanh(raw[..., 5])
    c, s = torch.cos(theta), torch.sin(theta)
    zero, one = torch.zeros_like(tx), torch.ones_like(tx)
    rows = [
        torch.stack([c * sx, c * shear * sy - s * sy, tx], -1),
        torch.stack([s * sx, s * shear * sy + c * sy, ty], -1),
        torch.stack([zero, zero, one], -1),
    ]
    return torch.stack(rows, -2)


def pose_vector(pose: torch.Tensor) -> torch.Tensor:
    """The 6 free entries of an affine (its top two rows)."""
    return pose[..., :2, :].flatten(-2)


def _coords(h: int, w: int, device) -> torch.Tensor:
    ys = torch.linspace(-1, 1, h, device=device)
    xs = torch.linspace(-1, 1, w, device=device)
    yy, xx = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([xx, yy])  # (2, H, W)


class PartEncoder(nn.Module):
    """Glimpse -> K part capsules, by attention pooling over the CNN's feature map (as in SCAE)."""

    def __init__(self, spec: CapsuleSpec):
        super().__init__()
        k, widths = spec.n_parts, [3, *spec.channels]
        layers = []
        for a, b in zip(widths[:-1], widths[1:]):
            layers += [nn.Conv2d(a, b, 3, stride=2, padding=1), nn.ReLU(inplace=True),
                       nn.Conv2d(b, b, 3, padding=1), nn.ReLU(inplace=True)]
        self.cnn = nn.Sequential(*layers)
        c = widths[-1] + 2  # + coordinate channels, so that pooled vectors know where they came from
        self.attention = nn.Conv2d(c, k, 1)
        self.values = nn.Conv2d(c, k * 32, 1)
        out = 6 + 1 + spec.part_feature_dim + 3
        self.heads = nn.Parameter(torch.randn(k, 32, out) * (1 / math.sqrt(32)))
        # Parts start small and spread over the image (a grid of positions), so that each
        # has something of its own to explain instead of all covering the whole glimpse.
        bias = torch.zeros(k, out)
        side = math.ceil(math.sqrt(k))
        cells = torch.linspace(-0.7, 0.7, side)
        bias[:, 0] = torch.atanh(cells.repeat(side)[:k])
        bias[:, 1] = torch.atanh(cells.repeat_interleave(side)[:k])
        bias[:, 2:4] = -1.5  # scale about 0.2 of the glimpse
        self.bias = nn.Parameter(bias)
        self.background = nn.Linear(c, 3)
        self.k = k
        self.feature_dim = spec.part_feature_dim
        self.located = spec.located_parts

    def forward(self, x: torch.Tensor) -> PartCapsules:
        b = x.shape[0]
        fmap = self.cnn(x - 0.5)
        h, w = fmap.shape[-2:]
        fmap = torch.cat([fmap, _coords(h, w, x.device).expand(b, -1, -1, -1)], 1)
        attn = torch.softmax(self.attention(fmap).flatten(2), dim=-1)  # (B, K, HW)
        values = self.values(fmap).flatten(2).view(b, self.k, 32, h * w)
        pooled = (values * attn[:, :, None, :]).sum(-1)  # (B, K, 32)
        out = torch.einsum("bkd,kdo->bko", F.relu(pooled), self.heads) + self.bias
        raw_pose, presence_logit = out[..., :6], out[..., 6]
        if self.located:
            # A part sits where its attention looks (the soft-argmax of its map): the image
            # likelihood then moves the attention itself onto what the template explains.
            # Measured on coloured squares: parts on 89% of squares, against 13% with a
            # translation regressed from the pooled vector.
            where = torch.einsum("bkn,cn->bkc", attn, _coords(h, w, x.device).flatten(1))
            raw_pose = torch.cat([torch.atanh(where.clamp(-0.999, 0.999)), raw_pose[..., 2:]], -1)
        features = out[..., 7:7 + self.feature_dim]
        colour = torch.sigmoid(out[..., 7 + self.feature_dim:])
        background = torch.sigmoid(self.background(fmap.mean(dim=(2, 3))))
        return PartCapsules(pose_from_params(raw_pose), torch.sigmoid(presence_logit), features, colour, background)


class TemplateDecoder(nn.Module):
    """Part capsules -> a per-pixel mixture over warped, coloured templates and a background."""

    def __init__(self, spec: CapsuleSpec):
        super().__init__()
        t = spec.template_size
        # Templates start as soft blobs of different sizes, so that parts have something to move.
        grid = _coords(t, t, "cpu")
        radius = torch.linspace(0.4, 0.9, spec.n_parts)[:, None, None]
        blob = 4.0 * (1 - (grid.pow(2).sum(0, keepdim=True) / radius**2)).clamp(-1, 1)
        self.template_logits = nn.Parameter(blob[:, None] + 0.1 * torch.randn(spec.n_parts, 1, t, t))
        self.background_logit = nn.Parameter(torch.tensor(-1.0))
        self.log_std = math.log(spec.pixel_std)

    def templates(self) -> torch.Tensor:
        return torch.sigmoid(self.template_logits)  # (K, 1, T, T) alpha

    def warp(self, parts: PartCapsules, size: tuple[int, int]) -> torch.Tensor:
        """Templates placed in the image by the part poses: (B, K, H, W) alpha."""
        b, k = parts.presence.shape
        inverse = torch.linalg.inv(parts.pose)[..., :2, :]  # image -> template coordinates
        grid = F.affine_grid(inverse.reshape(b * k, 2, 3), [b * k, 1, *size], align_corners=False)
        alpha = self.templates().repeat(b, 1, 1, 1)
        return F.grid_sample(alpha, grid, padding_mode="zeros", align_corners=False).view(b, k, *size)

    def log_likelihood(self, parts: PartCapsules, image: torch.Tensor) -> tuple[torch.Tensor, dict]:
        """Mean over the batch of the image log-likelihood per pixel, and pictures for people."""
        b, _, h, w = image.shape
        alpha = self.warp(parts, (h, w))
        mix = torch.log(parts.presence[..., None, None] * alpha + EPS)  # (B, K, H, W)
        bg = self.background_logit.expand(b, 1, h, w)
        log_pi = torch.log_softmax(torch.cat([mix, bg], 1), dim=1)  # (B, K+1, H, W)
        colours = torch.cat([parts.colour, parts.background[:, None]], 1)  # (B, K+1, 3)
        diff = image[:, None] - colours[..., None, None]  # (B, K+1, 3, H, W)
        log_n = (-0.5 * (diff / math.exp(self.log_std)).pow(2) - self.log_std - 0.5 * math.log(2 * math.pi)).sum(2)
        ll = torch.logsumexp(log_pi + log_n, dim=1)  # (B, H, W)
        pi = log_pi.exp()
        recon = (pi[:, :, None] * colours[..., None, None]).sum(1)
        return ll.mean(), {"reconstruction": recon, "responsibility": pi, "alpha": alpha}


def _presence_bias(presence: torch.Tensor, heads: int, queries: int) -> torch.Tensor:
    """Attention logits bias that masks absent parts softly: log(presence)."""
    bias = torch.log(presence + EPS)[:, None, None, :]  # (B, 1, 1, K)
    return bias.expand(-1, heads, queries, -1).reshape(-1, queries, presence.shape[1])


class SetBlock(nn.Module):
    """Multi-head attention block of the Set Transformer (MAB), with a presence mask on the keys."""

    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads = heads
        self.attention = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, 2 * dim), nn.ReLU(), nn.Linear(2 * dim, dim))

    def forward(self, queries: torch.Tensor, keys: torch.Tensor, presence: torch.Tensor) -> torch.Tensor:
        bias = _presence_bias(presence, self.heads, queries.shape[1])
        h = self.norm1(queries + self.attention(queries, keys, keys, attn_mask=bias, need_weights=False)[0])
        return self.norm2(h + self.mlp(h))


class ObjectEncoder(nn.Module):
    """Parts -> object capsules: Set Transformer self-attention, then pooling by attention into M seeds."""

    def __init__(self, spec: CapsuleSpec):
        super().__init__()
        k, m, d = spec.n_parts, spec.n_objects, spec.set_dim
        self.k, self.m = k, m
        self.part_embedding = nn.Parameter(torch.randn(k, 16) * 0.1)  # which template a part uses
        self.inp = nn.Linear(6 + spec.part_feature_dim + 3 + 16, d)
        self.blocks = nn.ModuleList([SetBlock(d, spec.set_heads) for _ in range(spec.set_layers)])
        self.seeds = nn.Parameter(torch.randn(1, m, d) * 0.1)
        self.pool = SetBlock(d, spec.set_heads)
        fo = spec.object_feature_dim
        self.object_head = nn.Linear(d, 6 + 1 + fo)
        self.part_head = nn.Linear(fo, k * 8)  # per part: OP (6), vote presence, vote scale
        self.feature_dim = fo

    def forward(self, parts: PartCapsules) -> ObjectCapsules:
        b = parts.presence.shape[0]
        x = torch.cat([pose_vector(parts.pose), parts.features, parts.colour,
                       self.part_embedding.expand(b, -1, -1)], -1)
        h = self.inp(x)
        for block in self.blocks:
            h = block(h, h, parts.presence)
        objects = self.pool(self.seeds.expand(b, -1, -1), h, parts.presence)  # (B, M, d)
        out = self.object_head(objects)
        ov = pose_from_params(out[..., :6])
        presence = torch.sigmoid(out[..., 6])
        features = out[..., 7:]
        per_part = self.part_head(features).view(b, self.m, self.k, 8)
        op = pose_from_params(per_part[..., :6], min_scale=0.1)
        votes = ov[:, :, None] @ op
        vote_presence = torch.sigmoid(per_part[..., 6])
        vote_scale = F.softplus(per_part[..., 7]) + 0.02
        return ObjectCapsules(ov, presence, features, votes, vote_presence, vote_scale)


def part_log_likelihood(parts: PartCapsules, objects: ObjectCapsules) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean over parts (weighted by part presence) of log p(part pose | votes), and the posterior
    over objects for every part, (B, K, M)."""
    x = pose_vector(parts.pose)[:, None]  # (B, 1, K, 6)
    mu = pose_vector(objects.votes)  # (B, M, K, 6)
    scale = objects.vote_scale[..., None]
    log_n = (-0.5 * ((x - mu) / scale).pow(2) - torch.log(scale) - 0.5 * math.log(2 * math.pi)).sum(-1)
    weight = objects.presence[..., None] * objects.vote_presence  # (B, M, K)
    log_mix = torch.log(weight + EPS) - torch.log(weight.sum(1, keepdim=True) + EPS)
    joint = log_mix + log_n  # (B, M, K)
    ll = torch.logsumexp(joint, dim=1)  # (B, K)
    posterior = torch.softmax(joint, dim=1).transpose(1, 2)  # (B, K, M)
    present = parts.presence
    return (ll * present).sum() / (present.sum() + EPS), posterior


def object_places(parts: PartCapsules, objects: ObjectCapsules, posterior: torch.Tensor) -> ObjectPlaces:
    """Each object capsule's place: the centroid of the parts it explains (see ObjectPlaces)."""
    weight = posterior * parts.presence[..., None]  # (B, K, M)
    mass = weight.sum(1)  # (B, M)
    xy = parts.pose[..., :2, 2]  # (B, K, 2) part translations
    position = torch.einsum("bkm,bkc->bmc", weight, xy) / (mass[..., None] + EPS)
    present = mass.clamp(max=1.0)
    return ObjectPlaces(position, mass, present)


def map_points(transform: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """Apply (B, 2, 3) affines to (B, M, 2) points."""
    return torch.einsum("bij,bmj->bmi", transform[:, :, :2], points) + transform[:, None, :, 2]


def equivariance_error(first: ObjectPlaces, second: ObjectPlaces, transform: torch.Tensor) -> torch.Tensor:
    """Mean squared distance between each object's place in the first view carried by the known
    view-to-view transform (B, 2, 3) and the same capsule's place in the second view, over
    objects present in both whose carried place lies inside the second view. Zero for an exact
    transform."""
    carried = map_points(transform, first.position)
    inside = (carried.abs() < 1).all(-1).float()
    # The weights are held fixed: otherwise the cheapest way to lower the error is to make
    # objects absent (measured: 10% of fovea objects found with live weights, 17.7% without pairs).
    weight = (first.present * second.present).detach() * inside  # (B, M)
    sq = (carried - second.position).pow(2).sum(-1)
    return (weight * sq).sum() / (weight.sum() + EPS)


def identity_loss(first: ObjectCapsules, second: ObjectCapsules, temperature: float = 0.1,
                  presence: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
    """Contrastive identity across two views of one scene: an object capsule's features in one view
    pick out the same capsule in the other view among all capsules of the batch (InfoNCE). Each
    capsule counts by its presence in both views: the capsules' own, or `presence` (B, M) each."""
    b, m, _ = first.features.shape
    a = F.normalize(first.features.reshape(b * m, -1), dim=-1)
    c = F.normalize(second.features.reshape(b * m, -1), dim=-1)
    logits = a @ c.T / temperature
    target = torch.arange(b * m, device=logits.device)
    a_on, b_on = presence if presence is not None else (first.presence, second.presence)
    weight = (a_on * b_on).reshape(-1).detach()
    per = 0.5 * (F.cross_entropy(logits, target, reduction="none") + F.cross_entropy(logits.T, target, reduction="none"))
    return (weight * per).sum() / (weight.sum() + EPS)


def sparsity_losses(objects: ObjectCapsules, posterior: torch.Tensor, part_presence: torch.Tensor,
                    expected: float) -> tuple[torch.Tensor, torch.Tensor]:
    """SCAE's prior and posterior sparsity terms on object presences."""
    b, m = objects.presence.shape
    a = objects.presence
    per_image = (a.sum(1) - expected).pow(2).mean()  # a few objects per image
    per_capsule = (a.sum(0) - b * expected / m).pow(2).mean() / b  # every capsule in use
    prior = (per_image + per_capsule) / m
    weights = part_presence[..., None]
    entropy = -(posterior * torch.log(posterior + EPS)).sum(-1)  # each part: one object
    within = (entropy * part_presence).sum() / (part_presence.sum() + EPS)
    mean_post = (posterior * weights).sum((0, 1)) / (weights.sum() + EPS)
    between = -(mean_post * torch.log(mean_post + EPS)).sum()  # across parts: all objects used
    return prior, within - between


class CapsuleParser(nn.Module):
    """Both autoencoders. `forward` returns the training losses; `parse` the capsules."""

    def __init__(self, spec: CapsuleSpec | None = None):
        super().__init__()
        self.spec = spec or CapsuleSpec()
        self.parts = PartEncoder(self.spec)
        self.decoder = TemplateDecoder(self.spec)
        self.objects = ObjectEncoder(self.spec)

    @staticmethod
    def prepare(images: torch.Tensor) -> torch.Tensor:
        if images.shape[-1] == 3 and images.shape[1] != 3:
            images = images.permute(0, 3, 1, 2)
        return images.float() / 255.0 if images.dtype == torch.uint8 else images

    def parse(self, images: torch.Tensor) -> tuple[PartCapsules, ObjectCapsules]:
        x = self.prepare(images)
        parts = self.parts(x)
        # Stop gradients between the autoencoders, as the paper does.
        detached = PartCapsules(*(t.detach() for t in parts))
        return parts, self.objects(detached)

    def places(self, images: torch.Tensor) -> tuple[ObjectCapsules, ObjectPlaces]:
        """The object capsules and where each one is in the glimpse."""
        parts, objects = self.parse(images)
        _, posterior = part_log_likelihood(PartCapsules(*(t.detach() for t in parts)), objects)
        return objects, object_places(parts, objects, posterior)

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, dict]:
        x = self.prepare(images)
        parts, objects = self.parse(x)
        image_ll, pictures = self.decoder.log_likelihood(parts, x)
        detached = PartCapsules(*(t.detach() for t in parts))
        part_ll, posterior = part_log_likelihood(detached, objects)
        prior, post = sparsity_losses(objects, posterior, detached.presence, self.spec.expected_objects)
        loss = -image_ll - 0.1 * part_ll + prior + 0.1 * post
        terms = {"image_ll": image_ll.detach(), "part_ll": part_ll.detach(), "prior_sparsity": prior.detach(),
                 "posterior_sparsity": post.detach(), "part_presence": parts.presence.mean().detach(),
                 "object_presence": objects.presence.mean().detach(), "loss": loss.detach()}
        return loss, {"terms": terms, "pictures": pictures, "parts": parts, "objects": objects, "posterior": posterior}


def save_parser(model: CapsuleParser, folder: str | Path, extra: dict | None = None) -> Path:
    return save_model_files(folder, "capsules", model, {"kind": "saccade.CapsuleParser", "spec": asdict(model.spec),
                                                        **(extra or {})})


def parser_digest(folder: str | Path) -> str:
    """A short sha256 of a parser's weights: what a record made from its parses names it by."""
    import hashlib

    return hashlib.sha256((Path(folder) / "capsules.safetensors").read_bytes()).hexdigest()[:16]


def load_parser(folder: str | Path) -> CapsuleParser:
    config = read_model_config(folder, "capsules", "saccade.CapsuleParser", "saccade train capsules")
    spec = make_spec(CapsuleSpec, config, Path(folder) / "capsules.json", "saccade train capsules")
    with building(Path(folder) / "capsules.json", "saccade train capsules"):
        parser = CapsuleParser(spec)
    return load_weights(parser, Path(folder) / "capsules.safetensors")
