"""The training stages, in order. Each reads the artifacts of the stages before it from
one run folder and writes its own: runs/NAME/STAGE/."""

from __future__ import annotations

import json
from pathlib import Path

from agent.config import RunConfig, save_config

STAGES = ("collect", "encoder", "capsules", "language", "attention", "rl")
BUILT = ("collect", "encoder", "capsules", "language")


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
    if stage == "language":
        return train_language(config, run_dir / "language", resume=resume, progress=progress)
    raise StageNotBuilt(stage)


def train_commands(config: RunConfig, out_dir: Path) -> dict:
    """The command parser (a few seconds), saved in out_dir/commands; returns its evaluation."""
    import torch

    from agent.language.commands import evaluate_command_parser, train_command_parser

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny models: more threads only add overhead
    try:
        parser = train_command_parser(seed=config.seed, backend="minilm")
        parser.save(out_dir / "commands")
        return evaluate_command_parser(parser)
    finally:
        torch.set_num_threads(threads)


def train_language(config: RunConfig, out_dir: Path, *, resume: bool = False, progress: bool = False) -> dict:
    """The language stage: the command parser, then (given an encoder) the narrator and the learned reward."""
    report = train_commands(config, out_dir)
    save_config(config, out_dir / "config.yaml")
    metrics: dict = {"commands": {k: v for k, v in report.items() if k != "splits"}}
    if (out_dir.parent / "encoder" / "encoder.json").exists():
        from agent.language.narrator_training import train_narrator
        from agent.language.reward_training import train_reward_model

        narrator = train_narrator(config, out_dir.parent, out_dir / "narrator", resume=resume, progress=progress)
        metrics["narrator"] = {k: v for k, v in narrator.items() if k != "history"}
        metrics["reward"] = train_reward_model(config, out_dir.parent, out_dir / "reward", resume=resume,
                                               progress=progress)
    else:
        metrics["narrator"] = metrics["reward"] = "skipped: needs a trained encoder (saccade train encoder)"
    (out_dir / "metrics.json").write_text(json.dumps({**metrics, "commands_splits": report["splits"]}, indent=2))
    return metrics


def load_or_train_command_parser(config: RunConfig):
    """The run's command parser; trained (a few seconds) and saved on first use."""
    import logging

    from agent.language.commands import CommandParser

    folder = Path(config.run_dir) / "language" / "commands"
    if not (folder / "config.json").exists():
        logging.getLogger(__name__).warning("no command parser in %s yet: training one (a few seconds)", folder)
        train_commands(config, folder.parent)
    return CommandParser.load(folder)
