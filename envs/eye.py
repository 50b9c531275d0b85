"""The eye: a camera in the robot's head that points at a gaze point and zooms.

Like a multi-resolution retina, one look gives two images centred on the gaze: a
small foveal glimpse with a narrow field of view, and a coarse peripheral view with a
wide field at low resolution. The full-frame camera, for demos and frame
observations, looks from the same head at the middle of the workspace.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from envs.sim import Sim

HEAD = (0.40, -0.80, 0.85)  # to the right of the arm, above the desk: the arm rarely hides the work
# The gaze point lives on this rectangle of the workspace, at this height.
GAZE_X = (0.25, 0.85)
GAZE_Y = (-0.40, 0.40)
GAZE_Z = 0.03
ZOOM = (1.0, 4.0)
FOVEA_FOV = 24.0  # degrees at zoom 1
PERIPHERY_FOV = 80.0
FRAME_FOV = 60.0
FRAME_TARGET = (0.5, 0.0, 0.0)
NEAR, FAR = 0.05, 3.0


@dataclass(frozen=True)
class Gaze:
    """Where the eye looks, in normalised units: x, y and zoom, each in [-1, 1]."""

    x: float = 0.0
    y: float = 0.0
    zoom: float = -1.0

    @classmethod
    def from_array(cls, a: np.ndarray) -> Gaze:
        return cls(float(a[0]), float(a[1]), float(a[2]))

    def as_array(self) -> np.ndarray:
        return np.array([self.x, self.y, self.zoom], dtype=np.float32)

    def point(self) -> np.ndarray:
        """The gaze point in the world frame."""
        return np.array([_lerp(GAZE_X, self.x), _lerp(GAZE_Y, self.y), GAZE_Z])

    def zoom_factor(self) -> float:
        return _lerp(ZOOM, self.zoom)

    @classmethod
    def looking_at(cls, point: np.ndarray, zoom: float = 1.0) -> Gaze:
        """The gaze that looks at a world point (clipped to the gaze rectangle)."""
        x = np.clip(_unlerp(GAZE_X, float(point[0])), -1, 1)
        y = np.clip(_unlerp(GAZE_Y, float(point[1])), -1, 1)
        z = np.clip(_unlerp(ZOOM, zoom), -1, 1)
        return cls(float(x), float(y), float(z))


def _lerp(span: tuple[float, float], u: float) -> float:
    return span[0] + (u + 1.0) / 2.0 * (span[1] - span[0])


def _unlerp(span: tuple[float, float], v: float) -> float:
    return (v - span[0]) / (span[1] - span[0]) * 2.0 - 1.0


@dataclass(frozen=True)
class Camera:
    view: tuple[float, ...]
    projection: tuple[float, ...]
    width: int
    height: int

    def project(self, point: np.ndarray) -> tuple[float, float]:
        """Pixel coordinates (column, row) of a world point."""
        v = np.asarray(self.view).reshape(4, 4).T
        pr = np.asarray(self.projection).reshape(4, 4).T
        clip = pr @ v @ np.append(point, 1.0)
        ndc = clip[:3] / clip[3]
        return (ndc[0] + 1) / 2 * self.width, (1 - ndc[1]) / 2 * self.height


class Eye:
    def __init__(self, sim: Sim, *, fovea_size: int, periphery_size: int, frame_size: int):
        self.sim = sim
        self.fovea_size = fovea_size
        self.periphery_size = periphery_size
        self.frame_size = frame_size

    def camera(self, target, fov: float, width: int, height: int | None = None) -> Camera:
        p = self.sim.p
        height = height or width
        view = p.computeViewMatrix(HEAD, list(target), [0, 0, 1])
        projection = p.computeProjectionMatrixFOV(fov, width / height, NEAR, FAR)
        return Camera(view, projection, width, height)

    def fovea_camera(self, gaze: Gaze) -> Camera:
        return self.camera(gaze.point(), FOVEA_FOV / gaze.zoom_factor(), self.fovea_size)

    def periphery_camera(self, gaze: Gaze) -> Camera:
        return self.camera(gaze.point(), PERIPHERY_FOV, self.periphery_size)

    def frame_camera(self, width: int | None = None, height: int | None = None) -> Camera:
        return self.camera(FRAME_TARGET, FRAME_FOV, width or self.frame_size, height)

    def render(self, camera: Camera) -> np.ndarray:
        p = self.sim.p
        _, _, rgba, _, _ = p.getCameraImage(
            camera.width, camera.height, camera.view, camera.projection,
            renderer=p.ER_TINY_RENDERER, flags=p.ER_NO_SEGMENTATION_MASK, shadow=0,
        )
        return np.asarray(rgba, dtype=np.uint8).reshape(camera.height, camera.width, 4)[:, :, :3]

    def glimpse(self, gaze: Gaze) -> tuple[np.ndarray, np.ndarray]:
        """(fovea, periphery) images at the gaze."""
        return self.render(self.fovea_camera(gaze)), self.render(self.periphery_camera(gaze))

    def fovea_radius_px(self, gaze: Gaze, camera: Camera) -> float:
        """Approximate radius, in pixels of `camera`, of the foveal field at the gaze."""
        distance = float(np.linalg.norm(gaze.point() - np.asarray(HEAD)))
        half = distance * math.tan(math.radians(FOVEA_FOV / gaze.zoom_factor() / 2))
        c0 = camera.project(gaze.point())
        c1 = camera.project(gaze.point() + np.array([0.0, half, 0.0]))
        return float(np.hypot(c1[0] - c0[0], c1[1] - c0[1]))
