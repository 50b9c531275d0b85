"""The gazes the attention policy chooses among: a grid of points on the gaze rectangle, at a few zooms.

A discrete set, so that every candidate glimpse of a scene can be rendered and encoded once
(agent.attention.bank) and an episode of the gaze policy costs lookups. Candidate c is point
c % grid² of the grid (x fastest) at zoom c // grid². All lie inside the gaze rectangle: the
normalised coordinates stay in [-1, 1] (envs.eye.Gaze), so a chosen gaze never leaves the workspace.
"""

from __future__ import annotations

import numpy as np

from envs.eye import ZOOM, Gaze

EDGE = 0.85  # the outermost grid points, in normalised units: glimpses there still show the desk


class GazeCandidates:
    def __init__(self, grid: int, zooms: list[float] | tuple[float, ...]):
        self.grid, self.zooms = grid, tuple(float(z) for z in zooms)
        axis = np.linspace(-EDGE, EDGE, grid) if grid > 1 else np.zeros(1)
        xs, ys = np.meshgrid(axis, axis)  # x varies fastest
        points = np.stack([xs.ravel(), ys.ravel()], 1)
        zoom_units = [float(np.clip((z - ZOOM[0]) / (ZOOM[1] - ZOOM[0]) * 2 - 1, -1, 1)) for z in self.zooms]
        self.array = np.concatenate([np.column_stack([points, np.full(len(points), u)]) for u in zoom_units])
        self.array = self.array.astype(np.float32)  # (C, 3): gaze x, gaze y, zoom, each in [-1, 1]

    def __len__(self) -> int:
        return len(self.array)

    @property
    def points_per_zoom(self) -> int:
        return self.grid * self.grid

    def gaze(self, index: int) -> Gaze:
        return Gaze.from_array(self.array[index])

    def zoom_index(self, index: int | np.ndarray) -> int | np.ndarray:
        return np.asarray(index) // self.points_per_zoom

    def distance(self, gaze: np.ndarray) -> np.ndarray:
        """(C,) how far each candidate is from a gaze (x, y, zoom in normalised units; zoom counts
        three times); out-of-range gazes are clipped."""
        g = np.clip(np.nan_to_num(np.asarray(gaze, np.float32), nan=0.0), -1, 1)
        return np.abs(self.array - g).sum(1) + 2 * np.abs(self.array[:, 2] - g[2])

    def nearest(self, gaze: np.ndarray) -> int:
        """The candidate nearest to a gaze."""
        return int(np.argmin(self.distance(gaze)))

    def scan(self, k: int) -> list[int]:
        """A fixed scan pattern of k candidates at the widest zoom: the middle first, then each next
        point as far as possible from those already seen (farthest-point order), repeating after
        all were seen."""
        points = self.array[: self.points_per_zoom, :2]
        order = [int(np.argmin(np.linalg.norm(points, axis=1)))]
        while len(order) < min(k, len(points)):
            d = np.min(np.linalg.norm(points[:, None] - points[order][None], axis=-1), axis=1)
            order.append(int(np.argmax(d)))
        return [order[i % len(order)] for i in range(k)]
