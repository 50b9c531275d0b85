"""Named fields of the privileged state vector (the "state" observation).

The vector is `Scene.state_vector()` followed by `Panda.proprioception()`; this table
is the one place that knows the order, so readers ask for "ee_position" instead of
`state[:, 24:27]`. It imports neither PyBullet nor the simulator: the probes and
evaluations that read stored state vectors load it without a physics engine.
"""

from __future__ import annotations

import numpy as np

from envs.robot import PROPRIO_SIZE
from envs.scene import COLOURS

# (name, width) in the order Scene.state_vector() and Panda.proprioception() write them.
_SCENE = (
    ("drawer", 1),  # drawer opening, metres
    ("button", 1),  # button depth, metres
    ("lamp", 1),  # 1.0 on, 0.0 off
    *((f"block_{c}_{part}", width) for c in COLOURS for part, width in (("position", 3), ("orientation", 4))),
)  # orientation: quaternion (x, y, z, w), as PyBullet gives it
_PROPRIO = (
    ("ee_position", 3),
    ("ee_velocity", 3),
    ("finger_width", 1),  # both fingers together, metres
    ("arm_joints", 7),
)
assert sum(w for _, w in _PROPRIO) == PROPRIO_SIZE, "the proprio fields must match Panda.proprioception()"


def _slices(widths) -> dict[str, slice]:
    out, start = {}, 0
    for name, width in widths:
        out[name] = slice(start, start + width)
        start += width
    return out


STATE_FIELDS: dict[str, slice] = _slices(_SCENE + _PROPRIO)
SCENE_STATE_SIZE = sum(w for _, w in _SCENE)
STATE_SIZE = SCENE_STATE_SIZE + PROPRIO_SIZE


def field(state: np.ndarray, name: str) -> np.ndarray:
    """One field of (..., STATE_SIZE) state vectors; one-wide fields come back without their last axis."""
    if state.shape[-1] != STATE_SIZE:
        raise ValueError(f"state vectors have {STATE_SIZE} entries, got shape {state.shape}")
    s = STATE_FIELDS[name]
    return state[..., s.start] if s.stop - s.start == 1 else state[..., s]


def block_position(state: np.ndarray, colour: str) -> np.ndarray:
    """(..., 3) world position of the block of this colour."""
    return field(state, f"block_{colour}_position")
