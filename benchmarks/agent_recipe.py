"""The acting agent's imitation recipe, variants side by side on the same layouts.

    python benchmarks/agent_recipe.py --run-dir runs/recipe [--episodes 10] [--set rl.teacher=scripted ...]

Uses the encoder and command parser in RUN_DIR (copied from agent/shipped when missing); for each variant it
collects demonstrations into RUN_DIR/<variant>/demos (kept: a second call re-uses them), clones a
policy and scores it on the recipe band of layouts (agent.rl.evaluate.RECIPE_SEED_BASE: the
layouts this benchmark chooses on, apart from the held-out ones of `saccade eval agent`), with its
own gaze and with the teacher's gaze (from the privileged state: the cost of learned attention),
hearing the validation words itself, and as the shipped agent hears commands (parsed first).
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from dataclasses import replace
from pathlib import Path

VARIANTS = {
    "default": {},  # Markov teacher, hand-relative input, chain starts, gaze noise per episode, gaze weight 10
    "gaze_weight_1": {"gaze_loss_weight": 1.0},
    "gaze_noise_fixed": {"gaze_noise_per_episode": False, "gaze_loss_weight": 1.0},
    "scripted_absolute": {"teacher": "scripted", "hand_relative": False, "chain_start_fraction": 0.0,
                          "gaze_noise_per_episode": False, "gaze_loss_weight": 1.0},  # the recipe before issue 23
}
SAME_DEMOS = {"gaze_weight_1": "default"}


def main() -> None:
    from agent.config import load_config
    from agent.rl.demos import collect_demos, load_demos
    from agent.rl.evaluate import RECIPE_SEED_BASE, success_per_task
    from agent.rl.imitation import train_imitation
    from agent.rl.policy import load_policy, save_policy

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run-dir", type=Path, default=Path("runs/recipe"))
    ap.add_argument("--config", default="configs/default.yaml")
    ap.add_argument("--episodes", type=int, default=10, help="recipe-band layouts per task")
    ap.add_argument("--variants", nargs="*", default=list(VARIANTS))
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    for part in ("encoder", "language/commands"):  # the frozen encoder and the command parser it is measured with
        if not (args.run_dir / part).exists():
            shutil.copytree(Path("agent/shipped") / part, args.run_dir / part)
    base = load_config(args.config)
    results = {}
    for name in args.variants:
        t0 = time.perf_counter()
        rl = replace(base.rl, **VARIANTS[name], ppo_steps=0, narration_episodes_per_task=0)
        config = replace(base, run_dir=str(args.run_dir), rl=rl)
        folder = args.run_dir / name
        # variants that differ in cloning only share the demonstrations of the one they differ from
        demos_folder = args.run_dir / SAME_DEMOS.get(name, name) / "demos"
        demos = collect_demos(config, demos_folder, range(rl.demos_per_task * len(rl.task_list())), progress=True)
        if (folder / "policy" / "policy.json").exists():
            policy_folder = folder / "policy"
            load_policy(policy_folder)
        else:
            policy, bc = train_imitation(config, load_demos([demos_folder]), folder / "imitation", progress=True)
            save_policy(policy, folder / "policy", {"variant": name})
            policy_folder = folder / "policy"
        row = {"settings": VARIANTS[name], "demonstrations": demos}
        # the policy hearing the validation words itself, with its own gaze and the teacher's; then as
        # the shipped agent hears commands: read by the command parser first
        for key, variant in (("own_gaze", {"listen": "words"}), ("teacher_gaze", {"listen": "words", "gaze": "expert"}),
                             ("own_gaze_parser", {"listen": "parser"})):
            r = success_per_task(config, policy_folder, variant, args.episodes, progress=True,
                                 desc=f"{name}/{key}", seed_base=RECIPE_SEED_BASE)
            row[key] = r
            print(f"{name} ({key}): {r['success_mean']:.1%} mean, lowest {r['success_min']:.0%}", flush=True)
        row["wall_time_s"] = round(time.perf_counter() - t0, 1)
        results[name] = row
        if args.out:
            args.out.write_text(json.dumps({"command": "python benchmarks/agent_recipe.py " + " ".join(
                f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items() if k not in ("out", "variants")),
                "layouts": f"recipe band from {RECIPE_SEED_BASE}, {args.episodes} per task",
                "variants": results}, indent=2) + "\n")


if __name__ == "__main__":
    main()
