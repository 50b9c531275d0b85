"""`saccade train capsules`: the stacked capsule autoencoder, trained without labels on glimpses."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch

from agent.config import RunConfig
from agent.data.format import PlayData
from agent.perception.capsule_pictures import save_reconstruction_grid
from agent.perception.capsules import CapsuleParser, save_parser
from agent.perception.stream import GlimpseBuffer, split_chunks
from agent.training import TrainingRun

log = logging.getLogger(__name__)


def train_capsules(config: RunConfig, data_dir: Path, out_dir: Path, *, resume: bool = False,
                   progress: bool = False, chunk_filter=None) -> dict:
    """Train on the training chunks (optionally only glimpses that `chunk_filter(gaze)` keeps)."""
    cfg = config.capsules
    out_dir = Path(out_dir)
    data = PlayData(data_dir)
    train_ids, _ = split_chunks(len(data), config.split.test_fraction)
    torch.manual_seed(config.seed)
    gen = torch.Generator().manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    device = torch.device(config.device)
    model = CapsuleParser(cfg.spec()).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    buffer = GlimpseBuffer(data, train_ids, cfg.buffer_chunks, rng, keep=chunk_filter)
    run = TrainingRun(out_dir, name="capsules", total_steps=cfg.steps, modules={"capsules": model}, optimizer=opt,
                      torch_gen=gen, rng=rng, buffer=buffer, resume=resume, progress=progress,
                      log_every=cfg.log_every, checkpoint_every=cfg.checkpoint_every)
    model.train()
    skipped = 0
    with run:
        for step in range(run.start_step, cfg.steps):
            if step > 0 and step % cfg.refresh_every == 0:
                buffer.refresh()
            stream = cfg.streams[step % len(cfg.streams)]
            images, _ = buffer.sample_pairs(stream, cfg.batch_size, 0.0, 1)
            loss, out = model(torch.from_numpy(images).to(device))
            if not torch.isfinite(loss):
                # A guard, not a cure: skip the batch, count it, and stop if it keeps happening.
                skipped += 1
                log.warning("non-finite capsule loss at step %d (skipped %d so far)", step, skipped)
                if skipped > 10:
                    raise FloatingPointError("the capsule loss was not finite more than 10 times")
                opt.zero_grad(set_to_none=True)
            else:
                opt.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                opt.step()
            run.end_step(step + 1, {k: v.item() for k, v in out["terms"].items()}, samples=len(images))
    wall = run.finish()
    save_parser(model.cpu(), out_dir, {"trained_steps": cfg.steps})
    with data.open(train_ids[0]) as chunk:
        sample = chunk[cfg.streams[-1]][:: max(1, len(chunk[cfg.streams[-1]]) // 8)][:8]
    picture = save_reconstruction_grid(model, sample, out_dir / "reconstructions.png")
    history = run.history
    metrics = {"steps": cfg.steps, "wall_time_s": wall, "skipped_batches": skipped,
               "final": {k: v for k, v in history[-1].items() if k != "step"} if history else {},
               "reconstructions": str(picture), "history": history}
    return metrics
