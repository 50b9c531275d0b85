"""Behaviour cloning: the policy learns the expert's action (arm and gaze) from what it sees.

Each row of the demonstrations is paired, at every visit, with a training phrasing of its
task drawn at random: the policy learns that the ten wordings mean one thing, and the
validation wordings stay unseen. Loss: mean squared error on the seven action numbers, the gaze's
three weighted by `rl.gaze_loss_weight` (a normalised gaze unit is 30-40 cm of desk: unweighted, a
gaze a few centimetres off, enough to miss a grasp, costs almost nothing).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch

from agent.config import RunConfig
from agent.language.embedding import embed_texts
from agent.rl.policy import AgentPolicy, PolicySpec
from agent.training import TrainingRun
from envs.instructions import TRAIN, phrasings
from envs.tasks import ALL_TASKS


def training_commands() -> torch.Tensor:
    """(tasks, phrasings, 384): the MiniLM embedding of every training phrasing of every task."""
    n = len(next(iter(TRAIN.values())))
    return torch.stack([embed_texts(list(phrasings(t)[:n])) for t in ALL_TASKS])


def train_imitation(config: RunConfig, demos: dict[str, np.ndarray], out_dir: Path, *, policy: AgentPolicy | None = None,
                    resume: bool = False, progress: bool = False) -> tuple[AgentPolicy, dict]:
    """Fit (or, given `policy`, go on fitting) the policy on the demonstrations."""
    cfg = config.rl
    # Embed first: loading MiniLM (the first time in a process) draws from torch's global random
    # state, and the policy's initial weights must not depend on what ran before in the process.
    commands = training_commands()
    torch.manual_seed(config.seed)
    gen = torch.Generator().manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    feats = torch.from_numpy(demos["features"])
    prev = torch.from_numpy(demos["prev_action"])
    labels = torch.from_numpy(demos["label"])
    tasks = torch.from_numpy(demos["task"].astype(np.int64))
    if policy is None:
        encoder_dim = 0
        if cfg.hand_relative:
            from agent.perception.encoder import load_encoder
            from agent.runs import RunLayout

            encoder_dim = load_encoder(RunLayout(config.run_dir).encoder).spec.feature_dim
        policy = AgentPolicy(PolicySpec(feature_dim=feats.shape[1], hidden=list(cfg.hidden),
                                        prev_action=cfg.prev_action, hand_relative=cfg.hand_relative,
                                        encoder_dim=encoder_dim), cfg.capsule_memory)
        policy.fit_normaliser(demos["features"])
    # A few episodes held out to watch for overfitting (the rest train).
    episodes = np.unique(demos["episode"])
    n_held = len(episodes) // 20 if len(episodes) > 1 else 0
    held = set(rng.choice(episodes, size=max(1, n_held), replace=False).tolist()) if len(episodes) > 1 else set()
    is_val = np.isin(demos["episode"], list(held))
    train_rows, val_rows = np.flatnonzero(~is_val), np.flatnonzero(is_val)
    opt = torch.optim.AdamW(policy.parameters(), lr=cfg.bc_lr, weight_decay=1e-4)
    weights = torch.ones(labels.shape[1])
    weights[4:] = cfg.gaze_loss_weight  # dx, dy, dz, gripper | gaze x, gaze y, zoom

    def loss_of(rows: np.ndarray) -> torch.Tensor:
        return (weights * (policy(batch_inputs(rows)) - labels[rows]) ** 2).mean()

    def batch_inputs(rows: np.ndarray) -> torch.Tensor:
        which = torch.randint(commands.shape[1], (len(rows),), generator=gen)
        return policy.inputs(feats[rows], prev[rows], commands[tasks[rows], which])

    run = TrainingRun(out_dir, name="imitation", total_steps=cfg.bc_steps, modules={"policy": policy}, optimizer=opt,
                      torch_gen=gen, rng=rng, resume=resume, progress=progress, log_every=100,
                      checkpoint_every=max(500, cfg.bc_steps // 4))
    policy.train()
    with run:
        for step in range(run.start_step, cfg.bc_steps):
            for group in opt.param_groups:  # cosine schedule, from the step alone: a resumed run agrees
                group["lr"] = cfg.bc_lr * 0.5 * (1 + math.cos(math.pi * step / cfg.bc_steps))
            rows = train_rows[rng.integers(len(train_rows), size=cfg.bc_batch_size)]
            loss = loss_of(rows)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            scalars = {"loss": loss.item()}
            if (step + 1) % run.log_every == 0 and len(val_rows):
                with torch.no_grad():
                    vrows = val_rows[: 4096]
                    scalars["val_loss"] = loss_of(vrows).item()
            run.end_step(step + 1, scalars, samples=len(rows))
    wall = run.finish()
    policy.eval()
    history = run.history
    return policy, {"steps": cfg.bc_steps, "rows": int(len(train_rows)), "wall_time_s": wall,
                    "final_loss": history[-1]["loss"] if history else None,
                    "final_val_loss": history[-1].get("val_loss") if history else None, "history": history}
