"""`saccade train collect`: headless play data from the scripted expert and from noisy and random motion.

The eye wanders while the arm works: sometimes to random points, sometimes from
object to object (often the one being worked on). Per step we store what the agent
sees and does (glimpses, gaze, proprioception, actions; a full frame every few
steps) and, for evaluation only, the privileged state, the task and the narration.
Chunks are written atomically and recorded in dataset.json (size and sha256) as each
one is written; a collect run again redoes the chunks that are missing or differ from
their record, and keeps the others.
"""

from __future__ import annotations

import json
import logging
import multiprocessing as mp
import os
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
from tqdm import tqdm

from agent.config import RunConfig
from agent.data.format import Chunk, DataError, chunk_path, file_record, write_chunk
from agent.seeds import PLAY_LAYOUT_SEEDS
from envs.desk_env import DeskEnv
from envs.expert import ScriptedExpert
from envs.eye import Gaze
from envs.narration import NARRATION_INDEX, NARRATIONS, NarrationLabeller
from envs.tasks import ALL_TASKS, TASK_INDEX

log = logging.getLogger(__name__)

EPISODE_KINDS = ("expert", "noisy_expert", "random")


def _points_of_interest(state: dict) -> list[np.ndarray]:
    import envs.assets as A

    return [state["handle"], np.array([*A.BUTTON_XY, A.BUTTON_CAP_TOP]), np.array([*A.LAMP_XY, A.LAMP_HEIGHT]),
            *state["blocks"].values(), state["ee"]]


class GazeWanderer:
    """Where the eye looks during play: random saccades, or hops between objects of interest."""

    def __init__(self, rng: np.random.Generator, expert: ScriptedExpert | None):
        self.rng = rng
        self.expert = expert
        self.mode = "objects" if rng.random() < 0.6 else "random"
        self.gaze = Gaze()
        self.hold = 0

    def next(self, state: dict) -> Gaze:
        if self.hold > 0:
            self.hold -= 1
            return self.gaze
        rng = self.rng
        zoom = float(rng.uniform(-1, 1))
        if self.mode == "random":
            self.gaze = Gaze(float(rng.uniform(-1, 1)), float(rng.uniform(-1, 1)), zoom)
            self.hold = int(rng.integers(2, 8))
        else:
            if self.expert is not None and rng.random() < 0.5:
                point = self.expert.look_at(state)
            else:
                options = _points_of_interest(state)
                point = options[int(rng.integers(len(options)))]
            jitter = rng.normal(0, 0.02, 3)
            self.gaze = Gaze.looking_at(point + jitter, zoom=1.0 + (zoom + 1) * 1.5)
            self.hold = int(rng.integers(3, 12))
        return self.gaze


def _random_motion(rng: np.random.Generator, previous: np.ndarray) -> np.ndarray:
    """Smooth random arm motion (a leaky random walk in action space) with occasional gripper flips."""
    arm = np.clip(0.8 * previous[:3] + rng.normal(0, 0.45, 3), -1, 1)
    grip = previous[3] if rng.random() > 0.05 else -previous[3]
    return np.append(arm, grip)


def _episode_kind(cfg, rng: np.random.Generator) -> str:
    u = rng.random()
    if u < cfg.expert_fraction:
        return "expert"
    if u < cfg.expert_fraction + cfg.noisy_expert_fraction:
        return "noisy_expert"
    return "random"


