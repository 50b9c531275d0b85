"""A Markov teacher: the arm's action and the eye's gaze as a function of the privileged state
and the task alone.

The scripted expert (envs/expert.py) walks through a list of phases with step counters, so
its label in a state depends on how it got there. A learner that drifts into a state the
expert never reached in that phase gets labels that contradict each other, and DAgger on
those labels made the agent worse (docs/agent.md). Here the phase is read from the state
every step: where the hand is relative to the object, how wide the fingers are, whether the
block sits between them. No timers, no memory: the same state always gets the same label,
wherever the episode started (a fresh layout, or where a previous command left the arm).

Rules shared by every task:
- travel high: a hand below the approach height that must go somewhere else first rises;
- the gripper opens before it descends on a block or a handle and closes only when there;
- a grasp that closed on nothing opens and tries again.

It reads the privileged state, so it labels demonstrations and serves evaluation only.
"""

from __future__ import annotations

import numpy as np

from envs import assets as A
from envs.expert import CARRY_Z, CLOSED, GRASP_OPEN, OPEN, PUSH_Z, TABLE_SPOTS
from envs.scene import BLOCK_HALF, DRAWER_SLOTS, PRESS_DEPTH, drawer_world_x
from envs.tasks import Task

# Finger widths (metres, both fingers together) that tell the phase of a grasp.
OPEN_WIDTH = 0.064  # what GRASP_OPEN gives
CLOSED_ON_BLOCK = (0.03, 0.052)  # fingers resting on a 4 cm block
CLOSED_ON_HANDLE = 0.02  # the handle's fin is thin: the fingers close almost fully on it
ABOVE = 0.08  # approach height over a grasp or push point
AT = 0.008  # "there": the hand is this close to a grasp point
NEAR_XY = 0.012  # over the point: descend
LIFT_Z = BLOCK_HALF + 0.12  # absolute height a lifted block is held at
DROP_Z = A.DRAWER_FLOOR_TOP + BLOCK_HALF + 0.015  # release height inside the drawer
PLACE_Z = BLOCK_HALF + 0.01  # release height on the table


