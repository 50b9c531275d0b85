"""Demonstrations for imitation: the teacher's actions on the states a learner visits.

Each episode pairs one task with one of its training phrasings (never a validation one).
At every step we keep what the policy will read (perception features, the previous executed
action) and the label: the teacher's clean action, arm and gaze (looking at what the task is
about). The teacher is the Markov teacher (envs/teacher.py, `rl.teacher: markov`, a function of
the state alone) or the scripted expert (envs/expert.py, `scripted`). A share of the episodes
(`rl.chain_start_fraction`) starts where another command, run by the teacher with noise, left
the scene and the arm: the way a second command starts. What is executed differs from the label:
- "expert" episodes execute the label plus noise (DART, Laskey et al. 2017): the data then
  covers the states a learner drifts into, with the correction the expert would make there;
- "policy" episodes execute a trained policy's own actions (DAgger, Ross et al. 2011), the
  expert labelling the states the policy reaches.
Episodes are collected in worker processes and stored in parts (`part_00012.npz`), written
atomically: an interrupted collection keeps its finished parts.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
from tqdm import tqdm

from agent.config import RunConfig
from agent.seeds import DEMO_SEED_BASE  # demonstration layouts; evaluation draws from EVAL_SEED_BASE
from envs.eye import Gaze
from envs.instructions import TRAIN, phrasings
from envs.tasks import TASK_INDEX, Task

log = logging.getLogger(__name__)

KEYS = ("features", "prev_action", "label", "task", "phrasing", "episode", "step", "success")


def start_action(gaze: np.ndarray) -> np.ndarray:
    """The "previous action" before the first step: still, gripper open, looking where the eye looks."""
    return np.concatenate([[0.0, 0.0, 0.0, 1.0], gaze]).astype(np.float32)


def expert_action(expert, state: dict, zoom: float = 2.0) -> np.ndarray:
    gaze = Gaze.looking_at(expert.look_at(state), zoom=zoom)
    return np.clip(np.concatenate([expert.act(state), gaze.as_array()]), -1, 1).astype(np.float32)


def make_teacher(kind: str, task: Task, max_step: float):
    """The demonstrations' labeller: "markov" (envs/teacher.py) or "scripted" (envs/expert.py)."""
    if kind == "markov":
        from envs.teacher import MarkovTeacher

        return MarkovTeacher(task, max_step=max_step)
    from envs.expert import ScriptedExpert

    # recover: the expert labels states it did not steer to (noise, or the policy's own)
    return ScriptedExpert(task, max_step=max_step, recover=True)


def chain_start(env, task: Task, seed: int, rng: np.random.Generator, config: RunConfig) -> dict | None:
    """Reset to the layout, let the teacher (with noise) carry out another command the layout offers,
    then begin `task` in the scene it left: the observation, or None when the scene no longer offers
    the task (the caller then starts from rest)."""
    from envs.tasks import offered_tasks

    env.reset(seed=seed, options={"task": task})
    others = [t for t in offered_tasks(env.state()) if t != task]
    if not others:
        return None
    first = others[int(rng.integers(len(others)))]
    obs, _ = env.begin_task(first)
    teacher = make_teacher("markov", first, env.config.max_step)
    noise = rng.uniform(0.0, config.rl.arm_noise)
    success_at = None
    for t in range(config.rl.max_steps):
        arm = teacher.act(env.privileged())
        arm = np.clip(arm + rng.normal(0.0, noise, 4), -1, 1)
        gaze = Gaze.looking_at(teacher.look_at(env.privileged()), zoom=2.0).as_array()
        obs, _, _, _, info = env.step(np.concatenate([arm, gaze]).astype(np.float32))
        if info["is_success"] and success_at is None:
            success_at = t
        if "error" in info or (success_at is not None and t - success_at >= 2):
            break
    try:
        obs, _ = env.begin_task(task)
    except ValueError:
        return None
    return obs


