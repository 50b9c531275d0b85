"""The narrator a user hears, before and after its adaptation to the agent (agent/rl/narration.py),
on the same agent episodes (fresh layouts, FRESH_SEED_BASE) and on the held-out play data.

    python benchmarks/narrator_on_agent.py RUN_DIR [EPISODES_PER_TASK] [--out FILE]
"""

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agent.config import load_config  # noqa: E402
from agent.language.narrator import load_narrator  # noqa: E402
from agent.language.narrator_training import evaluate_narrator  # noqa: E402
from agent.language.narrator_on_agent import FRESH_SEED_BASE, agent_episodes, score  # noqa: E402
from agent.runs import RunLayout  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("run_dir")
    p.add_argument("episodes", type=int, nargs="?", default=10)
    p.add_argument("--out", default=None)
    args = p.parse_args()
    run = RunLayout(args.run_dir)
    config = load_config(None, [f"run_dir={args.run_dir}"])
    episodes = agent_episodes(config, run.root, run.rl, args.episodes, FRESH_SEED_BASE)
    result = {"episodes": len(episodes), "seed_base": FRESH_SEED_BASE,
              "agent_success": float(np.mean([e["success"] for e in episodes]))}
    for name, folder in (("language_stage", run.narrator), ("adapted_to_agent", run.rl / "narrator")):
        narrator = load_narrator(folder)
        on_agent = score(narrator, episodes)
        play = evaluate_narrator(config, run.root, folder)["segment_accuracy"]
        result[name] = {"folder": str(folder), **on_agent, "play_segment_accuracy": play}
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")


if __name__ == "__main__":
    main()
