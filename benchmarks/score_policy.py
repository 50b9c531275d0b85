"""Success of one policy folder on held-out layouts (10 per task unless given), validation phrasings.

    .venv/bin/python benchmarks/score_policy.py runs/default/rl [episodes] [--fresh]

--fresh scores on layouts from 7,000,000 on, which no choice of the recipe looked at.
"""

import json
import sys
from pathlib import Path

from agent.config import load_config
from agent.rl.evaluate import EVAL_SEED_BASE, FRESH_SEED_BASE, success_per_task

if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a != "--fresh"]
    episodes = int(args[1]) if len(args) > 1 else 10
    base = FRESH_SEED_BASE if "--fresh" in sys.argv else EVAL_SEED_BASE
    result = success_per_task(load_config("configs/default.yaml"), Path(args[0]), {}, episodes, seed_base=base)
    result["seed_base"] = base
    print(json.dumps({"policy": sys.argv[1], **result}))
