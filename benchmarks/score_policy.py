"""Success of one policy folder on held-out layouts (10 per task unless given), validation phrasings.

    .venv/bin/python benchmarks/score_policy.py runs/default/rl [episodes] [--fresh]

--fresh scores on layouts from 7,000,000 on, which no choice of the recipe looked at. The
encoder (and, for a policy that reads it, the capsule parser) are read from the run folder the
policy is in (RUN/rl or RUN/rl/imitation).
"""

import json
import sys
from dataclasses import replace
from pathlib import Path

from agent.config import load_config
from agent.rl.evaluate import EVAL_SEED_BASE, FRESH_SEED_BASE, success_per_task

if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a != "--fresh"]
    episodes = int(args[1]) if len(args) > 1 else 10
    base = FRESH_SEED_BASE if "--fresh" in sys.argv else EVAL_SEED_BASE
    folder = Path(args[0])
    run_dir = folder.parent if folder.name == "rl" else folder.parent.parent
    config = replace(load_config("configs/default.yaml"), run_dir=str(run_dir))
    result = success_per_task(config, folder, {}, episodes, seed_base=base)
    result["seed_base"] = base
    print(json.dumps({"policy": sys.argv[1], **result}))
