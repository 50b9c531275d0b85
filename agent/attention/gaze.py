"""Gaze in the loop: the learned attention policy pointing the eye while the acting policy moves the arm.

At each control step the glimpse just seen (at the gaze chosen the step before) is written into
the memory, which keeps the last K - 1 glimpses (as many as the policy saw in training), and the
policy chooses the next gaze from the memory, the body's sense and the command.
"""

from __future__ import annotations

from collections import deque

import numpy as np

from agent.attention.memory import memory_slots
from agent.attention.policy import PROPRIO_DIM, AttentionPolicy, observation


class LearnedGaze:
    def __init__(self, policy: AttentionPolicy):
        self.policy = policy.eval()
        self.fovea, self.periphery = policy.reduction("fovea"), policy.reduction("periphery")
        self.recent: deque = deque(maxlen=policy.spec.glimpses - 1)
        self.command: np.ndarray | None = None

    def start(self, command: np.ndarray) -> None:
        """A new command: its embedding (384,); the memory starts empty."""
        self.command = np.asarray(command, np.float32)
        self.recent.clear()

    def observe(self, features: np.ndarray, gaze: np.ndarray) -> np.ndarray:
        """Write the glimpse just seen into the memory; the policy's input for choosing the next gaze.
        features: the step's perception features (agent.perception.features order); gaze: where the
        eye looked for them."""
        d = self.policy.spec.feature_dim
        slot = self.policy.candidates.nearest(gaze)
        self.recent.append((slot, self.fovea(features[:d]), self.periphery(features[d:2 * d])))
        c, m = self.policy.spec.n_candidates, self.policy.spec.memory_dim
        fovea, periphery = np.zeros((1, c, m), np.float32), np.zeros((1, c, m), np.float32)
        chosen = np.full((1, len(self.recent)), -1)
        for j, (s, f, p) in enumerate(self.recent):  # later looks at a slot overwrite earlier ones
            fovea[0, s], periphery[0, s], chosen[0, j] = f, p, s
        memory = memory_slots(fovea, periphery, chosen)
        proprio = self.policy.normalise_proprio(features[2 * d:2 * d + PROPRIO_DIM])[None]
        return observation(memory, proprio, np.array([len(self.recent)]), self.command[None],
                           self.policy.spec.glimpses)[0]

    def next_gaze(self, features: np.ndarray, gaze: np.ndarray) -> np.ndarray:
        """The next gaze (x, y, zoom): the policy's most likely candidate, inside the workspace."""
        obs = self.observe(features, gaze)
        return self.policy.candidates.array[int(self.policy.choose(obs[None])[0])].copy()
