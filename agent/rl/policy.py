"""The acting policy: perception features, the previous action and the command's words -> an action.

    input  = [ normalised perception features (agent.perception.features) | previous action (7),
               only with PolicySpec.prev_action | hand minus gaze point (3, decimetres), only
               with PolicySpec.hand_relative | MiniLM embedding of the command (384) ]
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

The hand-relative input is computed from the features themselves (the hand's position in the
proprioception, the gaze the glimpse was taken at): no privileged state. When the eye rests on
what the command is about, it is the vector the arm must close; a calibration outside the project
found it took a cloned policy on the privileged state from 66% to 98% (issue 23).

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
from agent.weights import WeightsError, building, load_weights, make_spec, read_model_config, save_model_files
from envs.eye import GAZE_X, GAZE_Y, GAZE_Z
from envs.robot import PROPRIO_SIZE

ACTION_DIM = 7  # arm (3), gripper (1), gaze (3)


@dataclass
class PolicySpec:
    feature_dim: int  # per-step perception features
    hidden: list[int] = field(default_factory=lambda: [256, 256])
    text_dim: int = TEXT_DIM
    prev_action: bool = False  # also read the previous action
    hand_relative: bool = False  # also read hand minus gaze point (computed from the features)
    encoder_dim: int = 0  # the encoder's width: where proprioception and gaze sit in the features

    def __post_init__(self) -> None:
        if self.hand_relative and not 0 < 2 * self.encoder_dim <= self.feature_dim - PROPRIO_SIZE - 3:
            raise ValueError(f"hand_relative needs the encoder's width, got encoder_dim={self.encoder_dim} "
                             f"for {self.feature_dim} features")

    @property
    def input_dim(self) -> int:
        return self.feature_dim + (ACTION_DIM if self.prev_action else 0) + (3 if self.hand_relative else 0) \
            + self.text_dim


_GAZE_LOW = torch.tensor([GAZE_X[0], GAZE_Y[0]])
_GAZE_SPAN = torch.tensor([GAZE_X[1] - GAZE_X[0], GAZE_Y[1] - GAZE_Y[0]])


def hand_minus_gaze(features: torch.Tensor, encoder_dim: int) -> torch.Tensor:
    """(..., 3) the hand's position minus the gaze point (envs.eye.Gaze.point), in decimetres, from raw
    per-step features laid out as agent.perception.features.FEATURES."""
    proprio = 2 * encoder_dim
    hand = features[..., proprio:proprio + 3]  # ee_position leads the proprioception (envs.state_fields)
    gaze = features[..., proprio + PROPRIO_SIZE:proprio + PROPRIO_SIZE + 2]
    point = _GAZE_LOW + (gaze + 1.0) / 2.0 * _GAZE_SPAN
    z = torch.full_like(hand[..., :1], GAZE_Z)
    return 10.0 * (hand - torch.cat([point, z], -1))


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
        parts = [self.normalise(features)]
        if self.spec.prev_action:
            parts.append(prev_action)
        if self.spec.hand_relative:
            parts.append(hand_minus_gaze(features, self.spec.encoder_dim))
        return torch.cat([*parts, command], -1)

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
    with building(Path(folder) / "policy.json", "saccade train rl"):
        policy = AgentPolicy(spec, memory)
    policy = load_weights(policy, Path(folder) / "policy.safetensors")
    policy.capsule_parser = config.get("capsule_parser")
    return policy
