"""The gaze policy's environment: K glimpses of one frozen scene from a glimpse bank.

Each episode draws a training scene; the policy looks K times (a discrete action: one candidate
gaze); each look writes the glimpse into the memory and earns the reward of its kind
(agent.attention.rewards). Every glimpse was rendered and encoded when the bank was recorded, so
a step is a lookup, and PPO runs thousands of steps a second on one core.
"""

from __future__ import annotations

from dataclasses import dataclass

import gymnasium as gym
import numpy as np

from agent.attention.memory import memory_slots
from agent.attention.policy import observation
from agent.attention.rewards import ScenePredictor, acting_gain


@dataclass
class BankView:
    """What the gaze policy's episodes read from a bank (reduced and normalised)."""

    fovea: np.ndarray  # (S, C, m) whitened PCA features of every candidate's fovea
    periphery: np.ndarray  # (S, C, m)
    proprio: np.ndarray  # (S, 14) normalised
    command: np.ndarray  # (S, 384) the episode's command embedding
    act_error: np.ndarray  # (S, C) arm action error against the expert's, per candidate glimpse
    look_distance: np.ndarray  # (S, C) how far each candidate is from where the expert looks (privileged)
    zoom_of: np.ndarray  # (C,) zoom index of each candidate

    def __len__(self) -> int:
        return len(self.fovea)


@dataclass
class RewardScales:
    kind: str  # acting | scene | privileged (agent.attention.rewards)
    acting: float  # typical size of acting_gain on the training bank
    privileged: float  # the same for look_distance
    scene: float  # mean prediction error of an empty memory on the training bank
    zoom_change_cost: float


class GlimpseEnv(gym.Env):
    metadata = {"render_modes": []}

    def __init__(self, bank: BankView, predictor: ScenePredictor, scales: RewardScales, glimpses: int, seed: int = 0):
        self.bank, self.predictor, self.scales, self.k = bank, predictor, scales, glimpses
        c, m = bank.fovea.shape[1], bank.fovea.shape[2]
        dim = c * (1 + 2 * m) + bank.proprio.shape[1] + glimpses + bank.command.shape[1]
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, (dim,), np.float32)
        self.action_space = gym.spaces.Discrete(c)
        self.targets = bank.fovea  # what the scene reward predicts (agent.attention.rewards)
        self._rng = np.random.default_rng(seed)

    def _obs(self) -> np.ndarray:
        b, s = self.bank, self.scene
        return observation(self.memory[None], b.proprio[s][None], np.array([self.count]), b.command[s][None], self.k)[0]

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        if seed is not None:
            self._rng = np.random.default_rng(seed)
        self.scene = int(self._rng.integers(len(self.bank)))
        self.chosen = np.full(self.k, -1)
        self.count = 0
        self.memory = memory_slots(self.bank.fovea[[self.scene]], self.bank.periphery[[self.scene]], self.chosen[None])[0]
        self.error = float(self.predictor.error(self.memory[None], self.targets[[self.scene]])[0])
        return self._obs(), {}

    def step(self, action):
        a = int(action)
        s = self.scene
        reward = 0.0
        if self.scales.kind == "acting":
            reward += float(acting_gain(self.bank.act_error[[s]], np.array([a]))[0]) / self.scales.acting
        if self.scales.kind == "privileged":
            reward += float(acting_gain(self.bank.look_distance[[s]], np.array([a]))[0]) / self.scales.privileged
        self.chosen[self.count] = a
        self.count += 1
        self.memory = memory_slots(self.bank.fovea[[s]], self.bank.periphery[[s]], self.chosen[None])[0]
        if self.scales.kind == "scene":
            error = float(self.predictor.error(self.memory[None], self.targets[[s]])[0])
            reward += (self.error - error) / self.scales.scene
            self.error = error
        if self.count > 1 and self.bank.zoom_of[a] != self.bank.zoom_of[self.chosen[self.count - 2]]:
            reward -= self.scales.zoom_change_cost
        done = self.count >= self.k
        return self._obs(), reward, done, False, {}


def rollout(choose, bank: BankView, n: int, policy_glimpses: int | None = None) -> np.ndarray:
    """(S, n) candidates a policy looks at in every scene of a bank, all scenes in parallel.
    choose: (N, input_dim) observations -> (N,) candidates; policy_glimpses: the K the policy was
    trained with (its input's one-hot; default n)."""
    s = len(bank)
    k = policy_glimpses or n
    chosen = np.full((s, n), -1)
    for j in range(n):
        memory = memory_slots(bank.fovea, bank.periphery, chosen)
        obs = observation(memory, bank.proprio, np.full(s, j), bank.command, k)
        chosen[:, j] = choose(obs)
    return chosen
