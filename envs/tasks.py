"""Tasks and their success predicates.

As in CALVIN, a task succeeds when the state now differs from the state at the start
of the episode in the right way: the drawer joint moved past a threshold, a block's
contact changed from the table to the drawer, and so on. A task that is already
satisfied or impossible in a layout is not offered for it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from envs import assets as A
from envs.scene import COLOURS, DRAWER_SLOTS, SceneState

TASK_IDS = (
    "open_drawer",
    "close_drawer",
    "press_button",
    "lift_block",
    "push_block_left",
    "push_block_right",
    "put_block_in_drawer",
    "take_block_out",
)
BLOCK_TASKS = frozenset({"lift_block", "push_block_left", "push_block_right", "put_block_in_drawer", "take_block_out"})

DRAWER_MOVE = 0.06  # the drawer must move this far to count as opened or closed
DRAWER_ROOM = 0.08  # and have this much room to move at the start
DRAWER_REACHABLE = 0.12  # the drawer's inside can be reached from above from this opening on
LIFT_HEIGHT = 0.05
PUSH_DISTANCE = 0.08
PUSH_ROOM = 0.12  # the pushed block's path, which must stay on the free part of the table
PUSH_Y_LIMITS = (-0.24, 0.06)
PUSH_CORRIDOR = 0.06  # half-width in x of the path that must be free of other blocks


@dataclass(frozen=True, order=True)
class Task:
    id: str
    block: str | None = None

    def __post_init__(self) -> None:
        if self.id not in TASK_IDS:
            raise ValueError(f"unknown task {self.id!r}; known tasks: {', '.join(TASK_IDS)}")
        if (self.id in BLOCK_TASKS) != (self.block is not None):
            need = "needs a block colour" if self.id in BLOCK_TASKS else "takes no block colour"
            raise ValueError(f"task {self.id!r} {need}")
        if self.block is not None and self.block not in COLOURS:
            raise ValueError(f"unknown block colour {self.block!r}; colours: {', '.join(COLOURS)}")

    @property
    def name(self) -> str:
        return self.id if self.block is None else f"{self.id}:{self.block}"

    @classmethod
    def parse(cls, name: str) -> Task:
        """'open_drawer' or 'lift_block:red'."""
        task_id, _, block = name.partition(":")
        return cls(task_id, block or None)

    def __str__(self) -> str:
        return self.name


ALL_TASKS: tuple[Task, ...] = tuple(
    Task(t, c) for t in TASK_IDS for c in ((None,) if t not in BLOCK_TASKS else COLOURS)
)
TASK_INDEX = {t: i for i, t in enumerate(ALL_TASKS)}


def _path_is_free(start: SceneState, colour: str, direction: float) -> bool:
    x, y, _ = start.blocks[colour].position
    goal = y + direction * PUSH_ROOM
    if not PUSH_Y_LIMITS[0] <= goal <= PUSH_Y_LIMITS[1]:
        return False
    # The path runs from behind the block (where the fingers start) to past its goal.
    lo, hi = sorted((y - direction * 0.09, goal + direction * 0.05))
    for other, b in start.blocks.items():
        if other != colour and abs(b.position[0] - x) < PUSH_CORRIDOR and lo <= b.position[1] <= hi:
            return False
    return True


def drawer_has_room(start: SceneState) -> bool:
    return sum(b.in_drawer for b in start.blocks.values()) < len(DRAWER_SLOTS)


def is_offered(task: Task, start: SceneState) -> bool:
    """Whether the task makes sense in the layout seen at the start of an episode."""
    if task.id == "open_drawer":
        return start.drawer <= A.DRAWER_TRAVEL - DRAWER_ROOM
    if task.id == "close_drawer":
        return start.drawer >= DRAWER_ROOM
    if task.id == "press_button":
        return True
    b = start.blocks[task.block]
    on_table = b.on_table and not b.in_drawer
    if task.id == "lift_block":
        return on_table
    if task.id == "push_block_left":
        return on_table and _path_is_free(start, task.block, +1.0)
    if task.id == "push_block_right":
        return on_table and _path_is_free(start, task.block, -1.0)
    if task.id == "put_block_in_drawer":
        return on_table and start.drawer >= DRAWER_REACHABLE and drawer_has_room(start)
    if task.id == "take_block_out":
        return b.in_drawer and start.drawer >= DRAWER_REACHABLE
    raise AssertionError(task)


def is_success(task: Task, start: SceneState, now: SceneState) -> bool:
    if task.id == "open_drawer":
        return now.drawer - start.drawer > DRAWER_MOVE
    if task.id == "close_drawer":
        return start.drawer - now.drawer > DRAWER_MOVE
    if task.id == "press_button":
        return now.lamp_on != start.lamp_on
    b0, b = start.blocks[task.block], now.blocks[task.block]
    dy = b.position[1] - b0.position[1]
    if task.id == "lift_block":
        return b.position[2] - b0.position[2] > LIFT_HEIGHT and not b.on_table and not b.in_drawer
    if task.id == "push_block_left":
        return dy > PUSH_DISTANCE and b.on_table and not b.held
    if task.id == "push_block_right":
        return -dy > PUSH_DISTANCE and b.on_table and not b.held
    if task.id == "put_block_in_drawer":
        return b0.on_table and b.in_drawer and not b.on_table
    if task.id == "take_block_out":
        return b0.in_drawer and b.on_table and not b.in_drawer
    raise AssertionError(task)


def why_not_offered(task: Task, state: SceneState) -> str | None:
    """In plain words, why the scene as it is now cannot carry out the task (None: it can)."""
    if is_offered(task, state):
        return None
    if task.id == "open_drawer":
        return "the drawer is already open"
    if task.id == "close_drawer":
        return "the drawer is already closed"
    b = state.blocks[task.block]
    name = f"the {task.block} block"
    if task.id == "take_block_out":
        if not b.in_drawer:
            return f"{name} is not in the drawer"
        return "the drawer is not open far enough to reach inside; open the drawer first"
    if b.in_drawer:
        return f"{name} is in the drawer; take it out first"
    if not b.on_table:
        return f"{name} is not standing on the table"
    if task.id == "put_block_in_drawer":
        if state.drawer < DRAWER_REACHABLE:
            return "the drawer is not open far enough to put a block in; open the drawer first"
        return "the drawer has no free place for another block"
    side = "left" if task.id == "push_block_left" else "right"
    return f"{name} cannot be pushed to the {side}: its path is blocked or runs off the table"


def offered_tasks(start: SceneState) -> list[Task]:
    return [t for t in ALL_TASKS if is_offered(t, start)]


def one_hot(task: Task | None) -> np.ndarray:
    out = np.zeros(len(ALL_TASKS), dtype=np.float32)
    if task is not None:
        out[TASK_INDEX[task]] = 1.0
    return out
