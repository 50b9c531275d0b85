"""The gaze policies over training seeds: PPO retrained on the same glimpse banks with seeds 1 and 2
(seed 0 is runs/default/attention), each scored as `saccade eval attention` scores the shipped one:
scene accuracy on the test bank by K, and the agent's success in the loop.

    .venv/bin/python benchmarks/attention_seeds.py runs/default 10 > benchmarks/results/attention_seeds.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np


def main(run_dir: str, episodes: int) -> dict:
    from agent.attention.bank import load_bank
    from agent.attention.evaluate import LOOP_SEED_BASE, scene_accuracy
    from agent.attention.policy import load_attention, save_attention
    from agent.attention.rewards import ScenePredictor
    from agent.attention.train import make_view, new_policy, reward_scales, train_kind
    from agent.config import load_config
    from agent.rl.evaluate import success_per_task
    from agent.runs import RunLayout

    run = RunLayout(run_dir)
    out: dict = {"episodes_per_task": episodes, "seeds": {}}
    train = load_bank(run.attention / "bank", "train")
    for seed in (0, 1, 2):
        config = load_config(Path(run_dir) / "attention" / "config.yaml", [f"seed={seed}", f"run_dir={run_dir}"])
        folder = run.attention if seed == 0 else run.root / "attention_seeds" / f"seed_{seed}"
        learned = {}
        for kind in config.attention.rewards:
            if not (folder / kind / "attention.json").exists():
                policy = new_policy(config, train, kind)
                view = make_view(policy, train, "train")
                predictor = ScenePredictor().fit(view.fovea, view.periphery, config.attention.glimpses,
                                                 np.random.default_rng(seed))
                train_kind(config, policy, view, predictor, reward_scales(config, view, predictor, kind), folder / kind,
                           folder / "tb", resume=True, progress=False)
                save_attention(policy, folder / kind, {"seed": seed})
            learned[kind] = load_attention(folder / kind)
        scene = scene_accuracy(config, run, learned)["scene_accuracy"]
        loop = {kind: success_per_task(config, run.rl, {"gaze": "attention", "attention": str(folder / kind)}, episodes,
                                       seed_base=LOOP_SEED_BASE)["success_mean"] for kind in learned}
        out["seeds"][str(seed)] = {"scene_accuracy": {k: v for k, v in scene.items() if k.startswith("learned")},
                                   "random_k4": scene["random"]["4"], "agent_success": loop}
        print(json.dumps({seed: out["seeds"][str(seed)]}), file=sys.stderr, flush=True)
    for kind in ("acting", "scene"):
        k4 = [s["scene_accuracy"][f"learned_{kind}"]["4"] for s in out["seeds"].values()]
        loop = [s["agent_success"][kind] for s in out["seeds"].values()]
        out[kind] = {"scene_accuracy_k4_mean": float(np.mean(k4)), "scene_accuracy_k4_std": float(np.std(k4)),
                     "agent_success_mean": float(np.mean(loop)), "agent_success_std": float(np.std(loop))}
    return out


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], int(sys.argv[2])), indent=2))
