"""`saccade train encoder`: contrastive pretraining of the glimpse encoder, without labels.

NT-Xent (InfoNCE with cosine similarity and a temperature) over a batch of B anchors
and their B positives: two augmented views of one glimpse, or two glimpses of the
same episode a few steps apart. The 2B - 2 other views are the negatives. The
projection head serves only the loss; downstream stages use the features before it.
"""

from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F
from tqdm import tqdm

from agent.checkpoint import GracefulInterrupt, latest_checkpoint, load_checkpoint, save_checkpoint
from agent.config import EncoderConfig, RunConfig, save_config
from agent.data.format import PlayData
from agent.perception.augment import augment
from agent.perception.encoder import EncoderSpec, GlimpseEncoder, ProjectionHead, save_encoder
from agent.perception.stream import STREAMS, GlimpseBuffer, split_chunks

log = logging.getLogger(__name__)


def nt_xent(z: torch.Tensor, temperature: float) -> tuple[torch.Tensor, float, float]:
    """z: (2B, d), unit rows; row i and row i+B are positives. Returns loss, mean pos and neg cosine."""
    n = z.shape[0] // 2
    sim = z @ z.t()
    eye = torch.eye(2 * n, dtype=torch.bool, device=z.device)
    targets = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)]).to(z.device)
    logits = (sim / temperature).masked_fill(eye, float("-inf"))
    loss = F.cross_entropy(logits, targets)
    with torch.no_grad():
        pos = sim[torch.arange(2 * n, device=z.device), targets].mean().item()
        neg_mask = ~eye
        neg_mask[torch.arange(2 * n, device=z.device), targets] = False
        neg = sim[neg_mask].mean().item()
    return loss, pos, neg


def _lr_factor(step: int, total: int, warmup: int = 100) -> float:
    if step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


def train_contrastive(config: RunConfig, data_dir: Path, out_dir: Path, *, resume: bool = False,
                      progress: bool = False, test_fraction: float = 0.2) -> dict:
    """Train the encoder on the training chunks of data_dir; write weights and metrics to out_dir."""
    cfg: EncoderConfig = config.encoder
    out_dir = Path(out_dir)
    device = torch.device(cfg.device)
    data = PlayData(data_dir)
    train_ids, _ = split_chunks(len(data), test_fraction)
    torch.manual_seed(config.seed)
    gen = torch.Generator().manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    encoder = GlimpseEncoder(EncoderSpec(list(cfg.channels), cfg.feature_dim)).to(device)
    head = ProjectionHead(cfg.feature_dim, cfg.projection_dim).to(device)
    params = [*encoder.parameters(), *head.parameters()]
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    buffer = GlimpseBuffer(data, train_ids, cfg.buffer_chunks, rng)
    ckpt_dir = out_dir / "checkpoints"
    start_step, history = 0, []
    if resume:
        last = latest_checkpoint(ckpt_dir)
        if last is not None:
            state = load_checkpoint(last, {"encoder": encoder, "head": head}, opt, gen)
            start_step, history = state["step"], state["history"]
            rng.bit_generator.state = state["numpy_rng"]
            buffer.load_state(state["buffer"])
            log.info("resuming from %s (step %d)", last, start_step)
    elif ckpt_dir.exists() and any(ckpt_dir.iterdir()):
        raise FileExistsError(f"{out_dir} already holds a training run; pass --resume to continue it "
                              "or choose another run folder")
    save_config(config, out_dir / "config.yaml")
    from torch.utils.tensorboard import SummaryWriter

    writer = SummaryWriter(str(out_dir / "tb"), purge_step=start_step if resume else None)

    def checkpoint(step: int) -> None:
        save_checkpoint(ckpt_dir, step, {"encoder": encoder, "head": head}, opt, gen,
                        {"history": history, "numpy_rng": rng.bit_generator.state, "buffer": buffer.state()})

    bar = tqdm(total=cfg.steps, initial=start_step, disable=not progress, desc="encoder", unit="step")
    encoder.train()
    head.train()
    t_last, samples = time.perf_counter(), 0
    t_start = time.perf_counter()
    try:
        with GracefulInterrupt() as interrupt:
            for step in range(start_step, cfg.steps):
                # The buffer swaps chunks on a fixed schedule of the global step, so a resumed
                # run sees the same batches as an uninterrupted one.
                if step > 0 and step % cfg.refresh_every == 0:
                    buffer.refresh()
                for group in opt.param_groups:
                    group["lr"] = cfg.lr * _lr_factor(step, cfg.steps)
                stream = STREAMS[step % len(STREAMS)]
                anchors, positives = buffer.sample_pairs(stream, cfg.batch_size, cfg.temporal_fraction, cfg.max_dt)
                images = torch.from_numpy(np.concatenate([anchors, positives]))
                views = augment(images, crop_scale=tuple(cfg.crop_scale), colour=cfg.colour_distortion,
                                colour_strength=cfg.colour_strength, gen=gen).to(device)
                loss, pos, neg = nt_xent(head(encoder(views)), cfg.temperature)
                if not torch.isfinite(loss):
                    raise FloatingPointError(f"non-finite contrastive loss at step {step}")
                opt.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(params, 5.0)
                opt.step()
                samples += len(views)
                bar.update()
                done = step + 1
                if done % cfg.log_every == 0 or done == cfg.steps:
                    now = time.perf_counter()
                    rate = samples / max(now - t_last, 1e-9)
                    t_last, samples = now, 0
                    row = {"step": done, "loss": loss.item(), "pos_sim": pos, "neg_sim": neg,
                           "lr": opt.param_groups[0]["lr"], "samples_per_s": rate}
                    history.append(row)
                    for k, v in row.items():
                        if k != "step":
                            writer.add_scalar(f"encoder/{k}", v, done)
                    bar.set_postfix(loss=f"{row['loss']:.3f}")
                if interrupt.requested:
                    checkpoint(done)
                    raise KeyboardInterrupt
                if done % cfg.checkpoint_every == 0 and done < cfg.steps:
                    checkpoint(done)
    finally:
        bar.close()
        writer.close()
    checkpoint(cfg.steps)
    save_encoder(encoder.cpu(), out_dir, {"trained_steps": cfg.steps, "colour_distortion": cfg.colour_distortion})
    metrics = {
        "steps": cfg.steps,
        "final_loss": history[-1]["loss"] if history else None,
        "final_pos_sim": history[-1]["pos_sim"] if history else None,
        "final_neg_sim": history[-1]["neg_sim"] if history else None,
        "mean_samples_per_s": float(np.mean([h["samples_per_s"] for h in history[1:]] or [0.0])),
        "train_chunks": len(train_ids),
        "wall_time_s": round(time.perf_counter() - t_start, 1),  # of this invocation (a resumed run: the rest)
        "history": history,
    }
    (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=2))
    return metrics
