"""Slot Attention (Locatello et al., NeurIPS 2020): the object-centric anchor the capsules are scored against.

A small CNN turns a glimpse into a grid of features with a learned position embedding;
K slots compete for those features over a few rounds of attention (softmax over the
slots, so that every pixel goes to one slot) and are updated by a GRU; each slot is
decoded alone by a spatial broadcast decoder into colours and an alpha mask, and the
masks (a softmax over slots) mix the colours into the reconstruction. Trained on the
same glimpses as the capsules, without labels, by the reconstruction error alone.

A slot's place in the glimpse is the centroid of its mask; it is present when its mask
covers at least one pixel's worth of the image. That is what the object-discovery
measure of `saccade eval capsules` matches against the objects, as for the capsules.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

from agent.weights import building, load_weights, make_spec, read_model_config, save_model_files


@dataclass
class SlotSpec:
    slots: int = 6
    dim: int = 32
    iterations: int = 3
    image_size: int = 32  # slots are broadcast on a grid a quarter this size, then upsampled twice by 2


def _grid(size: int, device=None) -> torch.Tensor:
    """(size, size, 4) position features: x, y and their complements, in [0, 1] (as the paper)."""
    r = torch.linspace(0.0, 1.0, size, device=device)
    yy, xx = torch.meshgrid(r, r, indexing="ij")
    return torch.stack([xx, yy, 1 - xx, 1 - yy], -1)


class SlotAttention(nn.Module):
    def __init__(self, spec: SlotSpec):
        super().__init__()
        d = spec.dim
        self.spec = spec
        self.encoder = nn.Sequential(nn.Conv2d(3, d, 5, padding=2), nn.ReLU(), nn.Conv2d(d, d, 5, padding=2), nn.ReLU(),
                                     nn.Conv2d(d, d, 5, padding=2), nn.ReLU())
        self.enc_position = nn.Linear(4, d)
        self.enc_mlp = nn.Sequential(nn.LayerNorm(d), nn.Linear(d, d), nn.ReLU(), nn.Linear(d, d))
        self.slot_mu = nn.Parameter(torch.randn(1, 1, d) * 0.1)
        self.slot_log_sigma = nn.Parameter(torch.zeros(1, 1, d))
        self.norm_inputs, self.norm_slots, self.norm_mlp = nn.LayerNorm(d), nn.LayerNorm(d), nn.LayerNorm(d)
        self.q, self.k, self.v = nn.Linear(d, d, bias=False), nn.Linear(d, d, bias=False), nn.Linear(d, d, bias=False)
        self.gru = nn.GRUCell(d, d)
        self.mlp = nn.Sequential(nn.Linear(d, 2 * d), nn.ReLU(), nn.Linear(2 * d, d))
        self.dec_position = nn.Linear(4, d)
        self.decoder = nn.Sequential(
            nn.ConvTranspose2d(d, d, 4, stride=2, padding=1), nn.ReLU(),
            nn.ConvTranspose2d(d, d, 4, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(d, 4, 3, padding=1))

    @staticmethod
    def prepare(images: torch.Tensor) -> torch.Tensor:
        if images.shape[-1] == 3 and images.shape[1] != 3:
            images = images.permute(0, 3, 1, 2)
        return images.float() / 255.0 if images.dtype == torch.uint8 else images

    def slots(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        b, _, h, w = x.shape
        feats = self.encoder(x - 0.5).permute(0, 2, 3, 1) + self.enc_position(_grid(h, x.device))
        inputs = self.norm_inputs(self.enc_mlp(feats.reshape(b, h * w, -1)))
        k, v = self.k(inputs), self.v(inputs)
        d = inputs.shape[-1]
        noise = torch.randn(b, self.spec.slots, d, generator=generator, device=x.device)
        slots = self.slot_mu + self.slot_log_sigma.exp() * noise
        for _ in range(self.spec.iterations):
            q = self.q(self.norm_slots(slots))
            attn = torch.softmax(torch.einsum("bnd,bkd->bnk", k, q) / d ** 0.5, dim=-1) + 1e-8  # pixels choose slots
            attn = attn / attn.sum(1, keepdim=True)
            updates = torch.einsum("bnk,bnd->bkd", attn, v)
            slots = self.gru(updates.reshape(-1, d), slots.reshape(-1, d)).view(b, -1, d)
            slots = slots + self.mlp(self.norm_mlp(slots))
        return slots

    def decode(self, slots: torch.Tensor, size: int | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Reconstruction (B, 3, H, W), masks (B, K, H, W) and per-slot colours (B, K, 3, H, W), at
        `size` pixels a side (default: the spec's image size)."""
        b, n, d = slots.shape
        size = size or self.spec.image_size
        g = max(2, -(-size // 4))
        grid = slots.reshape(b * n, 1, 1, d) + self.dec_position(_grid(g, slots.device))
        out = self.decoder(grid.permute(0, 3, 1, 2))
        if out.shape[-1] != size:
            out = F.interpolate(out, size=(size, size), mode="bilinear", align_corners=False)
        out = out.view(b, n, 4, size, size)
        colours, masks = torch.sigmoid(out[:, :, :3]), torch.softmax(out[:, :, 3], dim=1)
        return (masks[:, :, None] * colours).sum(1), masks, colours

    def forward(self, images: torch.Tensor, generator: torch.Generator | None = None) -> tuple[torch.Tensor, dict]:
        x = self.prepare(images)
        recon, masks, _ = self.decode(self.slots(x, generator), x.shape[-1])
        loss = F.mse_loss(recon, x)
        return loss, {"reconstruction": recon, "masks": masks}

    @torch.no_grad()
    def places(self, images: torch.Tensor, generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        """Each slot's place (centroid of its mask, normalised [-1, 1]) and whether it is present."""
        x = self.prepare(images)
        slots = self.slots(x, generator)
        _, masks, _ = self.decode(slots, x.shape[-1])
        h, w = masks.shape[-2:]
        mass = masks.sum((2, 3))  # pixels
        xs = (torch.arange(w) + 0.5) / w * 2 - 1  # pixel centres, as the objects are projected
        ys = (torch.arange(h) + 0.5) / h * 2 - 1
        cx = (masks.sum(2) * xs).sum(-1) / mass.clamp(min=1e-6)
        cy = (masks.sum(3) * ys).sum(-1) / mass.clamp(min=1e-6)
        return {"position": torch.stack([cx, cy], -1), "present": (mass >= 1.0).float(), "features": slots}


def save_slots(model: SlotAttention, folder: str | Path, extra: dict | None = None) -> Path:
    return save_model_files(folder, "slots", model, {"kind": "saccade.SlotAttention", "spec": asdict(model.spec),
                                                     **(extra or {})})


def load_slots(folder: str | Path) -> SlotAttention:
    how = "saccade eval capsules (it trains the Slot Attention anchor)"
    config = read_model_config(folder, "slots", "saccade.SlotAttention", how)
    spec = make_spec(SlotSpec, config, Path(folder) / "slots.json", how)
    with building(Path(folder) / "slots.json", how):
        model = SlotAttention(spec)
    return load_weights(model, Path(folder) / "slots.safetensors")
