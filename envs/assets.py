"""Geometry of the desk: generated URDF files for the arm, the cabinet and the button.

The Panda's visual meshes have about 100k triangles and cost almost all of the
TinyRenderer time; its collision meshes have about 3k. `light_panda_urdf` writes a
copy of the Panda whose visual geometry is its collision geometry, so that rendered
views stay cheap. The cabinet and button are boxes, written as URDF so that their
joints are ordinary URDF joints.
"""

from __future__ import annotations

import atexit
import functools
import os
import re
import shutil
import tempfile
from dataclasses import dataclass

# --- Cabinet (drawer) geometry, metres, in the cabinet frame: x points away from the robot.
CABINET_FRONT_X = 0.62  # world x of the housing's front face
CABINET_Y = 0.28  # world y of the cabinet's centre line
HOUSING_DEPTH = 0.22
HOUSING_WIDTH = 0.26
HOUSING_TOP = 0.09
DRAWER_TRAVEL = 0.16  # how far the drawer slides out
DRAWER_LENGTH = 0.19
DRAWER_HALF_WIDTH = 0.11
DRAWER_FLOOR_TOP = 0.02  # world z of the drawer floor's top surface
# Low walls: the gripper's hand passes over them when its fingers work at block height.
DRAWER_WALL_TOP = 0.055
HANDLE_X = -0.031  # handle fin centre, drawer frame (negative: towards the robot)
HANDLE_Z = 0.0475

# --- Button and lamp.
BUTTON_XY = (0.42, -0.30)
BUTTON_TRAVEL = 0.015
BUTTON_CAP_TOP = 0.04
LAMP_XY = (0.70, -0.28)
LAMP_HEIGHT = 0.09


@dataclass(frozen=True)
class Box:
    """An axis-aligned box given by its min and max corners."""

    lo: tuple[float, float, float]
    hi: tuple[float, float, float]

    def urdf(self, rgba: str, *, visual: bool = True) -> str:
        centre = " ".join(f"{(a + b) / 2:.5f}" for a, b in zip(self.lo, self.hi))
        size = " ".join(f"{b - a:.5f}" for a, b in zip(self.lo, self.hi))
        geometry = f'<origin xyz="{centre}"/><geometry><box size="{size}"/></geometry>'
        out = f"<collision>{geometry}</collision>"
        if visual:
            out += f'<visual>{geometry}<material name="m{abs(hash(rgba)) % 10**6}"><color rgba="{rgba}"/></material></visual>'
        return out


def _link(name: str, mass: float, boxes: list[Box], rgba: str) -> str:
    inertia = '<inertia ixx="0.001" ixy="0" ixz="0" iyy="0.001" iyz="0" izz="0.001"/>'
    body = "".join(b.urdf(rgba) for b in boxes)
    return f'<link name="{name}"><inertial><mass value="{mass}"/>{inertia}</inertial>{body}</link>'


def cabinet_urdf_text() -> str:
    d, hw, top = HOUSING_DEPTH, HOUSING_WIDTH / 2, HOUSING_TOP
    wood, front = "0.55 0.38 0.25 1", "0.70 0.50 0.32 1"
    housing = [
        Box((0.0, -hw, 0.0), (d, hw, 0.01)),  # bottom
        Box((0.0, -hw, top - 0.01), (d, hw, top)),  # top
        Box((0.0, -hw, 0.01), (d, -hw + 0.01, top - 0.01)),  # right wall
        Box((0.0, hw - 0.01, 0.01), (d, hw, top - 0.01)),  # left wall
        Box((d - 0.01, -hw, 0.01), (d, hw, top - 0.01)),  # back
    ]
    L, w, floor = DRAWER_LENGTH, DRAWER_HALF_WIDTH, DRAWER_FLOOR_TOP
    drawer = [
        Box((-0.012, -hw + 0.012, 0.011), (0.0, hw - 0.012, DRAWER_WALL_TOP + 0.003)),  # front plate
        Box((0.0, -w, 0.012), (L, w, floor)),  # floor
        Box((0.0, -w, floor), (L, -w + 0.008, DRAWER_WALL_TOP)),  # right wall
        Box((0.0, w - 0.008, floor), (L, w, DRAWER_WALL_TOP)),  # left wall
        Box((L - 0.008, -w, floor), (L, w, DRAWER_WALL_TOP)),  # back wall
    ]
    handle = [Box((HANDLE_X - 0.019, -0.0075, HANDLE_Z - 0.0125), (-0.012, 0.0075, HANDLE_Z + 0.0125))]
    return (
        '<?xml version="1.0"?><robot name="cabinet">'
        + _link("housing", 0.0, housing, wood)
        + _link("drawer", 0.5, drawer, front)
        + _link("handle", 0.05, handle, "0.15 0.15 0.15 1")
        + '<joint name="drawer_slide" type="prismatic"><parent link="housing"/><child link="drawer"/>'
        f'<origin xyz="0 0 0"/><axis xyz="-1 0 0"/><limit lower="0" upper="{DRAWER_TRAVEL}" effort="100" velocity="1"/></joint>'
        '<joint name="handle_fix" type="fixed"><parent link="drawer"/><child link="handle"/><origin xyz="0 0 0"/></joint>'
        "</robot>"
    )


