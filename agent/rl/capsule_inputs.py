"""The capsule scene memory as an input of the acting policy (`rl.capsule_memory`).

At each step the glimpse's object capsules (of the streams named) are carried onto the desk
through the gaze and merged into the scene memory (agent.perception.memory); the memory is
laid on a coarse desk grid (`desk_grid`: bilinear, so places finer than a cell survive) and
appended to the encoder's features. The memory is emptied when a command starts
(agent.runner.run_command), as it was in every demonstration the policy learned from.
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
        self.reset()

    @property
    def dim(self) -> int:
        xs, ys = grid_nodes(CELL)
        return len(xs) * len(ys) * (1 + self.feature_dim)

    def reset(self) -> None:
        self.memory = SceneMemory()
        self._seen: dict[str, np.ndarray] = {}

    def __call__(self, obs: dict) -> np.ndarray:
        import torch

        gaze = Gaze.from_array(obs["gaze"])
        with torch.no_grad():
            for stream in self.streams:
                image = obs[stream]
                # A stream rendered only every n-th step (env.periphery_every) hands back the same
                # image between renders: it was taken at an earlier gaze, so it is not added again.
                if self._seen.get(stream) is image:
                    continue
                self._seen[stream] = image
                objects, places = self.parser.places(torch.from_numpy(np.ascontiguousarray(image))[None])
                world = on_desk(places.position[0].numpy(), gaze, image.shape[0], stream)
                self.memory.add(world, places.present[0].numpy(), objects.features[0].numpy())
        return desk_grid(self.memory, self.feature_dim, CELL)


class MemoryPerception:
    """The encoder's features of an observation followed by the capsule memory's grid."""

    def __init__(self, base, memory: CapsuleMemoryInput):
        self.base, self.memory = base, memory

    @property
    def dim(self) -> int:
        return self.base.dim + self.memory.dim

    def reset(self) -> None:
        self.memory.reset()

    def base_features(self, obs: dict) -> np.ndarray:
        """The encoder's features alone (what the learned reward reads), the memory left as it is."""
        return self.base(obs)

    def encoder_part(self, features: np.ndarray) -> np.ndarray:
        """The encoder's features of a vector this made (what the narrator reads)."""
        return features[: self.base.dim]

    def __call__(self, obs: dict) -> np.ndarray:
        return np.concatenate([self.base(obs), self.memory(obs)]).astype(np.float32)


def agent_perception(run, policy, encoder):
    """What the acting policy reads: the encoder's features, and the capsule memory when it was
    trained with one (policy.json names the streams and the parser)."""
    from agent.perception.features import PerceptionFeatures
    from agent.weights import WeightsError

    perception = PerceptionFeatures(encoder)
    if not policy.capsule_memory:
        return perception
    from agent.perception.capsules import load_parser, parser_digest

    parser = load_parser(run.capsules)
    if policy.capsule_parser != parser_digest(run.capsules):
        raise WeightsError(f"{run.capsules}: this capsule parser is not the one the policy's memory was made with "
                           f"(policy.json names {policy.capsule_parser}); use the run the policy was trained in")
    perception = MemoryPerception(perception, CapsuleMemoryInput(parser, policy.capsule_memory))
    if perception.dim != policy.spec.feature_dim:
        raise WeightsError(f"{run.rl}: the policy reads {policy.spec.feature_dim} numbers, but the encoder and the "
                           f"capsule memory make {perception.dim} (a policy made with another memory grid); "
                           "run `saccade train rl` again")
    return perception


def refuse_capsule_memory(policy, folder, where: str) -> None:
    """For code that feeds a policy the encoder's features only: a policy that also reads the
    capsule memory would get the wrong number of inputs."""
    if policy.capsule_memory:
        from agent.weights import WeightsError

        raise WeightsError(f"{folder}: this acting policy reads the capsule memory (rl.capsule_memory), which "
                           f"{where} does not build; use a run trained without it")
