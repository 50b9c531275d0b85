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

from agent.config import RunConfig, config_to_dict, save_config
from agent.integrity import MANIFEST, remove_manifest, verify_stage, write_manifest
from agent.locks import LockHeld, describe, holder_of, stage_lock
from agent.rollback import Snapshot
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
    # The config sections the stage reads (empty: all); a resume with other values there is refused.
    reads: tuple[str, ...] = ()
    resumes_itself: bool = False  # collect: every run continues (and repairs) what is there


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


def _attention(config: RunConfig, run: RunLayout, resume: bool, progress: bool) -> dict:
    from agent.attention.train import train_attention

    return train_attention(config, run, resume=resume, progress=progress)


STAGES: dict[str, Stage] = {s.name: s for s in (
    Stage("collect", (), _collect, "collect/metrics.json", on_interrupt="run the same command again: finished chunks are kept",
          reads=("seed", "env", "collect"), resumes_itself=True),
    Stage("encoder", ("collect",), _encoder, "encoder/encoder.json", reads=("seed", "split", "encoder")),
    Stage("capsules", ("collect",), _capsules, "capsules/capsules.json", reads=("seed", "split", "capsules")),
    Stage("language", ("collect", "encoder"), _language, "language/reward/reward.json",
          reads=("seed", "split", "narrator", "reward")),
    Stage("attention", ("encoder", "rl"), _attention, "attention/attention.json",
          reads=("seed", "env", "rl.tasks", "rl.max_steps", "rl.arm_noise", "attention")),
    Stage("rl", ("encoder", "language"), _rl, "rl/policy.json"),
)}
# `train all` runs the built stages in this order.
ORDER = ("collect", "encoder", "capsules", "language", "rl", "attention")


def is_done(config: RunConfig, name: str) -> bool:
    return (Path(config.run_dir) / STAGES[name].done_marker).exists()


def run_stage(config: RunConfig, name: str, *, resume: bool = False, progress: bool = False,
              allow_config_change: bool = False) -> dict:
    """Train one stage into the run folder; writes its metrics to metrics.json and returns their summary.

    Around the stage's own work: the stages it reads must be finished, intact (their manifests) and
    not being written; it holds its folder's lock; a resume must use the settings it started with;
    it ends by writing the folder's manifest; and if it fails before saving any progress, it leaves
    the folder as it found it.
    """
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
    for need in stage.needs:
        _check_input(name, need, run.stage(need))
    folder = run.stage(name)
    created = [d for d in (folder, *folder.parents) if not d.exists()]  # removed again if left empty
    folder.mkdir(parents=True, exist_ok=True)
    try:
        with stage_lock(folder):
            return _run_locked(config, stage, run, folder, resume, progress, allow_config_change)
    except LockHeld as e:
        raise StageError(str(e)) from None
    finally:
        for d in created:  # innermost first
            if d.is_dir() and not any(d.iterdir()):
                d.rmdir()


def _check_input(name: str, need: str, folder: Path) -> None:
    holder = holder_of(folder)
    if holder is not None:
        raise StageError(f"the stage {name!r} reads {need}, which another command is writing now "
                         f"({describe(holder)}); wait for it to finish")
    if not verify_stage(folder):  # every file it wrote, by size and sha256
        log.warning("%s has no %s (made before stages wrote one): its files are not checked", folder, MANIFEST)


def _run_locked(config: RunConfig, stage: Stage, run: RunLayout, folder: Path, resume: bool, progress: bool,
                allow_config_change: bool) -> dict:
    before = Snapshot(folder)
    try:
        if resume and not stage.resumes_itself:
            verify_stage(folder)  # the checkpoints it continues from must be what it wrote
        if resume or stage.resumes_itself:
            check_resume_config(config, stage, folder, allow_config_change)
        remove_manifest(folder)  # the folder is being rewritten: no longer a finished stage
        save_config(config, folder / "config.yaml")
        metrics = stage.train(config, run, resume, progress)
        tmp = folder / "metrics.json.tmp"
        tmp.write_text(json.dumps(metrics, indent=2))
        tmp.replace(folder / "metrics.json")
        write_manifest(folder, stage.name)  # last: its presence says the stage finished
        return summary(metrics)
    except Exception:
        # A stage that failed (a refusal, a bad setting, a bug) before it saved anything to resume from
        # must not leave files that change what the next run does (a config.yaml or dataset.json of
        # settings that never ran). Saved progress (checkpoints, chunks) is kept, as after Ctrl-C.
        if not before.progress_since():
            before.restore()
        raise


# Settings that do not change what a stage computes: a resume may change them.
RESUME_MAY_CHANGE = ("run_dir", "device", "collect.workers", "rl.workers", "demo", "bench", "expert_eval", "probes")


def check_resume_config(config: RunConfig, stage: Stage, folder: Path, allow_change: bool = False) -> None:
    """Refuse to continue a stage with other settings than those it started with (its config.yaml)."""
    import yaml

    saved_path = folder / "config.yaml"
    if not saved_path.exists():
        return
    try:
        saved = yaml.safe_load(saved_path.read_text())
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as e:
        raise StageError(f"{saved_path}: unreadable ({type(e).__name__}); cannot tell which settings the "
                         "checkpoint was made with; train into another --run-dir") from None
    now = yaml.safe_load(yaml.safe_dump(config_to_dict(config)))  # lists and numbers as the file holds them
    defaults = yaml.safe_load(yaml.safe_dump(config_to_dict(RunConfig())))
    differ = config_differences(saved if isinstance(saved, dict) else {}, now, stage.reads, defaults)
    if not differ:
        return
    shown = ", ".join(differ[:6]) + (f" and {len(differ) - 6} more" if len(differ) > 6 else "")
    if allow_change:
        log.warning("%s: resuming with other settings than the checkpoint's (%s), as asked", folder, shown)
        return
    raise StageError(f"{folder}: resuming with other settings than the checkpoint's ({shown}); resume with the "
                     f"same settings (they are in {saved_path}), train into another --run-dir, or pass "
                     "--allow-config-change to continue anyway")


def config_differences(saved: dict, now: dict, reads: tuple[str, ...] = (), defaults: dict | None = None) -> list[str]:
    """'key: old -> new' for every setting (dotted key) that differs, within the sections read. A
    setting added since the checkpoint was saved counts as its default there (what the code did
    then), when `defaults` are given."""
    a, b = {**_flatten(defaults or {}), **_flatten(saved)}, _flatten(now)

    def under(key: str, prefixes) -> bool:
        return any(key == p or key.startswith(p + ".") for p in prefixes)

    absent = "(absent)"
    return [f"{k}: {a.get(k, absent)} -> {b.get(k, absent)}" for k in sorted(set(a) | set(b))
            if (not reads or under(k, reads)) and not under(k, RESUME_MAY_CHANGE)
            and a.get(k, absent) != b.get(k, absent)]


def _flatten(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


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
