"""Success of one policy folder on 10 held-out layouts per task, validation phrasings.

    .venv/bin/python benchmarks/score_policy.py runs/default/rl [episodes]
"""

import json
import sys
from pathlib import Path

from agent.config import load_config
from agent.rl.evaluate import success_per_task

if __name__ == "__main__":
    episodes = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    result = success_per_task(load_config("configs/default.yaml"), Path(sys.argv[1]), {}, episodes)
    print(json.dumps({"policy": sys.argv[1], **result}))
