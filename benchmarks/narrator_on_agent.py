"""The narrator a user hears, before and after its adaptation to the agent (agent/rl/narration.py),
on the same agent episodes (fresh layouts, FRESH_SEED_BASE) and on the held-out play data.

    python benchmarks/narrator_on_agent.py RUN_DIR [EPISODES_PER_TASK] [--out FILE]
"""

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agent.config import load_config  # noqa: E402
from agent.data.format import PlayData  # noqa: E402
from agent.language.narrator import clip_indices, load_narrator  # noqa: E402
from agent.language.narrator_on_agent import FRESH_SEED_BASE, agent_episodes, score  # noqa: E402
from agent.language.narrator_training import load_stream, segments  # noqa: E402
from agent.perception.encoder import load_encoder  # noqa: E402
from agent.perception.stream import split_chunks  # noqa: E402
from agent.runs import RunLayout  # noqa: E402
from envs.narration import NARRATIONS  # noqa: E402


def play_accuracy(narrator, stream) -> float:
    feats = torch.from_numpy(stream["features"])
    clips = clip_indices(stream["step"], narrator.spec.window)
    said = []
    for i in range(0, len(feats), 1024):
        said += narrator.generate(feats[clips[i:i + 1024]])
    segs = segments(stream["narration"], stream["episode"])
    return sum(any(said[t] == NARRATIONS[k] for t in range(s, e)) for s, e, k in segs) / len(segs)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("run_dir")
    p.add_argument("episodes", type=int, nargs="?", default=10)
    p.add_argument("--out", default=None)
    args = p.parse_args()
    run = RunLayout(args.run_dir)
    config = load_config(None, [f"run_dir={args.run_dir}"])
    episodes = agent_episodes(config, run.root, run.rl, args.episodes, FRESH_SEED_BASE)
    data = PlayData(run.collect)
    _, test_ids = split_chunks(len(data), config.split.test_fraction)
    stream = load_stream(data, test_ids, load_encoder(run.encoder))
    result = {"episodes": len(episodes), "seed_base": FRESH_SEED_BASE,
              "agent_success": float(np.mean([e["success"] for e in episodes]))}
    for name, folder in (("language_stage", run.narrator), ("adapted_to_agent", run.rl / "narrator")):
        narrator = load_narrator(folder)
        on_agent = score(narrator, episodes)
        result[name] = {"folder": str(folder), **on_agent, "play_segment_accuracy": play_accuracy(narrator, stream)}
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")


if __name__ == "__main__":
    main()
