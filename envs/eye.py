"""The eye: a camera in the robot's head that points at a gaze point and zooms.

Like a multi-resolution retina, one look gives two images centred on the gaze: a
small foveal glimpse with a narrow field of view, and a coarse peripheral view with a
wide field at low resolution. The full-frame camera, for demos and frame
observations, looks from the same head at the middle of the workspace.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # the simulator is needed to run the desk, not to read its geometry
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

    def normalised(self, point: np.ndarray) -> tuple[float, float, bool]:
        """Image coordinates in [-1, 1] (x to the right, y down, as torch's affine grids) and
        whether the point is in front of the camera."""
        v = np.asarray(self.view).reshape(4, 4).T
        in_front = (v @ np.append(point, 1.0))[2] < 0
        col, row = self.project(point)
        return col / self.width * 2 - 1, row / self.height * 2 - 1, bool(in_front)

    def unproject(self, x: float, y: float, plane_z: float) -> np.ndarray | None:
        """The world point on the plane z = plane_z seen at normalised image coordinates (x, y)."""
        v = np.asarray(self.view).reshape(4, 4).T
        pr = np.asarray(self.projection).reshape(4, 4).T
        inv = np.linalg.inv(pr @ v)
        near = inv @ np.array([x, -y, -1.0, 1.0])
        far = inv @ np.array([x, -y, 1.0, 1.0])
        a, b = near[:3] / near[3], far[:3] / far[3]
        if abs(b[2] - a[2]) < 1e-9:
            return None
        t = (plane_z - a[2]) / (b[2] - a[2])
        return a + t * (b - a) if t > 0 else None


def view_matrix(eye, target, up=(0.0, 0.0, 1.0)) -> tuple[float, ...]:
    """A look-at view matrix, column-major like PyBullet's computeViewMatrix."""
    eye, target, up = (np.asarray(v, dtype=np.float64) for v in (eye, target, up))
    f = target - eye
    f /= np.linalg.norm(f)
    s = np.cross(f, up)
    s /= np.linalg.norm(s)
    u = np.cross(s, f)
    m = np.eye(4)
    m[0, :3], m[1, :3], m[2, :3] = s, u, -f
    m[:3, 3] = -m[:3, :3] @ eye
    return tuple(m.T.reshape(-1).tolist())


def projection_matrix(fov: float, aspect: float, near: float = NEAR, far: float = FAR) -> tuple[float, ...]:
    """A perspective projection, column-major like PyBullet's computeProjectionMatrixFOV."""
    f = 1.0 / math.tan(math.radians(fov) / 2)
    m = np.zeros((4, 4))
    m[0, 0], m[1, 1] = f / aspect, f
    m[2, 2], m[2, 3] = (far + near) / (near - far), 2 * far * near / (near - far)
    m[3, 2] = -1.0
    return tuple(m.T.reshape(-1).tolist())


def make_camera(target, fov: float, width: int, height: int | None = None) -> Camera:
    height = height or width
    return Camera(view_matrix(HEAD, target), projection_matrix(fov, width / height), width, height)


def fovea_camera(gaze: Gaze, size: int) -> Camera:
    return make_camera(gaze.point(), FOVEA_FOV / gaze.zoom_factor(), size)


def periphery_camera(gaze: Gaze, size: int) -> Camera:
    return make_camera(gaze.point(), PERIPHERY_FOV, size)


class Eye:
    def __init__(self, sim: Sim, *, fovea_size: int, periphery_size: int, frame_size: int):
        self.sim = sim
        self.fovea_size = fovea_size
        self.periphery_size = periphery_size
        self.frame_size = frame_size

    def camera(self, target, fov: float, width: int, height: int | None = None) -> Camera:
        return make_camera(target, fov, width, height)

    def fovea_camera(self, gaze: Gaze) -> Camera:
        return fovea_camera(gaze, self.fovea_size)

    def periphery_camera(self, gaze: Gaze) -> Camera:
        return periphery_camera(gaze, self.periphery_size)

    def frame_camera(self, width: int | None = None, height: int | None = None) -> Camera:
        return make_camera(FRAME_TARGET, FRAME_FOV, width or self.frame_size, height)

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
