"""The spread behind benchmarks/agent_capsule_memory.sh: behaviour cloning with more seeds.

    .venv/bin/python benchmarks/agent_capsule_memory_seeds.py [SEED ...]    # default: 1 2

For each seed, two policies are cloned with the default's imitation settings on the same
demonstrations the shell benchmark used: runs/default/rl/demos (encoder features) and
runs/agent_capsule_memory/rl/demos (the same episodes with the capsule memory appended). The
seed moves the initial weights and the batches, not the demonstrations. Both are scored on the
fresh layouts of the shell benchmark (10 per task, validation phrasings). Results are added to
benchmarks/results/agent_capsule_memory_seeds.json; seed 0 is the shell benchmark's pair.
"""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agent.config import load_config  # noqa: E402
from agent.perception.capsules import parser_digest  # noqa: E402
from agent.rl.demos import load_demos  # noqa: E402
from agent.rl.evaluate import FRESH_SEED_BASE, success_per_task  # noqa: E402
from agent.rl.imitation import train_imitation  # noqa: E402
from agent.rl.policy import load_policy, save_policy  # noqa: E402
from agent.runs import RunLayout  # noqa: E402

RUN = ROOT / "runs" / "agent_capsule_memory"
OUT = ROOT / "benchmarks" / "results" / "agent_capsule_memory_seeds.json"
VARIANTS = {"encoder_features": (ROOT / "runs" / "default" / "rl" / "demos", []),
            "with_capsule_memory": (RUN / "rl" / "demos", ["periphery"])}


def main(seeds: list[int]) -> None:
    base = replace(load_config(ROOT / "configs" / "default.yaml"), run_dir=str(RUN))
    results = json.loads(OUT.read_text()) if OUT.exists() else {}
    for line in (ROOT / "benchmarks" / "results" / "agent_capsule_memory.jsonl").read_text().splitlines():
        row = json.loads(line)  # seed 0: the shell benchmark's pair
        name = "with_capsule_memory" if "agent_capsule_memory" in row["policy"] else "encoder_features"
        results.setdefault(name, {})["0"] = row["success_mean"]
    for seed in seeds:
        for name, (demos, memory) in VARIANTS.items():
            if str(seed) in results.get(name, {}):
                continue
            config = replace(base, seed=seed, rl=replace(base.rl, capsule_memory=memory, ppo_steps=0,
                                                        narration_episodes_per_task=0))
            folder = RUN / "bc_seeds" / f"{name}_seed{seed}"
            if not (folder / "policy.json").exists():
                policy, _ = train_imitation(config, load_demos([demos]), folder)
                policy.capsule_parser = parser_digest(RunLayout(RUN).capsules) if memory else None
                save_policy(policy, folder, {"stage": "imitation", "seed": seed})
            assert load_policy(folder).capsule_memory == memory
            score = success_per_task(config, folder, {}, 10, seed_base=FRESH_SEED_BASE)
            results.setdefault(name, {})[str(seed)] = score["success_mean"]
            OUT.write_text(json.dumps(results, indent=2))
            print(name, seed, score["success_mean"], flush=True)
    for name in VARIANTS:
        values = sorted(results[name].values())
        results[f"{name}_summary"] = {"seeds": sorted(results[name]), "median": values[len(values) // 2],
                                      "spread": round(values[-1] - values[0], 4)}
    OUT.write_text(json.dumps(results, indent=2))
    print(json.dumps({k: v for k, v in results.items() if k.endswith("summary")}))


if __name__ == "__main__":
    main([int(s) for s in sys.argv[1:]] or [1, 2])
