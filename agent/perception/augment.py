"""SimCLR augmentations, batched on tensors: random resized crop and colour distortion.

Every sample draws its own parameters from the given generator, so that a run is
reproducible from its seed.
"""

from __future__ import annotations

import math

import torch
from torch.nn import functional as F

_GREY = torch.tensor([0.299, 0.587, 0.114])


def random_resized_crop(x: torch.Tensor, scale: tuple[float, float], gen: torch.Generator,
                        ratio: tuple[float, float] = (3 / 4, 4 / 3)) -> torch.Tensor:
    """x: (B, 3, H, W) float. Crop a random area fraction and aspect ratio, resize back to H x W."""
    b = x.shape[0]
    area = torch.empty(b).uniform_(scale[0], scale[1], generator=gen)
    log_r = torch.empty(b).uniform_(math.log(ratio[0]), math.log(ratio[1]), generator=gen)
    r = torch.exp(log_r)
    w = torch.sqrt(area * r).clamp(max=1.0)
    h = torch.sqrt(area / r).clamp(max=1.0)
    cx = (torch.rand(b, generator=gen) * 2 - 1) * (1 - w)
    cy = (torch.rand(b, generator=gen) * 2 - 1) * (1 - h)
    flip = torch.where(torch.rand(b, generator=gen) < 0.5, -1.0, 1.0)
    theta = torch.zeros(b, 2, 3)
    theta[:, 0, 0] = w * flip
    theta[:, 0, 2] = cx
    theta[:, 1, 1] = h
    theta[:, 1, 2] = cy
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)


def _grey(x: torch.Tensor) -> torch.Tensor:
    return (x * _GREY.view(1, 3, 1, 1)).sum(1, keepdim=True)


def _rotate_hue(x: torch.Tensor, angle: torch.Tensor) -> torch.Tensor:
    """Rotate hue by `angle` radians per sample: a rotation about the grey axis in YIQ space."""
    to_yiq = torch.tensor([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]])
    to_rgb = torch.linalg.inv(to_yiq)
    c, s = torch.cos(angle), torch.sin(angle)
    rot = torch.zeros(x.shape[0], 3, 3)
    rot[:, 0, 0] = 1
    rot[:, 1, 1], rot[:, 1, 2], rot[:, 2, 1], rot[:, 2, 2] = c, -s, s, c
    m = to_rgb @ rot @ to_yiq  # (B, 3, 3)
    return torch.einsum("bij,bjhw->bihw", m, x)


def colour_distort(x: torch.Tensor, strength: float, gen: torch.Generator, p_jitter: float = 0.8,
                   p_grey: float = 0.2, hue: float = 0.2) -> torch.Tensor:
    """SimCLR's colour distortion: brightness, contrast, saturation, hue (in random order is not
    needed for our purpose; a fixed order), applied with probability p_jitter; then grayscale with p_grey."""
    b = x.shape[0]
    s = strength

    def factor(amount: float) -> torch.Tensor:
        return torch.empty(b, 1, 1, 1).uniform_(max(0.0, 1 - amount), 1 + amount, generator=gen)

    jitter = (torch.rand(b, 1, 1, 1, generator=gen) < p_jitter).float()
    y = x * factor(0.8 * s)  # brightness
    mean = _grey(y).mean(dim=(2, 3), keepdim=True)
    y = (y - mean) * factor(0.8 * s) + mean  # contrast
    g = _grey(y)
    y = (y - g) * factor(0.8 * s) + g  # saturation
    angle = torch.empty(b).uniform_(-hue * s * 2 * math.pi, hue * s * 2 * math.pi, generator=gen)
    y = _rotate_hue(y, angle)
    y = jitter * y + (1 - jitter) * x
    grey = (torch.rand(b, 1, 1, 1, generator=gen) < p_grey).float()
    y = grey * _grey(y).expand_as(y) + (1 - grey) * y
    return y.clamp(0.0, 1.0)


def augment(x: torch.Tensor, *, crop_scale: tuple[float, float], colour: bool, colour_strength: float,
            gen: torch.Generator, hue: float = 0.2, p_grey: float = 0.2) -> torch.Tensor:
    """uint8 (B, H, W, 3) or float (B, 3, H, W) -> augmented float (B, 3, H, W) in [0, 1]."""
    if x.dtype == torch.uint8:
        x = x.permute(0, 3, 1, 2).float() / 255.0
    x = random_resized_crop(x, crop_scale, gen)
    if colour:
        x = colour_distort(x, colour_strength, gen, p_grey=p_grey, hue=hue)
    return x
