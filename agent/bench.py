"""Speed and memory of the desk, measured side by side with panda-gym's PandaPush-v3.

Each measurement runs in its own process pinned to one core. Ours and the baseline
run at the same time on the two cores, then swap cores the next round; the median
over rounds is reported, and the ratios are what the goals speak of, because these
machines are noisy and only figures from one run are comparable.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import platform
import statistics
import time
from dataclasses import asdict

import numpy as np

from agent.config import BenchConfig

OURS = {
    "state": ("saccade/DeskState-v0", {}),
    "frame84": ("saccade/DeskFrame-v0", {"frame_size": 84}),
    "glimpse": ("saccade/Desk-v0", {}),
}
BASELINE_ID = "PandaPush-v3"
GOALS = {"state": 1.5, "frame84": 10.0, "glimpse": 15.0}
MEMORY_GOAL_MB = 50.0


def _pin(core: int | None) -> None:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    if core is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {core})


def _make(kind: str):
    import gymnasium as gym

    from envs.quiet import silenced

    with silenced():
        if kind.startswith("panda"):
            import panda_gym  # noqa: F401  (registers PandaPush-v3)

            if kind == "panda_render":
                return gym.make(BASELINE_ID, render_mode="rgb_array", render_width=84, render_height=84)
            return gym.make(BASELINE_ID)
        import envs  # noqa: F401

        env_id, kwargs = OURS[kind]
        return gym.make(env_id, **kwargs)


def _steps_per_second(kind: str, steps: int, core: int | None, seed: int = 0) -> float:
    """Random actions with resets; for panda_render a frame is rendered every step."""
    _pin(core)
    env = _make(kind)
    render = kind == "panda_render"
    rng = np.random.default_rng(seed)
    env.reset(seed=seed)
    low, high = env.action_space.low, env.action_space.high

    def run(n: int) -> None:
        for _ in range(n):
            action = rng.uniform(low, high).astype(np.float32)
            _, _, terminated, truncated, _ = env.step(action)
            if render:
                env.render()
            if terminated or truncated:
                env.reset()

    run(max(5, steps // 20))  # warm up
    start = time.perf_counter()
    run(steps)
    elapsed = time.perf_counter() - start
    env.close()
    return steps / elapsed


def _worker(kind: str, steps: int, core: int | None, queue) -> None:
    try:
        queue.put((kind, _steps_per_second(kind, steps, core)))
    except Exception as e:  # reported to the parent, which names the failing measurement
        queue.put((kind, f"{type(e).__name__}: {e}"))


def _measure_pair(pair: list[tuple[str, int]], cores: list[int | None]) -> dict[str, float]:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(kind, steps, core, queue)) for (kind, steps), core in zip(pair, cores)]
    for proc in procs:
        proc.start()
    results = dict(queue.get() for _ in procs)
    for proc in procs:
        proc.join()
    for kind, value in results.items():
        if isinstance(value, str):
            raise RuntimeError(f"benchmark of {kind} failed: {value}")
    return results


def _rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def _memory_worker(steps: int, queue) -> None:
    try:
        queue.put(_memory_check(steps))
    except Exception as e:
        queue.put({"error": f"{type(e).__name__}: {e}"})


def _memory_check(steps: int) -> dict:
    """Resident memory over many glimpse steps with resets, and over env create/close cycles."""
    env = _make("glimpse")
    rng = np.random.default_rng(0)
    env.reset(seed=0)
    warmup = min(1000, max(10, steps // 10))
    resets = 0

    def run(n: int) -> None:
        nonlocal resets
        for _ in range(n):
            _, _, terminated, truncated, _ = env.step(rng.uniform(-1, 1, 4).astype(np.float32))
            if terminated or truncated:
                env.reset()
                resets += 1

    run(warmup)
    start = _rss_mb()
    samples = []
    chunk = max(1, steps // 10)
    done = 0
    while done < steps:
        n = min(chunk, steps - done)
        run(n)
        done += n
        samples.append(round(_rss_mb(), 1))
    env.close()
    cycles = 20
    for _ in range(10):  # the first connections grow the allocator pools; measure after them
        _make("glimpse").close()
    before = _rss_mb()
    for i in range(cycles):
        e = _make("glimpse")
        e.reset(seed=i)
        e.step(np.zeros(4, dtype=np.float32))
        e.close()
    return {
        "steps": steps,
        "resets": resets,
        "rss_start_mb": round(start, 1),
        "rss_end_mb": samples[-1],
        "growth_mb": round(samples[-1] - start, 1),
        "rss_samples_mb": samples,
        "env_create_close_cycles": cycles,
        "cycle_growth_mb": round(_rss_mb() - before, 1),
        "goal_growth_mb": MEMORY_GOAL_MB,
        "goal_met": samples[-1] - start < MEMORY_GOAL_MB,
    }


def bench_env(config: BenchConfig, *, baseline: bool = True, memory: bool = True) -> dict:
    """Steps per second of ours and PandaPush-v3, side by side, and the memory check."""
    two_cores = (os.cpu_count() or 1) >= 2 and hasattr(os, "sched_setaffinity")
    rounds: dict[str, list[float]] = {}
    for r in range(config.rounds):
        cores: list[int | None] = [r % 2, 1 - r % 2] if two_cores else [0, 0]
        for ours in OURS:
            steps = config.state_steps if ours == "state" else config.render_steps
            pair = [(ours, steps)]
            if baseline:
                kind = "panda_state" if ours == "state" else "panda_render"
                pair.append((kind, config.state_steps if ours == "state" else config.baseline_render_steps))
            if not two_cores:  # one core: measure one after the other, never overlapping
                results = {}
                for item in pair:
                    results.update(_measure_pair([item], [None]))
            else:
                results = _measure_pair(pair, cores[: len(pair)])
            for kind, value in results.items():
                key = kind if kind.startswith("panda") else f"ours_{kind}"
                if kind == "panda_render" and ours == "glimpse":
                    key = "panda_render_vs_glimpse"
                rounds.setdefault(key, []).append(value)
    median = {k: statistics.median(v) for k, v in rounds.items()}
    out: dict = {
        "machine": {"cpu_count": os.cpu_count(), "python": platform.python_version(), "processor": platform.processor()},
        "config": asdict(config),
        "steps_per_s": {k: round(v, 1) for k, v in median.items()},
    }
    if baseline:
        ratios = {
            "state": median["ours_state"] / median["panda_state"],
            "frame84": median["ours_frame84"] / median["panda_render"],
            "glimpse": median["ours_glimpse"] / median["panda_render_vs_glimpse"],
        }
        out["ratios_vs_PandaPush-v3"] = {k: round(v, 2) for k, v in ratios.items()}
        out["goals"] = GOALS
        out["goals_met"] = {k: ratios[k] >= GOALS[k] for k in GOALS}
    if memory:
        ctx = mp.get_context("spawn")
        queue = ctx.Queue()
        proc = ctx.Process(target=_memory_worker, args=(config.memory_steps, queue))
        proc.start()
        result = queue.get()
        proc.join()
        if "error" in result:
            raise RuntimeError(f"memory check failed: {result['error']}")
        out["memory"] = result
    return out


def format_bench(results: dict) -> str:
    lines = ["steps/s (median over rounds, one core each):"]
    for k, v in results["steps_per_s"].items():
        lines.append(f"  {k:26s} {v:10.1f}")
    if "ratios_vs_PandaPush-v3" in results:
        lines.append("ratios vs PandaPush-v3 (goal):")
        for k, v in results["ratios_vs_PandaPush-v3"].items():
            ok = "ok" if results["goals_met"][k] else "BELOW GOAL"
            lines.append(f"  {k:26s} {v:6.2f}x  (>= {results['goals'][k]}x) {ok}")
    if "memory" in results:
        m = results["memory"]
        lines.append(f"memory: {m['steps']} steps, {m['resets']} resets: RSS {m['rss_start_mb']} -> {m['rss_end_mb']} MB "
                     f"(+{m['growth_mb']} MB, goal < {m['goal_growth_mb']} MB); "
                     f"{m['env_create_close_cycles']} create/close cycles: +{m['cycle_growth_mb']} MB")
    return "\n".join(lines)