def run_episode(env: DeskEnv, config: RunConfig, episode: int) -> tuple[dict[str, list], dict]:
    """One play episode; returns per-step records and the episode's metadata."""
    cfg = config.collect
    rng = np.random.default_rng([config.seed, episode])
    seed = int(rng.integers(PLAY_LAYOUT_SEEDS))
    kind = _episode_kind(cfg, rng)
    obs, _ = env.reset(seed=seed)
    task = env.task
    expert = None
    if kind != "random":
        noise = cfg.expert_noise if kind == "expert" else cfg.noisy_expert_noise
        expert = ScriptedExpert(task, max_step=env.config.max_step, noise=noise, rng=rng)
    wanderer = GazeWanderer(rng, expert)
    labeller = NarrationLabeller()
    labeller.reset(env.state())
    rec: dict[str, list] = {k: [] for k in ("step", "fovea", "periphery", "gaze", "proprio", "action", "state",
                                            "task", "narration", "frame", "frame_step")}
    max_steps = env.config.max_episode_steps if expert else cfg.random_steps
    arm = np.array([0, 0, 0, 1.0])
    success_at = None
    for t in range(max_steps):
        state = env.privileged()
        arm = expert.act(state) if expert else _random_motion(rng, arm)
        gaze = wanderer.next(state)
        action = np.concatenate([arm, gaze.as_array()]).astype(np.float32)
        # Step t pairs what the agent sees (glimpses taken at the previous gaze) with the
        # action it then takes, which includes where to look next.
        rec["step"].append(t)
        rec["fovea"].append(obs["fovea"])
        rec["periphery"].append(obs["periphery"])
        rec["gaze"].append(obs["gaze"])
        rec["proprio"].append(obs["proprio"])
        rec["action"].append(action)
        rec["state"].append(obs["state"])
        rec["task"].append(TASK_INDEX[task] if expert else -1)
        if t % cfg.frame_every == 0:
            rec["frame"].append(env.eye.render(env.eye.frame_camera()))
            rec["frame_step"].append(t)
        obs, _, _, truncated, info = env.step(np.clip(action, -1, 1))
        event = labeller.update(env.state())
        rec["narration"].append(NARRATION_INDEX[event] if event else -1)
        if info["is_success"] and success_at is None:
            success_at = t
        if "error" in info or truncated or (success_at is not None and t - success_at >= cfg.tail_steps):
            break
    meta = {"episode": episode, "seed": seed, "kind": kind, "task": task.name if expert else None,
            "success": success_at is not None, "steps": len(rec["step"])}
    return rec, meta


def collect_chunk(config: RunConfig, folder: Path, index: int) -> Path:
    cfg = config.collect
    env_config = replace(config.env, task=None, obs_mode="glimpse", active_gaze=True, include_state=True,
                         include_frame=False, terminate_on_success=False)
    env = DeskEnv(env_config)
    arrays: dict[str, list] = {}
    metas = []
    offset = 0
    try:
        first = index * cfg.chunk_episodes
        for episode in range(first, min(first + cfg.chunk_episodes, cfg.episodes)):
            rec, meta = run_episode(env, config, episode)
            n = len(rec["step"])
            rec["episode"] = [episode] * n
            # frame_step indexes rows of this chunk, so frames can be joined to their step
            rec["frame_step"] = [offset + s for s in rec["frame_step"]]
            offset += n
            for k, v in rec.items():
                arrays.setdefault(k, []).extend(v)
            metas.append(meta)
    finally:
        env.close()
    dtypes = {"episode": np.int32, "step": np.int32, "task": np.int16, "narration": np.int16, "frame_step": np.int32,
              "gaze": np.float32, "proprio": np.float32, "action": np.float32, "state": np.float32}
    out = {k: np.asarray(v, dtype=dtypes.get(k, np.uint8)) for k, v in arrays.items()}
    path = chunk_path(folder, index)
    write_chunk(path, out, {"chunk": index, "episodes": metas})
    return path


def _worker(args) -> tuple[int, int, dict]:
    config, folder, index = args
    path = collect_chunk(config, folder, index)
    with Chunk(path) as chunk:
        return index, len(chunk["episode"]), file_record(path)


