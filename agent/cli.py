"""The `saccade` command: thin; parses arguments and config, calls library functions.

One error boundary (`main`): user errors (bad arguments, configs, files, folders,
permissions, a missing display, stages not built yet) print one line to stderr and
exit with status 2, without a traceback; anything else is a bug: its traceback, then
a line saying so, exit 1. Ctrl-C exits 130 without a traceback, also during the
start-up imports, which is why this module imports only the standard library at the
top. Output files (--out) and run folders are checked writable before the work.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shlex
import sys
from pathlib import Path

EVALS = ("expert", "encoder", "capsules", "commands", "narrator", "reward", "agent", "attention")
BENCHES = ("env", "encoder", "parse")
# What `saccade demo` (and `make demo`) asks the agent to do, one after another in one scene.
DEMO_COMMANDS = ("open the drawer", "press the button", "close the drawer")


class UserError(Exception):
    """A mistake by the user: reported in one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    """argparse, with its errors in the same one-line form as every other refusal."""

    def error(self, message: str):
        self.exit(2, f"saccade: error: {message} (see '{self.prog} --help')\n")


def _add_config_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", default=None, help="YAML config file (default: built-in defaults, as configs/default.yaml)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override one config value, e.g. --set env.fovea_size=48 (repeatable)")
    p.add_argument("--seed", type=int, default=None, help="random seed (overrides the config)")


