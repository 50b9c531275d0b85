"""`saccade train rl`: the acting agent, in steps, each resumable.

1. demonstrations: scripted-expert episodes with DART noise (rl/demos/);
2. imitation: behaviour cloning on them (rl/imitation_round0/), then `rl.dagger_rounds` rounds
   of DAgger: the policy acts, the expert labels (rl/dagger_N/), the policy is cloned again on
   everything; the last round's policy is rl/imitation/ (the imitation-only baseline);
3. the thin RL layer: PPO fine-tunes the policy on the learned reward (rl/ppo/).
The shipped policy is rl/policy.safetensors + rl/policy.json.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from agent.config import RunConfig
from agent.rl.demos import collect_demos, load_demos
from agent.rl.imitation import train_imitation
from agent.rl.policy import load_policy, save_policy
from agent.runs import RunLayout
from agent.seeds import DAGGER_EPISODE_OFFSET  # DAgger round r's episodes (and layouts) from r times this



def git_commit() -> str | None:
    """The code's commit, recorded beside trained models (None outside a git checkout)."""
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=5,
                             cwd=Path(__file__).parent)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def train_agent(config: RunConfig, run: RunLayout, *, resume: bool = False, progress: bool = False) -> dict:
    cfg = config.rl
    if not resume and (run.rl / "demos").exists():
        raise FileExistsError(f"{run.rl} already holds a run; pass --resume to continue it or choose another "
                              "run folder")
    parser = None  # the digest of the capsule parser whose memory the policy reads (rl.capsule_memory)
    if cfg.capsule_memory:
        from agent.perception.capsules import parser_digest
        from agent.weights import WeightsError

        if not (run.capsules / "capsules.safetensors").exists():
            raise WeightsError(f"{run.capsules}: rl.capsule_memory reads the capsule parser, and there is none here; "
                               "run `saccade train capsules` first")
        parser = parser_digest(run.capsules)
    times: dict[str, float] = {}
    t0 = time.perf_counter()
    n_episodes = cfg.demos_per_task * len(cfg.task_list())
    demos = collect_demos(config, run.rl / "demos", range(n_episodes), progress=progress)
    times["demonstrations_s"] = round(time.perf_counter() - t0, 1)

    t0 = time.perf_counter()
    folders, rounds, previous = [run.rl / "demos"], {}, None
    for r in range(cfg.dagger_rounds + 1):
        if r > 0:  # the previous round's policy acts; the expert labels where it went
            folders.append(run.rl / f"dagger_{r}")
            first = r * DAGGER_EPISODE_OFFSET
            rounds[f"dagger_{r}_episodes"] = collect_demos(
                config, folders[-1], range(first, first + n_episodes),
                policy_folder=previous, progress=progress)
        # the last round's policy is the imitation-only agent (a baseline of `saccade eval agent`)
        folder = run.rl / ("imitation" if r == cfg.dagger_rounds else f"imitation_round{r}")
        if (folder / "policy.json").exists():
            policy = load_policy(folder)
        else:
            policy, bc = train_imitation(config, load_demos(folders), folder, resume=resume, progress=progress)
            policy.capsule_parser = parser
            save_policy(policy, folder, {"stage": f"imitation round {r}", "seed": config.seed})
            rounds[f"round_{r}"] = bc
        previous = folder
    times["imitation_s"] = round(time.perf_counter() - t0, 1)

    ppo = {"skipped": "rl.ppo_steps is 0"}
    if cfg.ppo_steps > 0:
        from agent.rl.ppo import finetune

        t0 = time.perf_counter()
        policy, ppo = finetune(config, policy, run.rl / "ppo", resume=resume, progress=progress)
        times["ppo_s"] = round(time.perf_counter() - t0, 1)
    narration = {"skipped": "rl.narration_episodes_per_task is 0"}
    if cfg.narration_episodes_per_task > 0 and (run.narrator / "narrator.json").exists():
        from agent.rl.narration import adapt_narrator

        t0 = time.perf_counter()
        narration = adapt_narrator(config, run, policy, resume=resume, progress=progress)
        times["narration_s"] = round(time.perf_counter() - t0, 1)
    # policy.json last: it marks the stage done
    save_policy(policy, run.rl, {"stage": "imitation + ppo" if cfg.ppo_steps > 0 else "imitation", "seed": config.seed,
                                 "commit": git_commit(), "times": times})
    return {"demonstrations": demos, "imitation": rounds, "ppo": ppo, "narration": narration, "times": times}