class MarkovTeacher:
    """teacher = MarkovTeacher(task); arm = teacher.act(state); point = teacher.look_at(state)

    `act` returns dx, dy, dz, gripper in [-1, 1] (the desk's arm action); `look_at` the world
    point the eye should rest on: the task's object, then where it goes. `phase` names the rule
    that gave the last action (for tests and narration of the teacher's own runs)."""

    def __init__(self, task: Task, *, max_step: float = 0.03):
        self.task = task
        self.max_step = max_step
        self.phase = "start"

    # --- the arm ---------------------------------------------------------
    def act(self, s: dict) -> np.ndarray:
        target, grip, self.phase = self._rule(s)
        move = np.clip((target - s["ee"]) / self.max_step, -1.0, 1.0)
        return np.append(move, grip).astype(np.float32)

    def _rule(self, s: dict) -> tuple[np.ndarray, float, str]:
        t = self.task
        if t.id == "open_drawer":
            return self._open_drawer(s)
        if t.id == "close_drawer":
            return self._close_drawer(s)
        if t.id == "press_button":
            return self._press_button(s)
        if t.id in ("push_block_left", "push_block_right"):
            return self._push(s, 1.0 if t.id == "push_block_left" else -1.0)
        return self._pick_and_place(s)

    def _open_drawer(self, s: dict):
        h, ee, width = s["handle"], s["ee"], s["finger_width"]
        gap = float(np.linalg.norm(ee - h))
        if gap < 0.02 and width < CLOSED_ON_HANDLE:
            return h - [0.12, 0, 0], CLOSED, "pull"
        if gap < AT or (gap < 0.02 and width < 0.075):  # there, or already closing on it
            return h, CLOSED, "grasp handle"
        if _over(ee, h, NEAR_XY, h[2] + ABOVE - 0.01) and width > 0.07:
            return h, OPEN, "lower to handle"
        return _approach(ee, h + [0, 0, ABOVE]), OPEN, "reach handle"

    def _close_drawer(self, s: dict):
        h, ee = s["handle"], s["ee"]
        front = h - [0.055, 0, 0]
        behind = -0.075 < ee[0] - h[0] < -0.015  # between the front point and the handle
        if behind and abs(ee[1] - h[1]) < 0.03 and abs(ee[2] - front[2]) < 0.025:
            return h + [0.2, 0, 0], CLOSED, "push"
        if _over(ee, front, NEAR_XY, front[2] + ABOVE - 0.01):
            return front, CLOSED, "lower"
        return _approach(ee, front + [0, 0, ABOVE]), CLOSED, "reach front"

    def _press_button(self, s: dict):
        top, ee = np.array([*A.BUTTON_XY, A.BUTTON_CAP_TOP]), s["ee"]
        if s["button_depth"] > PRESS_DEPTH:  # held down (by an earlier press): let it up, then press
            return top + [0, 0, 0.04], CLOSED, "release"
        if _xy(ee, top) < 0.015:
            return top - [0, 0, 0.03], CLOSED, "press"
        return _approach(ee, top + [0, 0, ABOVE]), CLOSED, "reach button"

    def _push(self, s: dict, d: float):
        block, ee = s["blocks"][self.task.block], s["ee"]
        side = np.array([block[0], block[1] - d * 0.055, PUSH_Z])
        behind = 0.02 < d * (block[1] - ee[1]) < 0.075  # on the near side, about a finger away
        if behind and abs(ee[0] - block[0]) < 0.02 and ee[2] < PUSH_Z + 0.02:
            return np.array([block[0], block[1] + d * 0.2, PUSH_Z]), CLOSED, "push"
        if _over(ee, side, NEAR_XY, side[2] + ABOVE - 0.01):
            return side, CLOSED, "lower"
        return _approach(ee, side + [0, 0, ABOVE]), CLOSED, "reach side"

    def _pick_and_place(self, s: dict):
        t, ee, width = self.task, s["ee"], s["finger_width"]
        block = s["blocks"][t.block]
        if _in_hand(s, t.block):
            if t.id == "lift_block":
                return np.array([*block[:2], LIFT_Z]), CLOSED, "lift"
            goal = self._goal(s)
            release_z = DROP_Z if t.id == "put_block_in_drawer" else PLACE_Z
            if _over(ee, goal, 0.02, CARRY_Z - 0.02, 0.04):
                if ee[2] - release_z < AT:
                    return np.append(goal[:2], release_z), OPEN, "release"
                return np.append(goal[:2], release_z), CLOSED, "lower"
            if ee[2] < CARRY_Z - 0.02 and _xy(ee, goal) > 0.04:
                return np.array([*block[:2], CARRY_Z]), CLOSED, "lift"
            return np.append(goal[:2], CARRY_Z), CLOSED, "carry"
        # Let go of a delivered block: move up, fingers open (a block still falling from the
        # fingers counts, or the teacher would close on it again).
        over = _over_drawer(s, block)
        delivered = (over and block[2] < CARRY_Z - 0.05) if t.id == "put_block_in_drawer" else \
            (t.id == "take_block_out" and not over)
        if delivered and _xy(ee, block) < 0.05:
            return np.array([*ee[:2], CARRY_Z]), OPEN, "retreat"
        grasp = block + [0, 0, 0.002]
        gap = float(np.linalg.norm(ee - grasp))
        if width < CLOSED_ON_BLOCK[0] and gap < 0.03:  # closed on nothing: open and try again
            return grasp + [0, 0, ABOVE], GRASP_OPEN, "regrasp"
        if gap < AT and width > OPEN_WIDTH - 0.004:
            return grasp, CLOSED, "grasp"
        if gap < 0.02 and CLOSED_ON_BLOCK[0] <= width < OPEN_WIDTH - 0.004:  # closing on it
            return grasp, CLOSED, "grasp"
        if _over(ee, block, NEAR_XY, block[2] + ABOVE - 0.01) and width > OPEN_WIDTH - 0.006:
            return grasp, GRASP_OPEN, "lower to block"
        return _approach(ee, block + [0, 0, ABOVE]), GRASP_OPEN, "reach block"

    def _goal(self, s: dict) -> np.ndarray:
        """Where the block goes (world x, y): a free drawer slot, or a free spot on the table."""
        colour = self.task.block
        others = [b for c, b in s["blocks"].items() if c != colour]
        if self.task.id == "put_block_in_drawer":
            x0 = drawer_world_x(s["drawer"])
            inside = [b for b in others if b[0] > x0 and b[1] > A.CABINET_Y - 0.12]
            slots = [np.array([x0 + sx, A.CABINET_Y + sy]) for sx, sy in DRAWER_SLOTS]
            return max(slots, key=lambda p: min((np.hypot(*(b[:2] - p)) for b in inside), default=1.0))
        spots = [np.array(p) for p in TABLE_SPOTS]
        return max(spots, key=lambda p: min((np.hypot(*(b[:2] - p)) for b in others), default=1.0))

    # --- the eye ---------------------------------------------------------
    def look_at(self, s: dict) -> np.ndarray:
        """The thing being worked on; for a block in hand, the place it goes."""
        t = self.task
        if t.id in ("open_drawer", "close_drawer"):
            return np.asarray(s["handle"], dtype=float)
        if t.id == "press_button":
            return np.array([*A.BUTTON_XY, A.BUTTON_CAP_TOP])
        block = np.asarray(s["blocks"][t.block], dtype=float)
        if t.id in ("put_block_in_drawer", "take_block_out") and _in_hand(s, t.block):
            goal = self._goal(s)
            return np.array([goal[0], goal[1], DROP_Z if t.id == "put_block_in_drawer" else PLACE_Z])
        return block


def _xy(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.hypot(a[0] - b[0], a[1] - b[1]))


def _over(ee: np.ndarray, point: np.ndarray, near: float, below: float, drift: float = 0.025) -> bool:
    """Over the point, to descend on it: within `near` in x, y, or, once already descending (below
    the height `below`), within `drift`. Without that margin, noise that pushed a descending hand a
    centimetre aside sent it back up to the approach height, again and again."""
    gap = _xy(ee, point)
    return gap < near or (gap < drift and ee[2] < below)


def _approach(ee: np.ndarray, above: np.ndarray) -> np.ndarray:
    """Towards a point above the work; a low hand far from it rises first (travel high)."""
    if ee[2] < above[2] - 0.04 and _xy(ee, above) > 0.03:
        return np.array([ee[0], ee[1], above[2]])
    return above


def _over_drawer(s: dict, point: np.ndarray) -> bool:
    x0 = drawer_world_x(s["drawer"])
    return x0 < point[0] < x0 + A.DRAWER_LENGTH and abs(point[1] - A.CABINET_Y) < A.DRAWER_HALF_WIDTH


def _in_hand(s: dict, colour: str) -> bool:
    """The block sits between fingers closed on it (or both fingers touch it)."""
    if s["scene"].blocks[colour].held:
        return True
    block, ee, width = s["blocks"][colour], s["ee"], s["finger_width"]
    return (CLOSED_ON_BLOCK[0] < width < CLOSED_ON_BLOCK[1] and _xy(ee, block) < 0.03
            and abs(float(ee[2] - block[2])) < 0.03)
