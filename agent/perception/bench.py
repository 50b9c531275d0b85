"""`saccade bench encoder`: glimpses per second through the encoder, and training throughput."""

from __future__ import annotations

import json
import time

import torch

from agent.config import RunConfig
from agent.perception.augment import augment
from agent.perception.contrastive import nt_xent
from agent.perception.encoder import EncoderSpec, GlimpseEncoder, ProjectionHead
from agent.runs import RunLayout


def _rate(fn, items: int, min_time: float = 1.0) -> float:
    fn()  # warm up
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < min_time:
        fn()
        n += 1
    return items * n / (time.perf_counter() - start)


def bench_encoder(config: RunConfig, device: str | None = None) -> dict:
    cfg = config.encoder
    device = device or config.device
    spec = EncoderSpec(list(cfg.channels), cfg.feature_dim)
    size = config.env.fovea_size
    torch.manual_seed(0)
    encoder = GlimpseEncoder(spec).to(device).eval()
    head = ProjectionHead(cfg.feature_dim, cfg.projection_dim).to(device)
    out: dict = {"device": device, "glimpse_size": size, "threads": torch.get_num_threads(), "inference": {}}
    for batch in (1, 256):
        x = torch.randint(0, 256, (batch, size, size, 3), dtype=torch.uint8, device=device)

        @torch.no_grad()
        def infer(x=x):
            encoder(x)
            if device.startswith("cuda"):
                torch.cuda.synchronize()

        out["inference"][f"batch_{batch}_glimpses_per_s"] = round(_rate(infer, batch), 1)
    gen = torch.Generator().manual_seed(0)
    opt = torch.optim.AdamW([*encoder.parameters(), *head.parameters()], lr=1e-3)
    images = torch.randint(0, 256, (2 * cfg.batch_size, size, size, 3), dtype=torch.uint8)
    encoder.train()

    def train_step():
        views = augment(images, crop_scale=tuple(cfg.crop_scale), colour=True, colour_strength=0.5, gen=gen).to(device)
        loss, _, _ = nt_xent(head(encoder(views)), cfg.temperature)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if device.startswith("cuda"):
            torch.cuda.synchronize()

    rate = _rate(train_step, 2 * cfg.batch_size, min_time=3.0)
    out["training_views_per_s"] = round(rate, 1)
    out["training_steps_per_s"] = round(rate / (2 * cfg.batch_size), 3)
    out["estimated_pretraining_minutes"] = round(cfg.steps / out["training_steps_per_s"] / 60, 1)
    metrics = RunLayout(config.run_dir).encoder / "metrics.json"
    if metrics.exists():
        m = json.loads(metrics.read_text())
        out["measured_pretraining"] = {k: m.get(k) for k in ("steps", "wall_time_s", "mean_samples_per_s")}
    return out


def format_encoder_bench(r: dict) -> str:
    lines = [f"encoder on {r['device']} ({r['threads']} threads), {r['glimpse_size']}x{r['glimpse_size']} glimpses:"]
    for k, v in r["inference"].items():
        lines.append(f"  {k}: {v}")
    lines.append(f"  training: {r['training_views_per_s']} views/s, {r['training_steps_per_s']} steps/s, "
                 f"default pretraining about {r['estimated_pretraining_minutes']} min")
    return "\n".join(lines)
