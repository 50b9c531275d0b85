"""The training stages, in order. Each reads the artifacts of the stages before it from
one run folder and writes its own: runs/NAME/STAGE/."""

from __future__ import annotations

import json
from pathlib import Path

from agent.config import RunConfig, save_config

STAGES = ("collect", "encoder", "capsules", "language", "attention", "rl")
BUILT = ("collect", "encoder", "capsules")


class StageNotBuilt(Exception):
    pass


def run_stage(config: RunConfig, stage: str, *, resume: bool = False, progress: bool = False) -> dict:
    run_dir = Path(config.run_dir)
    if stage == "collect":
        from agent.data.collect import collect

        out = run_dir / "collect"
        metrics = collect(config, out, progress=progress)
        save_config(config, out / "config.yaml")
        (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
        return metrics
    if stage == "encoder":
        from agent.perception.contrastive import train_contrastive

        metrics = train_contrastive(config, run_dir / "collect", run_dir / "encoder", resume=resume,
                                    progress=progress, test_fraction=config.probes.test_fraction)
        return {k: v for k, v in metrics.items() if k != "history"}
    if stage == "capsules":
        from agent.perception.capsule_training import train_capsules

        metrics = train_capsules(config, run_dir / "collect", run_dir / "capsules", resume=resume, progress=progress)
        return {k: v for k, v in metrics.items() if k != "history"}
    raise StageNotBuilt(stage)
