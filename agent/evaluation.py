"""Evaluation of the scripted expert: success per task over many seeds."""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np
from tqdm import tqdm

from agent.config import RunConfig
from envs.desk_env import DeskEnv
from envs.expert import ScriptedExpert
from envs.tasks import Task


def run_expert_episode(env: DeskEnv, task: Task, seed: int) -> tuple[bool, int]:
    env.reset(seed=seed, options={"task": task})
    expert = ScriptedExpert(task, max_step=env.config.max_step)
    info: dict = {"is_success": False}
    for step in range(1, env.config.max_episode_steps + 1):
        _, _, terminated, truncated, info = env.step(expert.act(env.privileged()))
        if terminated or truncated:
            break
    return bool(info["is_success"]), step


def evaluate_expert(config: RunConfig, tasks: list[Task], episodes: int, *, progress: bool = False) -> dict:
    """Success rate of the scripted expert per task, on seeds seed..seed+episodes-1."""
    env = DeskEnv(replace(config.env, obs_mode="state", task=None, active_gaze=False))
    start = time.perf_counter()
    per_task = {}
    bar = tqdm(total=len(tasks) * episodes, disable=not progress, desc="expert", unit="ep")
    try:
        for task in tasks:
            results = []
            for i in range(episodes):
                results.append(run_expert_episode(env, task, config.expert_eval.seed + i))
                bar.update()
            successes = [s for s, _ in results]
            per_task[task.name] = {
                "success_rate": float(np.mean(successes)),
                "episodes": episodes,
                "mean_steps": float(np.mean([n for _, n in results])),
                "failed_seeds": [config.expert_eval.seed + i for i, s in enumerate(successes) if not s],
            }
    finally:
        bar.close()
        env.close()
    rates = [m["success_rate"] for m in per_task.values()]
    return {
        "per_task": per_task,
        "min_success_rate": float(min(rates)),
        "mean_success_rate": float(np.mean(rates)),
        "episodes_per_task": episodes,
        "wall_time_s": round(time.perf_counter() - start, 1),
    }


def format_expert_table(metrics: dict) -> str:
    lines = ["| task | success | mean steps |", "| --- | --- | --- |"]
    for name, m in metrics["per_task"].items():
        lines.append(f"| {name} | {m['success_rate'] * 100:.0f}% | {m['mean_steps']:.0f} |")
    lines.append(f"\nmin {metrics['min_success_rate'] * 100:.0f}%, mean {metrics['mean_success_rate'] * 100:.1f}% "
                 f"over {metrics['episodes_per_task']} seeds per task ({metrics['wall_time_s']} s)")
    return "\n".join(lines)
