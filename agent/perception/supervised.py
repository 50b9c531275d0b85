"""The supervised upper reference: the same encoder trained end to end on the probe labels.

It sees the labels the contrastive encoder never sees; how close the contrastive
features come to it is the measure of the pretraining.
"""

from __future__ import annotations

import logging

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from agent.perception.augment import augment
from agent.perception.encoder import EncoderSpec, GlimpseEncoder

log = logging.getLogger(__name__)

HEADS = {"drawer_open": 2, "lamp_on": 2, "nearest_block_to_gaze": 3, "holding_block": 2, "narration": 19}


def train_supervised(train: dict[str, np.ndarray], spec: EncoderSpec, *, steps: int, batch: int = 128,
                     lr: float = 1e-3, seed: int = 0, crop_scale=(0.6, 1.0)) -> GlimpseEncoder:
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    rng = np.random.default_rng(seed)
    encoder = GlimpseEncoder(spec)
    f = spec.feature_dim
    heads = nn.ModuleDict({name: nn.Linear(4 * f if name == "narration" else 2 * f, k) for name, k in HEADS.items()})
    heads["drawer_opening"] = nn.Linear(2 * f, 1)
    heads["block_position_bins"] = nn.Linear(2 * f, 27)
    opt = torch.optim.AdamW([*encoder.parameters(), *heads.parameters()], lr=lr, weight_decay=1e-4)
    n = len(train["fovea"])
    targets = {k: torch.from_numpy(np.asarray(train[k])) for k in [*HEADS, "drawer_opening", "block_position_bins"]}
    encoder.train()
    for step in range(steps):
        idx = rng.integers(n, size=batch)

        def enc(key: str) -> torch.Tensor:
            return encoder(augment(torch.from_numpy(train[key][idx]), crop_scale=crop_scale, colour=False,
                                   colour_strength=0.0, gen=gen))

        static = torch.cat([enc("fovea"), enc("periphery")], dim=1)
        before = torch.cat([enc("fovea_lag"), enc("periphery_lag")], dim=1)
        temporal = torch.cat([static, static - before], dim=1)
        loss = 0.0
        for name in HEADS:
            logits = heads[name](temporal if name == "narration" else static)
            loss = loss + F.cross_entropy(logits, targets[name][idx])
        loss = loss + 100.0 * F.mse_loss(heads["drawer_opening"](static).squeeze(1),
                                         targets["drawer_opening"][idx].float())
        bins = heads["block_position_bins"](static).view(-1, 3, 9)
        loss = loss + F.cross_entropy(bins.reshape(-1, 9), targets["block_position_bins"][idx].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(encoder.parameters(), 5.0)
        opt.step()
        if (step + 1) % 100 == 0:
            log.info("supervised step %d loss %.3f", step + 1, loss.item())
    return encoder.eval()
