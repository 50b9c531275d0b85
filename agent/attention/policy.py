"""The gaze policy: the glimpse memory, the body's sense and the command's words -> where to look next.

    input  = [ memory: per candidate slot, seen and the whitened PCA of the glimpse's fovea and
               periphery features (agent.attention.memory) | proprioception, normalised |
               glimpses in memory, one-hot (K) | MiniLM embedding of the command (384) ]
    output = one logit per candidate gaze (agent.attention.candidates)

The sensory action apart from the motor one (as in SUGARL and EyeRobot): the arm's policy keeps
its own head for the gaze, which this one overrides when it is used. Layers are laid out like
stable-baselines3's MlpPolicy actor (`net`, then `head`), so PPO's actor exports into it; the PCA
and the normalisation are buffers, saved with the weights in one safetensors file.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from agent.attention.candidates import GazeCandidates
from agent.attention.memory import Reduction
from agent.language.embedding import TEXT_DIM
from agent.rl.policy import mlp
from agent.weights import building, load_weights, make_spec, read_model_config, save_model_files

PROPRIO_DIM = 14


@dataclass
class AttentionSpec:
    grid: int
    zooms: list[float]
    feature_dim: int  # the encoder's
    memory_dim: int  # PCA dimensions per image in the memory
    glimpses: int  # K
    hidden: list[int] = field(default_factory=lambda: [256, 256])
    text_dim: int = TEXT_DIM
    reward: str = "acting"  # the reward it was trained on

    @property
    def n_candidates(self) -> int:
        return self.grid * self.grid * len(self.zooms)

    @property
    def memory_size(self) -> int:
        return self.n_candidates * (1 + 2 * self.memory_dim)

    @property
    def input_dim(self) -> int:
        return self.memory_size + PROPRIO_DIM + self.glimpses + self.text_dim


def observation(memory: np.ndarray, proprio: np.ndarray, count: np.ndarray, command: np.ndarray, glimpses: int) -> np.ndarray:
    """The flat input of many steps: memory (N, C, 1 + 2m), normalised proprio (N, 14), glimpses in
    memory (N,), command embedding (N, 384)."""
    onehot = np.eye(glimpses, dtype=np.float32)[np.minimum(count, glimpses - 1)]
    return np.concatenate([memory.reshape(len(memory), -1), proprio, onehot, command], 1).astype(np.float32)


class AttentionPolicy(nn.Module):
    def __init__(self, spec: AttentionSpec):
        super().__init__()
        self.spec = spec
        self.candidates = GazeCandidates(spec.grid, spec.zooms)
        self.net = mlp([spec.input_dim, *spec.hidden])
        self.head = nn.Linear(spec.hidden[-1], spec.n_candidates)
        d, m = spec.feature_dim, spec.memory_dim
        for name in ("fovea", "periphery"):
            self.register_buffer(f"{name}_mean", torch.zeros(d))
            self.register_buffer(f"{name}_components", torch.zeros(m, d))
        self.register_buffer("proprio_mean", torch.zeros(PROPRIO_DIM))
        self.register_buffer("proprio_std", torch.ones(PROPRIO_DIM))

    def set_reductions(self, fovea: Reduction, periphery: Reduction, proprio: np.ndarray) -> None:
        for name, r in (("fovea", fovea), ("periphery", periphery)):
            getattr(self, f"{name}_mean").copy_(torch.from_numpy(r.mean))
            getattr(self, f"{name}_components").copy_(torch.from_numpy(r.components))
        self.proprio_mean.copy_(torch.from_numpy(proprio.mean(0)))
        self.proprio_std.copy_(torch.from_numpy(proprio.std(0) + 1e-3))

    def reduction(self, name: str) -> Reduction:
        return Reduction(getattr(self, f"{name}_mean").numpy(), getattr(self, f"{name}_components").numpy())

    def normalise_proprio(self, proprio: np.ndarray) -> np.ndarray:
        return ((proprio - self.proprio_mean.numpy()) / self.proprio_std.numpy()).astype(np.float32)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.net(x))

    @torch.no_grad()
    def choose(self, obs: np.ndarray) -> np.ndarray:
        """(N, input_dim) observations -> (N,) candidate indices (the most likely)."""
        return self(torch.from_numpy(obs)).argmax(-1).numpy()


def save_attention(policy: AttentionPolicy, folder: str | Path, extra: dict | None = None) -> Path:
    return save_model_files(folder, "attention", policy, {"kind": "saccade.AttentionPolicy",
                                                          "spec": asdict(policy.spec), **(extra or {})})


def load_attention(folder: str | Path) -> AttentionPolicy:
    config = read_model_config(folder, "attention", "saccade.AttentionPolicy", "saccade train attention")
    spec = make_spec(AttentionSpec, config, Path(folder) / "attention.json", "saccade train attention")
    with building(Path(folder) / "attention.json", "saccade train attention"):
        policy = AttentionPolicy(spec)
    return load_weights(policy, Path(folder) / "attention.safetensors")