def _episode(env, encoder, task: Task, phrasing: int, seed: int, rng: np.random.Generator, config: RunConfig,
             policy=None, command=None, memory=None, from_chain: bool = False) -> dict[str, np.ndarray]:
    """One episode's rows; `memory` (agent.rl.capsule_inputs.CapsuleMemoryInput) appends the capsule
    scene memory to the features; `from_chain`: start where another command left the scene."""
    from agent.perception.features import step_features

    cfg = config.rl
    obs = chain_start(env, task, seed, rng, config) if from_chain else None
    if obs is None:
        obs, _ = env.reset(seed=seed, options={"task": task})
    expert = make_teacher(cfg.teacher, task, env.config.max_step)
    arm_noise = rng.uniform(0.0, cfg.arm_noise)
    gaze_noise = rng.uniform(0.0, cfg.gaze_noise) if cfg.gaze_noise_per_episode else cfg.gaze_noise
    prev = start_action(obs["gaze"])
    if memory is not None:
        memory.reset()
    rec: dict[str, list] = {k: [] for k in ("fovea", "periphery", "proprio", "gaze", "prev_action", "label", "memory")}
    success_at = None
    # Rows after success teach what to do once the task is done, which no command asks; with the
    # Markov teacher they contradict the task's own (a pressed button is let up again), and cloned,
    # the two average to a hand resting on the button. So its episodes end at success.
    tail = 2 if cfg.teacher == "scripted" else 0
    for t in range(cfg.max_steps):
        label = expert_action(expert, env.privileged())
        for k in ("fovea", "periphery", "proprio", "gaze"):
            rec[k].append(obs[k])
        if memory is not None:
            rec["memory"].append(memory(obs))
        rec["prev_action"].append(prev)
        rec["label"].append(label)
        if policy is None:
            noise = np.concatenate([rng.normal(0, arm_noise, 4), rng.normal(0, gaze_noise, 3)])
            action = np.clip(label + noise, -1, 1).astype(np.float32)
        else:
            feats = step_features(encoder, obs["fovea"][None], obs["periphery"][None], obs["proprio"][None],
                                  obs["gaze"][None])[0]
            if memory is not None:
                feats = np.concatenate([feats, rec["memory"][-1]])
            action = policy.act(feats, prev, command)
        obs, _, _, _, info = env.step(action)
        prev = action
        if info["is_success"] and success_at is None:
            success_at = t
        if "error" in info or (success_at is not None and t - success_at >= tail):
            break
    n = len(rec["label"])
    feats = step_features(encoder, np.stack(rec["fovea"]), np.stack(rec["periphery"]), np.stack(rec["proprio"]),
                          np.stack(rec["gaze"]))
    if memory is not None:
        feats = np.concatenate([feats, np.stack(rec["memory"])], 1).astype(np.float32)
    return {"features": feats, "prev_action": np.stack(rec["prev_action"]), "label": np.stack(rec["label"]),
            "task": np.full(n, TASK_INDEX[task], np.int16), "phrasing": np.full(n, phrasing, np.int16),
            "step": np.arange(n, dtype=np.int32), "success": np.full(n, success_at is not None)}


def _collect_part(args) -> tuple[Path, int, int]:
    config, part_path, episodes, policy_folder = args
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # one process per core
    try:
        return _collect_episodes(config, part_path, episodes, policy_folder)
    finally:
        torch.set_num_threads(threads)


def _collect_episodes(config: RunConfig, part_path: Path, episodes: list[int], policy_folder) -> tuple[Path, int, int]:
    from agent.perception.encoder import load_encoder
    from agent.runs import RunLayout
    from envs.desk_env import DeskEnv

    run = RunLayout(config.run_dir)
    encoder = load_encoder(run.encoder)
    memory = None
    if config.rl.capsule_memory:
        from agent.perception.capsules import load_parser
        from agent.rl.capsule_inputs import CapsuleMemoryInput

        memory = CapsuleMemoryInput(load_parser(run.capsules), config.rl.capsule_memory)
    policy = None
    if policy_folder is not None:
        from agent.language.embedding import embed_text
        from agent.rl.policy import load_policy

        policy = load_policy(policy_folder)
    env_config = replace(config.env, task=None, obs_mode="glimpse", active_gaze=True, terminate_on_success=False,
                         max_episode_steps=config.rl.max_steps + 10)
    env = DeskEnv(env_config)
    parts: list[dict] = []
    try:
        for episode in episodes:
            rng = np.random.default_rng([config.seed, episode])
            tasks = config.rl.task_list()
            task = tasks[episode % len(tasks)]
            phrasing = int(rng.integers(len(TRAIN[task.id])))
            command = embed_text(phrasings(task)[phrasing]) if policy is not None else None
            from_chain = bool(rng.random() < config.rl.chain_start_fraction)
            rec = _episode(env, encoder, task, phrasing, DEMO_SEED_BASE + episode, rng, config, policy, command,
                           memory, from_chain)
            rec["episode"] = np.full(len(rec["label"]), episode, np.int32)
            parts.append(rec)
    finally:
        env.close()
    out = {k: np.concatenate([p[k] for p in parts]) for k in KEYS}
    tmp = part_path.with_suffix(".tmp.npz")
    np.savez(tmp, **out)
    os.replace(tmp, part_path)
    return part_path, len(episodes), int(sum(p["success"][0] for p in parts))


