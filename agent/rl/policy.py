"""The acting policy: perception features, the previous action and the command's words -> an action.

    input  = [ normalised perception features (agent.perception.features) | previous action (7),
               only with PolicySpec.prev_action | MiniLM embedding of the command (384) ]
    output = dx, dy, dz, gripper, gaze x, gaze y, zoom of the active desk, in [-1, 1]

The command's embedding is the only task input: the env's task one-hot and the privileged
state never reach the policy. The previous action is off by default: cloned with it, the
policy learned to repeat its last action (the "copycat" form of causal confusion, de Haan
et al. 2019) and, starting still, stayed still: 6.7% success against 80% on pressing the
button. Proprioception already says what the last actions did (the hand's velocity, the
fingers' width). The network is a plain MLP whose layers
are laid out like stable-baselines3's MlpPolicy (`net`, then `head`), so that PPO can
start from the imitation weights; the input normalisation lives outside it
(`normalise`), fitted on the demonstrations and saved beside the weights.

Saved as policy.safetensors + policy.json; loading never unpickles.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from agent.language.embedding import TEXT_DIM
from agent.perception.features import FEATURES, check_features
from agent.weights import WeightsError, load_weights, make_spec, read_model_config, save_model_files

ACTION_DIM = 7  # arm (3), gripper (1), gaze (3)


@dataclass
class PolicySpec:
    feature_dim: int  # per-step perception features
    hidden: list[int] = field(default_factory=lambda: [256, 256])
    text_dim: int = TEXT_DIM
    prev_action: bool = False  # also read the previous action

    @property
    def input_dim(self) -> int:
        return self.feature_dim + (ACTION_DIM if self.prev_action else 0) + self.text_dim


def mlp(sizes: list[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(a, b), nn.ReLU()]
    return nn.Sequential(*layers)


class AgentPolicy(nn.Module):
    def __init__(self, spec: PolicySpec, capsule_memory: list[str] | None = None):
        super().__init__()
        self.spec = spec
        # the streams of the capsule scene memory its features end with (agent.rl.capsule_inputs);
        # saved beside the spec, so that policies saved before it load as they are
        self.capsule_memory = list(capsule_memory or [])
        self.capsule_parser: str | None = None  # the digest of the parser that memory was made with
        self.net = mlp([spec.input_dim, *spec.hidden])
        self.head = nn.Linear(spec.hidden[-1], ACTION_DIM)
        # Normalisation of the perception features (fitted on the demonstrations): buffers, saved
        # with the weights, so that evaluation after loading sees what training saw.
        self.register_buffer("feature_mean", torch.zeros(spec.feature_dim))
        self.register_buffer("feature_std", torch.ones(spec.feature_dim))

    def fit_normaliser(self, features: np.ndarray) -> None:
        self.feature_mean.copy_(torch.from_numpy(features.mean(0)))
        self.feature_std.copy_(torch.from_numpy(features.std(0) + 1e-3))

    def normalise(self, features: torch.Tensor) -> torch.Tensor:
        return (features - self.feature_mean) / self.feature_std

    def inputs(self, features: torch.Tensor, prev_action: torch.Tensor, command: torch.Tensor) -> torch.Tensor:
        """The flat input the MLP (and PPO's copy of it) reads."""
        parts = [self.normalise(features), prev_action, command] if self.spec.prev_action else \
            [self.normalise(features), command]
        return torch.cat(parts, -1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Flat inputs -> unclipped action means (the env clips to [-1, 1], as PPO's Gaussian does)."""
        return self.head(self.net(x))

    @torch.no_grad()
    def act(self, features: np.ndarray, prev_action: np.ndarray, command: torch.Tensor) -> np.ndarray:
        x = self.inputs(torch.from_numpy(features)[None], torch.from_numpy(prev_action)[None], command[None])
        return np.clip(self(x)[0].numpy(), -1.0, 1.0).astype(np.float32)


def save_policy(policy: AgentPolicy, folder: str | Path, extra: dict | None = None) -> Path:
    spec = asdict(policy.spec)
    reads = {"capsule_memory": policy.capsule_memory, "capsule_parser": policy.capsule_parser} \
        if policy.capsule_memory else {}
    return save_model_files(folder, "policy", policy, {"kind": "saccade.AgentPolicy", "spec": spec,
                                                         "features": FEATURES, **reads, **(extra or {})})


def load_policy(folder: str | Path) -> AgentPolicy:
    config = read_model_config(folder, "policy", "saccade.AgentPolicy", "saccade train rl")
    check_features(config, Path(folder) / "policy.json", "saccade train rl")
    spec = make_spec(PolicySpec, config, Path(folder) / "policy.json", "saccade train rl")
    from agent.perception.stream import STREAMS

    memory = config.get("capsule_memory", [])
    if not isinstance(memory, list) or not all(s in STREAMS for s in memory):
        raise WeightsError(f"{Path(folder) / 'policy.json'}: capsule_memory must be a list of names from "
                           f"{list(STREAMS)}, got {memory!r}")
    policy = load_weights(AgentPolicy(spec, memory), Path(folder) / "policy.safetensors")
    policy.capsule_parser = config.get("capsule_parser")
    return policy
