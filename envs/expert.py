"""A scripted expert that solves every task from the privileged state.

Each task is a short list of phases; a phase moves the end effector towards a target
(recomputed every step from the object's current pose) with the gripper open or
closed, and ends when the target is reached or after a number of steps. The expert
reads the privileged state, so it is for play data and evaluation only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from envs import assets as A
from envs.scene import BLOCK_HALF, DRAWER_SLOTS, drawer_world_x
from envs.tasks import Task

OPEN, CLOSED = 1.0, -1.0
GRASP_OPEN = 0.6  # 6.4 cm between the fingers: room around a block, clear of the drawer walls
CARRY_Z = 0.16  # height for carrying a block over the drawer walls
PUSH_Z = 0.025  # fingertips low on the block, the hand high above the drawer's front


@dataclass
class Phase:
    name: str
    target: Callable[[dict], np.ndarray]
    grip: float
    tolerance: float = 0.01  # metres; the phase ends when the end effector is this close
    min_steps: int = 0  # and at least this many steps have passed
    max_steps: int = 60


class ScriptedExpert:
    """expert = ScriptedExpert(task); action = expert.act(env.unwrapped.privileged())"""

    def __init__(self, task: Task, *, gain: float = 1.0, max_step: float = 0.03, noise: float = 0.0,
                 rng: np.random.Generator | None = None, recover: bool = False):
        self.task = task
        # With recover, each step first checks that the current phase still makes sense in the
        # state (the block is held while lifting it, the hand is at the handle while pulling) and
        # goes back (or ahead) to the phase that does. The expert's own runs never need it; a
        # learner's do, when the expert labels the states the learner reached (DAgger).
        self.recover = recover
        self.gain = gain
        self.max_step = max_step
        self.noise = noise
        self.rng = rng or np.random.default_rng(0)
        self.phases: list[Phase] | None = None
        self.index = 0
        self.steps_in_phase = 0

    @property
    def phase(self) -> str:
        if self.phases is None:
            return "start"
        return self.phases[min(self.index, len(self.phases) - 1)].name

    def act(self, state: dict) -> np.ndarray:
        if self.phases is None:
            self.phases = self._plan(state)
        if self.recover:
            self._recover(state)
        phase = self.phases[self.index]
        target = phase.target(state)
        error = target - state["ee"]
        self.steps_in_phase += 1
        done = np.linalg.norm(error) < phase.tolerance and self.steps_in_phase >= phase.min_steps
        if (done or self.steps_in_phase >= phase.max_steps) and self.index < len(self.phases) - 1:
            self.index += 1
            self.steps_in_phase = 0
        move = np.clip(self.gain * error / self.max_step, -1.0, 1.0)
        if self.noise:
            move = np.clip(move + self.rng.normal(0.0, self.noise, 3), -1.0, 1.0)
        return np.append(move, phase.grip).astype(np.float32)

    def look_at(self, state: dict) -> np.ndarray:
        """Where a person doing this task would look now: the thing being worked on."""
        t = self.task
        if t.id in ("open_drawer", "close_drawer"):
            return state["handle"]
        if t.id == "press_button":
            return np.array([*A.BUTTON_XY, A.BUTTON_CAP_TOP])
        block = state["blocks"][t.block]
        if t.id == "put_block_in_drawer" and self.phase in ("carry over drawer", "lower into drawer", "release", "retreat"):
            return np.array([drawer_world_x(state["drawer"]) + 0.05, A.CABINET_Y, A.DRAWER_FLOOR_TOP])
        return block

    def _go(self, name: str) -> None:
        self.index = [p.name for p in self.phases].index(name)
        self.steps_in_phase = 0

    def _recover(self, s: dict) -> None:
        """Back (or ahead) to the phase whose precondition holds in this state."""
        name, t, ee = self.phase, self.task, s["ee"]
        scene = s["scene"]

        def xy_far(point, limit=0.02) -> bool:
            return float(np.hypot(*(ee[:2] - point[:2]))) > limit

        if t.id in ("lift_block", "put_block_in_drawer", "take_block_out"):
            block, b = s["blocks"][t.block], scene.blocks[t.block]
            held = b.held
            dropped = not held and (b.on_table or b.in_drawer)  # a moment without both fingers is not a drop
            carrying = ("lift", "carry over drawer", "lower into drawer", "carry to table", "lower to table")
            if name in carrying and dropped:
                self._go("reach block")
            elif held and (name in ("reach block", "lower to block")
                           or (name == "grasp" and self.steps_in_phase >= self.phases[self.index].min_steps)):
                self._go("lift")  # the block is already in hand: reaching for it again would drop it
            elif name == "lower to block" and xy_far(block, 0.04):
                self._go("reach block")
        elif t.id == "open_drawer":
            handle = s["handle"]
            if name == "pull" and np.linalg.norm(ee - handle) > 0.05:  # lost the handle
                self._go("reach handle")
            elif name in ("lower to handle", "grasp handle") and xy_far(handle, 0.04):
                self._go("reach handle")
        elif t.id == "close_drawer":
            front = s["handle"] - [0.055, 0, 0]
            if name == "push" and (abs(ee[1] - front[1]) > 0.08 or abs(ee[2] - front[2]) > 0.06
                                   or abs(ee[0] - front[0]) > 0.08):
                self._go("reach front")
            elif name == "lower" and xy_far(front, 0.04):
                self._go("reach front")
        elif t.id in ("push_block_left", "push_block_right"):
            block = s["blocks"][t.block]
            if name == "push" and (xy_far(block, 0.12) or ee[2] > 0.09):
                self._go("reach side")
            elif name == "lower":
                d = 1.0 if t.id == "push_block_left" else -1.0
                if xy_far(np.array([block[0], block[1] - d * 0.055]), 0.04):
                    self._go("reach side")
        elif t.id == "press_button":
            if name == "press" and xy_far(np.array(A.BUTTON_XY), 0.04):
                self._go("reach button")

    # --- plans -----------------------------------------------------------
    def _plan(self, s: dict) -> list[Phase]:
        t = self.task
        if t.id == "open_drawer":
            return [
                Phase("reach handle", lambda s: s["handle"] + [0, 0, 0.08], OPEN),
                Phase("lower to handle", lambda s: s["handle"], OPEN, tolerance=0.006),
                Phase("grasp handle", lambda s: s["handle"], CLOSED, min_steps=6, tolerance=1.0),
                Phase("pull", lambda s: s["handle"] - [0.12, 0, 0], CLOSED, max_steps=200),
            ]
        if t.id == "close_drawer":
            front = lambda s: s["handle"] - [0.055, 0, 0]  # noqa: E731
            return [
                Phase("reach front", lambda s: front(s) + [0, 0, 0.08], CLOSED),
                Phase("lower", front, CLOSED, tolerance=0.006),
                Phase("push", lambda s: s["handle"] + [0.2, 0, 0], CLOSED, max_steps=200),
            ]
        if t.id == "press_button":
            top = np.array([*A.BUTTON_XY, A.BUTTON_CAP_TOP])
            return [
                Phase("reach button", lambda s: top + [0, 0, 0.08], CLOSED),
                Phase("press", lambda s: top - [0, 0, 0.03], CLOSED, max_steps=200),
            ]
        colour = t.block
        block = lambda s: s["blocks"][colour]  # noqa: E731
        if t.id in ("push_block_left", "push_block_right"):
            d = 1.0 if t.id == "push_block_left" else -1.0
            y0 = float(s["blocks"][colour][1])
            side = lambda s: np.array([block(s)[0], block(s)[1] - d * 0.055, PUSH_Z])  # noqa: E731
            return [
                Phase("reach side", lambda s: side(s) + [0, 0, 0.08], CLOSED),
                Phase("lower", side, CLOSED, tolerance=0.006),
                Phase("push", lambda s: np.array([block(s)[0], y0 + d * 0.2, PUSH_Z]), CLOSED, max_steps=200),
            ]
        grasp = [
            Phase("reach block", lambda s: block(s) + [0, 0, 0.08], GRASP_OPEN),
            Phase("lower to block", lambda s: block(s) + [0, 0, 0.002], GRASP_OPEN, tolerance=0.006),
            Phase("grasp", lambda s: block(s) + [0, 0, 0.002], CLOSED, min_steps=6, tolerance=1.0),
        ]
        if t.id == "lift_block":
            z0 = float(s["blocks"][colour][2])
            return grasp + [Phase("lift", lambda s: np.array([*block(s)[:2], z0 + 0.12]), CLOSED, max_steps=200)]
        if t.id == "put_block_in_drawer":
            slot = _free_slot(s)
            above = lambda s: np.array([drawer_world_x(s["drawer"]) + slot[0], A.CABINET_Y + slot[1], CARRY_Z])  # noqa: E731
            drop_z = A.DRAWER_FLOOR_TOP + BLOCK_HALF + 0.015
            return grasp + [
                Phase("lift", lambda s: np.array([*block(s)[:2], CARRY_Z]), CLOSED, tolerance=0.02),
                Phase("carry over drawer", above, CLOSED, tolerance=0.015),
                Phase("lower into drawer", lambda s: above(s) * [1, 1, 0] + [0, 0, drop_z], CLOSED, tolerance=0.008),
                Phase("release", lambda s: above(s) * [1, 1, 0] + [0, 0, drop_z], OPEN, min_steps=8, tolerance=1.0),
                Phase("retreat", above, OPEN, max_steps=200),
            ]
        if t.id == "take_block_out":
            spot = _free_table_spot(s, colour)
            return grasp + [
                Phase("lift", lambda s: np.array([*block(s)[:2], CARRY_Z]), CLOSED, tolerance=0.02),
                Phase("carry to table", lambda s: np.append(spot, CARRY_Z), CLOSED, tolerance=0.015),
                Phase("lower to table", lambda s: np.append(spot, BLOCK_HALF + 0.01), CLOSED, tolerance=0.008),
                Phase("release", lambda s: np.append(spot, BLOCK_HALF + 0.01), OPEN, min_steps=8, tolerance=1.0),
                Phase("retreat", lambda s: np.append(spot, CARRY_Z), OPEN, max_steps=200),
            ]
        raise AssertionError(t)


def _free_slot(s: dict) -> tuple[float, float]:
    """The drawer slot farthest from any block already in the drawer."""
    inside = [b for b in s["blocks"].values() if b[0] > drawer_world_x(s["drawer"]) and b[1] > A.CABINET_Y - 0.12]
    def clearance(slot):
        x, y = drawer_world_x(s["drawer"]) + slot[0], A.CABINET_Y + slot[1]
        return min((np.hypot(b[0] - x, b[1] - y) for b in inside), default=1.0)
    return max(DRAWER_SLOTS, key=clearance)


TABLE_SPOTS = ((0.42, -0.05), (0.42, -0.15), (0.50, -0.10), (0.50, 0.0), (0.36, 0.02), (0.36, -0.10))


def _free_table_spot(s: dict, colour: str) -> np.ndarray:
    others = [b for c, b in s["blocks"].items() if c != colour]
    def clearance(spot):
        return min((np.hypot(b[0] - spot[0], b[1] - spot[1]) for b in others), default=1.0)
    return np.array(max(TABLE_SPOTS, key=clearance))
