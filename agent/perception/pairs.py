"""Glimpse pairs of one frozen scene, for the capsules' equivariance and identity terms.

The eye knows how it moved. At a scene held still (a scripted-expert episode stopped at
a random step, so drawers are open and blocks moved), the desk renders two glimpses at
two gazes: one drawn uniformly over the gaze range (zoom too), the other a saccade and a
zoom change away. The view-to-view transform of the desk plane is known from the two
cameras; it is stored as the 2x3 affine of normalised image coordinates that fits it
best (least squares on a grid of desk points; the residual is kept, since perspective
and objects above the desk make it approximate).

Nothing here is a label the capsules learn from: only the gazes the eye chose. The
privileged state is stored for the evaluation alone.
"""

from __future__ import annotations

import os
import zipfile
import zlib
from dataclasses import replace
from pathlib import Path

import numpy as np
from tqdm import tqdm

from agent.seeds import PAIRS_TEST_SEED_BASE, PAIRS_TRAIN_SEED_BASE
from envs.eye import Gaze, fovea_camera, periphery_camera

STREAMS = ("fovea", "periphery")
# Layouts apart from the play data, the glimpse banks and every evaluation (the attention loop's
# fine-tuning draws from the 12M band too; the capsules never read it).
SEED_BASE = {"train": PAIRS_TRAIN_SEED_BASE, "test": PAIRS_TEST_SEED_BASE}
DESK_Z = 0.03  # the plane whose transform is recorded: the blocks' centres
FIT_GRID = 7


def camera_of(stream: str, gaze: Gaze, size: int):
    return (fovea_camera if stream == "fovea" else periphery_camera)(gaze, size)


def view_transform(first: Gaze, second: Gaze, stream: str, size: int) -> tuple[np.ndarray, float]:
    """The affine (2, 3) carrying normalised coordinates of the first view to the second, for points
    on the desk plane, and the fit's mean residual (normalised units)."""
    a, b = camera_of(stream, first, size), camera_of(stream, second, size)
    src, dst = [], []
    for x in np.linspace(-0.9, 0.9, FIT_GRID):
        for y in np.linspace(-0.9, 0.9, FIT_GRID):
            world = a.unproject(float(x), float(y), DESK_Z)
            if world is None:
                continue
            u, v, front = b.normalised(world)
            if front:
                src.append((x, y, 1.0))
                dst.append((u, v))
    if len(src) < 3:
        raise ValueError(f"the desk is not in view at gaze {first}")
    src, dst = np.asarray(src), np.asarray(dst)
    solution, *_ = np.linalg.lstsq(src, dst, rcond=None)
    residual = float(np.linalg.norm(src @ solution - dst, axis=1).mean())
    return solution.T.astype(np.float32), residual


def pair_gazes(rng: np.random.Generator, saccade: float, zoom_change: float) -> tuple[Gaze, Gaze]:
    """A first gaze anywhere (zoom too), and a second one a saccade and a zoom change away (normal,
    with these stds in normalised gaze units)."""
    first = rng.uniform(-1, 1, 3)
    second = np.clip(first + rng.normal(0, [saccade, saccade, zoom_change]), -1, 1)
    return Gaze.from_array(first), Gaze.from_array(second)


def _record_scene(env, rng: np.random.Generator, cfg, size: dict[str, int]) -> dict[str, list]:
    rows: dict[str, list] = {k: [] for k in keys()}
    state = np.concatenate([env.scene.state_vector(), env.robot.proprioception()]).astype(np.float32)
    for _ in range(cfg.pairs_per_scene):
        first, second = pair_gazes(rng, cfg.pair_saccade, cfg.pair_zoom_change)
        views = dict(zip(("first", "second"), (env.eye.glimpse(first), env.eye.glimpse(second))))
        for s, stream in enumerate(STREAMS):
            transform, residual = view_transform(first, second, stream, size[stream])
            rows[f"{stream}_first"].append(views["first"][s])
            rows[f"{stream}_second"].append(views["second"][s])
            rows[f"{stream}_transform"].append(transform)
            rows[f"{stream}_residual"].append(np.float32(residual))
        rows["gaze_first"].append(first.as_array())
        rows["gaze_second"].append(second.as_array())
        rows["state"].append(state)
    return rows


def _offers(env, seed: int, task) -> bool:
    try:
        env.reset(seed=seed, options={"task": task})
        return True
    except RuntimeError:
        return False


def keys() -> tuple[str, ...]:
    per_stream = tuple(f"{s}_{k}" for s in STREAMS for k in ("first", "second", "transform", "residual"))
    return per_stream + ("gaze_first", "gaze_second", "state")


def record_pairs(config, path: Path, split: str, *, progress: bool = False) -> dict:
    """Record config.capsules.pair_scenes scenes x pair_per_scene pairs into path (one .npz, atomic)."""
    from agent.rl.demos import expert_action
    from envs.desk_env import DeskEnv
    from envs.expert import ScriptedExpert
    from envs.tasks import ALL_TASKS

    cfg = config.capsules
    scenes = cfg.pair_scenes if split == "train" else cfg.pair_test_scenes
    env = DeskEnv(replace(config.env, task=None, obs_mode="glimpse", active_gaze=True, terminate_on_success=False,
                          max_episode_steps=10 ** 9))
    size = {"fovea": config.env.fovea_size, "periphery": config.env.periphery_size}
    tasks = ALL_TASKS
    rows: dict[str, list] = {k: [] for k in keys()}
    try:
        for scene in tqdm(range(scenes), disable=not progress, desc=f"pairs {split}", unit="scene"):
            rng = np.random.default_rng([config.seed, SEED_BASE[split], scene])
            task = tasks[scene % len(tasks)]
            try:
                env.reset(seed=SEED_BASE[split] + scene, options={"task": task})
            except RuntimeError:  # no layout of this seed offers the task (rare): the next task that one offers
                task = next(t for t in tasks if _offers(env, SEED_BASE[split] + scene, t))
            expert = ScriptedExpert(task, max_step=env.config.max_step, recover=True)
            for _ in range(int(rng.integers(0, cfg.pair_max_steps + 1))):  # then the scene holds still
                action = expert_action(expert, env.privileged())
                action[:4] = np.clip(action[:4] + rng.normal(0, 0.2, 4), -1, 1)
                if "error" in env.step(action)[4]:
                    break
            for k, v in _record_scene(env, rng, cfg, size).items():
                rows[k].extend(v)
    finally:
        env.close()
    arrays = {k: np.stack(v) for k, v in rows.items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez_compressed(tmp, **arrays)
    os.replace(tmp, path)
    return {"split": split, "scenes": scenes, "pairs": len(arrays["state"]),
            "fovea_fit_residual": round(float(arrays["fovea_residual"].mean()), 4),
            "periphery_fit_residual": round(float(arrays["periphery_residual"].mean()), 4)}


def scene_starts(pairs: dict[str, np.ndarray]) -> np.ndarray:
    """Row index where each scene's pairs begin: the rows of one scene share its frozen state."""
    state = pairs["state"]
    new = np.ones(len(state), dtype=bool)
    new[1:] = (state[1:] != state[:-1]).any(1)
    return np.flatnonzero(new)


def load_pairs(path: Path) -> dict[str, np.ndarray] | None:
    """The recorded pairs, or None if the file is missing or was cut short."""
    try:
        with np.load(path) as f:
            if not all(k in f.files for k in keys()):
                return None
            return {k: f[k] for k in keys()}
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile, zlib.error):  # cut short: recorded again
        return None
