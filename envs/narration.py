"""The narration labeller: for every step, the event in progress, in present-progressive English.

It is derived only from changes of the scene state (the drawer joint moving while the
gripper touches it, a block held by both fingers, ...), never from the task or the
expert, so it labels play data of any origin. It is the ground truth that the
narrator learns from and is judged by.
"""

from __future__ import annotations

import numpy as np

from envs import assets as A
from envs.scene import COLOURS, SceneState, drawer_world_x
from envs.tasks import ALL_TASKS, Task

DRAWER_SPEED = 5e-4  # metres per step; slower drawer motion is not an event
PUSH_SPEED = 1.5e-3  # metres per step of a block sliding on the table
PRESS_DEPTH = 0.003
CARRY_HEIGHT = 0.08  # a held block above this, heading for the drawer, is being put in it
GAP_STEPS = 4  # an event survives this many steps without evidence before it ends
# A new event is narrated once this many steps show it (within GAP_STEPS of each other): a single
# step of a drawer jiggling by half a millimetre, or of a finger nudging a block while it grasps
# another, is not something a person would narrate, nor something a camera can see.
MIN_EVIDENCE_STEPS = 2


def event_text(task: Task) -> str:
    """The narration of the event that carries out a task."""
    c = task.block
    return {
        "open_drawer": "opening the drawer",
        "close_drawer": "closing the drawer",
        "press_button": "pressing the button",
        "lift_block": f"picking up the {c} block",
        "push_block_left": f"pushing the {c} block to the left",
        "push_block_right": f"pushing the {c} block to the right",
        "put_block_in_drawer": f"putting the {c} block in the drawer",
        "take_block_out": f"taking the {c} block out of the drawer",
    }[task.id]


# The narration vocabulary of play data: label i <-> narration text (-1: no event).
NARRATIONS = tuple(event_text(t) for t in ALL_TASKS)
NARRATION_INDEX = {text: i for i, text in enumerate(NARRATIONS)}


def _over_drawer(position, drawer: float) -> bool:
    x, y, _ = position
    return drawer_world_x(drawer) <= x <= drawer_world_x(drawer) + A.DRAWER_LENGTH and abs(y - A.CABINET_Y) <= A.DRAWER_HALF_WIDTH


class NarrationLabeller:
    """labeller.reset(state); then labeller.update(state) each step -> event text or None."""

    def __init__(self) -> None:
        self.prev: SceneState | None = None
        self.current: str | None = None
        self.quiet_steps = 0
        self.candidate: str | None = None  # a new event seen, not yet narrated
        self.candidate_steps = 0  # steps that showed it
        self.candidate_quiet = 0  # steps since it was last seen
        self.origin: dict[str, str | None] = {}
        self.heading_to_drawer: dict[str, bool] = {}
        self.untouched: dict[str, int] = {}

    def reset(self, state: SceneState) -> None:
        self.prev = state
        self.current = None
        self.quiet_steps = 0
        self.candidate, self.candidate_steps, self.candidate_quiet = None, 0, 0
        self.origin = {c: None for c in COLOURS}
        self.heading_to_drawer = {c: False for c in COLOURS}
        self.untouched = {c: 0 for c in COLOURS}

    def update(self, state: SceneState) -> str | None:
        if self.prev is None:
            raise RuntimeError("call reset() with the first state before update()")
        raw = self._evidence(self.prev, state)
        self.prev = state
        self.candidate_quiet += 1
        if raw is not None and raw == self.current:
            self.quiet_steps = 0
            self.candidate = None
            return self.current
        if raw is not None and self._confirmed(raw):
            self.current, self.quiet_steps, self.candidate = raw, 0, None
            return self.current
        if self.current is not None:
            self.quiet_steps += 1
            if self.quiet_steps >= GAP_STEPS:
                self.current = None
        return self.current

    def _confirmed(self, raw: str) -> bool:
        """Count one more step of evidence for a new event; True once it has MIN_EVIDENCE_STEPS."""
        if raw == self.candidate and self.candidate_quiet <= GAP_STEPS:
            self.candidate_steps += 1
        else:
            self.candidate, self.candidate_steps = raw, 1
        self.candidate_quiet = 0
        return self.candidate_steps >= MIN_EVIDENCE_STEPS

    def _evidence(self, prev: SceneState, now: SceneState) -> str | None:
        """The event that this one step shows, if any, without memory of earlier events."""
        touches = now.gripper_touches
        if "button" in touches and now.button_depth > PRESS_DEPTH:
            return "pressing the button"
        moved = now.drawer - prev.drawer
        if "drawer" in touches and abs(moved) > DRAWER_SPEED:
            return "opening the drawer" if moved > 0 else "closing the drawer"
        for c in COLOURS:
            b, b0 = now.blocks[c], prev.blocks[c]
            if c not in touches:
                # A grasp's story (where from, where to) ends when the gripper has let go for a while.
                self.untouched[c] += 1
                if self.untouched[c] >= GAP_STEPS:
                    self.origin[c], self.heading_to_drawer[c] = None, False
                continue
            self.untouched[c] = 0
            if b.held:
                if self.origin[c] is None:
                    self.origin[c] = "drawer" if b0.in_drawer else "table"
                if self.origin[c] == "drawer":
                    return f"taking the {c} block out of the drawer"
                if not self.heading_to_drawer[c]:
                    self.heading_to_drawer[c] = _over_drawer(b.position, now.drawer) or (
                        b.position[2] > CARRY_HEIGHT and _approaching_drawer(b0.position, b.position, now.drawer)
                    )
                if self.heading_to_drawer[c]:
                    return f"putting the {c} block in the drawer"
                return f"picking up the {c} block"
            if self.heading_to_drawer[c] or self.origin[c] == "drawer":
                continue  # releasing the block: the carrying event lives on through the gap
            dy = b.position[1] - b0.position[1]
            if b.on_table and b0.on_table and abs(dy) > PUSH_SPEED:
                return f"pushing the {c} block to the {'left' if dy > 0 else 'right'}"
        return None


def _approaching_drawer(before, after, drawer: float) -> bool:
    centre = np.array([drawer_world_x(drawer) + A.DRAWER_LENGTH / 2, A.CABINET_Y])
    d0 = np.linalg.norm(np.asarray(before[:2]) - centre)
    d1 = np.linalg.norm(np.asarray(after[:2]) - centre)
    return d0 - d1 > 0.005
