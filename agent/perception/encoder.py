"""The glimpse encoder: one small convolutional network for foveal glimpses, peripheral views and frames.

Fully convolutional with a global pooling at the end, so that the same weights take
images of any size. Weights are saved as safetensors beside a JSON config; loading
never unpickles.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from safetensors.torch import save_file
from torch import nn
from torch.nn import functional as F

from agent.weights import building, load_weights, make_spec, read_model_config


@dataclass
class EncoderSpec:
    channels: list[int] = field(default_factory=lambda: [32, 64, 128])
    feature_dim: int = 128


def _block(c_in: int, c_out: int) -> nn.Sequential:
    groups = 8 if c_out % 8 == 0 else 1
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, stride=2, padding=1),
        nn.GroupNorm(groups, c_out),
        nn.ReLU(inplace=True),
        nn.Conv2d(c_out, c_out, 3, padding=1),
        nn.GroupNorm(groups, c_out),
        nn.ReLU(inplace=True),
    )


class GlimpseEncoder(nn.Module):
    """uint8 or float images (B, H, W, 3) or (B, 3, H, W) -> features (B, feature_dim)."""

    def __init__(self, spec: EncoderSpec | None = None):
        super().__init__()
        self.spec = spec or EncoderSpec()
        widths = [3, *self.spec.channels]
        self.convs = nn.Sequential(*[_block(a, b) for a, b in zip(widths[:-1], widths[1:])])
        # Pool to 2x2 rather than 1x1: keeps coarse "where in the view" information.
        self.pool = nn.AdaptiveAvgPool2d(2)
        self.fc = nn.Linear(widths[-1] * 4, self.spec.feature_dim)

    @staticmethod
    def prepare(images: torch.Tensor) -> torch.Tensor:
        """To float (B, 3, H, W) in [0, 1]."""
        if images.shape[-1] == 3 and images.shape[1] != 3:
            images = images.permute(0, 3, 1, 2)
        if images.dtype == torch.uint8:
            images = images.float() / 255.0
        return images

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = self.prepare(images)
        x = self.pool(self.convs(x - 0.5))
        return self.fc(x.flatten(1))


class ProjectionHead(nn.Module):
    """The MLP g(.) of SimCLR: used only by the contrastive loss, never downstream."""

    def __init__(self, feature_dim: int, projection_dim: int):
        super().__init__()
        self.net = nn.Sequential(nn.ReLU(), nn.Linear(feature_dim, feature_dim), nn.ReLU(),
                                 nn.Linear(feature_dim, projection_dim))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.net(features), dim=-1)


def save_encoder(encoder: GlimpseEncoder, folder: str | Path, extra: dict | None = None) -> Path:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    weights = {k: v.detach().cpu().contiguous() for k, v in encoder.state_dict().items()}
    tmp = folder / "encoder.safetensors.tmp"
    save_file(weights, str(tmp))
    tmp.replace(folder / "encoder.safetensors")
    config = {"kind": "saccade.GlimpseEncoder", "spec": asdict(encoder.spec), **(extra or {})}
    (folder / "encoder.json").write_text(json.dumps(config, indent=2))
    return folder


def load_encoder(folder: str | Path, device: str = "cpu") -> GlimpseEncoder:
    config = read_model_config(folder, "encoder", "saccade.GlimpseEncoder", "saccade train encoder")
    spec = make_spec(EncoderSpec, config, Path(folder) / "encoder.json", "saccade train encoder")
    with building(Path(folder) / "encoder.json", "saccade train encoder"):
        encoder = GlimpseEncoder(spec)
    return load_weights(encoder, Path(folder) / "encoder.safetensors").to(device)
