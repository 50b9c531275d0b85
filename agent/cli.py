"""The `saccade` command: thin; parses arguments and config, calls library functions.

User errors (bad arguments, bad configs, stages not built yet) print one line to
stderr and exit with status 2, without a traceback.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from agent.config import ConfigError, load_config
from agent.stages import ORDER

EVALS = ("expert", "encoder", "capsules", "commands", "narrator", "reward", "agent")
BENCHES = ("env", "encoder", "parse")
# What `saccade demo` (and `make demo`) asks the agent to do, one after another in one scene.
DEMO_COMMANDS = ("open the drawer", "press the button", "close the drawer")


class UserError(Exception):
    """A mistake by the user: reported in one line, exit status 2."""


def _add_config_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", default=None, help="YAML config file (default: built-in defaults, as configs/default.yaml)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override one config value, e.g. --set env.fovea_size=48 (repeatable)")
    p.add_argument("--seed", type=int, default=None, help="random seed (overrides the config)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
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
    p.add_argument("--episodes", type=int, default=None, help="eval expert, eval agent: episodes (held-out seeds) per task")
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


def _config(args: argparse.Namespace):
    from dataclasses import replace

    config = load_config(args.config, list(args.set))
    if args.seed is not None:
        config = replace(config, seed=args.seed, expert_eval=replace(config.expert_eval, seed=args.seed))
    if getattr(args, "run_dir", None):
        config = replace(config, run_dir=args.run_dir)
    device = getattr(args, "device", None)
    if device:
        _check_device(device)
        config = replace(config, device=device)
    return config


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
    return _expert_demo(args) if args.expert else _agent_demo(args)


def _agent_demo(args: argparse.Namespace) -> int:
    from agent.command import CommandSession, command_config
    from agent.runner import Film

    if args.narrator == "labeller":
        raise UserError("the agent's demo narrates with the trained narrator; --narrator labeller goes with --expert")
    commands = [c.strip() for c in (args.commands or "; ".join(DEMO_COMMANDS)).split(";") if c.strip()]
    if not commands:
        raise UserError("--commands holds no command")
    config = _config(args)
    models = _models(args)
    config = command_config(config, models)
    film = Film(config.demo.width, config.demo.height, config.demo.fps)
    _one_thread()
    with _data_errors(), _no_display():
        session = CommandSession.open(models, config, seed=config.seed, gui=args.gui, film=film)
    outcomes = []
    try:
        print(f"the agent in {models}, seed {config.seed}: {len(commands)} commands in one scene", flush=True)
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
    Path(args.out).with_suffix(".events.json").write_text(json.dumps({"seed": config.seed, "commands": events},
                                                                      indent=2))
    done = sum(e["success"] for e in events)
    print(f"{done} of {len(events)} commands done; video: {video}")
    return 0


def _expert_demo(args: argparse.Namespace) -> int:
    from agent.demo import run_demo
    from agent.runner import ExpertActor

    config = _config(args)
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
        "train_exact", "validation_exact", "rejection_rate", "goals_met")


def _evaluate_agent(config, progress: bool, episodes: int | None = None) -> tuple[dict, object]:
    from agent.rl.evaluate import evaluate_agent, format_agent_metrics

    return evaluate_agent(config, config.run_dir, progress=progress, episodes=episodes), format_agent_metrics


# What `saccade eval WHAT` runs on a trained run folder: (config, progress) -> (metrics, formatter).
EVALUATORS = {"encoder": _evaluate_encoder, "capsules": _evaluate_capsules, "narrator": _evaluate_narrator,
              "reward": _evaluate_reward, "commands": _evaluate_commands,
              "agent": _evaluate_agent}


def cmd_eval(args: argparse.Namespace) -> int:
    if args.what == "expert":
        return _eval_expert(args)
    config = _config(args)
    extra = {}
    if args.what == "agent" and args.episodes is not None:
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

    config = _config(args)
    episodes = args.episodes if args.episodes is not None else config.expert_eval.episodes
    if episodes < 1:
        raise UserError("--episodes must be positive")
    tasks = [_task(t.strip()) for t in args.tasks.split(",")] if args.tasks else list(ALL_TASKS)
    metrics = evaluate_expert(config, tasks, episodes, progress=not args.json and sys.stderr.isatty())
    _emit(metrics, args, format_expert_table)
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    config = _config(args)
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
        from agent.data.format import DataError
        from agent.language.embedding import MissingModelError
        from agent.weights import WeightsError

        if kind is not None and issubclass(kind, (DataError, WeightsError, FileExistsError, MissingModelError)):
            raise UserError(str(value)) from None
        return False


def _emit(metrics: dict, args: argparse.Namespace, formatter) -> None:
    text = json.dumps(metrics, indent=2)
    if args.out:
        from pathlib import Path

        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text + "\n")
    print(text if args.json else formatter(metrics))


def cmd_train(args: argparse.Namespace) -> int:
    from agent.stages import STAGES as REGISTRY, StageError, built_stages, is_done, run_stage

    config = _config(args)
    everything = args.stage == "all"
    if not everything and REGISTRY[args.stage].train is None:
        _not_built(f"the training stage {args.stage!r}", "a later issue builds it")
    stages = built_stages() if everything else [args.stage]
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
            how = "run the same command again" if everything else REGISTRY[stage].on_interrupt
            print(f"saccade: {stage} interrupted; {how}", file=sys.stderr)
            return 130
        print(json.dumps(metrics, indent=2), flush=True)
    return 0


def cmd_command(args: argparse.Namespace) -> int:
    from agent.command import CommandSession, command_config
    from agent.runner import Film

    if args.out and not args.out.lower().endswith((".mp4", ".gif")):
        raise UserError(f"--out must end in .mp4 or .gif, got {args.out!r}")
    config = _config(args)
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
    with _data_errors():
        parser = load_or_train_command_parser(config)
        result = parser.parse(args.text)
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


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return COMMANDS[args.command](args)
    except (UserError, ConfigError) as e:
        print(f"saccade: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("saccade: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