def build_parser() -> argparse.ArgumentParser:
    from agent.stages import ORDER

    parser = _Parser(
        prog="saccade",
        description="A simulated robot arm that looks before it acts.",
        epilog="Run 'saccade COMMAND --help' for the options of a command.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("demo", help="film the agent carrying out commands in one scene (MP4 or GIF with gaze, "
                                    "command and narration)")
    p.add_argument("--commands", default=None,
                   help='commands separated by ";" (default: "' + '; '.join(DEMO_COMMANDS) + '")')
    p.add_argument("--expert", action="store_true", help="film the scripted expert on one task (--task) instead")
    p.add_argument("--task", default="open_drawer", help="--expert: task id, e.g. open_drawer or lift_block:red")
    p.add_argument("--out", default="demo.mp4", help="video file to write (.mp4 or .gif)")
    p.add_argument("--gui", action="store_true", help="also show the PyBullet GUI window (needs a display)")
    p.add_argument("--narrator", choices=("labeller", "learned"), default=None,
                   help="subtitles from the ground-truth labeller or the trained narrator (default: learned for "
                        "the agent, labeller for --expert)")
    p.add_argument("--run-dir", default=None, help="a trained run folder (default: the shipped agent)")
    _add_config_args(p)

    p = sub.add_parser("train", help="run one training stage, or all of them in order")
    p.add_argument("stage", choices=(*ORDER, "all"), help="the stage to run")
    p.add_argument("--resume", action="store_true", help="continue an interrupted run from its last checkpoint")
    p.add_argument("--allow-config-change", action="store_true",
                   help="resume even though the settings differ from the checkpoint's (refused otherwise)")
    p.add_argument("--device", default=None, help="torch device for learning stages, e.g. cpu or cuda")
    p.add_argument("--run-dir", default=None, help="run folder (default: the config's run_dir)")
    _add_config_args(p)

    p = sub.add_parser("command", help="give the arm a command in words and watch it act (no text: a prompt)")
    p.add_argument("text", nargs="?", default=None,
                   help='e.g. "put the red block in the drawer"; without it, a prompt for one command after another')
    p.add_argument("--out", default=None, help="also film it: a video file (.mp4 or .gif)")
    p.add_argument("--gui", action="store_true", help="show the PyBullet window (needs a display)")
    p.add_argument("--run-dir", default=None, help="a trained run folder to use (default: the shipped agent)")
    _add_config_args(p)

    p = sub.add_parser("parse", help="map a command in words to a task id and block colour")
    p.add_argument("text", help='e.g. "put the red block in the drawer"')
    p.add_argument("--json", action="store_true", help="print machine-readable JSON")
    p.add_argument("--run-dir", default=None, help="run folder holding language/commands (trained on first use)")
    _add_config_args(p)

    p = sub.add_parser("eval", help="measure a stage (or the scripted expert) and print the metrics")
    p.add_argument("what", choices=EVALS, help="what to evaluate")
    p.add_argument("--json", action="store_true", help="print machine-readable JSON")
    p.add_argument("--episodes", type=int, default=None, help="eval expert, agent, attention: episodes (held-out seeds) per task")
    p.add_argument("--tasks", default=None, help="eval expert: comma-separated task names (default: all)")
    p.add_argument("--out", default=None, help="also write the metrics JSON to this file")
    p.add_argument("--run-dir", default=None, help="run folder to evaluate (default: the config's run_dir)")
    p.add_argument("--device", default=None, help="torch device for models the evaluation trains, e.g. cuda")
    _add_config_args(p)

    p = sub.add_parser("bench", help="speed and memory benchmarks")
    p.add_argument("what", choices=BENCHES, help="what to benchmark")
    p.add_argument("--json", action="store_true", help="print machine-readable JSON")
    p.add_argument("--out", default=None, help="also write the results JSON to this file")
    p.add_argument("--no-baseline", action="store_true", help="skip the panda-gym baseline")
    p.add_argument("--no-memory", action="store_true", help="skip the memory-leak check")
    p.add_argument("--run-dir", default=None, help="run folder whose training metrics to quote (bench encoder)")
    p.add_argument("--device", default=None, help="torch device for bench encoder, e.g. cuda")
    _add_config_args(p)
    return parser


def _config(args: argparse.Namespace, needs_memory: tuple[str, ...] = ()):
    """The resolved config; needs_memory: the config sections whose batches and images the command
    allocates, checked against this machine's memory before any work."""
    from dataclasses import replace

    from agent.config import check_memory, load_config, validate

    config = load_config(args.config, list(args.set))
    if args.seed is not None:
        config = replace(config, seed=args.seed, expert_eval=replace(config.expert_eval, seed=args.seed))
        validate(config, "--seed: ")  # a negative or huge --seed
    if getattr(args, "run_dir", None):
        config = replace(config, run_dir=args.run_dir)
    device = getattr(args, "device", None)
    if device:
        _check_device(device)
        config = replace(config, device=device)
    check_memory(config, needs_memory)
    return config


def _check_out(path: str | None, flag: str = "--out") -> None:
    """Refuse an output file that cannot be written, before the work that produces it (a video
    filmed, an evaluation run) rather than after. Folders that do not exist yet are made later.
    Nothing the user owns is replaced: an existing --out must be a regular file (the write renames a
    new file into place, which would turn a link, a FIFO or a device into a plain file), and it may
    not lie in a stage folder (its manifest would then refuse the stage: its model is gone)."""
    if not path:
        return
    import stat

    from agent.runs import stage_folder_of
    from agent.shipping import SHIPPED

    target = Path(path)
    try:
        mode = os.lstat(target).st_mode
    except (FileNotFoundError, NotADirectoryError):  # under a file: _writable_ancestor names it below
        mode = None
    except OSError as e:
        raise UserError(f"{flag} {path}: cannot look at it ({e.strerror or e})") from None
    if mode is not None and stat.S_ISDIR(mode):
        raise UserError(f"{flag} {path} is a folder; give a file name")
    if mode is not None and stat.S_ISLNK(mode):
        raise UserError(f"{flag} {path} is a symbolic link; saccade writes only new or regular files: "
                        "give another name")
    if mode is not None and not stat.S_ISREG(mode):
        raise UserError(f"{flag} {path} exists and is not a regular file (a FIFO, device or socket): "
                        "give another name")
    stage = stage_folder_of(target)
    if stage is not None:
        raise UserError(f"{flag} {path} lies in the stage folder {stage}, which only its stage writes: "
                        "give a file outside it")
    resolved, shipped = target.resolve(), SHIPPED.resolve()
    if resolved == shipped or shipped in resolved.parents:
        raise UserError(f"{flag} {path} lies in the shipped agent's folder {SHIPPED}: give a file outside it")
    where = _writable_ancestor(target.parent, f"{flag} {path}")
    if target.exists() and not os.access(target, os.W_OK):
        raise UserError(f"{flag} {path}: the file exists and cannot be written (permission denied)")
    _probe_write(where, f"{flag} {path}")


def _check_run_folder(run_dir: str | Path) -> None:
    """A run folder that is a file, sits under a file or cannot be written: one line before any work."""
    folder = Path(run_dir)
    if folder.exists() and not folder.is_dir():
        raise UserError(f"run folder {folder} is a file, not a folder; pass another --run-dir")
    _probe_write(_writable_ancestor(folder, f"run folder {folder}"), f"run folder {folder}")


def _writable_ancestor(folder: Path, what: str) -> Path:
    """The nearest existing folder at or above folder (where the first new file or folder goes)."""
    for candidate in (folder, *folder.parents):
        if candidate.exists():
            if not candidate.is_dir():
                raise UserError(f"{what}: {candidate} is a file, not a folder")
            return candidate
    return Path(".")


def _probe_write(folder: Path, what: str) -> None:
    """Create and remove a file in folder: os.access alone misses read-only file systems under root."""
    import tempfile

    try:
        fd, name = tempfile.mkstemp(prefix=".saccade-write-check-", dir=folder)
    except OSError as e:
        raise UserError(f"{what}: cannot write in {folder} ({e.strerror or e})") from None
    os.close(fd)
    os.unlink(name)


def _check_device(device: str) -> None:
    import torch

    try:
        torch.device(device)
    except RuntimeError:
        raise UserError(f"--device {device!r} is not a torch device; use cpu or cuda") from None
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise UserError(f"--device {device}: this machine's torch sees no CUDA GPU")


def _not_built(what: str, issue: str) -> None:
    raise UserError(f"{what} is not built yet ({issue}); the attention stage comes later, "
                    "everything else works (`saccade --help`)")


def cmd_demo(args: argparse.Namespace) -> int:
    if not args.out.lower().endswith((".mp4", ".gif")):
        raise UserError(f"--out must end in .mp4 or .gif, got {args.out!r}")
    _check_out(args.out)  # before filming, not after
    if not args.expert:
        _check_out(str(Path(args.out).with_suffix(".events.json")), "--out (its .events.json)")
    _check_gui(args.gui)
    return _expert_demo(args) if args.expert else _agent_demo(args)


def _agent_demo(args: argparse.Namespace) -> int:
    from agent.command import CommandSession, command_config
    from agent.runner import Film

    if args.narrator == "labeller":
        raise UserError("the agent's demo narrates with the trained narrator; --narrator labeller goes with --expert")
    commands = [c.strip() for c in (args.commands or "; ".join(DEMO_COMMANDS)).split(";") if c.strip()]
    if not commands:
        raise UserError("--commands holds no command")
    config = _config(args, ("env", "demo"))
    models = _models(args)
    config = command_config(config, models)
    film = Film(config.demo.width, config.demo.height, config.demo.fps)
    _one_thread()
    with _data_errors(), _no_display():
        session = CommandSession.open(models, config, seed=config.seed, gui=args.gui, film=film)
    outcomes = []
    try:
        print(f"the agent in {_shown_path(models)}, seed {config.seed}: {len(commands)} commands in one scene",
              flush=True)
        for i, text in enumerate(commands):
            print(f'> "{text}"', flush=True)
            with _data_errors():
                _one_command(session, text, fresh_scene=i == 0)
            outcomes.append(session.last)
    finally:
        session.close()
    video = film.write(args.out)
    events = [{"command": o.command, "task": o.task.name if o.task else None, "refused": o.refused,
               "success": o.episode.success if o.episode else False,
               "steps": o.episode.steps if o.episode else 0,
               "narration": [line.__dict__ for line in o.episode.narration] if o.episode else []} for o in outcomes]
    _write_out(Path(args.out).with_suffix(".events.json"), json.dumps({"seed": config.seed, "commands": events},
                                                                       indent=2))
    done = sum(e["success"] for e in events)
    print(f"{done} of {len(events)} commands done; video: {video}")
    return 0


def _expert_demo(args: argparse.Namespace) -> int:
    from agent.demo import run_demo
    from agent.runner import ExpertActor

    config = _config(args, ("env", "demo"))
    task = _task(args.task)
    print(f"task {task.name}, seed {config.seed}: filming the scripted expert", flush=True)
    narrator = perception = None
    _one_thread()
    with _data_errors(), _no_display():
        if args.narrator == "learned":
            narrator, perception = _learned_narrator(args)
        from envs.instructions import phrasings

        episode, video = run_demo(config, ExpertActor(), task, phrasings(task)[0], args.out, gui=args.gui,
                                  narrator=narrator, perception=perception, on_narration=_print_line)
    if episode.success:
        print(f"success at step {episode.success_step}; {episode.steps} steps filmed; video: {video}")
    else:
        print(f"FAILED: no success in {episode.steps} steps; video: {video}")
    return 0 if episode.success else 1


def _check_gui(gui: bool) -> None:
    """--gui without a display: refused before any model loads (PyBullet would end the process)."""
    if gui:
        from envs.display import check_display

        check_display()


def _one_thread() -> None:
    """Acting runs small models one step at a time: one thread is fastest, and leaves a core free."""
    import torch

    torch.set_num_threads(1)


def _print_line(line) -> None:
    print(f"[step {line.step:3d} | {line.time_s:5.2f} s] {line.text}", flush=True)


def _models(args: argparse.Namespace) -> Path:
    """The trained models to act with: --run-dir, or the agent that ships with saccade."""
    from agent.shipping import SHIPPED

    if args.run_dir:
        return Path(args.run_dir)
    if not (SHIPPED / "rl" / "policy.json").exists():
        raise UserError(f"no shipped agent in {SHIPPED}: train one (`make train ship`) or pass --run-dir")
    return SHIPPED


def _shown_path(path: Path) -> str:
    """A path as a user would type it here: relative to the working folder when it lies inside it."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _learned_narrator(args: argparse.Namespace):
    from agent.language.narrator import load_narrator
    from agent.perception.encoder import load_encoder
    from agent.perception.features import PerceptionFeatures
    from agent.runs import RunLayout

    run = RunLayout(_models(args))
    return load_narrator(run.narrator), PerceptionFeatures(load_encoder(run.encoder))


class _no_display:
    """A GUI asked for on a machine without a display: one line, exit 2."""

    def __enter__(self):
        return self

    def __exit__(self, kind, value, tb):
        from envs.display import NoDisplayError

        if kind is not None and issubclass(kind, NoDisplayError):
            raise UserError(str(value)) from None
        return False


def _task(name: str):
    from envs.tasks import Task

    try:
        return Task.parse(name)
    except ValueError as e:
        raise UserError(str(e)) from None


def _key_lines(*keys: str):
    return lambda m: "\n".join(f"{k}: {m[k]}" for k in keys)


def _evaluate_encoder(config, progress: bool) -> tuple[dict, object]:
    from agent.perception.evaluate_encoder import evaluate_encoder, format_probe_table

    return evaluate_encoder(config, config.run_dir, progress=progress), format_probe_table


def _evaluate_capsules(config, progress: bool) -> tuple[dict, object]:
    from agent.perception.capsule_eval import evaluate_capsules, format_capsule_metrics

    return evaluate_capsules(config, config.run_dir, progress=progress), format_capsule_metrics


def _evaluate_narrator(config, progress: bool) -> tuple[dict, object]:
    from agent.language.narrator_training import evaluate_narrator

    return evaluate_narrator(config, Path(config.run_dir)), _key_lines(
        "segment_accuracy", "per_step_accuracy", "median_delay_steps", "goals_met")


def _evaluate_reward(config, progress: bool) -> tuple[dict, object]:
    from agent.language.reward_training import evaluate_reward

    return evaluate_reward(config, Path(config.run_dir)), _key_lines(
        "roc_auc_per_task", "min_roc_auc", "mean_roc_auc", "tasks_meeting_goal")


def _evaluate_commands(config, progress: bool) -> tuple[dict, object]:
    from agent.language.commands import evaluate_command_parser
    from agent.stages import load_or_train_command_parser

    report = evaluate_command_parser(load_or_train_command_parser(config))
    return {k: v for k, v in report.items() if k != "splits"}, _key_lines(
        "train_exact", "validation_exact", "rejection_rate", "opposite_mappings", "confident_wrong_mappings",
        "blind_totals", "goals_met")


def _evaluate_agent(config, progress: bool, episodes: int | None = None) -> tuple[dict, object]:
    from agent.rl.evaluate import evaluate_agent, format_agent_metrics

    return evaluate_agent(config, config.run_dir, progress=progress, episodes=episodes), format_agent_metrics


def _evaluate_attention(config, progress: bool, episodes: int | None = None) -> tuple[dict, object]:
    from agent.attention.evaluate import evaluate_attention, format_attention_metrics

    return evaluate_attention(config, config.run_dir, progress=progress, episodes=episodes), format_attention_metrics


# What `saccade eval WHAT` runs on a trained run folder: (config, progress) -> (metrics, formatter).
EVALUATORS = {"encoder": _evaluate_encoder, "capsules": _evaluate_capsules, "narrator": _evaluate_narrator,
              "reward": _evaluate_reward, "commands": _evaluate_commands,
              "agent": _evaluate_agent, "attention": _evaluate_attention}


# The config sections whose batches and images each evaluation allocates (checked against memory).
EVAL_MEMORY = {"expert": ("env",), "encoder": ("encoder",), "capsules": ("capsules",), "commands": (),
               "narrator": ("narrator",), "reward": ("reward",), "agent": ("env", "rl"),
               "attention": ("env", "attention")}


def cmd_eval(args: argparse.Namespace) -> int:
    _check_out(args.out)  # computed results must not be lost to an unwritable file at the end
    if args.what == "expert":
        return _eval_expert(args)
    config = _config(args, EVAL_MEMORY[args.what])
    extra = {}
    if args.what in ("agent", "attention") and args.episodes is not None:
        if args.episodes < 1:
            raise UserError("--episodes must be positive")
        extra["episodes"] = args.episodes
    with _data_errors():
        metrics, formatter = EVALUATORS[args.what](config, sys.stderr.isatty(), **extra)
    _emit(metrics, args, formatter)
    return 0


def _eval_expert(args: argparse.Namespace) -> int:
    from agent.evaluation import evaluate_expert, format_expert_table
    from envs.tasks import ALL_TASKS

    config = _config(args, EVAL_MEMORY["expert"])
    episodes = args.episodes if args.episodes is not None else config.expert_eval.episodes
    if episodes < 1:
        raise UserError("--episodes must be positive")
    tasks = [_task(t.strip()) for t in args.tasks.split(",")] if args.tasks else list(ALL_TASKS)
    metrics = evaluate_expert(config, tasks, episodes, progress=not args.json and sys.stderr.isatty())
    _emit(metrics, args, format_expert_table)
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    _check_out(args.out)
    config = _config(args, {"env": ("env",), "encoder": ("encoder",), "parse": ()}[args.what])
    if args.what == "encoder":
        from agent.perception.bench import bench_encoder, format_encoder_bench

        results = bench_encoder(config)
        _emit(results, args, format_encoder_bench)
        return 0
    if args.what == "parse":
        from agent.language.parse_bench import bench_parse, format_parse_bench
        from agent.stages import load_or_train_command_parser

        with _data_errors():
            load_or_train_command_parser(config)
            results = bench_parse(config.run_dir, args.config)
        _emit(results, args, format_parse_bench)
        return 0
    import importlib.util

    from agent.bench import bench_env, format_bench

    if not args.no_baseline and importlib.util.find_spec("panda_gym") is None:
        raise UserError("the baseline needs panda-gym: pip install 'saccade[bench]', or pass --no-baseline")
    results = bench_env(config.bench, baseline=not args.no_baseline, memory=not args.no_memory)
    _emit(results, args, format_bench)
    return 0


class _data_errors:
    """Turn missing or broken data and weights into user errors (exit 2, one line)."""

    def __enter__(self):
        return self

    def __exit__(self, kind, value, tb):
        if kind is None or not issubclass(kind, Exception):
            return False  # Ctrl-C: imports here could meet a half-imported module
        if issubclass(kind, (FileExistsError, *_loaded(DATA_ERRORS))):
            raise UserError(str(value)) from None
        return False


def _emit(metrics: dict, args: argparse.Namespace, formatter) -> None:
    text = json.dumps(metrics, indent=2)
    if args.out:  # first: a closed stdout (`| head`) must not lose the file
        _write_out(Path(args.out), text + "\n")
    print(text if args.json else formatter(metrics), flush=True)


def _write_out(path: Path, text: str) -> None:
    """Write an --out file atomically: a new temporary file beside it (a fresh name, never one that
    is already there, so no link is followed), renamed into place."""
    import tempfile

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def cmd_train(args: argparse.Namespace) -> int:
    from agent.stages import STAGES as REGISTRY, StageError, built_stages, is_done, run_stage

    everything = args.stage == "all"
    if not everything and REGISTRY[args.stage].train is None:
        _not_built(f"the training stage {args.stage!r}", "a later issue builds it")
    stages = built_stages() if everything else [args.stage]
    config = _config(args, tuple(s for stage in stages for s in TRAIN_MEMORY.get(stage, ())))
    _check_run_folder(config.run_dir)
    for stage in stages:
        folder = Path(config.run_dir) / stage
        if everything and is_done(config, stage) and (folder / "metrics.json").exists():
            print(f"== {stage}: already trained in {folder}", flush=True)
            continue
        print(f"== {stage} -> {folder}", flush=True)
        try:
            with _data_errors():
                # `train all` always continues what an interrupted run left: running it again is the resume
                metrics = run_stage(config, stage, resume=args.resume or everything, progress=sys.stderr.isatty(),
                                    allow_config_change=args.allow_config_change)
        except StageError as e:
            raise UserError(str(e)) from None
        except KeyboardInterrupt:
            print(f"saccade: {stage} interrupted; {_resume_advice(args, stage, everything)}", file=sys.stderr)
            return 130
        print(json.dumps(metrics, indent=2), flush=True)
    return 0


# The config sections whose batches and images each stage allocates (checked against memory).
TRAIN_MEMORY = {"collect": ("env", "collect"), "encoder": ("encoder",), "capsules": ("capsules",),
                "language": ("narrator", "reward"), "rl": ("env", "rl"), "attention": ("env", "attention")}


def _resume_advice(args: argparse.Namespace, stage: str, everything: bool) -> str:
    """The command that continues: the one typed, with --resume where the stage needs it (collect and
    `train all` continue by themselves), so that following the advice is never refused."""
    from agent.stages import STAGES

    words = ["saccade", *args.argv]
    if not everything and not STAGES[stage].resumes_itself and "--resume" not in words:
        words.append("--resume")
    kept = "finished chunks are kept" if stage == "collect" else "its last checkpoint is kept"
    return f"{kept}; to continue, run: {shlex.join(words)}"


def cmd_command(args: argparse.Namespace) -> int:
    from agent.command import CommandSession, command_config
    from agent.runner import Film

    if args.out and not args.out.lower().endswith((".mp4", ".gif")):
        raise UserError(f"--out must end in .mp4 or .gif, got {args.out!r}")
    _check_out(args.out)
    _check_gui(args.gui)
    if args.text is None:
        _check_stdin()  # before seconds of loading models
    config = _config(args, ("env", "demo"))
    models = _models(args)
    config = command_config(config, models)
    film = Film(config.demo.width, config.demo.height, config.demo.fps) if args.out else None
    _one_thread()
    with _data_errors(), _no_display():
        session = CommandSession.open(models, config, seed=config.seed, gui=args.gui, film=film)
    try:
        with _data_errors():
            status = _one_command(session, args.text, fresh_scene=True) if args.text is not None else _prompt(session)
    finally:
        session.close()
    if film is not None and film.frames:
        print(f"video: {film.write(args.out)}")
    return status


def _check_stdin() -> None:
    """The prompt reads commands from stdin: refuse one that is closed or already at its end
    (/dev/null, an empty file), where there would be nothing to read."""
    import stat

    usage = "the prompt (`saccade command` without TEXT) reads commands from stdin"
    try:
        fd = sys.stdin.fileno()
        st = os.fstat(fd)
    except (AttributeError, OSError, ValueError):  # sys.stdin is None when the shell closed it (<&-)
        raise UserError(f"{usage}, which is closed; give the command as TEXT") from None
    try:
        at_end = stat.S_ISREG(st.st_mode) and os.lseek(fd, 0, os.SEEK_CUR) >= st.st_size
    except OSError:
        at_end = False
    null = os.stat(os.devnull)
    if at_end or (stat.S_ISCHR(st.st_mode) and st.st_rdev == null.st_rdev):
        raise UserError(f"{usage}, which is empty; give the command as TEXT or type commands at a terminal")


def _one_command(session, text: str, fresh_scene: bool = False) -> int:
    """Run one command; 0 success, 1 failure, 2 refused (nothing moved)."""
    outcome = session.run(text, fresh_scene=fresh_scene, on_narration=_print_line)
    if outcome.refused is not None:
        print(f"cannot do that: {outcome.refused}")
        if outcome.suggestions:
            print("you could say: " + "; ".join(f'"{s}"' for s in outcome.suggestions))
        return 2
    e = outcome.episode
    simulated = e.steps * session.env.sim.control_dt
    if e.success:
        print(f"success: {outcome.task.name} in {e.success_step} steps ({simulated:.1f} s simulated, "
              f"{e.wall_s:.1f} s wall)")
        return 0
    print(f"failure: {outcome.task.name} not done after {e.steps} steps ({simulated:.1f} s simulated, "
          f"{e.wall_s:.1f} s wall)")
    return 1


PROMPT_HELP = """The desk has a drawer, a button that toggles a lamp, and three blocks (red, green, blue).
Say what to do, for example:
  open the drawer / close the drawer / press the button
  lift the red block / push the green block to the left / push the blue block to the right
  put the red block in the drawer / take the green block out of the drawer
Also: tasks (what this scene offers now), reset (a new scene), help; Ctrl-C stops the arm, Ctrl-D leaves."""


def _prompt(session) -> int:
    try:
        import readline  # noqa: F401  (line editing and history for input())
    except ImportError:
        pass
    session.parser.warm_up()
    print('saccade: type a command ("help" for what the desk can do, Ctrl-D to leave)', flush=True)
    while True:
        try:
            line = input("saccade> ").strip()
        except EOFError:
            print()
            return 0
        except KeyboardInterrupt:
            print()
            continue
        if not line:
            continue
        word = line.lower()
        if word in ("quit", "exit"):
            return 0
        if word == "help":
            print(PROMPT_HELP)
        elif word == "tasks":
            from envs.instructions import phrasings

            print("this scene offers: " + "; ".join(f'"{phrasings(t)[0]}"' for t in session.offered()))
        elif word == "reset":
            session.reset()
            print(f"a new scene (seed {session.seed})")
        else:
            try:
                _one_command(session, line)
            except KeyboardInterrupt:
                print("stopped; the arm stays where it is", flush=True)


def cmd_parse(args: argparse.Namespace) -> int:
    from agent.stages import load_or_train_command_parser

    config = _config(args)
    root = logging.getLogger()
    level = root.level
    if args.json and not args.verbose:
        root.setLevel(logging.ERROR)  # --json: its JSON on stdout and nothing on stderr
    try:
        with _data_errors():
            parser = load_or_train_command_parser(config)
            result = parser.parse(args.text)
    finally:
        root.setLevel(level)
    if args.json:
        print(json.dumps(result))
    elif "error" in result:
        print(f"cannot do that: {result['error']}")
        if result["suggestions"]:
            print("did you mean: " + "; ".join(f'"{s}"' for s in result["suggestions"]))
    else:
        print(f"task {result['task']}" + (f", block {result['block']}" if result["block"] else ""))
    return 2 if "error" in result else 0


COMMANDS = {"demo": cmd_demo, "train": cmd_train, "command": cmd_command, "parse": cmd_parse,
            "eval": cmd_eval, "bench": cmd_bench}


BUG_REPORT = ("saccade: this is a bug in saccade, not a mistake of yours: please report it (the command, "
              "and the traceback above) as an issue of the saccade repository")


def main(argv: list[str] | None = None) -> int:
    stdout = sys.stdout
    if stdout is not None and not stdout.isatty():
        sys.stdout = _StdoutGuard(stdout)
    try:
        code = _main(list(sys.argv[1:] if argv is None else argv))
    except KeyboardInterrupt:  # anywhere, start-up imports included: no traceback
        print("saccade: interrupted", file=sys.stderr)
        code = 130
    finally:
        if isinstance(sys.stdout, _StdoutGuard):
            sys.stdout = stdout
    if _half_imported():
        # A Ctrl-C that cut an import short (torch's, say) leaves modules half made, and the
        # interpreter's clean-up can then crash (a segfault). Nothing is left to save: leave now.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code


class _StdoutGuard:
    """sys.stdout that outlives its reader (`saccade eval ... --out m.json | head -1`): from the
    first write to a closed pipe on, what is printed goes to /dev/null and the command carries on,
    so the files it writes (--out, videos) are never lost to it and it ends without a traceback."""

    def __init__(self, stream):
        self._stream = stream
        self.broken = False

    def _closed(self) -> None:
        self.broken = True
        try:  # the interpreter flushes the real stdout at exit: let that go to /dev/null too
            null = os.open(os.devnull, os.O_WRONLY)
            os.dup2(null, self._stream.fileno())
            os.close(null)
        except (OSError, ValueError):
            pass

    def write(self, text: str) -> int:
        if not self.broken:
            try:
                return self._stream.write(text)
            except BrokenPipeError:
                self._closed()
        return len(text)

    def flush(self) -> None:
        if not self.broken:
            try:
                self._stream.flush()
            except BrokenPipeError:
                self._closed()

    def __getattr__(self, name: str):
        return getattr(self._stream, name)


def _half_imported() -> bool:
    """Whether an import was interrupted: a module still initialising, or one whose package is gone."""
    for name, module in list(sys.modules.items()):
        if getattr(getattr(module, "__spec__", None), "_initializing", False):
            return True
        package = name.rpartition(".")[0]
        if package and package not in sys.modules:
            return True
    return False


def _main(argv: list[str]) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = argv  # for advice that repeats the command
    _quiet_libraries(args.verbose)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    # Every command needs torch (the parser's MiniLM too); imported here, a Ctrl-C in its seconds of
    # importing is the start-up interrupt above, not an interrupt in the middle of a stage.
    import torch  # noqa: F401
    try:
        return COMMANDS[args.command](args)
    except Exception as e:
        message = _user_error_message(e)
        if message is None:
            import traceback

            traceback.print_exc()
            print(BUG_REPORT, file=sys.stderr)
            return 1
        print(f"saccade: error: {message}", file=sys.stderr)
        return 2


# Exceptions that mean the user's input or machine is at fault: (module, class). Looked up only
# where the module is already imported (an exception of a class not imported cannot have been
# raised), so that handling an error imports nothing.
DATA_ERRORS = (("agent.data.format", "DataError"), ("agent.weights", "WeightsError"),
               ("agent.language.embedding", "MissingModelError"))
USER_ERRORS = (("agent.config", "ConfigError"), ("agent.stages", "StageError"), ("agent.locks", "LockHeld"),
               ("envs.display", "NoDisplayError"), *DATA_ERRORS)


def _loaded(names) -> tuple[type, ...]:
    return tuple(getattr(sys.modules[m], name) for m, name in names if hasattr(sys.modules.get(m), name))


def _user_error_message(e: Exception) -> str | None:
    """The one line for a user error, None for a bug."""
    if isinstance(e, (UserError, *_loaded(USER_ERRORS))):
        return str(e)
    if isinstance(e, OSError):  # files, folders, permissions, a full disk: the machine, not the code
        where = " -> ".join(str(f) for f in (e.filename, e.filename2) if f is not None)
        return f"{e.strerror or e}" + (f": {where}" if where else "")
    if isinstance(e, MemoryError):
        return "out of memory: lower the batch or image sizes (--set ...)"
    return None


def _quiet_libraries(verbose: bool) -> None:
    """Library progress bars and warnings only on a terminal or with --verbose: a command's output
    (often --json, read by a program) is its output."""
    if verbose or sys.stderr.isatty():
        return
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TQDM_DISABLE", "1")
    if not sys.warnoptions:  # python -W ... wins
        import warnings

        warnings.simplefilter("ignore")


if __name__ == "__main__":
    sys.exit(main())
