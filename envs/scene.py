"""The objects on the desk: table, cabinet with drawer, button with lamp, three blocks.

The scene knows how to lay itself out from a random generator and how to read its
own state; it knows nothing of tasks, rewards or cameras.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from envs import assets as A

if TYPE_CHECKING:  # the simulator is needed to run the desk, not to read its geometry
    from envs.sim import Sim

COLOURS = ("red", "green", "blue")
RGBA = {"red": (0.85, 0.12, 0.1, 1.0), "green": (0.1, 0.7, 0.2, 1.0), "blue": (0.12, 0.25, 0.9, 1.0)}
BLOCK_HALF = 0.02
BLOCK_MASS = 0.05
# Where blocks may start on the table (world frame, metres).
TABLE_X = (0.35, 0.55)
TABLE_Y = (-0.18, 0.06)
MIN_BLOCK_GAP = 0.08
# Two resting places inside the drawer, in the drawer frame (x from its front plate).
DRAWER_SLOTS = ((0.05, -0.045), (0.05, 0.045))
LAMP_ON_RGBA = (1.0, 0.85, 0.15, 1.0)
LAMP_OFF_RGBA = (0.3, 0.3, 0.3, 1.0)
PRESS_DEPTH = 0.008  # the button counts as pressed below this depth


@dataclass
class Layout:
    """Everything the seed randomises."""

    drawer_opening: float
    lamp_on: bool
    # colour -> (x, y, z, yaw) in the world frame
    blocks: dict[str, tuple[float, float, float, float]] = field(default_factory=dict)
    in_drawer: tuple[str, ...] = ()


@dataclass(frozen=True)
class BlockState:
    position: tuple[float, float, float]
    on_table: bool
    in_drawer: bool
    held: bool  # touched by both fingers


@dataclass(frozen=True)
class SceneState:
    """What the task predicates and the narration labeller compare over time."""

    drawer: float
    button_depth: float
    lamp_on: bool
    blocks: dict[str, BlockState]
    gripper_touches: frozenset[str]  # "drawer", "button", or a colour


def drawer_world_x(opening: float) -> float:
    """World x of the drawer frame's origin (its front plate) at a given opening."""
    return A.CABINET_FRONT_X - opening


def sample_layout(rng: np.random.Generator) -> Layout:
    u = rng.random()
    if u < 0.35:
        opening = rng.uniform(0.0, 0.02)
    elif u < 0.7:
        opening = rng.uniform(0.12, A.DRAWER_TRAVEL)
    else:
        opening = rng.uniform(0.0, A.DRAWER_TRAVEL)
    n_inside = int(rng.choice(3, p=[0.6, 0.3, 0.1]))
    inside = tuple(str(c) for c in rng.permutation(COLOURS)[:n_inside])
    slots = rng.permutation(len(DRAWER_SLOTS))
    blocks: dict[str, tuple[float, float, float, float]] = {}
    for colour, slot in zip(inside, slots):
        lx, ly = DRAWER_SLOTS[slot]
        blocks[colour] = (drawer_world_x(opening) + lx, A.CABINET_Y + ly, A.DRAWER_FLOOR_TOP + BLOCK_HALF + 1e-3, 0.0)
    placed: list[tuple[float, float]] = []
    for colour in COLOURS:
        if colour in blocks:
            continue
        for _ in range(1000):
            x, y = rng.uniform(*TABLE_X), rng.uniform(*TABLE_Y)
            if all(np.hypot(x - px, y - py) >= MIN_BLOCK_GAP for px, py in placed):
                break
        placed.append((x, y))
        blocks[colour] = (x, y, BLOCK_HALF + 1e-3, rng.uniform(-0.3, 0.3))
    return Layout(drawer_opening=float(opening), lamp_on=bool(rng.random() < 0.5), blocks=blocks, in_drawer=inside)


