"""The acting gaze policy fine-tuned in the loop (agent.attention.loop), against the bank-trained one.

    .venv/bin/python benchmarks/attention_in_loop.py runs/default 40000 > benchmarks/results/attention_in_loop.json

Fine-tunes runs/default/attention/acting for STEPS environment steps into
runs/default/attention_in_loop/, then scores both gaze policies with the acting agent: on
validation layouts (11,700,000+, 5 per task: whether fine-tuning helps is decided there), and the
fine-tuned one on the test layouts of `saccade eval attention` (11,000,000+, 10 per task).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from agent.seeds import LOOP_VALIDATION_SEED_BASE as VALIDATION_SEED_BASE


def main(run_dir: str, steps: int) -> dict:
    from agent.attention.evaluate import LOOP_SEED_BASE
    from agent.attention.loop import finetune_in_loop
    from agent.config import load_config
    from agent.rl.evaluate import success_per_task
    from agent.runs import RunLayout

    run = RunLayout(run_dir)
    config = load_config(Path(run_dir) / "attention" / "config.yaml", [f"run_dir={run_dir}"])
    out = run.root / "attention_in_loop"
    _, training = finetune_in_loop(config, run.attention / "acting", out, steps, resume=True)

    def success(folder: Path, seed_base: int, episodes: int) -> float:
        variant = {"gaze": "attention", "attention": str(folder)}
        return success_per_task(config, run.rl, variant, episodes, seed_base=seed_base)["success_mean"]

    return {"training": training, "steps": steps,
            "validation": {"layouts": f"{VALIDATION_SEED_BASE:,}+, 5 per task",
                           "bank_trained": success(run.attention / "acting", VALIDATION_SEED_BASE, 5),
                           "fine_tuned_in_loop": success(out, VALIDATION_SEED_BASE, 5)},
            "test": {"layouts": f"{LOOP_SEED_BASE:,}+, 10 per task (as saccade eval attention)",
                     "fine_tuned_in_loop": success(out, LOOP_SEED_BASE, 10)}}


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], int(sys.argv[2])), indent=2))
