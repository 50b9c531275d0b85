"""The narrator, adapted to the agent's own episodes: the last part of `saccade train rl`.

The language stage's narrator learned from the scripted expert's play. The agent moves otherwise:
it hesitates, nudges a block it then leaves, misses a grasp. On the agent's episodes the expert-trained
narrator names 60% of the events (benchmarks/results/narrator_on_agent.json) against 91% on play.
This runs the trained agent on layouts of its own (NARRATION_SEED_BASE), labels every step with the
ground-truth labeller, and fine-tunes a copy of the narrator on an even mix of play data and these
episodes (each half with half its rows at events, as the narrator was trained). The result is saved
in rl/narrator; the agent's users hear it (RunLayout.agent_narrator). The episodes are saved first,
so that a resumed stage does not run them again.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from agent.config import RunConfig
from agent.runs import RunLayout
from agent.seeds import NARRATION_SEED_BASE  # agent episodes for the narrator; its evaluation uses 8,000,000+



def _save_episodes(episodes: list[dict], path: Path) -> None:
    arrays = {}
    for i, ep in enumerate(episodes):
        arrays[f"features_{i}"] = ep["features"]
        arrays[f"labels_{i}"] = ep["labels"]
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez(tmp, count=np.array(len(episodes)), **arrays)
    os.replace(tmp, path)


def _load_episodes(path: Path) -> list[dict]:
    with np.load(path) as f:
        return [{"features": f[f"features_{i}"], "labels": f[f"labels_{i}"]} for i in range(int(f["count"]))]


def adapt_narrator(config: RunConfig, run: RunLayout, policy, *, resume: bool = False, progress: bool = False) -> dict:
    """Fine-tune the language stage's narrator on play data and the agent's episodes; saved in rl/narrator."""
    from agent.data.format import PlayData
    from agent.language.narrator import clip_indices, load_narrator, save_narrator
    from agent.language.narrator_on_agent import agent_episodes
    from agent.language.narrator_training import _texts, load_stream
    from agent.perception.encoder import load_encoder
    from agent.perception.stream import split_chunks
    from agent.training import TrainingRun

    cfg = config.rl
    out = run.rl / "narrator"
    out.mkdir(parents=True, exist_ok=True)
    cache = out / "agent_episodes.npz"
    if resume and cache.exists():
        episodes = _load_episodes(cache)
    else:
        episodes = agent_episodes(config, run.root, policy, cfg.narration_episodes_per_task, NARRATION_SEED_BASE,
                                  progress=progress, tasks=cfg.task_list())
        _save_episodes(episodes, cache)

    narrator = load_narrator(run.narrator)
    window = narrator.spec.window
    data = PlayData(run.collect)
    train_ids, _ = split_chunks(len(data), config.split.test_fraction)
    play = load_stream(data, train_ids, load_encoder(run.encoder))
    sources = []
    for feats, steps, labels in (
            (play["features"], play["step"], play["narration"]),
            (np.concatenate([e["features"] for e in episodes]),
             np.concatenate([np.arange(len(e["features"])) for e in episodes]),
             np.concatenate([e["labels"] for e in episodes]))):
        events = np.flatnonzero(labels >= 0)
        sources.append((torch.from_numpy(feats), clip_indices(steps, window), labels,
                        events if len(events) else np.arange(len(labels))))

    torch.manual_seed(config.seed)
    gen = torch.Generator().manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    opt = torch.optim.AdamW(narrator.parameters(), lr=cfg.narration_lr, weight_decay=1e-4)
    quarter = config.narrator.batch_size // 4
    training = TrainingRun(out, name="narrator for the agent", total_steps=cfg.narration_steps,
                           modules={"narrator": narrator}, optimizer=opt, torch_gen=gen, rng=rng, resume=resume,
                           progress=progress, log_every=50, checkpoint_every=500)
    narrator.train()
    with training:
        for step in range(training.start_step, cfg.narration_steps):
            feats, texts = [], []
            for all_feats, clips, labels, events in sources:  # a quarter of the batch each: any row, event rows
                rows = np.concatenate([rng.integers(len(labels), size=quarter),
                                       events[rng.integers(len(events), size=quarter)]])
                feats.append(all_feats[clips[rows]])
                texts += _texts(labels[rows])
            loss = narrator.loss(torch.cat(feats), texts)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(narrator.parameters(), 1.0)
            opt.step()
            training.end_step(step + 1, {"loss": loss.item()}, samples=4 * quarter)
    wall = training.finish()
    save_narrator(narrator.eval(), out, {"trained_steps": cfg.narration_steps, "adapted_from": str(run.narrator),
                                         "agent_episodes": len(episodes), "seed_base": NARRATION_SEED_BASE})
    return {"agent_episodes": len(episodes), "steps": cfg.narration_steps, "wall_time_s": wall,
            "final_loss": training.history[-1]["loss"] if training.history else None}
