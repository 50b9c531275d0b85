"""Glimpse banks: scenes at which every candidate glimpse was rendered and encoded once.

A scene is one state of a scripted-expert episode (a task carried out with a little noise, so the
drawer opens, blocks move and the lamp switches). At each scene the bank keeps, for every
candidate gaze (agent.attention.candidates), the frozen encoder's features of the fovea and the
periphery, and how far the acting policy's arm action would be from the expert's if it saw that
glimpse; the full frames with the same total pixels as K glimpses, as tiles of the encoder's input
size; and the privileged state, read only by evaluation probes.

Three splits, on layouts of their own: train (the gaze policy and the probes learn there),
validation (chooses which reward kind is shipped) and test (`saccade eval attention` only).
Parts are written atomically; a rerun keeps the finished ones.
"""

from __future__ import annotations

import logging
import math
import multiprocessing as mp
import os
from dataclasses import replace
from pathlib import Path

import numpy as np
from tqdm import tqdm

from agent.config import RunConfig
from agent.runs import RunLayout
from agent.seeds import BANK_TEST_SEED_BASE, BANK_TRAIN_SEED_BASE, BANK_VALIDATION_SEED_BASE

log = logging.getLogger(__name__)

SPLITS = ("train", "validation", "test")
SEED_BASE = {"train": BANK_TRAIN_SEED_BASE, "validation": BANK_VALIDATION_SEED_BASE,  # layouts of each split
             "test": BANK_TEST_SEED_BASE}
FRAME_KS = (1, 2, 4, 8)  # full frames with the pixels of this many glimpses
EPISODES_PER_PART = 10
KEYS = ("fovea", "periphery", "act_error", "state", "proprio", "expert_gaze", "task", "phrasing", "episode",
        "step") + tuple(f"frame_{k}" for k in FRAME_KS)


def episodes_of(config: RunConfig, split: str) -> int:
    cfg = config.attention
    return {"train": cfg.train_episodes, "validation": cfg.validation_episodes, "test": cfg.test_episodes}[split]


def glimpse_pixels(config: RunConfig) -> int:
    return config.env.fovea_size ** 2 + config.env.periphery_size ** 2


def frame_side(config: RunConfig, k: int) -> int:
    """The side of a square full frame with the pixels of k glimpses."""
    return max(8, round(math.sqrt(k * glimpse_pixels(config))))


def frame_tiles(config: RunConfig, k: int) -> int:
    """Tiles per side: the frame is cut into tiles about the size of a glimpse for the encoder."""
    return max(1, round(frame_side(config, k) / config.env.fovea_size))


class SceneRecorder:
    """Renders and encodes one scene's candidate glimpses and frames in an open desk."""

    def __init__(self, config: RunConfig, encoder, policy):
        from agent.attention.candidates import GazeCandidates

        self.config, self.encoder, self.policy = config, encoder.eval(), policy
        self.candidates = GazeCandidates(config.attention.grid, config.attention.zooms)

    def encode(self, images: np.ndarray):
        import torch

        with torch.no_grad():
            return self.encoder(torch.from_numpy(np.ascontiguousarray(images))).numpy()

    def record(self, env, label: np.ndarray, command) -> dict[str, np.ndarray]:
        import torch

        fovea, periphery = zip(*(env.eye.glimpse(self.candidates.gaze(c)) for c in range(len(self.candidates))))
        f, p = self.encode(np.stack(fovea)), self.encode(np.stack(periphery))
        proprio = np.clip(env.robot.proprioception(), -10, 10).astype(np.float32)
        state = np.concatenate([env.scene.state_vector(), env.robot.proprioception()]).astype(np.float32)
        n = len(self.candidates)
        features = np.concatenate([f, p, np.repeat(proprio[None], n, 0), self.candidates.array], 1).astype(np.float32)
        with torch.no_grad():
            x = self.policy.inputs(torch.from_numpy(features), torch.zeros(n, 7), command.expand(n, -1))
            arm = self.policy(x)[:, :4].clamp(-1, 1).numpy()
        out = {"fovea": f.astype(np.float16), "periphery": p.astype(np.float16),
               "act_error": ((arm - label[:4]) ** 2).sum(1).astype(np.float32), "state": state, "proprio": proprio,
               "expert_gaze": label[4:7].astype(np.float32)}
        for k in FRAME_KS:
            out[f"frame_{k}"] = self.frame_features(env, k).astype(np.float16)
        return out

    def frame_features(self, env, k: int) -> np.ndarray:
        """(tiles², D): encoder features of the tiles of a full frame with the pixels of k glimpses."""
        import torch
        from torch.nn import functional as F

        side, t, size = frame_side(self.config, k), frame_tiles(self.config, k), self.config.env.fovea_size
        frame = env.eye.render(env.eye.frame_camera(side, side))
        x = torch.from_numpy(frame.copy()).permute(2, 0, 1)[None].float()
        bounds = np.linspace(0, side, t + 1).round().astype(int)
        tiles = []
        for i in range(t):
            for j in range(t):
                tile = x[:, :, bounds[i]:bounds[i + 1], bounds[j]:bounds[j + 1]]
                tile = F.interpolate(tile, size=(size, size), mode="bilinear", align_corners=False)
                tiles.append(tile[0].permute(1, 2, 0).round().clamp(0, 255).byte().numpy())
        return self.encode(np.stack(tiles))


