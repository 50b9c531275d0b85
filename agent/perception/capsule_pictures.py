"""Pictures of what the capsule parser does, for people: input, reconstruction, parts by object."""

from __future__ import annotations

from pathlib import Path

import imageio.v2 as imageio
import numpy as np
import torch

PALETTE = np.array([[230, 25, 75], [60, 180, 75], [255, 225, 25], [0, 130, 200], [245, 130, 48], [145, 30, 180],
                    [70, 240, 240], [240, 50, 230], [210, 245, 60], [250, 190, 212], [0, 128, 128], [170, 110, 40],
                    [128, 0, 0], [170, 255, 195], [128, 128, 0], [0, 0, 128]], dtype=np.uint8)
BACKGROUND = np.array([40, 40, 40], dtype=np.uint8)


@torch.no_grad()
def explain(model, images: np.ndarray) -> dict[str, np.ndarray]:
    """Reconstructions and a map of which object capsule explains each pixel (-1: background)."""
    model.eval()
    _, out = model(torch.from_numpy(images))
    recon = (out["pictures"]["reconstruction"].clamp(0, 1) * 255).byte().permute(0, 2, 3, 1).numpy()
    responsibility = out["pictures"]["responsibility"]  # (B, K+1, H, W)
    part = responsibility.argmax(1).numpy()  # K means background
    owner = out["posterior"].argmax(-1).numpy()  # (B, K): the object each part belongs to
    k = responsibility.shape[1] - 1
    objects = np.full(part.shape, -1)
    for b in range(len(images)):
        fg = part[b] < k
        objects[b][fg] = owner[b][part[b][fg]]
    return {"reconstruction": recon, "object_of_pixel": objects}


@torch.no_grad()
def mark_places(model, images: np.ndarray, present: float = 0.5) -> np.ndarray:
    """The images with a cross, in the capsule's colour, where each present object capsule is."""
    _, places = model.places(torch.from_numpy(images))
    out = images.copy()
    h, w = images.shape[1:3]
    for b in range(len(images)):
        for m in np.flatnonzero(places.present[b].numpy() > present):
            x, y = places.position[b, m].numpy()
            col, row = round(float((x + 1) / 2 * w - 0.5)), round(float((y + 1) / 2 * h - 0.5))
            for dr, dc in ((0, 0), (-1, 0), (1, 0), (0, -1), (0, 1)):
                if 0 <= row + dr < h and 0 <= col + dc < w:
                    out[b, row + dr, col + dc] = PALETTE[m % len(PALETTE)]
    return out


def save_reconstruction_grid(model, images: np.ndarray, path: Path, scale: int = 4) -> Path:
    """Rows: input, reconstruction, pixels coloured by the object capsule that explains them, and
    the input with a cross where each present object capsule is (its place, in the same colour)."""
    info = explain(model, images)
    coloured = np.where(info["object_of_pixel"][..., None] >= 0,
                        PALETTE[info["object_of_pixel"] % len(PALETTE)], BACKGROUND)
    marked = mark_places(model, images)
    rows = [np.concatenate(list(r), axis=1) for r in (images, info["reconstruction"], coloured, marked)]
    grid = np.concatenate(rows, axis=0).repeat(scale, 0).repeat(scale, 1)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    imageio.imwrite(path, grid)
    return path
