"""Train the Slot Attention anchor on the capsules' glimpses (for `saccade eval capsules`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from agent.config import RunConfig
from agent.data.format import PlayData
from agent.perception.capsule_training import check_cached, training_settings
from agent.perception.slots import SlotAttention, SlotSpec, load_slots, save_slots
from agent.perception.stream import GlimpseBuffer, split_chunks
from agent.training import TrainingRun
from agent.weights import WeightsError


def slot_spec(config: RunConfig) -> SlotSpec:
    return SlotSpec(slots=config.capsules.n_objects, image_size=config.env.fovea_size)


def train_slots(config: RunConfig, data_dir: Path, out_dir: Path, steps: int, *, progress: bool = False,
                chunk_filter=None) -> SlotAttention:
    """As many slots as object capsules, on the same training chunks and streams, in turn; resumable."""
    cfg = config.capsules
    out_dir = Path(out_dir)
    data = PlayData(data_dir)
    train_ids, _ = split_chunks(len(data), config.split.test_fraction)
    torch.manual_seed(config.seed)
    gen = torch.Generator().manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    model = SlotAttention(slot_spec(config))
    opt = torch.optim.Adam(model.parameters(), lr=cfg.slot_lr)
    buffer = GlimpseBuffer(data, train_ids, cfg.buffer_chunks, rng, keep=chunk_filter)
    resume = (out_dir / "checkpoints" / "latest").exists()
    run = TrainingRun(out_dir, name="slots", total_steps=steps, modules={"slots": model}, optimizer=opt,
                      torch_gen=gen, rng=rng, buffer=buffer, resume=resume, progress=progress,
                      log_every=cfg.log_every, checkpoint_every=cfg.checkpoint_every)
    model.train()
    with run:
        for step in range(run.start_step, steps):
            if step > 0 and step % cfg.refresh_every == 0:
                buffer.refresh()
            images, _ = buffer.sample_pairs(cfg.streams[step % len(cfg.streams)], cfg.slot_batch_size, 0.0, 1)
            loss, _ = model(torch.from_numpy(images), gen)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            run.end_step(step + 1, {"loss": loss.item()}, samples=cfg.slot_batch_size)
    run.finish()
    save_slots(model, out_dir, {"trained_steps": steps, "capsules_config": training_settings(config)})
    return model


def trained_slots(config: RunConfig, data_dir: Path, out_dir: Path, steps: int, *, progress: bool = False,
                  chunk_filter=None) -> SlotAttention:
    """The anchor from out_dir if it was trained there, else trained now."""
    try:
        model = load_slots(out_dir)
    except WeightsError:
        return train_slots(config, data_dir, out_dir, steps, progress=progress, chunk_filter=chunk_filter)
    check_cached(out_dir, "slots", config)
    return model