def bank_scenes(config: RunConfig, split: str, episodes: list[int], env):
    """The bank's scenes of these episodes, one at a time: brings env to each scene and yields the
    expert's label there, the command's words and the scene's row fields. Every recorder that keeps
    something of a bank's scenes walks this one schedule, so the same seeds give the same scenes."""
    from agent.rl.demos import expert_action
    from envs.expert import ScriptedExpert
    from envs.instructions import phrasings
    from envs.tasks import TASK_INDEX

    cfg = config.attention
    tasks = config.rl.task_list()
    for episode in episodes:
        rng = np.random.default_rng([config.seed, SEED_BASE[split], episode])
        task = tasks[episode % len(tasks)]
        texts = phrasings(task, "train" if split == "train" else "validation")
        phrasing = int(rng.integers(len(texts)))
        env.reset(seed=SEED_BASE[split] + episode, options={"task": task})
        expert = ScriptedExpert(task, max_step=env.config.max_step, recover=True)
        at = set(rng.choice(config.rl.max_steps, size=min(cfg.scenes_per_episode, config.rl.max_steps),
                            replace=False).tolist())
        noise = rng.uniform(0.0, config.rl.arm_noise)
        for t in range(max(at) + 1):
            label = expert_action(expert, env.privileged())
            if t in at:
                yield label, texts[phrasing], {"task": np.int16(TASK_INDEX[task]), "phrasing": np.int16(phrasing),
                                            "episode": np.int32(episode), "step": np.int32(t)}
            action = label.copy()
            action[:4] = np.clip(action[:4] + rng.normal(0, noise, 4), -1, 1)
            _, _, _, _, info = env.step(action)
            if "error" in info:
                break


def bank_env(config: RunConfig):
    from envs.desk_env import DeskEnv

    return DeskEnv(replace(config.env, task=None, obs_mode="glimpse", active_gaze=True, terminate_on_success=False,
                           max_episode_steps=10 ** 9))


def _record_part(args) -> tuple[str, int]:
    config, split, part_path, episodes = args
    import torch

    from agent.language.embedding import embed_text
    from agent.perception.encoder import load_encoder
    from agent.rl.policy import load_policy

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # one process per core
    run = RunLayout(config.run_dir)
    recorder = SceneRecorder(config, load_encoder(run.encoder), load_policy(run.rl))
    env = bank_env(config)
    rows: list[dict] = []
    try:
        for label, text, fields in bank_scenes(config, split, episodes, env):
            rows.append({**recorder.record(env, label, embed_text(text)), **fields})  # embed_text caches
    finally:
        env.close()
        torch.set_num_threads(threads)
    save_part(part_path, {k: np.stack([r[k] for r in rows]) for k in KEYS})
    return str(part_path), len(rows)


def save_part(path: Path, arrays: dict[str, np.ndarray]) -> None:
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez(tmp, **arrays)
    os.replace(tmp, path)


def _readable(path: Path, keys: tuple[str, ...]) -> bool:
    try:
        with np.load(path) as f:
            return all(k in f.files for k in keys)
    except Exception:  # a part cut short by a kill: recorded again
        return False


def record_bank(config: RunConfig, folder: Path, split: str, *, progress: bool = False, worker=_record_part,
                keys: tuple[str, ...] = KEYS) -> dict:
    """Record (or finish recording) one split's bank in folder/SPLIT/part_*.npz; `worker` records one
    part with these keys (a picklable function of one tuple: config, split, path, episodes)."""
    out = folder / split
    out.mkdir(parents=True, exist_ok=True)
    n = episodes_of(config, split)
    jobs = []
    for i, start in enumerate(range(0, n, EPISODES_PER_PART)):
        path = out / f"part_{i:05d}.npz"
        if not (path.exists() and _readable(path, keys)):
            jobs.append((config, split, path, list(range(start, min(n, start + EPISODES_PER_PART)))))
    bar = tqdm(total=len(jobs), disable=not progress, desc=f"bank {split}", unit="part")
    workers = min(config.attention.workers, len(jobs))
    if workers > 1:
        with mp.get_context("spawn").Pool(workers) as pool:
            for _ in pool.imap_unordered(worker, jobs):
                bar.update()
    else:
        for job in jobs:
            worker(job)
            bar.update()
    bar.close()
    return {"episodes": n, "parts_recorded": len(jobs)}


def load_bank(folder: Path, split: str, keys: tuple[str, ...] = KEYS) -> dict[str, np.ndarray]:
    """One split's scenes, every array stacked (float16 features widened to float32)."""
    from agent.weights import WeightsError

    parts = sorted((folder / split).glob("part_*.npz"))
    if not parts:
        raise WeightsError(f"{folder / split}: no recorded bank here (the attention stage's glimpse banks come "
                           "from `saccade train attention`)")
    arrays: dict[str, list] = {k: [] for k in keys}
    for path in parts:
        with np.load(path) as f:
            for k in keys:
                arrays[k].append(f[k])
    return {k: np.concatenate(v).astype(np.float32) if v[0].dtype == np.float16 else np.concatenate(v)
            for k, v in arrays.items()}
