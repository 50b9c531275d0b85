"""Training and evaluation of the narrator on play data (`saccade train language`, `saccade eval narrator`)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch

from agent.config import RunConfig
from agent.data.format import PlayData
from agent.language.narrator import (NONE, Narrator, NarratorSpec, build_tokenizer, clip_indices, load_narrator,
                                     save_narrator)
from agent.perception.encoder import load_encoder
from agent.perception.features import step_features
from agent.perception.stream import split_chunks
from agent.training import TrainingRun
from envs.narration import NARRATIONS
from agent.runs import RunLayout

MAX_DELAY = 5  # control steps: the goal for the median delay of a narration


def load_stream(data: PlayData, chunk_ids: list[int], encoder) -> dict[str, np.ndarray]:
    """Per-step perception features, labels and episode bookkeeping of the given chunks."""
    parts: dict[str, list] = {k: [] for k in ("features", "narration", "episode", "step")}
    for cid in chunk_ids:
        with data.open(cid) as chunk:
            parts["features"].append(step_features(encoder, chunk["fovea"], chunk["periphery"], chunk["proprio"],
                                                   chunk["gaze"]))
            for k in ("narration", "episode", "step"):
                parts[k].append(chunk[k])
    return {k: np.concatenate(v) for k, v in parts.items()}


def _texts(labels: np.ndarray) -> list[str]:
    return [NARRATIONS[i] if i >= 0 else NONE for i in labels]


def train_narrator(config: RunConfig, run_dir: Path, out_dir: Path, *, resume: bool = False,
                   progress: bool = False) -> dict:
    cfg = config.narrator
    torch.manual_seed(config.seed)
    gen = torch.Generator().manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    data = PlayData(RunLayout(run_dir).collect)
    encoder = load_encoder(RunLayout(run_dir).encoder)
    train_ids, _ = split_chunks(len(data), config.split.test_fraction)
    stream = load_stream(data, train_ids, encoder)
    feats = torch.from_numpy(stream["features"])
    clips = clip_indices(stream["step"], cfg.window)
    events = np.flatnonzero(stream["narration"] >= 0)
    spec = NarratorSpec(input_dim=feats.shape[1], window=cfg.window, prefix_tokens=cfg.prefix_tokens,
                        n_embd=cfg.n_embd, n_layer=cfg.n_layer, n_head=cfg.n_head)
    narrator = Narrator(spec, build_tokenizer([*NARRATIONS, NONE]))
    opt = torch.optim.AdamW(narrator.parameters(), lr=cfg.lr, weight_decay=1e-4)
    run = TrainingRun(out_dir, name="narrator", total_steps=cfg.steps, modules={"narrator": narrator}, optimizer=opt,
                      torch_gen=gen, rng=rng, resume=resume, progress=progress, log_every=50, checkpoint_every=500)
    narrator.train()
    with run:
        for step in range(run.start_step, cfg.steps):
            # Half the batch from steps with an event: events are a minority of play.
            half = cfg.batch_size // 2
            rows = np.concatenate([rng.integers(len(feats), size=cfg.batch_size - half),
                                   events[rng.integers(len(events), size=half)] if len(events) else
                                   rng.integers(len(feats), size=half)])
            loss = narrator.loss(feats[clips[rows]], _texts(stream["narration"][rows]))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(narrator.parameters(), 1.0)
            opt.step()
            run.end_step(step + 1, {"loss": loss.item()}, samples=len(rows))
    wall = run.finish()
    save_narrator(narrator.eval(), out_dir, {"trained_steps": cfg.steps})
    history = run.history
    return {"steps": cfg.steps, "final_loss": history[-1]["loss"] if history else None,
            "train_steps_of_play": int(len(feats)), "wall_time_s": wall, "history": history}


def segments(labels: np.ndarray, episodes: np.ndarray) -> list[tuple[int, int, int]]:
    """(start, end, label) of every maximal run of one event within one episode (end exclusive)."""
    out, i, n = [], 0, len(labels)
    while i < n:
        j = i
        while j + 1 < n and labels[j + 1] == labels[i] and episodes[j + 1] == episodes[i]:
            j += 1
        if labels[i] >= 0:
            out.append((i, j + 1, int(labels[i])))
        i = j + 1
    return out


def evaluate_narrator(config: RunConfig, run_dir: Path, narrator_folder: Path | None = None) -> dict:
    """The narrator (the run's, or the one in narrator_folder) on the held-out play episodes."""
    start = time.perf_counter()
    data = PlayData(RunLayout(run_dir).collect)
    encoder = load_encoder(RunLayout(run_dir).encoder)
    narrator = load_narrator(narrator_folder or RunLayout(run_dir).narrator)
    _, test_ids = split_chunks(len(data), config.split.test_fraction)
    stream = load_stream(data, test_ids, encoder)
    feats = torch.from_numpy(stream["features"])
    clips = clip_indices(stream["step"], narrator.spec.window)
    said: list[str] = []
    for i in range(0, len(feats), 1024):
        said += narrator.generate(feats[clips[i:i + 1024]])
    truth = ["" if k < 0 else NARRATIONS[k] for k in stream["narration"]]
    per_step = float(np.mean([a == b for a, b in zip(said, truth)]))
    exact, delays = 0, []
    segs = segments(stream["narration"], stream["episode"])
    for s, e, label in segs:
        text = NARRATIONS[label]
        hits = [t for t in range(s, e) if said[t] == text]
        if hits:
            exact += 1
            delays.append(hits[0] - s)
    event_steps = stream["narration"] >= 0
    return {
        "segments": len(segs),
        "segment_accuracy": exact / max(len(segs), 1),
        "per_step_accuracy": per_step,
        "per_step_accuracy_during_events": float(np.mean([said[t] == truth[t] for t in np.flatnonzero(event_steps)]))
        if event_steps.any() else None,
        "median_delay_steps": float(np.median(delays)) if delays else None,
        "mean_delay_steps": float(np.mean(delays)) if delays else None,
        "goals": {"segment_accuracy": 0.95, "median_delay_steps": MAX_DELAY},
        "goals_met": {"segment_accuracy": exact / max(len(segs), 1) >= 0.95,
                      "median_delay_steps": bool(delays) and float(np.median(delays)) <= MAX_DELAY},
        "test_steps": int(len(feats)),
        "wall_time_s": round(time.perf_counter() - start, 1),
    }
