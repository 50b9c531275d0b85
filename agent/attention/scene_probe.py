"""The scene estimate: linear probes that read a memory and say where the blocks are, whether the
drawer is open and whether the lamp is on.

As the encoder's probes (agent.perception.probes), they are evaluation instruments: ridge
regression on standardised memories, fitted on the training scenes of a bank with the glimpses of
the gaze policy being measured, scored on held-out scenes. The ridge penalty is chosen by
leave-one-out error on the training scenes alone (closed form), never on the scenes scored.

scene accuracy = the mean, over the five facts (three block positions within 3 cm in x and y,
drawer open, lamp on), of the share of scenes where the probe has it right.
"""

from __future__ import annotations

import numpy as np

from envs import assets as A
from envs.scene import COLOURS
from envs.state_fields import block_position, field

POSITION_TOLERANCE = 0.03  # metres
PENALTIES = (1e-2, 1e-1, 1.0, 10.0, 100.0)  # ridge penalties tried, times the mean squared row norm


def scene_targets(state: np.ndarray) -> dict[str, np.ndarray]:
    return {"blocks": np.stack([block_position(state, c)[:, :2] for c in COLOURS], 1),  # (S, 3, 2)
            "drawer_open": field(state, "drawer") > A.DRAWER_TRAVEL / 2,
            "lamp_on": field(state, "lamp") > 0.5}


def _target_matrix(t: dict[str, np.ndarray]) -> np.ndarray:
    signs = [np.where(t[k], 1.0, -1.0)[:, None] for k in ("drawer_open", "lamp_on")]
    return np.concatenate([t["blocks"].reshape(len(t["blocks"]), -1), *signs], 1)


def _matrix(memories) -> tuple[np.ndarray, np.ndarray]:
    """(scenes, numbers) and each number's weight. A tuple of memories is read together, each
    memory's standardised numbers weighted by 1/sqrt(how many it has), so that a memory with many
    numbers does not drown one with few. (Numbers that never vary add nothing either way.)"""
    blocks = memories if isinstance(memories, tuple) else (memories,)
    blocks = [b.reshape(len(b), -1).astype(np.float64) for b in blocks]
    weights = np.concatenate([np.full(b.shape[1], 1 / np.sqrt(b.shape[1])) for b in blocks])
    return np.concatenate(blocks, 1), weights


class SceneProbe:
    """Kernel (dual) ridge: cheap when memories have more numbers than there are scenes."""

    def fit(self, memories, state: np.ndarray) -> SceneProbe:
        x, weights = _matrix(memories)
        self.mean, self.scale = x.mean(0), (x.std(0) + 1e-3) / weights  # standardised, then weighted
        x = (x - self.mean) / self.scale
        y = _target_matrix(scene_targets(state))
        self.y_mean = y.mean(0)
        y = y - self.y_mean
        gram = x @ x.T
        w, u = np.linalg.eigh(gram)
        w = np.clip(w, 0, None)
        uy = u.T @ y
        scale = float(np.mean(np.diag(gram))) + 1e-12
        best = None
        for penalty in PENALTIES:
            lam = penalty * scale
            hat_diag = (u ** 2) @ (w / (w + lam))
            fitted = u @ ((w / (w + lam))[:, None] * uy)
            loo = ((y - fitted) / (1 - hat_diag)[:, None].clip(1e-6)) ** 2
            err = float(loo.mean())
            if best is None or err < best[0]:
                best = (err, lam)
        self.penalty = best[1] / scale
        alpha = u @ (uy / (w + best[1])[:, None])
        self.weights = x.T @ alpha  # (features, targets)
        return self

    def predict(self, memories) -> dict[str, np.ndarray]:
        x = (_matrix(memories)[0] - self.mean) / self.scale
        y = x @ self.weights + self.y_mean
        return {"blocks": y[:, :6].reshape(-1, 3, 2), "drawer_open": y[:, 6] > 0, "lamp_on": y[:, 7] > 0}


def scene_scores(predicted: dict[str, np.ndarray], state: np.ndarray) -> dict[str, float]:
    truth = scene_targets(state)
    within = np.linalg.norm(predicted["blocks"] - truth["blocks"], axis=-1) < POSITION_TOLERANCE  # (S, 3)
    drawer = predicted["drawer_open"] == truth["drawer_open"]
    lamp = predicted["lamp_on"] == truth["lamp_on"]
    facts = np.concatenate([within, drawer[:, None], lamp[:, None]], 1)
    return {"scene_accuracy": float(facts.mean()), "blocks_within_3cm": float(within.mean()),
            "block_error_m": float(np.linalg.norm(predicted["blocks"] - truth["blocks"], axis=-1).mean()),
            "drawer_open": float(drawer.mean()), "lamp_on": float(lamp.mean())}


def probe_scene(train_memories, train_state: np.ndarray, test_memories, test_state: np.ndarray) -> dict[str, float]:
    """Memories: an array, or a tuple of arrays read together (see _matrix)."""
    probe = SceneProbe().fit(train_memories, train_state)
    return {**scene_scores(probe.predict(test_memories), test_state), "ridge_penalty": probe.penalty}