class Scene:
    def __init__(self, sim: Sim):
        self.sim = sim
        p = sim.p
        half = [0.55, 0.75, 0.02]
        self.table = p.createMultiBody(
            0.0,
            p.createCollisionShape(p.GEOM_BOX, halfExtents=half),
            p.createVisualShape(p.GEOM_BOX, halfExtents=half, rgbaColor=[0.82, 0.8, 0.74, 1]),
            basePosition=[0.35, 0.0, -0.02],
        )
        p.changeDynamics(self.table, -1, lateralFriction=0.6)
        self.cabinet = p.loadURDF(A.asset_path("cabinet.urdf"), [A.CABINET_FRONT_X, A.CABINET_Y, 0.0], useFixedBase=True)
        self.drawer_joint = self._joint(self.cabinet, "drawer_slide")
        self.handle_link = self._joint(self.cabinet, "handle_fix")
        self.button = p.loadURDF(A.asset_path("button.urdf"), [*A.BUTTON_XY, 0.0], useFixedBase=True)
        self.button_joint = self._joint(self.button, "press")
        self.bulb_link = self._joint(self.button, "bulb_fix")
        box = p.createCollisionShape(p.GEOM_BOX, halfExtents=[BLOCK_HALF] * 3)
        self.blocks: dict[str, int] = {}
        for colour in COLOURS:
            visual = p.createVisualShape(p.GEOM_BOX, halfExtents=[BLOCK_HALF] * 3, rgbaColor=RGBA[colour])
            body = p.createMultiBody(BLOCK_MASS, box, visual, basePosition=[0, 0, -1])
            p.changeDynamics(body, -1, lateralFriction=1.0, spinningFriction=0.002, rollingFriction=0.0)
            self.blocks[colour] = body
        self.lamp_on = False
        self._was_pressed = False

    def _joint(self, body: int, name: str) -> int:
        p = self.sim.p
        for j in range(p.getNumJoints(body)):
            if p.getJointInfo(body, j)[1].decode() == name:
                return j
        raise KeyError(f"joint {name!r} not found")

    def reset(self, layout: Layout) -> None:
        p = self.sim.p
        p.resetJointState(self.cabinet, self.drawer_joint, layout.drawer_opening, 0.0)
        # Joint friction: the drawer stays where it is left, but a hooked gripper moves it.
        p.setJointMotorControl2(self.cabinet, self.drawer_joint, p.VELOCITY_CONTROL, targetVelocity=0.0, force=3.0)
        p.resetJointState(self.button, self.button_joint, 0.0, 0.0)
        # A weak spring pushes the button back up.
        p.setJointMotorControl2(self.button, self.button_joint, p.POSITION_CONTROL, targetPosition=0.0, force=4.0)
        for colour, (x, y, z, yaw) in layout.blocks.items():
            quat = p.getQuaternionFromEuler([0.0, 0.0, yaw])
            p.resetBasePositionAndOrientation(self.blocks[colour], [x, y, z], quat)
            p.resetBaseVelocity(self.blocks[colour], [0, 0, 0], [0, 0, 0])
        self.set_lamp(layout.lamp_on)
        self._was_pressed = False

    def set_lamp(self, on: bool) -> None:
        self.lamp_on = bool(on)
        rgba = LAMP_ON_RGBA if on else LAMP_OFF_RGBA
        self.sim.p.changeVisualShape(self.button, self.bulb_link, rgbaColor=rgba)

    def after_step(self) -> None:
        """The button toggles the lamp on the step it goes down."""
        pressed = self.button_depth() > PRESS_DEPTH
        if pressed and not self._was_pressed:
            self.set_lamp(not self.lamp_on)
        self._was_pressed = pressed

    # The lamp switch's memory lives in Python, not in PyBullet: a bullet snapshot holds the
    # button joint but not the lamp, nor whether the button was already down (without that,
    # a restore mid-press would toggle the lamp a second time).
    def save_switch(self) -> dict[str, bool]:
        return {"lamp_on": self.lamp_on, "was_pressed": self._was_pressed}

    def restore_switch(self, saved: dict[str, bool]) -> None:
        self.set_lamp(saved["lamp_on"])
        self._was_pressed = bool(saved["was_pressed"])

    # --- reading the state -------------------------------------------------
    def drawer_opening(self) -> float:
        return float(self.sim.p.getJointState(self.cabinet, self.drawer_joint)[0])

    def button_depth(self) -> float:
        return float(-self.sim.p.getJointState(self.button, self.button_joint)[0])

    def handle_position(self) -> np.ndarray:
        return np.array([drawer_world_x(self.drawer_opening()) + A.HANDLE_X, A.CABINET_Y, A.HANDLE_Z])

    def block_pose(self, colour: str) -> tuple[np.ndarray, np.ndarray]:
        pos, quat = self.sim.p.getBasePositionAndOrientation(self.blocks[colour])
        return np.asarray(pos), np.asarray(quat)

    def block_velocity(self, colour: str) -> np.ndarray:
        return np.asarray(self.sim.p.getBaseVelocity(self.blocks[colour])[0])

    def _touches(self, body: int, other: int, link: int | None = None) -> bool:
        if link is None:
            return bool(self.sim.p.getContactPoints(bodyA=body, bodyB=other))
        return bool(self.sim.p.getContactPoints(bodyA=body, bodyB=other, linkIndexB=link))

    def state(self, robot_body: int, finger_links: tuple[int, int]) -> SceneState:
        p = self.sim.p
        touched: set[str] = set()
        for c in p.getContactPoints(bodyA=robot_body):
            if c[2] == self.cabinet and c[4] != -1:
                touched.add("drawer")
            elif c[2] == self.button and c[4] == self.button_joint:
                touched.add("button")
        blocks = {}
        for colour, body in self.blocks.items():
            pos, _ = p.getBasePositionAndOrientation(body)
            held = all(self._touches(body, robot_body, link) for link in finger_links)
            if held or self._touches(body, robot_body):
                touched.add(colour)
            blocks[colour] = BlockState(
                position=tuple(pos),
                on_table=self._touches(body, self.table),
                in_drawer=self._touches(body, self.cabinet, self.drawer_joint),
                held=held,
            )
        return SceneState(
            drawer=self.drawer_opening(),
            button_depth=self.button_depth(),
            lamp_on=self.lamp_on,
            blocks=blocks,
            gripper_touches=frozenset(touched),
        )

    def state_vector(self) -> np.ndarray:
        """Privileged state for the expert, probes and evaluation: drawer, button, lamp, block poses."""
        parts = [[self.drawer_opening(), self.button_depth(), float(self.lamp_on)]]
        for colour in COLOURS:
            pos, quat = self.block_pose(colour)
            parts += [pos, quat]
        return np.concatenate(parts).astype(np.float32)

    def blow_up(self) -> str | None:
        """A reason if the physics has gone wrong (NaN or runaway speeds), else None."""
        for colour in COLOURS:
            pos, _ = self.block_pose(colour)
            vel = self.block_velocity(colour)
            if not (np.all(np.isfinite(pos)) and np.all(np.isfinite(vel))):
                return f"non-finite pose or velocity of the {colour} block"
            if np.linalg.norm(vel) > 20.0 or np.abs(pos).max() > 5.0:
                return f"the {colour} block flew away (speed {np.linalg.norm(vel):.1f} m/s)"
        return None
