"""The thin RL layer at a budget where it can matter: PPO from the run's imitation policy, scored at
growing budgets.

    python benchmarks/ppo_curve.py runs/default [--budgets 8192 50000 100000 200000] [--episodes 10]
        [--out benchmarks/results/ppo_curve.json]

PPO runs in RUN_DIR/ppo_curve/ (its own folder: the run's rl stage is left as it is), resuming
from its last checkpoint at each larger budget (agent/rl/ppo.py), with the default config's
settings otherwise. After each budget the policy is scored on the recipe band of layouts
(agent.seeds.RECIPE_SEED_BASE: a curve that may choose a budget, so not the held-out band of
`saccade eval agent`), commands read by the parser first, as `saccade eval agent` does. Budget 0
is the imitation policy itself.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path


def main() -> None:
    from agent.config import load_config
    from agent.rl.evaluate import success_per_task
    from agent.rl.policy import load_policy, save_policy
    from agent.rl.ppo import finetune
    from agent.seeds import RECIPE_SEED_BASE

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run_dir", type=Path)
    ap.add_argument("--config", default="configs/default.yaml")
    ap.add_argument("--budgets", type=int, nargs="+", default=[8192, 50_000, 100_000, 200_000])
    ap.add_argument("--episodes", type=int, default=10, help="recipe-band layouts per task at each budget")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    base = replace(load_config(args.config), run_dir=str(args.run_dir))
    folder = args.run_dir / "ppo_curve"
    imitation = args.run_dir / "rl" / "imitation"
    curve = []

    def score(policy_folder: Path, steps: int, extra: dict) -> None:
        r = success_per_task(base, policy_folder, {}, args.episodes, seed_base=RECIPE_SEED_BASE, desc=f"{steps}")
        curve.append({"env_steps": steps, "success_mean": r["success_mean"], "success_min": r["success_min"],
                      "success_per_task": r["success_per_task"], **extra})
        print(f"{steps:>7} PPO steps: {r['success_mean']:.1%} (lowest task {r['success_min']:.0%})", flush=True)
        if args.out:
            args.out.write_text(json.dumps({
                "command": f"python benchmarks/ppo_curve.py {args.run_dir} --budgets {' '.join(map(str, args.budgets))} "
                           f"--episodes {args.episodes}",
                "layouts": f"recipe band from {RECIPE_SEED_BASE}, {args.episodes} per task; validation wordings "
                           "read by the parser first", "reward": base.rl.reward, "curve": curve}, indent=2) + "\n")

    score(imitation, 0, {})
    for budget in args.budgets:
        t0 = time.perf_counter()
        config = replace(base, rl=replace(base.rl, ppo_steps=budget))
        policy, metrics = finetune(config, load_policy(imitation), folder / "ppo", resume=(folder / "ppo").exists())
        save_policy(policy, folder / f"policy_{budget}", {"stage": f"imitation + ppo {budget}"})
        score(folder / f"policy_{budget}", budget, {"ppo": {k: metrics.get(k) for k in (
            "env_steps_per_s", "rollout_success_rate_last_100")}, "wall_time_s": round(time.perf_counter() - t0, 1)})


if __name__ == "__main__":
    main()
