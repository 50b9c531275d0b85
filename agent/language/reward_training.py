"""Training and evaluation of the learned reward on play data (`saccade train language`, `saccade eval reward`)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch

from agent.config import RunConfig
from agent.data.format import DataError, PlayData
from agent.language.narrator_training import load_stream
from agent.language.reward import (OPPOSITE, RewardModel, RewardSpec, embed_texts, episode_ends, load_reward,
                                   save_reward, train_reward)
from agent.perception.encoder import load_encoder
from agent.perception.stream import split_chunks
from envs.instructions import phrasings
from envs.tasks import ALL_TASKS, BLOCK_TASKS, Task
from agent.runs import RunLayout


def episodes_of(data: PlayData, chunk_ids: list[int], encoder) -> tuple[dict, list[dict]]:
    """Per-step features of the chunks and the metadata (task, success) of their episodes, in order."""
    stream = load_stream(data, chunk_ids, encoder)
    metas = []
    for cid in chunk_ids:
        with data.open(cid) as chunk:
            metas += chunk.meta["episodes"]
    return stream, metas


def train_reward_model(config: RunConfig, run_dir: Path, out_dir: Path, *, resume: bool = False,
                       progress: bool = False) -> dict:
    cfg = config.reward
    start = time.perf_counter()
    data = PlayData(RunLayout(run_dir).collect)
    encoder = load_encoder(RunLayout(run_dir).encoder)
    train_ids, _ = split_chunks(len(data), config.split.test_fraction)
    stream, metas = episodes_of(data, train_ids, encoder)
    first_rows, last_rows = episode_ends(stream)
    ok = [i for i, m in enumerate(metas) if m["success"] and m["task"]]
    if not ok:
        raise DataError(f"{RunLayout(run_dir).collect}: no successful expert episodes to learn the reward from; "
                        "collect more episodes")
    feats = torch.from_numpy(stream["features"])
    first, end = feats[first_rows[ok]], feats[last_rows[ok]]
    tasks = [Task.parse(metas[i]["task"]) for i in ok]
    model = RewardModel(RewardSpec(input_dim=feats.shape[1], embed_dim=cfg.embed_dim, temperature=cfg.temperature))
    history = train_reward(model, first, end, tasks, steps=cfg.steps, batch=cfg.batch_size, lr=cfg.lr,
                           seed=config.seed, out_dir=out_dir, resume=resume, progress=progress)
    save_reward(model.eval(), out_dir, {"trained_steps": cfg.steps, "episodes": len(ok)})
    return {"steps": cfg.steps, "episodes": len(ok), "final_loss": history[-1]["loss"] if history else None,
            "wall_time_s": round(time.perf_counter() - start, 1)}


@torch.no_grad()
def command_vectors(model: RewardModel) -> dict[Task, torch.Tensor]:
    """Each task's command: the mean embedding of its validation phrasings (never trained on)."""
    return {t: model.text_embedding(embed_texts(phrasings(t, "validation"))).mean(0) for t in ALL_TASKS}


def evaluate_reward(config: RunConfig, run_dir: Path) -> dict:
    from sklearn.metrics import roc_auc_score

    start = time.perf_counter()
    data = PlayData(RunLayout(run_dir).collect)
    encoder = load_encoder(RunLayout(run_dir).encoder)
    model = load_reward(RunLayout(run_dir).reward)
    _, test_ids = split_chunks(len(data), config.split.test_fraction)
    stream, metas = episodes_of(data, test_ids, encoder)
    first_rows, last_rows = episode_ends(stream)
    feats = torch.from_numpy(stream["features"])
    commands = command_vectors(model)
    with torch.no_grad():
        clips = model.clip_embedding(feats[first_rows], feats[last_rows])  # (E, d)
    per_task = {}
    for task in ALL_TASKS:
        scores = (clips @ commands[task]).numpy()
        labels = np.array([m["success"] and m["task"] == task.name for m in metas])
        if labels.all() or not labels.any():
            per_task[task.name] = None
            continue
        per_task[task.name] = round(float(roc_auc_score(labels, scores)), 3)
    measured = [v for v in per_task.values() if v is not None]
    out_dir = RunLayout(run_dir).eval("reward")
    out_dir.mkdir(parents=True, exist_ok=True)
    plot = plot_reward(model, feats, stream, metas, commands, out_dir / "reward_along_episodes.png")
    return {
        "roc_auc_per_task": per_task,
        "min_roc_auc": min(measured) if measured else None,
        "mean_roc_auc": float(np.mean(measured)) if measured else None,
        "goal": 0.95,
        "tasks_meeting_goal": sum(v >= 0.95 for v in measured),
        "tasks_measured": len(measured),
        "test_episodes": len(metas),
        "successful_test_episodes": sum(bool(m["success"] and m["task"]) for m in metas),
        "scored_with": "mean of each task's validation phrasings, clip = first and last step of the episode",
        "plot": str(plot),
        "wall_time_s": round(time.perf_counter() - start, 1),
    }


@torch.no_grad()
def plot_reward(model, feats, stream, metas, commands, path: Path) -> Path:
    """The reward along four held-out successful episodes, for their own command and the opposite one."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    first_rows, last_rows = episode_ends(stream)
    chosen = [i for i, m in enumerate(metas) if m["success"] and m["task"]][:4]
    fig, axes = plt.subplots(1, max(1, len(chosen)), figsize=(4 * max(1, len(chosen)), 3.2), squeeze=False)
    for ax, i in zip(axes[0], chosen):
        task = Task.parse(metas[i]["task"])
        rows = np.arange(first_rows[i], last_rows[i] + 1)
        first = feats[first_rows[i]].expand(len(rows), -1)
        clip = model.clip_embedding(first, feats[rows])
        opposite = Task(OPPOSITE[task.id], task.block if OPPOSITE[task.id] in BLOCK_TASKS else None)
        ax.plot((clip @ commands[task]).numpy(), label=f'"{phrasings(task, "validation")[0]}"')
        ax.plot((clip @ commands[opposite]).numpy(), label=f"opposite: {opposite.name}", linestyle="--")
        ax.set_title(task.name, fontsize=9)
        ax.set_xlabel("step")
        ax.legend(fontsize=6, loc="lower left")
    axes[0][0].set_ylabel("reward (cosine)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
