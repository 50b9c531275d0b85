"""`saccade train encoder`: contrastive pretraining of the glimpse encoder, without labels.

NT-Xent (InfoNCE with cosine similarity and a temperature) over a batch of B anchors
and their B positives: two augmented views of one glimpse, or two glimpses of the
same episode a few steps apart. The 2B - 2 other views are the negatives. The
projection head serves only the loss; downstream stages use the features before it.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from agent.config import EncoderConfig, RunConfig
from agent.data.format import PlayData
from agent.perception.augment import augment
from agent.perception.encoder import EncoderSpec, GlimpseEncoder, ProjectionHead, save_encoder
from agent.perception.stream import STREAMS, GlimpseBuffer, split_chunks
from agent.training import TrainingRun

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
                      progress: bool = False) -> dict:
    """Train the encoder on the training chunks of data_dir (config.split holds the rest out); write
    weights and metrics to out_dir."""
    cfg: EncoderConfig = config.encoder
    out_dir = Path(out_dir)
    device = torch.device(config.device)
    data = PlayData(data_dir)
    train_ids, _ = split_chunks(len(data), config.split.test_fraction)
    torch.manual_seed(config.seed)
    gen = torch.Generator().manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    encoder = GlimpseEncoder(EncoderSpec(list(cfg.channels), cfg.feature_dim)).to(device)
    head = ProjectionHead(cfg.feature_dim, cfg.projection_dim).to(device)
    params = [*encoder.parameters(), *head.parameters()]
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    buffer = GlimpseBuffer(data, train_ids, cfg.buffer_chunks, rng)
    run = TrainingRun(out_dir, name="encoder", total_steps=cfg.steps, modules={"encoder": encoder, "head": head},
                      optimizer=opt, torch_gen=gen, rng=rng, buffer=buffer, resume=resume, progress=progress,
                      log_every=cfg.log_every, checkpoint_every=cfg.checkpoint_every)
    encoder.train()
    head.train()
    with run:
        for step in range(run.start_step, cfg.steps):
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
                            colour_strength=cfg.colour_strength, hue=cfg.hue_jitter, p_grey=cfg.grayscale_p,
                            gen=gen).to(device)
            loss, pos, neg = nt_xent(head(encoder(views)), cfg.temperature)
            if not torch.isfinite(loss):
                raise FloatingPointError(f"non-finite contrastive loss at step {step}")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 5.0)
            opt.step()
            run.end_step(step + 1, {"loss": loss.item(), "pos_sim": pos, "neg_sim": neg,
                                    "lr": opt.param_groups[0]["lr"]}, samples=len(views))
    wall = run.finish()
    history = run.history
    save_encoder(encoder.cpu(), out_dir, {"trained_steps": cfg.steps, "colour_distortion": cfg.colour_distortion,
                                           "hue_jitter": cfg.hue_jitter, "grayscale_p": cfg.grayscale_p})
    metrics = {
        "steps": cfg.steps,
        "final_loss": history[-1]["loss"] if history else None,
        "final_pos_sim": history[-1]["pos_sim"] if history else None,
        "final_neg_sim": history[-1]["neg_sim"] if history else None,
        "mean_samples_per_s": float(np.mean([h["samples_per_s"] for h in history[1:]] or [0.0])),
        "train_chunks": len(train_ids),
        "wall_time_s": wall,  # of this invocation (a resumed run: the rest)
        "history": history,
    }
    return metrics
