"""`saccade train capsules`: the stacked capsule autoencoder, trained without labels on glimpses."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch

from agent.config import RunConfig
from agent.data.format import PlayData
from agent.perception.capsule_pictures import save_reconstruction_grid
from agent.perception.capsules import CapsuleParser, equivariance_error, identity_loss, object_places, save_parser
from agent.perception.pairs import STREAMS as PAIR_STREAMS, load_pairs, record_pairs
from agent.perception.stream import GlimpseBuffer, split_chunks
from agent.training import TrainingRun

log = logging.getLogger(__name__)


# Capsule settings that only say how the evaluation runs: a cached model does not depend on them.
EVALUATION_ONLY = ("eval_samples", "eval_seeds")


def training_settings(config: RunConfig) -> dict:
    """The capsule settings a trained model (parser or Slot Attention anchor) depends on."""
    from dataclasses import asdict

    return {k: v for k, v in asdict(config.capsules).items() if k not in EVALUATION_ONLY}


def check_cached(folder: Path, name: str, config: RunConfig) -> None:
    """Refuse a model cached by `saccade eval capsules` (seeds, anchors, viewpoint runs) that was trained
    with other capsule settings than today's: its figures would describe another recipe."""
    import json

    saved = json.loads((Path(folder) / f"{name}.json").read_text()).get("capsules_config")
    if saved is None:
        log.warning("%s records no capsule settings (made before it did): reused as it is", folder)
        return
    # a setting added since the model was saved counts as its default (what the code did then)
    defaults = training_settings(RunConfig())
    changed = sorted(k for k, v in training_settings(config).items() if saved.get(k, defaults[k]) != v)
    if changed:
        from agent.weights import WeightsError

        raise WeightsError(f"{folder} was trained with other capsule settings ({', '.join(changed)}): "
                           "remove that folder and evaluate again to retrain it")


def uses_pairs(config: RunConfig) -> bool:
    return config.capsules.equivariance_weight > 0 or config.capsules.identity_weight > 0


def pairs_path(out_dir: Path, split: str) -> Path:
    return Path(out_dir) / "pairs" / f"{split}.npz"


def ensure_pairs(config: RunConfig, out_dir: Path, split: str, progress: bool = False) -> dict[str, np.ndarray]:
    """The stage's glimpse pairs of one split, recorded in the desk the first time (about 30 s)."""
    path = pairs_path(out_dir, split)
    pairs = load_pairs(path)
    if pairs is None:
        record_pairs(config, path, split, progress=progress)
        pairs = load_pairs(path)
    return pairs


def pair_losses(model: CapsuleParser, pairs: dict[str, np.ndarray], stream: str, rows: np.ndarray,
                device, identity_weighting: str = "objects") -> tuple[torch.Tensor, dict]:
    """The parser's loss on both views of some pairs, plus the equivariance and identity terms."""
    images = np.concatenate([pairs[f"{stream}_first"][rows], pairs[f"{stream}_second"][rows]])
    loss, out = model(torch.from_numpy(images).to(device))
    places = object_places(out["parts"], out["objects"], out["posterior"])
    n = len(rows)
    first = type(places)(*(t[:n] for t in places))
    second = type(places)(*(t[n:] for t in places))
    transform = torch.from_numpy(pairs[f"{stream}_transform"][rows]).to(device)
    equivariance = equivariance_error(first, second, transform)
    objects = out["objects"]
    presence = (first.present, second.present) if identity_weighting == "places" else None
    identity = identity_loss(type(objects)(*(t[:n] for t in objects)), type(objects)(*(t[n:] for t in objects)),
                             presence=presence)
    out["terms"] = {**out["terms"], "equivariance": equivariance.detach(), "identity": identity.detach()}
    return loss, {**out, "equivariance": equivariance, "identity": identity}


def train_capsules(config: RunConfig, data_dir: Path, out_dir: Path, *, resume: bool = False,
                   progress: bool = False, chunk_filter=None, test_pairs: bool = True) -> dict:
    """Train on the training chunks (optionally only glimpses that `chunk_filter(gaze)` keeps) and,
    when the equivariance or identity weight is on, on glimpse pairs of frozen scenes (recording the
    held-out pairs too, unless test_pairs is False or a filter is given)."""
    cfg = config.capsules
    out_dir = Path(out_dir)
    pairs = None
    if uses_pairs(config):
        pairs = ensure_pairs(config, out_dir, "train", progress)
        if chunk_filter is None:
            if test_pairs:  # held out: the equivariance error of `saccade eval capsules`
                ensure_pairs(config, out_dir, "test", progress)
        else:  # only pairs whose both views the filter keeps
            keep = chunk_filter(pairs["gaze_first"]) & chunk_filter(pairs["gaze_second"])
            pairs = {k: v[keep] for k, v in pairs.items()} if keep.any() else None
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
    pair_terms: dict = {}  # the latest pair step's terms, logged with every row
    with run:
        for step in range(run.start_step, cfg.steps):
            if step > 0 and step % cfg.refresh_every == 0:
                buffer.refresh()
            stream = cfg.streams[step % len(cfg.streams)]
            pair_step = (pairs is not None and stream in PAIR_STREAMS
                         and (step // len(cfg.streams)) % cfg.pair_every == cfg.pair_every - 1)
            if pair_step:
                rows = rng.integers(len(pairs["state"]), size=max(1, cfg.batch_size // 2))
                loss, out = pair_losses(model, pairs, stream, rows, device, cfg.identity_weighting)
                loss = loss + cfg.equivariance_weight * out["equivariance"] + cfg.identity_weight * out["identity"]
                pair_terms = {k: out["terms"][k] for k in ("equivariance", "identity")}
            else:
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
            run.end_step(step + 1, {k: v.item() for k, v in {**pair_terms, **out["terms"]}.items()},
                         samples=cfg.batch_size)
    wall = run.finish()
    save_parser(model.cpu(), out_dir, {"trained_steps": cfg.steps, "seed": config.seed,
                                       "capsules_config": training_settings(config)})
    with data.open(train_ids[0]) as chunk:
        sample = chunk[cfg.streams[-1]][:: max(1, len(chunk[cfg.streams[-1]]) // 8)][:8]
    picture = save_reconstruction_grid(model, sample, out_dir / "reconstructions.png")
    history = run.history
    metrics = {"steps": cfg.steps, "wall_time_s": wall, "skipped_batches": skipped, "pairs": pairs is not None,
               "final": {k: v for k, v in history[-1].items() if k != "step"} if history else {},
               "reconstructions": str(picture), "history": history}
    return metrics
