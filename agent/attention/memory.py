"""The glimpse memory: what the eye has seen, one slot per candidate gaze.

A slot holds whether its candidate was looked at and the features of that glimpse; a new look
at the same place overwrites it. The gaze policy reads a compact form (each glimpse's fovea and
periphery features reduced by a PCA fitted on the training bank, whitened); the scene probes of
the evaluation read the full encoder features. In the loop the memory keeps the last K - 1
glimpses, as many as the policy ever saw while it was trained.
"""

from __future__ import annotations

import numpy as np


class Reduction:
    """Whitened PCA of encoder features: (..., D) -> (..., m)."""

    def __init__(self, mean: np.ndarray, components: np.ndarray):
        self.mean, self.components = mean.astype(np.float32), components.astype(np.float32)  # (D,), (m, D)

    @classmethod
    def fit(cls, features: np.ndarray, dim: int) -> Reduction:
        x = features.reshape(-1, features.shape[-1]).astype(np.float64)
        mean = x.mean(0)
        _, s, vt = np.linalg.svd(x - mean, full_matrices=False)
        dim = min(dim, len(s))
        scale = s[:dim] / np.sqrt(max(len(x) - 1, 1)) + 1e-6
        return cls(mean, vt[:dim] / scale[:, None])

    def __call__(self, features: np.ndarray) -> np.ndarray:
        return ((features - self.mean) @ self.components.T).astype(np.float32)


def memory_slots(fovea: np.ndarray, periphery: np.ndarray, chosen: np.ndarray) -> np.ndarray:
    """Memories of many scenes at once.

    fovea, periphery: (S, C, d) features of every candidate glimpse of S scenes;
    chosen: (S, k) candidates looked at, in order (-1: no glimpse).
    Returns (S, C, 1 + 2d): per slot, seen (0/1), then the fovea's and periphery's features (zeros unseen).
    """
    s, c, d = fovea.shape
    out = np.zeros((s, c, 1 + 2 * d), np.float32)
    rows = np.arange(s)
    for j in range(chosen.shape[1]):
        a = chosen[:, j]
        ok = a >= 0
        r, slot = rows[ok], a[ok]
        out[r, slot, 0] = 1.0
        out[r, slot, 1:1 + d] = fovea[r, slot]
        out[r, slot, 1 + d:] = periphery[r, slot]
    return out