def _fingerprint(config: RunConfig, policy_folder: Path | None) -> dict:
    """What the stored rows depend on: parts made otherwise must not be mixed in."""
    import hashlib

    from agent.runs import RunLayout

    def digest(path: Path) -> str:
        return hashlib.sha256(path.read_bytes()).hexdigest()[:16]

    cfg = config.rl
    run = RunLayout(config.run_dir)
    out = {"seed": config.seed, "env": asdict(config.env), "encoder": digest(run.encoder / "encoder.safetensors"),
           "policy": digest(Path(policy_folder) / "policy.safetensors") if policy_folder else None,
           "rl": {"tasks": list(cfg.tasks), "arm_noise": cfg.arm_noise, "gaze_noise": cfg.gaze_noise,
                  "max_steps": cfg.max_steps}}
    if cfg.teacher != "scripted" or cfg.chain_start_fraction or cfg.gaze_noise_per_episode:
        # only then (issue 23's settings): folders made before them keep their fingerprint
        out["rl"].update(teacher=cfg.teacher, chain_start_fraction=cfg.chain_start_fraction,
                         gaze_noise_per_episode=cfg.gaze_noise_per_episode)
    if cfg.capsule_memory:  # only then: folders made before the key keep their fingerprint
        from agent.perception.capsules import parser_digest
        from agent.perception.memory import GRID_X, GRID_Y
        from agent.rl.capsule_inputs import CELL

        out["capsule_memory"] = {"streams": list(cfg.capsule_memory), "parser": parser_digest(run.capsules),
                                 "grid": {"x": list(GRID_X), "y": list(GRID_Y), "cell": CELL}}
    return out


def collect_demos(config: RunConfig, folder: Path, episodes: range, *, policy_folder: Path | None = None,
                  progress: bool = False, part_size: int = 18) -> dict:
    """Collect the given episode numbers into folder (parts already there are kept: resume)."""
    import json

    from agent.data.format import DataError

    folder.mkdir(parents=True, exist_ok=True)
    manifest, fingerprint = folder / "demos.json", _fingerprint(config, policy_folder)
    if manifest.exists() and json.loads(manifest.read_text()) != fingerprint:
        raise DataError(f"{folder}: holds demonstrations made with another encoder, policy or settings; "
                        "delete it (or the run's rl folder) to make them again")
    manifest.write_text(json.dumps(fingerprint, indent=2))
    for stale in folder.glob("*.tmp.npz"):
        stale.unlink()
    jobs = []
    for i in range(0, len(episodes), part_size):
        chunk = list(episodes[i:i + part_size])
        path = folder / f"part_{chunk[0]:07d}.npz"
        if not path.exists():
            jobs.append((config, path, chunk, policy_folder))
    done_eps = successes = 0
    bar = tqdm(total=len(jobs), disable=not progress, desc=folder.name, unit="part")
    if config.rl.workers > 1 and len(jobs) > 1:
        with mp.get_context("spawn").Pool(min(config.rl.workers, len(jobs))) as pool:
            for _, n, s in pool.imap_unordered(_collect_part, jobs):
                done_eps, successes = done_eps + n, successes + s
                bar.update()
    else:
        for job in jobs:
            _, n, s = _collect_part(job)
            done_eps, successes = done_eps + n, successes + s
            bar.update()
    bar.close()
    return {"episodes": len(episodes), "collected_now": done_eps,
            "success_rate_now": successes / done_eps if done_eps else None}


def demo_steps(folder: Path) -> int:
    """Environment steps stored in a demonstrations folder."""
    total = 0
    for p in folder.glob("part_*.npz"):
        if not p.name.endswith(".tmp.npz"):
            with np.load(p) as z:
                total += len(z["step"])
    return total


def load_demos(folders: list[Path]) -> dict[str, np.ndarray]:
    from agent.data.format import DataError

    parts = sorted(p for f in folders for p in f.glob("part_*.npz") if not p.name.endswith(".tmp.npz"))
    if not parts:
        raise DataError(f"no demonstrations in {', '.join(map(str, folders))}")
    arrays: dict[str, list] = {k: [] for k in KEYS}
    for p in parts:
        try:
            with np.load(p) as z:
                for k in KEYS:
                    arrays[k].append(z[k])
        except Exception as e:  # a truncated or foreign file: say which
            raise DataError(f"{p}: not a readable demonstration part ({type(e).__name__}: {e}); delete it and "
                            "run again") from None
    return {k: np.concatenate(v) for k, v in arrays.items()}