def button_urdf_text() -> str:
    base = [Box((-0.04, -0.04, 0.0), (0.04, 0.04, 0.02))]
    cap = [Box((-0.022, -0.022, 0.02), (0.022, 0.022, BUTTON_CAP_TOP))]
    lamp_base = [Box((LAMP_XY[0] - BUTTON_XY[0] - 0.03, LAMP_XY[1] - BUTTON_XY[1] - 0.03, 0.0),
                     (LAMP_XY[0] - BUTTON_XY[0] + 0.03, LAMP_XY[1] - BUTTON_XY[1] + 0.03, LAMP_HEIGHT - 0.03))]
    return (
        '<?xml version="1.0"?><robot name="button">'
        + _link("base", 0.0, base + lamp_base, "0.25 0.25 0.28 1")
        + _link("cap", 0.05, cap, "0.85 0.1 0.1 1")
        + '<link name="bulb"><inertial><mass value="0"/><inertia ixx="0" ixy="0" ixz="0" iyy="0" iyz="0" izz="0"/></inertial>'
        '<visual><geometry><sphere radius="0.03"/></geometry><material name="bulb"><color rgba="0.3 0.3 0.3 1"/></material></visual>'
        '<collision><geometry><sphere radius="0.03"/></geometry></collision></link>'
        + '<joint name="bulb_fix" type="fixed"><parent link="base"/><child link="bulb"/>'
        f'<origin xyz="{LAMP_XY[0] - BUTTON_XY[0]} {LAMP_XY[1] - BUTTON_XY[1]} {LAMP_HEIGHT}"/></joint>'
        + '<joint name="press" type="prismatic"><parent link="base"/><child link="cap"/>'
        f'<origin xyz="0 0 0"/><axis xyz="0 0 1"/><limit lower="{-BUTTON_TRAVEL}" upper="0" effort="100" velocity="1"/></joint>'
        "</robot>"
    )


MESH_CELL = 0.02  # metres: vertices closer than this merge in the rendered arm


def decimate_obj(text: str, cell: float) -> str:
    """Simplify a triangle mesh by vertex clustering on a grid of `cell` metres.

    Vertices in one grid cell merge into their mean and the faces that collapse are
    dropped. Crude, but the arm is rendered at a few dozen pixels, where the lost
    detail is smaller than a pixel.
    """
    vertices: list[tuple[float, float, float]] = []
    faces: list[list[int]] = []
    for line in text.splitlines():
        parts = line.split()
        if not parts:
            continue
        if parts[0] == "v":
            vertices.append(tuple(float(x) for x in parts[1:4]))
        elif parts[0] == "f":
            idx = [int(p.split("/")[0]) for p in parts[1:]]
            idx = [i - 1 if i > 0 else len(vertices) + i for i in idx]
            faces += [[idx[0], idx[k], idx[k + 1]] for k in range(1, len(idx) - 1)]
    cluster_of: dict[tuple[int, int, int], int] = {}
    sums: list[list[float]] = []
    remap = []
    for v in vertices:
        key = tuple(int(c // cell) for c in v)
        if key not in cluster_of:
            cluster_of[key] = len(sums)
            sums.append([0.0, 0.0, 0.0, 0.0])
        k = cluster_of[key]
        sums[k][0] += v[0]; sums[k][1] += v[1]; sums[k][2] += v[2]; sums[k][3] += 1
        remap.append(k)
    out = [f"v {x / n:.6f} {y / n:.6f} {z / n:.6f}" for x, y, z, n in sums]
    seen = set()
    for f in faces:
        a, b, c = (remap[i] for i in f)
        if a == b or b == c or a == c or frozenset((a, b, c)) in seen:
            continue
        seen.add(frozenset((a, b, c)))
        out.append(f"f {a + 1} {b + 1} {c + 1}")
    return "\n".join(out) + "\n"


@functools.cache
def asset_dir() -> str:
    """A per-process folder holding the generated URDF files."""
    import pybullet_data

    folder = tempfile.mkdtemp(prefix="saccade-assets-")
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    panda_dir = os.path.join(pybullet_data.getDataPath(), "franka_panda")
    with open(os.path.join(panda_dir, "panda.urdf")) as f:
        text = f.read()
    # Swap the heavy visual meshes for the collision meshes and make paths absolute.
    text = text.replace("package://meshes/visual/", "package://meshes/collision/")
    collision_dir = os.path.join(panda_dir, "meshes", "collision")
    for name in sorted(os.listdir(collision_dir)):
        if name.endswith(".obj"):
            with open(os.path.join(collision_dir, name)) as f:
                light = decimate_obj(f.read(), cell=MESH_CELL)
            with open(os.path.join(folder, "light_" + name), "w") as f:
                f.write(light)
    # Visual meshes: the decimated copies; collision meshes: the originals.
    text = re.sub(
        r"(<visual>.*?)package://meshes/collision/(\w+\.obj)", lambda m: m.group(1) + folder + "/light_" + m.group(2),
        text, flags=re.S,
    )
    text = text.replace("package://meshes/", panda_dir + "/meshes/")
    text = text.replace('<color rgba="1. 1. 1. 1."/>', '<color rgba="0.92 0.92 0.92 1."/>')
    files = {"panda_light.urdf": text, "cabinet.urdf": cabinet_urdf_text(), "button.urdf": button_urdf_text()}
    for name, content in files.items():
        with open(os.path.join(folder, name), "w") as f:
            f.write(content)
    return folder


def asset_path(name: str) -> str:
    return os.path.join(asset_dir(), name)
