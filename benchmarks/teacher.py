"""The Markov teacher (envs/teacher.py) on its own: success from clean starts, under execution
noise, and from chain starts (where another command, run by the teacher, left the scene).

    python benchmarks/teacher.py [--episodes 50] [--out benchmarks/results/teacher.json]

Layouts come from the teacher's own seed band (envs/teacher.py is checked on them, nothing is
trained on them). Goals (issue 23): 100% clean, >= 99% under noise 0.3, >= 97% from chain starts.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import time
from pathlib import Path

import numpy as np

from agent.seeds import TEACHER_SEED_BASE  # apart from every other band (agent/seeds.py lists them)

MAX_STEPS = 120


def _desk():
    from envs.config import DeskConfig
    from envs.desk_env import DeskEnv

    return DeskEnv(DeskConfig(obs_mode="state", terminate_on_success=False, max_episode_steps=10 ** 6))


def run_teacher(env, task, rng, noise: float, max_steps: int = MAX_STEPS) -> tuple[bool, int]:
    """Run the teacher on the task from the scene as it is; (success, steps)."""
    from envs.teacher import MarkovTeacher

    teacher = MarkovTeacher(task, max_step=env.config.max_step)
    for t in range(max_steps):
        a = teacher.act(env.privileged())
        if noise:
            a = np.clip(a + rng.normal(0.0, noise, 4), -1, 1).astype(np.float32)
        _, _, _, _, info = env.step(a)
        if info["is_success"]:
            return True, t + 1
        if "error" in info:
            return False, t + 1
    return False, max_steps


def _job(args) -> dict:
    from envs.tasks import Task, offered_tasks

    kind, task_name, seeds, noise = args
    task = Task.parse(task_name) if task_name else None
    env = _desk()
    rows = []
    try:
        for seed in seeds:
            rng = np.random.default_rng(seed)
            if kind == "chain":  # a first command, run by the teacher, then a second the scene offers
                env.reset(seed=seed)
                offered = offered_tasks(env.state())
                first = offered[int(rng.integers(len(offered)))]
                env.begin_task(first)
                run_teacher(env, first, rng, noise)
                offered = offered_tasks(env.state())
                second = offered[int(rng.integers(len(offered)))]
                env.begin_task(second)
                ok, steps = run_teacher(env, second, rng, noise)
                rows.append({"seed": seed, "task": second.name, "success": ok, "steps": steps, "after": first.name})
            else:
                try:
                    env.reset(seed=seed, options={"task": task})
                except ValueError:
                    continue
                ok, steps = run_teacher(env, task, rng, noise)
                rows.append({"seed": seed, "task": task.name, "success": ok, "steps": steps})
    finally:
        env.close()
    return {"kind": kind, "rows": rows}


def measure(episodes: int, workers: int = 2) -> dict:
    from envs.tasks import ALL_TASKS

    out = {}
    for kind, noise in (("clean", 0.0), ("noise_0.3", 0.3), ("chain", 0.0)):
        seeds = [TEACHER_SEED_BASE + k for k in range(episodes)]
        if kind == "chain":  # as many chains as single episodes, the second task drawn from the scene
            chain_seeds = [TEACHER_SEED_BASE + k for k in range(episodes * len(ALL_TASKS))]
            jobs = [("chain", None, chain_seeds[i::len(ALL_TASKS)], noise) for i in range(len(ALL_TASKS))]
        else:
            jobs = [("single", t.name, seeds, noise) for t in ALL_TASKS]
        with mp.get_context("spawn").Pool(workers) as pool:
            rows = [r for p in pool.map(_job, jobs) for r in p["rows"]]
        names = sorted({r["task"] for r in rows})
        per_task = {n: float(np.mean([r["success"] for r in rows if r["task"] == n])) for n in names}
        failures = [(r["task"], r["seed"], r.get("after")) for r in rows if not r["success"]]
        out[kind] = {"success_mean": float(np.mean([r["success"] for r in rows])),
                     "success_min": min(per_task.values()), "success_per_task": per_task, "episodes": len(rows),
                     "failures": failures[:40]}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--episodes", type=int, default=50, help="layouts per task and kind")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    t0 = time.perf_counter()
    result = {"command": f"python benchmarks/teacher.py --episodes {args.episodes}", **measure(args.episodes),
              "goals": {"clean": 1.0, "noise_0.3": 0.99, "chain": 0.97}}
    result["wall_time_s"] = round(time.perf_counter() - t0, 1)
    for kind in ("clean", "noise_0.3", "chain"):
        r = result[kind]
        print(f"{kind:>10}: {r['success_mean']:.1%} of {r['episodes']} episodes, lowest task {r['success_min']:.0%}")
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
