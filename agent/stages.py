"""The training stages, in order: one registry that `saccade train` and `saccade train all` read.

Each stage reads the artifacts of the stages it needs from one run folder (agent.runs) and
writes its own. `run_stage` does what every stage shares: it checks that the stages it needs
are there, runs it, and writes the resolved `config.yaml` and `metrics.json` into its folder.
The next stage goes in STAGES with the stages it needs and a function
`(config, run, resume, progress) -> metrics`.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from agent.config import RunConfig, save_config
from agent.runs import RunLayout

log = logging.getLogger(__name__)


class StageError(RuntimeError):
    """A stage cannot run (unknown, not built yet, or the stages it needs are missing): a user error."""


@dataclass(frozen=True)
class Stage:
    name: str
    needs: tuple[str, ...]  # stages whose artifacts this one reads
    train: Callable[[RunConfig, RunLayout, bool, bool], dict] | None  # None: not built yet
    done_marker: str  # the file, under the run folder, that says the stage finished
    on_interrupt: str = "a checkpoint was saved: run again with --resume"


def _collect(config: RunConfig, run: RunLayout, resume: bool, progress: bool) -> dict:
    from agent.data.collect import collect

    return collect(config, run.collect, progress=progress)  # resumes by skipping finished chunks


def _encoder(config: RunConfig, run: RunLayout, resume: bool, progress: bool) -> dict:
    from agent.perception.contrastive import train_contrastive

    return train_contrastive(config, run.collect, run.encoder, resume=resume, progress=progress)


def _capsules(config: RunConfig, run: RunLayout, resume: bool, progress: bool) -> dict:
    from agent.perception.capsule_training import train_capsules

    return train_capsules(config, run.collect, run.capsules, resume=resume, progress=progress)


def _language(config: RunConfig, run: RunLayout, resume: bool, progress: bool) -> dict:
    from agent.language.narrator_training import train_narrator
    from agent.language.reward_training import train_reward_model

    report = train_commands(config, run)
    narrator = train_narrator(config, run.root, run.narrator, resume=resume, progress=progress)
    reward = train_reward_model(config, run.root, run.reward, resume=resume, progress=progress)
    return {"commands": report, "narrator": narrator, "reward": reward}


def _rl(config: RunConfig, run: RunLayout, resume: bool, progress: bool) -> dict:
    from agent.rl.train import train_agent

    return train_agent(config, run, resume=resume, progress=progress)


STAGES: dict[str, Stage] = {s.name: s for s in (
    Stage("collect", (), _collect, "collect/metrics.json", on_interrupt="run the same command again: finished chunks are kept"),
    Stage("encoder", ("collect",), _encoder, "encoder/encoder.json"),
    Stage("capsules", ("collect",), _capsules, "capsules/capsules.json"),
    Stage("language", ("collect", "encoder"), _language, "language/reward/reward.json"),
    Stage("attention", ("encoder", "rl"), None, "attention/attention.json"),
    Stage("rl", ("encoder", "language"), _rl, "rl/policy.json"),
)}
# `train all` runs the built stages in this order.
ORDER = ("collect", "encoder", "capsules", "language", "rl", "attention")


def is_done(config: RunConfig, name: str) -> bool:
    return (Path(config.run_dir) / STAGES[name].done_marker).exists()


def run_stage(config: RunConfig, name: str, *, resume: bool = False, progress: bool = False,
              allow_config_change: bool = False) -> dict:
    """Train one stage into the run folder; writes its metrics to metrics.json and returns their summary."""
    if name not in STAGES:
        raise StageError(f"unknown stage {name!r}; stages: {', '.join(ORDER)}")
    stage = STAGES[name]
    if stage.train is None:
        raise StageError(f"the stage {name!r} is not built yet")
    missing = [n for n in stage.needs if not is_done(config, n)]
    if missing:
        raise StageError(f"the stage {name!r} needs {', '.join(missing)} first: "
                         + "; ".join(f"saccade train {n}" for n in missing) + f" (run folder {config.run_dir})")
    run = RunLayout(config.run_dir)
    folder = run.stage(name)
    folder.mkdir(parents=True, exist_ok=True)
    save_config(config, folder / "config.yaml")
    metrics = stage.train(config, run, resume, progress)
    tmp = folder / "metrics.json.tmp"
    tmp.write_text(json.dumps(metrics, indent=2))
    tmp.replace(folder / "metrics.json")
    return summary(metrics)


def summary(metrics: dict) -> dict:
    """The metrics without per-step histories and per-split details (those stay in metrics.json)."""
    return {k: summary(v) if isinstance(v, dict) else v for k, v in metrics.items()
            if k not in ("history", "splits")}


def built_stages() -> list[str]:
    return [n for n in ORDER if STAGES[n].train is not None]


def train_commands(config: RunConfig, run: RunLayout) -> dict:
    """The command parser (a few seconds), saved in the run's language/commands; returns its evaluation."""
    import torch

    from agent.language.commands import evaluate_command_parser, train_command_parser

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny models: more threads only add overhead
    try:
        parser = train_command_parser(seed=config.seed, backend="minilm")
        parser.save(run.commands)
        return evaluate_command_parser(parser)
    finally:
        torch.set_num_threads(threads)


def load_or_train_command_parser(config: RunConfig):
    """The run's command parser; trained (a few seconds) and saved on first use."""
    from agent.language.commands import CommandParser

    run = RunLayout(config.run_dir)
    if not (run.commands / "config.json").exists():
        log.warning("no command parser in %s yet: training one (a few seconds)", run.commands)
        train_commands(config, run)
    return CommandParser.load(run.commands)
