"""Per-step perception features: the one place every learner reads perception from.

One control step's observation (foveal glimpse, peripheral view, proprioception, gaze)
becomes one vector: the frozen encoder's features of the fovea and of the periphery,
then proprioception and the gaze (the same glimpse means something else at another
place on the desk). The narrator, the learned reward and the acting policy all read
this vector; a saved model records FEATURES and refuses to load against other ones.

Three ways in, one computation:
- `step_features(encoder, fovea, periphery, proprio, gaze)` on arrays of many steps
  (play data, demonstrations);
- `PerceptionFeatures(encoder)(obs)` on one observation dict (the runner, the agent);
- `PerceptionWrapper(env, encoder)`: a gymnasium observation wrapper that computes the
  features once per step, so that stable-baselines3 sees a plain vector and never
  touches the frozen encoder (its maintainers' advice for frozen extractors); and
  `frozen_extractor_class()`, a stable-baselines3 features extractor for the same
  computation inside a policy, kept in eval mode and out of the optimiser.
"""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import numpy as np
import torch

from agent.perception.encoder import GlimpseEncoder
from agent.weights import WeightsError

# What one step's features are made of, in order; saved with every model that reads them.
FEATURES = "fovea,periphery,proprio,gaze"
IMAGE_KEYS = ("fovea", "periphery")


def feature_dim(encoder: GlimpseEncoder, proprio_size: int = 14, gaze_size: int = 3) -> int:
    return 2 * encoder.spec.feature_dim + proprio_size + gaze_size


@torch.no_grad()
def step_features(encoder: GlimpseEncoder, fovea: np.ndarray, periphery: np.ndarray, proprio: np.ndarray,
                  gaze: np.ndarray, batch: int = 512) -> np.ndarray:
    """(N, 2 * encoder dim + proprio + gaze) float32 features of N steps (FEATURES order)."""
    encoder.eval()
    out = []
    for i in range(0, len(fovea), batch):
        f = encoder(torch.from_numpy(np.ascontiguousarray(fovea[i:i + batch])))
        p = encoder(torch.from_numpy(np.ascontiguousarray(periphery[i:i + batch])))
        rest = np.concatenate([proprio[i:i + batch], gaze[i:i + batch]], 1).astype(np.float32)
        out.append(torch.cat([f, p, torch.from_numpy(rest)], 1).numpy())
    return np.concatenate(out).astype(np.float32)


class PerceptionFeatures:
    """features = PerceptionFeatures(encoder)(obs): one observation dict -> (dim,) float32."""

    def __init__(self, encoder: GlimpseEncoder):
        self.encoder = encoder.eval()
        for p in self.encoder.parameters():
            p.requires_grad_(False)

    @property
    def dim(self) -> int:
        return feature_dim(self.encoder)

    @torch.no_grad()
    def __call__(self, obs: dict) -> np.ndarray:
        # Fovea and periphery in one encoder pass: half the per-call overhead of two.
        if obs["fovea"].shape == obs["periphery"].shape:
            images = torch.from_numpy(np.stack([obs["fovea"], obs["periphery"]]))
            f, p = self.encoder(images).numpy()
        else:
            f = self.encoder(torch.from_numpy(obs["fovea"][None]))[0].numpy()
            p = self.encoder(torch.from_numpy(obs["periphery"][None]))[0].numpy()
        return np.concatenate([f, p, obs["proprio"], obs["gaze"]]).astype(np.float32)


class PerceptionWrapper(gym.ObservationWrapper):
    """Glimpse observations -> {"features": the per-step vector}, computed once per step.

    The task one-hot and any privileged state in the observation are dropped here: what
    reaches a learner is what the eye saw, the body felt and where it looked.
    """

    def __init__(self, env: gym.Env, encoder: GlimpseEncoder):
        super().__init__(env)
        self.perception = PerceptionFeatures(encoder)
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, (self.perception.dim,), np.float32)

    def observation(self, obs: dict) -> np.ndarray:
        return self.perception(obs)


def frozen_extractor_class() -> type:
    """A stable-baselines3 features extractor computing the same features inside a policy that
    reads glimpse observations:

        PPO("MultiInputPolicy", env, policy_kwargs={"features_extractor_class": frozen_extractor_class(),
            "features_extractor_kwargs": {"encoder": encoder}, "normalize_images": False})

    The encoder is deliberately not a submodule of the policy: SB3's orthogonal initialisation
    (`ortho_init`, on by default) would otherwise overwrite its weights when the policy is
    built, its optimiser would see them, and `policy.set_training_mode(True)` before each
    update would switch a frozen normalisation layer to batch statistics. (A function, so that
    importing this module does not import stable-baselines3.)
    """
    from stable_baselines3.common.torch_layers import BaseFeaturesExtractor

    class FrozenPerceptionExtractor(BaseFeaturesExtractor):
        def __init__(self, observation_space: gym.spaces.Dict, encoder: GlimpseEncoder):
            super().__init__(observation_space, features_dim=feature_dim(encoder, observation_space["proprio"].shape[0]))
            self._frozen = (PerceptionFeatures(encoder).encoder,)  # a tuple: hidden from modules() and state_dict()

        @property
        def encoder(self) -> GlimpseEncoder:
            return self._frozen[0]

        def forward(self, obs: dict[str, torch.Tensor]) -> torch.Tensor:
            device = next(self.encoder.parameters()).device
            with torch.no_grad():  # images arrive as floats 0..255 (normalize_images=False)
                f = self.encoder(obs["fovea"].to(device, torch.uint8))
                p = self.encoder(obs["periphery"].to(device, torch.uint8))
            return torch.cat([f.to(obs["proprio"].device), p.to(obs["proprio"].device), obs["proprio"], obs["gaze"]], 1)

    return FrozenPerceptionExtractor


def check_features(config: dict, path: Path, how_to_fix: str = "saccade train language") -> None:
    """A model trained on other per-step features would read wrong numbers: refuse it."""
    if config.get("features") != FEATURES:
        raise WeightsError(f"{path}: made for other per-step features "
                           f"({config.get('features', 'fovea,periphery,proprio')!r}, this code uses {FEATURES!r}); "
                           f"retrain it: {how_to_fix}")
