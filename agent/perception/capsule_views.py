"""What `saccade eval capsules` measures on the held-out glimpse pairs (agent.perception.pairs).

- Equivariance: each object capsule's place in the first view, carried by the known
  view-to-view transform, against the same capsule's place in the second view; beside
  it what a parser blind to the eye's motion would score (the place not carried), and
  how often the carried place's nearest capsule in the second view is the same capsule.
- Scene memory: every glimpse of one frozen scene goes into the scene memory
  (agent.perception.memory) through the known gaze; the remembered places are matched
  to the true objects (Hungarian, on the desk plane); the share of seen blocks located
  (within MEMORY_MATCH) and their error in metres, against answering each seen block's
  mean position over the training scenes.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment

from agent.perception.capsule_eval import OBJECTS, PRESENT, object_positions, parse_all, project_objects
from agent.perception.memory import SceneMemory
from agent.perception.pairs import STREAMS, scene_starts
from envs.eye import Gaze
from envs.scene import COLOURS

BLOCKS = [OBJECTS.index(c) for c in COLOURS]
MEMORY_MATCH = 0.1  # metres: a remembered place farther than this from its object does not locate it


def carry(transform: np.ndarray, points: np.ndarray) -> np.ndarray:
    """(N, 2, 3) affines applied to (N, M, 2) points."""
    return np.einsum("nij,nmj->nmi", transform[:, :, :2], points) + transform[:, None, :, 2]


def equivariance(model, pairs: dict[str, np.ndarray]) -> dict:
    out = {}
    for stream in STREAMS:
        a, b = parse_all(model, pairs[f"{stream}_first"]), parse_all(model, pairs[f"{stream}_second"])
        carried = carry(pairs[f"{stream}_transform"], a["position"])
        both = (a["present"] > PRESENT) & (b["present"] > PRESENT) & (np.abs(carried) < 1).all(-1)
        if not both.any():
            out[stream] = {"objects_compared": 0}
            continue
        error = np.linalg.norm(carried - b["position"], axis=-1)[both]
        blind = np.linalg.norm(a["position"] - b["position"], axis=-1)[both]
        same = []
        for i, m in zip(*np.nonzero(both)):
            present = np.flatnonzero(b["present"][i] > PRESENT)
            nearest = present[np.linalg.norm(b["position"][i, present] - carried[i, m], axis=-1).argmin()]
            same.append(nearest == m)
        out[stream] = {"objects_compared": int(both.sum()),
                       "error": round(float(error.mean()), 4),  # normalised units (the view is 2 wide)
                       "error_if_blind_to_the_eye": round(float(blind.mean()), 4),
                       "same_capsule_nearest": round(float(np.mean(same)), 3),
                       "transform_fit_residual": round(float(pairs[f"{stream}_residual"].mean()), 4)}
    return out


def memory_positions(model, pairs: dict[str, np.ndarray], train_world: np.ndarray, stream: str = "fovea") -> dict:
    """Blocks located by the scene memory after every glimpse of a scene (2 per pair)."""
    images = np.concatenate([pairs[f"{stream}_first"], pairs[f"{stream}_second"]])
    gazes = np.concatenate([pairs["gaze_first"], pairs["gaze_second"]])
    parsed = parse_all(model, images)
    n = len(pairs["state"])
    world = object_positions(pairs["state"])
    size = images.shape[1]
    _, visible = project_objects(np.concatenate([world, world]), gazes, size, stream)
    mean_block = train_world[:, BLOCKS, :2].mean(0)
    errors, baseline, located, seen, entries = [], [], 0, 0, []
    starts = scene_starts(pairs)
    for start, end in zip(starts, [*starts[1:], n]):
        views = [i for s in range(start, end) for i in (s, s + n)]
        memory = SceneMemory()
        for i in views:
            memory.update(parsed["position"][i], parsed["present"][i], parsed["features"][i],
                          Gaze.from_array(gazes[i]), size, stream)
        truth = world[start]
        blocks_seen = [j for j in BLOCKS if visible[views, j].any()]
        seen += len(blocks_seen)
        baseline += [np.linalg.norm(mean_block[BLOCKS.index(j)] - truth[j, :2]) for j in blocks_seen]
        entries.append(len(memory.entries))
        if not blocks_seen or not memory.entries:
            continue
        remembered = memory.positions()[:, :2]
        cost = np.linalg.norm(remembered[:, None] - truth[None, :, :2], axis=-1)  # every object competes
        for r, c in zip(*linear_sum_assignment(cost)):
            if c in blocks_seen and cost[r, c] < MEMORY_MATCH:
                located += 1
                errors.append(cost[r, c])
    return {"stream": stream, "scenes": len(starts), "glimpses_per_scene": round(2 * n / max(len(starts), 1), 1),
            "blocks_seen": seen, "blocks_located": round(located / max(seen, 1), 3),
            "block_error_m": round(float(np.mean(errors)), 4) if errors else None,
            "mean_position_baseline_error_m": round(float(np.mean(baseline)), 4) if baseline else None,
            "memory_entries_per_scene": round(float(np.mean(entries)), 2),
            "located_within_m": MEMORY_MATCH}
