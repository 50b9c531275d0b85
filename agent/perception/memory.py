"""Scene memory: object capsules from successive glimpses, moved into the world frame and merged.

The eye knows where it looked (the gaze) and the camera, so an object capsule's
position in a glimpse becomes a ray from the head; where the ray meets the desk is
the object's place in the world. Capsules seen again near a remembered object, with
similar features, refresh it; others are added; objects not seen for a while fade.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from envs.eye import Gaze, fovea_camera, periphery_camera

DESK_Z = 0.03  # the height at which a capsule's ray is cut: objects sit on the desk
# metres: the desk grid spans where blocks go, the drawer included (on the attention stage's
# training scenes, 0.03% of block places fall outside it); a multiple of 0.08 m on each side
GRID_X = (0.15, 0.71)
GRID_Y = (-0.38, 0.42)


def on_desk(positions: np.ndarray, gaze: Gaze, image_size: int, stream: str = "periphery") -> np.ndarray:
    """(M, 2) places in normalised coordinates of a view -> (M, 3) points where their rays meet the
    desk (NaN where a ray misses it)."""
    camera = (fovea_camera if stream == "fovea" else periphery_camera)(gaze, image_size)
    out = np.full((len(positions), 3), np.nan)
    for i, pos in enumerate(positions):
        world = camera.unproject(float(pos[0]), float(pos[1]), DESK_Z)
        if world is not None:
            out[i] = world
    return out


@dataclass
class MemoryEntry:
    position: np.ndarray  # world frame, metres
    features: np.ndarray
    confidence: float
    seen: int
    last_step: int


class SceneMemory:
    def __init__(self, *, merge_distance: float = 0.06, min_similarity: float = 0.5, decay: float = 0.97,
                 forget_below: float = 0.05, presence_threshold: float = 0.5):
        self.entries: list[MemoryEntry] = []
        self.merge_distance, self.min_similarity = merge_distance, min_similarity
        self.decay, self.forget_below, self.presence_threshold = decay, forget_below, presence_threshold
        self.step = 0

    def update(self, positions: np.ndarray, presence: np.ndarray, features: np.ndarray, gaze: Gaze,
               image_size: int, stream: str = "periphery") -> None:
        """positions: (M, 2) object-capsule positions in normalised coordinates of the view (the
        peripheral one unless `stream` says fovea)."""
        self.add(on_desk(positions, gaze, image_size, stream), presence, features)

    def add(self, world: np.ndarray, presence: np.ndarray, features: np.ndarray) -> None:
        """One glimpse's object capsules already in the world frame: world (M, 3), NaN where a
        capsule's ray misses the desk."""
        self.step += 1
        for entry in self.entries:
            entry.confidence *= self.decay
        for w, p, f in zip(world, presence, features):
            if p >= self.presence_threshold and np.all(np.isfinite(w)):
                self._merge(np.asarray(w, np.float64), f, float(p))
        self.entries = [e for e in self.entries if e.confidence >= self.forget_below]

    def _merge(self, world: np.ndarray, features: np.ndarray, presence: float) -> None:
        best, best_d = None, self.merge_distance
        for entry in self.entries:
            d = float(np.linalg.norm(entry.position[:2] - world[:2]))
            sim = float(features @ entry.features / (np.linalg.norm(features) * np.linalg.norm(entry.features) + 1e-8))
            if d < best_d and sim >= self.min_similarity:
                best, best_d = entry, d
        if best is None:
            self.entries.append(MemoryEntry(world, features.copy(), presence, 1, self.step))
            return
        w = 1.0 / (best.seen + 1)
        best.position = (1 - w) * best.position + w * world
        best.features = (1 - w) * best.features + w * features
        best.confidence = max(best.confidence, presence)
        best.seen += 1
        best.last_step = self.step

    def positions(self) -> np.ndarray:
        return np.array([e.position for e in self.entries]).reshape(-1, 3)


def grid_nodes(cell: float) -> tuple[np.ndarray, np.ndarray]:
    return np.arange(GRID_X[0], GRID_X[1] + 1e-9, cell), np.arange(GRID_Y[0], GRID_Y[1] + 1e-9, cell)


def desk_grid(memory: SceneMemory, feature_dim: int, cell: float) -> np.ndarray:
    """(nodes_x * nodes_y * (1 + F),) the memory as numbers a network or a linear probe reads: each
    remembered object adds its confidence times (1, its features) to the four grid nodes around its
    place, bilinearly. Bilinear weights reproduce any linear function of the place, so a linear
    read-out is not limited to the cell size; the features say which object is where."""
    xs, ys = grid_nodes(cell)
    grid = np.zeros((len(xs), len(ys), 1 + feature_dim), np.float32)
    for entry in memory.entries:
        fx = np.clip((entry.position[0] - xs[0]) / cell, 0, len(xs) - 1 - 1e-6)
        fy = np.clip((entry.position[1] - ys[0]) / cell, 0, len(ys) - 1 - 1e-6)
        ix, iy = int(fx), int(fy)
        ax, ay = fx - ix, fy - iy
        value = entry.confidence * np.concatenate([[1.0], entry.features])
        for dx, wx in ((0, 1 - ax), (1, ax)):
            for dy, wy in ((0, 1 - ay), (1, ay)):
                grid[ix + dx, iy + dy] += wx * wy * value
    return grid.ravel()