def _check_same_settings(path: Path, manifest: dict) -> dict:
    """Chunks of a resumed collect must come from the same settings (the worker count aside).
    Returns the chunk records of the dataset.json there (none if there is none)."""
    if not path.exists():
        return {}
    try:
        old = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise DataError(f"{path}: not valid JSON; delete the folder or choose another run folder") from None
    if not isinstance(old, dict):
        raise DataError(f"{path}: not a play-data description; delete the folder or choose another run folder")
    keys = ("seed", "env", "collect", "format")
    differ = [k for k in keys if _without_workers(old.get(k)) != _without_workers(manifest[k])]
    if differ:
        raise DataError(f"{path.parent}: holds play data collected with other settings ({', '.join(differ)}); "
                        "collect into another run folder (--run-dir) or delete this one")
    records = old.get("chunk_files")
    return records if isinstance(records, dict) else {}


def _without_workers(value):
    return {k: v for k, v in value.items() if k != "workers"} if isinstance(value, dict) else value


def _damaged(path: Path, record: dict | None) -> str | None:
    """Why a chunk already there cannot be kept, or None. With a record, the sha256 decides; without
    one (a collect killed between writing the chunk and recording it), every array is read, so that
    the archive's CRCs catch damage anywhere inside, not only in its metadata."""
    if record is not None:
        return None if file_record(path) == record else "differs from the chunk that was written (sha256)"
    try:
        with Chunk(path) as chunk:
            chunk.verify()
    except DataError as e:
        return str(e)
    return None


def collect(config: RunConfig, out_dir: str | Path, *, progress: bool = False) -> dict:
    """Collect play data into out_dir, skipping chunks already there (resume)."""
    cfg = config.collect
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*.tmp"):  # left by an interrupted write; never a valid chunk
        stale.unlink()
    n_chunks = -(-cfg.episodes // cfg.chunk_episodes)
    manifest = {"format": "saccade play data", "episodes": cfg.episodes, "chunks": n_chunks, "seed": config.seed,
                "env": asdict(config.env), "collect": asdict(cfg), "narrations": list(NARRATIONS),
                "tasks": [t.name for t in ALL_TASKS]}
    # Settings first: a refused collect must not touch the chunks of another one.
    recorded = _check_same_settings(folder / "dataset.json", manifest)
    records: dict[str, dict] = {}
    todo = []
    for i in range(n_chunks):
        path = chunk_path(folder, i)
        if path.exists():
            why = _damaged(path, recorded.get(path.name))
            if why is None:
                records[path.name] = recorded.get(path.name) or file_record(path)
                continue
            log.warning("re-collecting %s: %s", path.name, why)
            path.unlink()
        todo.append(i)

    def write_manifest() -> None:
        # rewritten after every chunk, so that an interruption loses no record
        manifest["chunk_files"] = dict(sorted(records.items()))
        tmp = folder / "dataset.json.tmp"
        tmp.write_text(json.dumps(manifest, indent=2))
        os.replace(tmp, folder / "dataset.json")

    write_manifest()
    start = time.perf_counter()
    steps = 0
    bar = tqdm(total=len(todo), disable=not progress, desc="collect", unit="chunk")
    jobs = [(config, folder, i) for i in todo]
    if cfg.workers > 1 and len(todo) > 1:
        with mp.get_context("spawn").Pool(min(cfg.workers, len(todo))) as pool:
            done = pool.imap_unordered(_worker, jobs)
            for index, n, record in done:
                steps += n
                records[chunk_path(folder, index).name] = record
                write_manifest()
                bar.update()
    else:
        for job in jobs:
            index, n, record = _worker(job)
            steps += n
            records[chunk_path(folder, index).name] = record
            write_manifest()
            bar.update()
    bar.close()
    elapsed = time.perf_counter() - start
    return {"chunks": n_chunks, "collected_chunks": len(todo), "skipped_chunks": n_chunks - len(todo),
            "steps_collected": steps, "wall_time_s": round(elapsed, 1),
            "steps_per_s": round(steps / elapsed, 1) if elapsed > 0 else None}
