"""The capsule scene memory as an input of the acting policy (`rl.capsule_memory`).

At each step the glimpse's object capsules (of the streams named) are carried onto the desk
through the gaze and merged into the scene memory (agent.perception.memory); the memory is
laid on a coarse desk grid (`desk_grid`: bilinear, so places finer than a cell survive) and
appended to the encoder's features. The memory lives as long as the scene: it is emptied when
the desk is reset, not between the commands given in one scene.
"""

from __future__ import annotations

import numpy as np

from agent.perception.memory import SceneMemory, desk_grid, grid_nodes, on_desk
from envs.eye import Gaze

CELL = 0.08  # metres between grid nodes: 42 nodes, each with the capsule's 1 + F numbers


class CapsuleMemoryInput:
    def __init__(self, parser, streams: list[str] | tuple[str, ...]):
        self.parser, self.streams = parser.eval(), tuple(streams)
        self.feature_dim = parser.spec.object_feature_dim
        self.memory = SceneMemory()

    @property
    def dim(self) -> int:
        xs, ys = grid_nodes(CELL)
        return len(xs) * len(ys) * (1 + self.feature_dim)

    def reset(self) -> None:
        self.memory = SceneMemory()

    def __call__(self, obs: dict) -> np.ndarray:
        import torch

        gaze = Gaze.from_array(obs["gaze"])
        with torch.no_grad():
            for stream in self.streams:
                image = obs[stream]
                objects, places = self.parser.places(torch.from_numpy(np.ascontiguousarray(image))[None])
                world = on_desk(places.position[0].numpy(), gaze, image.shape[0], stream)
                self.memory.add(world, places.present[0].numpy(), objects.features[0].numpy())
        return desk_grid(self.memory, self.feature_dim, CELL)


class MemoryPerception:
    """The encoder's features of an observation followed by the capsule memory's grid. The same
    observation asked twice (the runner and the reward judge both read the first one) enters the
    memory once."""

    def __init__(self, base, memory: CapsuleMemoryInput):
        self.base, self.memory = base, memory
        self._last: tuple[dict, np.ndarray] | None = None  # held, so that its id is not reused

    def reset(self) -> None:
        self.memory.reset()
        self._last = None

    def base_features(self, obs: dict) -> np.ndarray:
        return self.base(obs)

    def encoder_part(self, features: np.ndarray) -> np.ndarray:
        """The encoder's features of a vector this made: what the narrator and the reward read."""
        return features[: len(features) - self.memory.dim]

    def __call__(self, obs: dict) -> np.ndarray:
        if self._last is not None and self._last[0] is obs:
            return self._last[1]
        out = np.concatenate([self.base(obs), self.memory(obs)]).astype(np.float32)
        self._last = (obs, out)
        return out


def agent_perception(run, policy, encoder):
    """What the acting policy reads: the encoder's features, and the capsule memory when it was
    trained with one (policy.json names the streams)."""
    from agent.perception.features import PerceptionFeatures

    perception = PerceptionFeatures(encoder)
    streams = policy.capsule_memory
    if not streams:
        return perception
    from agent.perception.capsules import load_parser, parser_digest
    from agent.weights import WeightsError

    parser = load_parser(run.capsules)
    if policy.capsule_parser != parser_digest(run.capsules):
        raise WeightsError(f"{run.capsules}: this capsule parser is not the one the policy's memory was made with "
                           f"(policy.json names {policy.capsule_parser}); use the run the policy was trained in")
    return MemoryPerception(perception, CapsuleMemoryInput(parser, streams))
