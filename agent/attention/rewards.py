"""What a glimpse earns the gaze policy, without labels. Two kinds, trained and compared:

- "acting": how much the glimpse helps the hand. The frozen acting policy reads the glimpse and
  proposes an arm action; the reward is how much closer that is to the scripted expert's action
  than with the average candidate glimpse of the scene (EyeRobot rewards the eye when the hand
  acts right; SUGARL, an inverse-dynamics model's confidence). The expert's actions are the
  imitation labels the agent already learned from: no new labels.
- "scene": how much the glimpse reduces the memory's error in predicting what the other
  glimpses of the scene would show (a linear predictor of every candidate's foveal features from
  the memory, fitted on the training bank; slots already seen count as known). Purely from pixels.
  The fovea, not the periphery: one wide peripheral view already predicts the others' (round one
  predicted both, and after the first glimpse the rewards were too small to steer by).
Both pay a small cost for each change of zoom. For comparison only, a third kind reads the
privileged state: "privileged" pays for looking near where the scripted expert looks (the same
gain over the average candidate, on distance). It shows what the training machinery reaches
when the reward points at the right place; it is never shipped (agent.attention.train).
"""

from __future__ import annotations

import numpy as np

from agent.attention.memory import memory_slots


class ScenePredictor:
    """Linear map from the flat memory (C, 1 + 2m) to every slot's foveal features (C, m)."""

    def fit(self, fovea: np.ndarray, periphery: np.ndarray, max_glimpses: int, rng: np.random.Generator,
            samples_per_scene: int = 4, l2: float = 1.0) -> ScenePredictor:
        s, c, _ = fovea.shape
        targets = fovea  # (S, C, m)
        xs, ys = [], []
        for _ in range(samples_per_scene):
            k = rng.integers(0, max_glimpses, s)
            chosen = np.full((s, max_glimpses), -1)
            for i in range(s):
                chosen[i, :k[i]] = rng.choice(c, size=k[i], replace=False)
            xs.append(memory_slots(fovea, periphery, chosen).reshape(s, -1))
            ys.append(targets.reshape(s, -1))
        x, y = np.concatenate(xs).astype(np.float64), np.concatenate(ys).astype(np.float64)
        self.x_mean, self.y_mean = x.mean(0), y.mean(0)
        xc = x - self.x_mean
        gram = xc.T @ xc
        lam = l2 * float(np.mean(np.diag(gram))) + 1e-6
        self.weights = np.linalg.solve(gram + lam * np.eye(len(gram)), xc.T @ (y - self.y_mean)).astype(np.float32)
        self.x_mean, self.y_mean = self.x_mean.astype(np.float32), self.y_mean.astype(np.float32)
        return self

    def error(self, memory: np.ndarray, targets: np.ndarray) -> np.ndarray:
        """Mean squared error over the slots not yet seen (seen ones count as 0), per memory.
        memory: (N, C, 1 + 2m); targets: (N, C, m), the foveal features."""
        n, c, _ = memory.shape
        pred = ((memory.reshape(n, -1) - self.x_mean) @ self.weights + self.y_mean).reshape(n, c, -1)
        per_slot = ((pred - targets) ** 2).mean(-1) * (1.0 - memory[..., 0])
        return per_slot.mean(-1)


def acting_gain(act_error: np.ndarray, chosen: np.ndarray) -> np.ndarray:
    """How much closer the arm's action is to the expert's with the chosen glimpse than with the
    scene's average candidate (positive: better). act_error (N, C), chosen (N,)."""
    return act_error.mean(1) - act_error[np.arange(len(chosen)), chosen]
