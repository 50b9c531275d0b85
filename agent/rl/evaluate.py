"""`saccade eval agent`: the acting agent on held-out layouts, told what to do in validation
phrasings (never trained on), each read by the run's command parser first, as `saccade command`
reads a user's words: a command the parser refuses or reads as another task is a failure.

- success per task for the shipped agent, imitation alone and the scripted expert; the agent
  with the teacher's gaze and the agent hearing the words itself, as references;
- chains as in CALVIN: five commands in a row in one scene, each drawn from what the scene
  offers at that moment, stopping at the first failure;
- ablations: the gaze fixed on the middle of the desk, random gaze, no periphery;
- decision latency on one core (perception included);
- reward hacking: how often the learned reward says the command was done (the command's
  task scores highest of the 18 for the episode's clip) while the task's predicate says it
  was not, and the reverse.
Episodes run in worker processes, one per core.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
from tqdm import tqdm

from agent.config import RunConfig
from agent.runs import RunLayout
from agent.seeds import CHAIN_SEED_BASE, EVAL_SEED_BASE, FRESH_SEED_BASE, RECIPE_SEED_BASE
from envs.instructions import phrasings
from envs.tasks import ALL_TASKS, Task, offered_tasks

log = logging.getLogger(__name__)

# Layout bands (agent/seeds.py has them all): EVAL_SEED_BASE, held-out layouts (demonstrations use
# DEMO_SEED_BASE); FRESH_SEED_BASE, layouts that no choice of this session's recipe ever looked at (the
# EVAL band was used to choose between recipes): benchmarks/score_policy.py --fresh scores the shipped
# agent there; RECIPE_SEED_BASE chooses between imitation recipes (benchmarks/agent_recipe.py), apart
# from the held-out bands, so that choosing there leaves them a test set.
CHAIN_LENGTH = 5


def _open(config: RunConfig, policy_folder: str | None, variant: dict):
    import torch

    torch.set_num_threads(1)
    from agent.demo import open_desk
    from agent.perception.encoder import load_encoder
    from agent.runner import ExpertActor

    if variant.get("periphery_every", 1) != 1:  # the periphery rendered every n-th step only
        config = replace(config, env=replace(config.env, periphery_every=variant["periphery_every"]))
    env = open_desk(config)
    if variant.get("actor") == "random":
        from agent.runner import RandomActor

        return env, RandomActor(config.seed), None, None, None
    if policy_folder is None:
        return env, ExpertActor(), None, None, None
    from agent.language.reward import load_reward
    from agent.rl.actor import AgentActor
    from agent.rl.policy import load_policy

    run = RunLayout(config.run_dir)
    encoder = load_encoder(run.encoder)
    attention = None
    if variant.get("attention"):
        from agent.attention.policy import load_attention

        attention = load_attention(variant["attention"])
    from agent.rl.capsule_inputs import agent_perception

    policy = load_policy(policy_folder)
    actor = AgentActor(policy, gaze=variant.get("gaze", "policy"),
                       ablate=tuple(variant.get("ablate", ())), encoder_dim=encoder.spec.feature_dim,
                       attention=attention, snap_to=_candidates(variant.get("snap_to")),
                       listen=variant.get("listen", "parser"))
    reward = load_reward(run.reward) if run.reward.joinpath("reward.json").exists() else None
    perception = agent_perception(run, policy, encoder)
    if "periphery" in actor.ablate and hasattr(perception, "memory"):
        # the periphery also reaches a capsule memory: without it, the memory is built from the fovea alone
        perception.memory.streams = tuple(s for s in perception.memory.streams if s != "periphery")
    parser = None
    if actor.listen == "parser":  # the command reaches the agent as `saccade command` hands it: parsed first
        from agent.language.commands import CommandParser

        parser = CommandParser.load(run.commands)
    return env, actor, perception, reward, parser


def _candidates(grid_and_zooms):
    """The candidate gazes (grid, zooms) an expert-gaze variant is snapped to, or None."""
    if grid_and_zooms is None:
        return None
    from agent.attention.candidates import GazeCandidates

    return GazeCandidates(grid_and_zooms[0], grid_and_zooms[1])


def _judge(reward, first: np.ndarray, last: np.ndarray, task: Task) -> bool | None:
    """Whether the learned reward says the command was done: its task scores highest of all 18."""
    if reward is None:
        return None
    import torch

    from agent.language.reward_training import command_vectors

    if not hasattr(reward, "command_vectors"):
        reward.command_vectors = command_vectors(reward)  # once per model: 18 tasks x 4 phrasings
    vectors = reward.command_vectors
    with torch.no_grad():
        clip = reward.clip_embedding(torch.from_numpy(first)[None], torch.from_numpy(last)[None])[0]
    scores = {t: float(clip @ v) for t, v in vectors.items()}
    return max(scores, key=scores.get) == task



def _run(env, actor, perception, reward, task: Task, command: str, obs: dict, max_steps: int,
         parser=None) -> tuple[dict, dict]:
    """One command. With a parser, the actor is handed what the parser read: a command it refuses or
    reads as another task fails here, without moving the arm (as `saccade command` would do)."""
    from agent.runner import run_command

    if parser is not None:
        parsed = parser.parse(command)
        heard = None if "error" in parsed else Task(parsed["task"], parsed["block"])
        if heard != task:
            return {"task": task.name, "success": False, "steps": 0, "reward_says_done": None,
                    "parsed_as": heard.name if heard else None}, obs
    # the reward reads the encoder's features alone, and reading them leaves a capsule memory as it is
    judged = getattr(perception, "base_features", perception)
    first = judged(obs) if perception is not None else None
    episode, obs = run_command(env, actor, task, command, obs=obs, perception=perception, max_steps=max_steps)
    said = _judge(reward, first, judged(obs), task) if perception is not None else None
    return {"task": task.name, "success": episode.success, "steps": episode.steps, "reward_says_done": said,
            "parsed_as": task.name}, obs


def _episodes_job(args) -> list[dict]:
    config, policy_folder, variant, task_name, seeds = args
    env, actor, perception, reward, parser = _open(config, policy_folder, variant)
    task = Task.parse(task_name)
    commands = phrasings(task, "validation")
    out = []
    try:
        for k, seed in enumerate(seeds):
            obs, _ = env.reset(seed=seed, options={"task": task})
            row, _ = _run(env, actor, perception, reward, task, commands[k % len(commands)], obs, config.rl.max_steps,
                          parser)
            out.append(row)
    finally:
        env.close()
    return out


def _chains_job(args) -> list[int]:
    """Completed commands of each chain (0..5)."""
    config, policy_folder, seeds = args
    env, actor, perception, reward, parser = _open(config, policy_folder, {})
    trained = set(config.rl.task_list())
    done = []
    try:
        for seed in seeds:
            rng = np.random.default_rng(seed)
            obs, _ = env.reset(seed=seed)
            completed = 0
            for i in range(CHAIN_LENGTH):
                offered = [t for t in offered_tasks(env.state()) if t in trained]
                if not offered:
                    break
                task = offered[int(rng.integers(len(offered)))]
                obs, _ = env.begin_task(task)
                commands = phrasings(task, "validation")
                row, obs = _run(env, actor, perception, None, task, commands[int(rng.integers(len(commands)))], obs,
                                config.rl.max_steps, parser)
                if not row["success"]:
                    break
                completed += 1
            done.append(completed)
    finally:
        env.close()
    return done


def _map(fn, jobs: list, workers: int, progress: bool, desc: str) -> list:
    bar = tqdm(total=len(jobs), disable=not progress, desc=desc, unit="job")
    out = []
    if workers > 1 and len(jobs) > 1:
        with mp.get_context("spawn").Pool(min(workers, len(jobs))) as pool:
            for r in pool.imap(fn, jobs):
                out.append(r)
                bar.update()
    else:
        for job in jobs:
            out.append(fn(job))
            bar.update()
    bar.close()
    return out


def success_per_task(config: RunConfig, policy_folder: Path | None, variant: dict, episodes: int, *,
                     progress: bool = False, desc: str = "eval", seed_base: int = EVAL_SEED_BASE) -> dict:
    seeds = [seed_base + k for k in range(episodes)]
    tasks = config.rl.task_list()
    jobs = [(config, str(policy_folder) if policy_folder else None, variant, t.name, seeds) for t in tasks]
    rows = [r for part in _map(_episodes_job, jobs, config.rl.workers, progress, desc) for r in part]
    per_task = {t.name: float(np.mean([r["success"] for r in rows if r["task"] == t.name])) for t in tasks}
    out = {"success_mean": float(np.mean(list(per_task.values()))), "success_per_task": per_task,
           "success_min": min(per_task.values()), "episodes": len(rows)}
    parsed = [r for r in rows if "parsed_as" in r]
    if parsed:  # the share of the commands the parser read as their task (the rest failed unmoved)
        out["parsed_right"] = float(np.mean([r["parsed_as"] == r["task"] for r in parsed]))
    judged = [r for r in rows if r["reward_says_done"] is not None]
    if judged:
        out["hacked_fraction"] = float(np.mean([r["reward_says_done"] and not r["success"] for r in judged]))
        out["missed_fraction"] = float(np.mean([not r["reward_says_done"] and r["success"] for r in judged]))
    return out


def chains(config: RunConfig, policy_folder: Path | None, n: int, *, progress: bool = False) -> dict:
    seeds = [CHAIN_SEED_BASE + k for k in range(n)]
    workers = max(1, config.rl.workers)
    jobs = [(config, str(policy_folder) if policy_folder else None, seeds[i::workers]) for i in range(workers)]
    completed = [c for part in _map(_chains_job, jobs, workers, progress, "chains") for c in part]
    first = sum(c >= 1 for c in completed)
    return {"chain_average": float(np.mean(completed)),
            "chain_success_at": {str(k): float(np.mean([c >= k for c in completed])) for k in range(1, CHAIN_LENGTH + 1)},
            # a second command in the scene a first one left: of the chains whose first command was done
            "second_command_success": sum(c >= 2 for c in completed) / first if first else None,
            "chains": len(completed)}


def latency_ms(config: RunConfig, policy_folder: Path, steps: int = 200) -> dict:
    """Per control step on one core: perception (two encoder passes) and the policy; the desk's render apart."""
    import torch

    threads = torch.get_num_threads()
    env, actor, perception, _, _ = _open(config, str(policy_folder), {})
    try:
        task = ALL_TASKS[0]
        obs, _ = env.reset(seed=EVAL_SEED_BASE, options={"task": task})
        actor.start(env, task, phrasings(task, "validation")[0])
        decide, render = [], []
        for _ in range(steps):
            t0 = time.perf_counter()
            action = actor.act(obs, perception(obs), env)
            t1 = time.perf_counter()
            obs, *_ = env.step(action)
            decide.append(t1 - t0)
            render.append(time.perf_counter() - t1)
    finally:
        env.close()
        torch.set_num_threads(threads)
    return {"decision_ms_median": round(1000 * float(np.median(decide)), 2),
            "decision_ms_p95": round(1000 * float(np.percentile(decide, 95)), 2),
            "env_step_with_glimpse_ms_median": round(1000 * float(np.median(render)), 2), "threads": 1}


