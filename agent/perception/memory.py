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
        self.step += 1
        for entry in self.entries:
            entry.confidence *= self.decay
        camera = (fovea_camera if stream == "fovea" else periphery_camera)(gaze, image_size)
        for pos, p, f in zip(positions, presence, features):
            if p < self.presence_threshold:
                continue
            world = camera.unproject(float(pos[0]), float(pos[1]), DESK_Z)
            if world is None or not np.all(np.isfinite(world)):
                continue
            self._merge(world, f, float(p))
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
