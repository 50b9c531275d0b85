"""What every training stage shares: checkpoints and resume, TensorBoard, a progress bar,
a graceful Ctrl-C, and a metrics history."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from agent.checkpoint import GracefulInterrupt, latest_checkpoint, load_checkpoint, save_checkpoint


class TrainingRun:
    """
    with TrainingRun(...) as run:
        for step in range(run.start_step, total):
            ...one step...
            run.end_step(step + 1, {"loss": ...})
    run.finish()
    """

    def __init__(self, out_dir: Path, *, name: str, total_steps: int, modules: dict[str, torch.nn.Module],
                 optimizer: torch.optim.Optimizer, torch_gen: torch.Generator, rng: np.random.Generator,
                 buffer=None, resume: bool = False, progress: bool = False, log_every: int = 25,
                 checkpoint_every: int = 500):
        self.out_dir = Path(out_dir)
        self.name = name
        self.total = total_steps
        self.modules, self.optimizer, self.gen, self.rng, self.buffer = modules, optimizer, torch_gen, rng, buffer
        self.log_every, self.checkpoint_every = log_every, checkpoint_every
        self.ckpt_dir = self.out_dir / "checkpoints"
        self.start_step, self.history = 0, []
        if resume:
            last = latest_checkpoint(self.ckpt_dir)
            if last is not None:
                state = load_checkpoint(last, modules, optimizer, torch_gen)
                self.start_step, self.history = state["step"], state["history"]
                rng.bit_generator.state = state["numpy_rng"]
                if buffer is not None:
                    buffer.load_state(state["buffer"])
        elif self.ckpt_dir.exists() and any(self.ckpt_dir.iterdir()):
            raise FileExistsError(f"{self.out_dir} already holds a training run; pass --resume to continue it "
                                  "or choose another run folder")
        self.progress = progress
        self._samples = 0
        self._t_last = self._t_start = time.perf_counter()

    def __enter__(self) -> TrainingRun:
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(str(self.out_dir / "tb"), purge_step=self.start_step or None)
        self.bar = tqdm(total=self.total, initial=self.start_step, disable=not self.progress, desc=self.name,
                        unit="step")
        self.interrupt = GracefulInterrupt().__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self.interrupt.__exit__(*exc)
        self.bar.close()
        self.writer.close()

    def checkpoint(self, step: int) -> None:
        state = {"history": self.history, "numpy_rng": self.rng.bit_generator.state,
                 "buffer": self.buffer.state() if self.buffer is not None else None}
        save_checkpoint(self.ckpt_dir, step, self.modules, self.optimizer, self.gen, state)

    def end_step(self, done: int, scalars: dict[str, float], samples: int = 0) -> None:
        """Log every `log_every` steps; checkpoint on schedule, or now and stop if Ctrl-C was pressed."""
        self._samples += samples
        self.bar.update()
        if done % self.log_every == 0 or done == self.total:
            now = time.perf_counter()
            # non-finite values become null: metrics.json stays valid JSON
            row = {"step": done, **{k: (float(v) if np.isfinite(v) else None) for k, v in scalars.items()},
                   "samples_per_s": self._samples / max(now - self._t_last, 1e-9)}
            self._t_last, self._samples = now, 0
            self.history.append(row)
            for k, v in row.items():
                if k != "step" and v is not None:
                    self.writer.add_scalar(f"{self.name}/{k}", v, done)
            self.bar.set_postfix(loss=f"{row.get('loss') or float('nan'):.3f}")
        if self.interrupt.requested:
            self.checkpoint(done)
            raise KeyboardInterrupt
        if done % self.checkpoint_every == 0 and done < self.total:
            self.checkpoint(done)

    def finish(self) -> float:
        """Final checkpoint; returns the wall time of this invocation."""
        self.checkpoint(self.total)
        return round(time.perf_counter() - self._t_start, 1)