def evaluate_agent(config: RunConfig, run_dir: Path | str, *, progress: bool = False,
                   episodes: int | None = None, chains_n: int | None = None) -> dict:
    start = time.perf_counter()
    run = RunLayout(run_dir)
    from agent.weights import WeightsError

    if not (run.rl / "policy.json").exists():
        raise WeightsError(f"{run.rl}: no trained agent here (policy.json); run `saccade train rl` first")
    episodes = episodes or config.rl.eval_episodes
    chains_n = chains_n or config.rl.eval_chains
    shipped = success_per_task(config, run.rl, {}, episodes, progress=progress, desc="agent")
    baselines = {"agent": {k: shipped[k] for k in ("success_mean", "success_min")}}
    if (run.rl / "imitation" / "policy.json").exists():
        imitation = success_per_task(config, run.rl / "imitation", {}, episodes, progress=progress, desc="imitation")
        baselines["imitation_only"] = {k: imitation[k] for k in ("success_mean", "success_min", "success_per_task")}
    # References and ablations on a fifth of the episodes: they frame the headline, they are not it.
    few = max(1, episodes // 5)
    expert = success_per_task(config, None, {}, few, progress=progress, desc="expert")
    baselines["scripted_expert"] = {k: expert[k] for k in ("success_mean", "success_min")}
    random = success_per_task(config, None, {"actor": "random"}, few, progress=progress, desc="random")
    baselines["random_actions"] = {k: random[k] for k in ("success_mean", "success_min")}
    # The same policy with the teacher's gaze (from the privileged state: what learned attention costs)
    # and hearing the user's words itself instead of the parser's reading (the agent before issue 23).
    for name, variant in {"teacher_gaze": {"gaze": "expert"}, "policy_reads_words": {"listen": "words"}}.items():
        r = success_per_task(config, run.rl, variant, few, progress=progress, desc=name)
        baselines[name] = {k: r[k] for k in ("success_mean", "success_min", "success_per_task")}
    ablations = {"episodes_per_task": few}
    for name, variant in {"fixed_gaze": {"gaze": "fixed"}, "random_gaze": {"gaze": "random"},
                          "no_periphery": {"ablate": ["periphery"]}}.items():
        ablations[name] = success_per_task(config, run.rl, variant, few, progress=progress, desc=name)["success_mean"]
    chain = chains(config, run.rl, chains_n, progress=progress)
    train_metrics = _read_json(run.rl / "metrics.json")
    budget = int(train_metrics.get("ppo", {}).get("env_steps") or config.rl.ppo_steps)
    if budget > 0:
        baselines.update(scratch_baselines(config, run, budget, few))
    steps = _env_steps(run, train_metrics)
    plot = plot_success_vs_steps(steps, shipped, baselines, run.eval("agent") / "success_vs_env_steps.png")
    return {
        "success_mean": shipped["success_mean"],
        "success_per_task": shipped["success_per_task"],
        "success_min": shipped["success_min"],
        "parsed_right": shipped.get("parsed_right"),
        **chain,
        "baselines": baselines,
        "ablations": ablations,
        "latency_ms": latency_ms(config, run.rl),
        "hacked_fraction": shipped.get("hacked_fraction"),
        "missed_fraction": shipped.get("missed_fraction"),
        "hacking_rule": "the learned reward 'says done' when, for the clip (first, last step), the command's task "
                        "scores highest of all 18 tasks' validation commands",
        "rl_env_steps_per_s": train_metrics.get("ppo", {}).get("env_steps_per_s"),
        "seeds": {"training": [config.seed], "eval_layouts": f"{EVAL_SEED_BASE}..{EVAL_SEED_BASE + episodes - 1}"},
        "episodes_per_task": episodes,
        "env_steps_used": steps,
        "plot": str(plot),
        "commands": "validation phrasings (never trained on), cycled per episode, read by the run's command parser "
                    "first (a command it refuses or reads as another task counts as a failure)",
        "goals": {"success_mean": 0.9, "success_min": 0.75, "chain_average": 3.5, "second_command_success": 0.85,
                  "hacked_fraction": 0.05, "decision_ms": 10.0},
        "wall_time_s": round(time.perf_counter() - start, 1),
    }


def scratch_baselines(config: RunConfig, run: RunLayout, budget: int, episodes: int) -> dict:
    """PPO from scratch on pixels and on the privileged state, at the RL layer's step budget
    (trained once; the models are kept in eval_agent/)."""
    from agent.rl.baselines import evaluate_baseline, load_baseline, train_baseline
    from agent.sb3_archive import save_parameters

    out = {}
    folder = run.eval("agent")
    folder.mkdir(parents=True, exist_ok=True)
    for mode in ("pixels", "state"):
        if mode == "pixels" and config.env.frame_size < 36:
            out["ppo_pixels_same_budget"] = {"skipped": "frames under 36 pixels are too small for SB3's NatureCNN"}
            continue
        saved = folder / f"ppo_{mode}_{budget}.zip"  # PPO's tensors, made here: a cache, never shipped
        if saved.exists() or saved.is_symlink():  # tensors only: a handed-over folder runs nothing
            model, info = load_baseline(config, mode, saved), {"env_steps": budget, "cached": str(saved)}
        else:
            model, info = train_baseline(config, mode, folder, budget)
            save_parameters(model, saved)
        result = evaluate_baseline(config, model, mode, episodes, EVAL_SEED_BASE)
        out[f"ppo_{mode}_same_budget"] = {**result, **info, "task_input": "the env's task one-hot (no language)"}
    return out


def _env_steps(run: RunLayout, train_metrics: dict) -> dict:
    """Environment steps each policy consumed in training (demonstrations count: the desk ran them)."""
    from agent.rl.demos import demo_steps

    imitation = demo_steps(run.rl / "demos") + sum(demo_steps(f) for f in run.rl.glob("dagger_*"))
    ppo = int(train_metrics.get("ppo", {}).get("env_steps") or 0)
    return {"imitation_only": imitation, "agent": imitation + ppo, "ppo_layer": ppo}


def plot_success_vs_steps(steps: dict, shipped: dict, baselines: dict, path: Path) -> Path:
    """Success (mean over tasks, held-out layouts) against the environment steps spent in training."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    points = [("imitation only (demonstrations)", steps["imitation_only"],
               baselines.get("imitation_only", {}).get("success_mean")),
              ("agent: imitation + PPO layer", steps["agent"], shipped["success_mean"])]
    for name in ("ppo_pixels_same_budget", "ppo_state_same_budget"):
        if "success_mean" in baselines.get(name, {}):
            points.append((name.replace("_same_budget", "").replace("_", " ") + " (from scratch)",
                           baselines[name]["env_steps"], baselines[name]["success_mean"]))
    for (label, x, y), marker in zip(points, "osv^"):
        if x and y is not None:
            ax.scatter([x], [100 * y], marker=marker, s=60, label=label)
    for name, style in (("scripted_expert", "--"), ("random_actions", ":")):
        if name in baselines:
            ax.axhline(100 * baselines[name]["success_mean"], linestyle=style, color="grey",
                       label=name.replace("_", " "))
    ax.set_xscale("log")
    ax.set_xlabel("environment steps used in training (log)")
    ax.set_ylabel("success, % (held-out layouts, validation phrasings)")
    ax.set_ylim(-3, 103)
    ax.legend(fontsize=7, loc="center left")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _read_json(path: Path) -> dict:
    import json

    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}


def format_agent_metrics(m: dict) -> str:
    lines = [f"success (mean over {len(m['success_per_task'])} tasks, validation phrasings): {m['success_mean']:.1%}  "
             f"(lowest task {m['success_min']:.1%})"]
    for name, b in m["baselines"].items():
        if isinstance(b, dict) and "success_mean" in b:
            lines.append(f"  {name:>16}: {b['success_mean']:.1%}")
    lines.append(f"chains: {m['chain_average']:.2f} of 5 on average; " +
                 ", ".join(f"{k}: {v:.0%}" for k, v in m["chain_success_at"].items()))
    lines.append("ablations: " + ", ".join(f"{k} {v:.1%}" for k, v in m["ablations"].items() if k != "episodes_per_task"))
    lines.append(f"decision latency (one core): {m['latency_ms']['decision_ms_median']} ms median")
    if m.get("hacked_fraction") is not None:
        lines.append(f"learned reward says done but the task failed: {m['hacked_fraction']:.1%} of episodes")
    return "\n".join(lines)
