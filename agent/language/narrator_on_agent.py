"""The narrator on the acting agent's own episodes: what a user of `saccade command` hears.

The narrator learned from play data (the scripted expert's episodes). The agent moves differently: it
hesitates, misses grasps, pushes a block halfway. This runs the agent on held-out layouts, one
validation phrasing per episode, labels every step with the ground-truth labeller (from the scene's
state changes) and scores the narrator on those steps the same way as on play data
(agent.language.narrator_training.evaluate_narrator): an event segment counts as narrated when the
narrator says its text at some step of it. It also scores the confirmed stream the user hears
(agent.language.narrator.NarrationStream), which speaks a line only after it was said two steps in a row.

    python -m agent.language.narrator_on_agent agent/shipped --episodes 3
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from agent.config import RunConfig, load_config
from agent.runs import RunLayout
from agent.seeds import AGENT_EPISODES_TASK_STRIDE, NARRATOR_FRESH_SEED_BASE, NARRATOR_SEED_BASE
from envs.instructions import phrasings
from envs.tasks import ALL_TASKS

# Layouts of its own. The 8,000,000 band was used to choose the recipe of the narrator's adaptation
# to the agent (agent/rl/narration.py), so the figures quoted come from FRESH_SEED_BASE.
SEED_BASE = NARRATOR_SEED_BASE
FRESH_SEED_BASE = NARRATOR_FRESH_SEED_BASE
TAIL_STEPS = 10
FALSE_LINE_SLACK = 5  # steps either side within which a spoken line's event must be under way  # steps run on after success, so that an event ending the task is heard in full


def agent_episodes(config: RunConfig, run_dir: Path, policy, episodes: int, seed_base: int = SEED_BASE,
                   progress: bool = False, tasks=ALL_TASKS) -> list[dict]:
    """Per-step perception features and ground-truth narration of the agent's episodes: `episodes`
    per task on layouts seed_base + 1000 * task + k. policy: an AgentPolicy or its folder."""
    import torch

    from agent.demo import open_desk
    from agent.perception.encoder import load_encoder
    from agent.perception.features import PerceptionFeatures
    from agent.rl.actor import AgentActor
    from agent.rl.policy import load_policy
    from envs.narration import NARRATIONS, NarrationLabeller

    torch.set_num_threads(1)
    run = RunLayout(run_dir)
    encoder = load_encoder(run.encoder)
    perception = PerceptionFeatures(encoder)
    if isinstance(policy, (str, Path)):
        policy = load_policy(policy)
    from agent.rl.capsule_inputs import refuse_capsule_memory

    refuse_capsule_memory(policy, run.rl, "the narrator on the agent's episodes")
    actor = AgentActor(policy, encoder_dim=encoder.spec.feature_dim)
    env = open_desk(config)
    out = []
    try:
        for task in tqdm(tasks, desc="agent episodes", disable=not progress):
            t_index = ALL_TASKS.index(task)  # a task's layouts do not depend on which others are run
            commands = phrasings(task, "validation")
            for k in range(episodes):
                obs, _ = env.reset(seed=seed_base + AGENT_EPISODES_TASK_STRIDE * t_index + k, options={"task": task})
                actor.start(env, task, commands[k % len(commands)])
                labeller = NarrationLabeller()
                labeller.reset(env.state())
                feats, labels, done_at = [perception(obs)], [-1], None
                for step in range(config.rl.max_steps + TAIL_STEPS):
                    obs, _, _, _, info = env.step(actor.act(obs, feats[-1], env))
                    feats.append(perception(obs))
                    event = labeller.update(env.state())
                    labels.append(NARRATIONS.index(event) if event is not None else -1)
                    if done_at is None and info.get("is_success"):
                        done_at = step
                    if done_at is not None and step - done_at >= TAIL_STEPS or (
                            done_at is None and step + 1 >= config.rl.max_steps):
                        break
                out.append({"task": task.name, "features": np.stack(feats), "labels": np.array(labels),
                            "success": done_at is not None})
    finally:
        env.close()
    return out


def score(narrator, episodes: list[dict]) -> dict:
    """Segment accuracy per generated step and as the confirmed stream speaks, over all episodes, and
    the share of spoken lines that name no event under way within FALSE_LINE_SLACK steps (what a
    user reads that did not happen)."""
    import torch

    from agent.language.narrator import NarrationStream, clip_indices
    from agent.language.narrator_training import segments
    from envs.narration import NARRATIONS

    exact = heard = total = spoken_lines = false_lines = 0
    delays: list[int] = []
    missed: dict[str, int] = {}
    for ep in episodes:
        feats = torch.from_numpy(ep["features"])
        steps = np.arange(len(feats))
        said = narrator.generate(feats[clip_indices(steps, narrator.spec.window)])
        stream = NarrationStream(narrator)
        spoken = []
        truth = [NARRATIONS[k] if k >= 0 else "" for k in ep["labels"]]
        for t, text in enumerate(said):  # the stream's confirmation on the same per-step texts
            line = stream.hear(text)
            spoken.append(stream.current)
            if line:  # a line the user reads: false if no such event is under way around it
                spoken_lines += 1
                false_lines += line not in truth[max(0, t - FALSE_LINE_SLACK):t + FALSE_LINE_SLACK + 1]
        for s, e, label in segments(ep["labels"], np.zeros(len(steps), dtype=int)):
            total += 1
            text = NARRATIONS[label]
            hits = [t for t in range(s, e) if said[t] == text]
            if hits:
                exact += 1
                delays.append(hits[0] - s)
            else:
                missed[text] = missed.get(text, 0) + 1
            heard += any(spoken[t] == text for t in range(s, min(e + 2, len(spoken))))
    return {"segments": total, "segment_accuracy": exact / max(total, 1),
            "segment_accuracy_as_heard": heard / max(total, 1),
            "lines_spoken": spoken_lines, "false_line_fraction": false_lines / max(spoken_lines, 1),
            "median_delay_steps": float(np.median(delays)) if delays else None,
            "missed_by_event": dict(sorted(missed.items(), key=lambda kv: -kv[1]))}


def evaluate_narrator_on_agent(config: RunConfig, run_dir: Path, policy_folder: Path, episodes: int,
                               narrator_folder: Path | None = None, seed_base: int = FRESH_SEED_BASE) -> dict:
    from agent.language.narrator import load_narrator

    start = time.perf_counter()
    eps = agent_episodes(config, run_dir, policy_folder, episodes, seed_base)
    folder = narrator_folder or RunLayout(run_dir).agent_narrator
    result = score(load_narrator(folder), eps)
    return {**result, "narrator": str(folder), "episodes": len(eps),
            "agent_success": float(np.mean([e["success"] for e in eps])),
            "episodes_per_task": episodes, "seed_base": seed_base, "goal": 0.95,
            "wall_time_s": round(time.perf_counter() - start, 1)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run_dir", help="a trained run folder (encoder, language/narrator)")
    p.add_argument("--policy", default=None, help="the policy folder (default: RUN_DIR/rl)")
    p.add_argument("--episodes", type=int, default=3, help="episodes per task (18 tasks)")
    p.add_argument("--narrator", default=None, help="the narrator folder (default: the agent's, else the language "
                                                     "stage's)")
    p.add_argument("--seed-base", type=int, default=FRESH_SEED_BASE, help="first layout seed")
    p.add_argument("--config", default=None)
    p.add_argument("--out", default=None, help="write the JSON here too")
    args = p.parse_args()
    config = load_config(args.config, [f"run_dir={args.run_dir}"])
    result = evaluate_narrator_on_agent(config, Path(args.run_dir), Path(args.policy or RunLayout(args.run_dir).rl),
                                        args.episodes, Path(args.narrator) if args.narrator else None, args.seed_base)
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")


if __name__ == "__main__":
    main()
