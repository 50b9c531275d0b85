"""Training checkpoints: step folders with safetensors tensors and a JSON state, and a `latest` pointer.

    STAGE/checkpoints/step_000500/tensors.safetensors   model, optimizer and RNG tensors
    STAGE/checkpoints/step_000500/state.json            step, optimizer hyperparameters, RNG and stream state
    STAGE/checkpoints/latest                            the name of the newest complete step folder

A step folder is written under a temporary name and renamed, and `latest` is
replaced atomically, so an interruption at any moment leaves a loadable checkpoint.
Nothing is unpickled.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file

from agent.weights import WeightsError, load_safetensors


def flatten_optimizer(opt: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict]:
    sd = opt.state_dict()
    tensors, scalars = {}, {}
    for idx, state in sd["state"].items():
        for name, value in state.items():
            if isinstance(value, torch.Tensor):
                tensors[f"opt.{idx}.{name}"] = value.detach().cpu().contiguous()
            else:
                scalars[f"{idx}.{name}"] = value
    return tensors, {"param_groups": sd["param_groups"], "scalars": scalars}


def restore_optimizer(opt: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], meta: dict) -> None:
    state: dict[int, dict[str, Any]] = {}
    for key, value in tensors.items():
        if key.startswith("opt."):
            _, idx, name = key.split(".", 2)
            state.setdefault(int(idx), {})[name] = value
    for key, value in meta["scalars"].items():
        idx, name = key.split(".", 1)
        state.setdefault(int(idx), {})[name] = value
    opt.load_state_dict({"state": state, "param_groups": meta["param_groups"]})


def save_checkpoint(folder: Path, step: int, modules: dict[str, torch.nn.Module], opt: torch.optim.Optimizer,
                    torch_gen: torch.Generator, state: dict) -> Path:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    name = f"step_{step:06d}"
    tmp = folder / (name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    tensors, seen = {}, set()
    for m, mod in modules.items():
        for k, v in mod.state_dict().items():
            v = v.detach().cpu().contiguous()
            # Tied weights (GPT-2's input and output embeddings) share storage, which safetensors
            # refuses; a copy of the second one loads back into the same tied parameter.
            if v.data_ptr() in seen:
                v = v.clone()
            seen.add(v.data_ptr())
            tensors[f"{m}.{k}"] = v
    opt_tensors, opt_meta = flatten_optimizer(opt)
    tensors.update(opt_tensors)
    tensors["rng.torch"] = torch_gen.get_state()
    tensors["rng.torch_global"] = torch.get_rng_state()
    save_file(tensors, str(tmp / "tensors.safetensors"))
    (tmp / "state.json").write_text(json.dumps({"step": step, "optimizer": opt_meta, **state}))
    final = folder / name
    shutil.rmtree(final, ignore_errors=True)
    tmp.rename(final)
    pointer = folder / "latest.tmp"
    pointer.write_text(name)
    os.replace(pointer, folder / "latest")
    return final


def latest_checkpoint(folder: Path) -> Path | None:
    pointer = Path(folder) / "latest"
    if not pointer.exists():
        return None
    path = Path(folder) / pointer.read_text().strip()
    if not (path / "state.json").exists():
        raise WeightsError(f"{pointer}: points to {path.name}, which is missing or incomplete")
    return path


def load_checkpoint(path: Path, modules: dict[str, torch.nn.Module], opt: torch.optim.Optimizer,
                    torch_gen: torch.Generator) -> dict:
    tensors = load_safetensors(path / "tensors.safetensors")
    try:
        state = json.loads((path / "state.json").read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise WeightsError(f"{path / 'state.json'}: unreadable checkpoint state ({e})") from None
    for m, mod in modules.items():
        prefix = m + "."
        sub = {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}
        try:
            mod.load_state_dict(sub)
        except RuntimeError as e:
            raise WeightsError(f"{path}: checkpoint does not fit the {m!r} model ({e}); "
                               "was it made with other settings?") from None
    restore_optimizer(opt, tensors, state["optimizer"])
    torch_gen.set_state(tensors["rng.torch"])
    torch.set_rng_state(tensors["rng.torch_global"])
    return state


class GracefulInterrupt:
    """Defer Ctrl-C (SIGINT) and SIGTERM to the end of the training step in flight.

    The first signal sets `requested`; the loop checkpoints at the next step boundary
    (where model, optimizer and random state agree) and stops. A second signal stops at
    once. Outside the main thread signals cannot be caught, and this does nothing.
    """

    def __init__(self) -> None:
        self.requested = False
        self._previous: dict = {}

    def _handle(self, signum, frame) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __enter__(self) -> GracefulInterrupt:
        import signal
        import threading

        if threading.current_thread() is threading.main_thread():
            self._previous = {s: signal.signal(s, self._handle) for s in (signal.SIGINT, signal.SIGTERM)}
        return self

    def __exit__(self, *exc) -> None:
        import signal

        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
