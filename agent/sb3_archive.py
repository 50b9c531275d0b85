"""Stable-baselines3 PPO checkpoints, saved and read without pickled objects.

SB3's own `PPO.load` unpickles the archive's "data" entry (cloudpickle), so a run folder someone
hands you could run code on your machine. Here a model is always built from our own config, as
for a fresh run, and only tensors are read from an archive: its `policy.pth` and
`policy.optimizer.pth` entries, through `torch.load(weights_only=True)`, which refuses anything but
tensors and plain containers. What a resume needs beyond the tensors (the step count, the episode
statistics) is kept in a JSON sidecar beside each checkpoint (`ppo_N_steps.json`), never taken from
the archive. The archives written here hold only those tensor entries (no "data" at all), so SB3's
`PPO.load` cannot read them either; nothing in saccade calls it.

    model = PPO(...)                          # exactly as for a fresh run
    restore_checkpoint(model, latest)         # tensors + sidecar: a resume
    load_parameters(model, cached_zip)        # tensors only: a model to evaluate
    save_checkpoint(model, folder / "ppo_64_steps")
"""

from __future__ import annotations

import io
import json
import os
import re
import stat
import tempfile
import zipfile
from collections import deque
from pathlib import Path

from agent.weights import WeightsError

SIDECAR_KIND = "saccade.ppo-checkpoint"
MAX_ENTRY_BYTES = 1 << 30  # a PPO of ours is a few MB; a larger entry is not ours (or a zip bomb)
_STEPS = re.compile(r"_(\d+)_steps\.zip$")


class ArchiveError(WeightsError):
    """A PPO archive or its sidecar that cannot be used; the message names the file (one line)."""


def _short(e: BaseException) -> str:
    """An exception as a few words on one line (torch's unpickling errors run to a page)."""
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0][:160]}" if text else type(e).__name__


def _regular_file(path: Path, what: str) -> None:
    """Refuse a missing path, a folder, a FIFO (which would block the read) or a device."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise ArchiveError(f"{path}: {what} not found") from None
    except OSError as e:
        raise ArchiveError(f"{path}: cannot read the {what} ({e.strerror or e})") from None
    if not stat.S_ISREG(mode):
        raise ArchiveError(f"{path}: the {what} is not a regular file")


def _atomic_write(path: Path, write) -> None:
    """write(file) into a new temporary file beside path, then rename it into place: an interrupted
    save leaves the previous file or none, and an existing link at path is replaced, not followed."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# --- tensors -----------------------------------------------------------------------------------------

def save_parameters(model, path: str | Path) -> Path:
    """The model's state dicts (policy, optimizer) as `NAME.pth` entries of a zip archive; nothing else."""
    import torch

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    params = model.get_parameters()

    def write(f) -> None:
        with zipfile.ZipFile(f, "w") as archive:
            for name, state in params.items():
                with archive.open(f"{name}.pth", "w", force_zip64=True) as entry:
                    torch.save(state, entry)

    _atomic_write(path, write)
    return path


def read_tensors(path: str | Path, names: list[str], device="cpu") -> dict:
    """The state dicts `names` from the archive at path, read with torch.load(weights_only=True)."""
    import torch

    path = Path(path)
    _regular_file(path, "PPO archive")
    out = {}
    try:
        with zipfile.ZipFile(path) as archive:
            for name in names:
                try:
                    info = archive.getinfo(f"{name}.pth")
                except KeyError:
                    raise ArchiveError(f"{path}: no {name}.pth in the archive (not a PPO checkpoint of saccade's)") from None
                if info.file_size > MAX_ENTRY_BYTES:
                    raise ArchiveError(f"{path}: {name}.pth claims {info.file_size} bytes, more than a PPO of ours holds")
                # weights_only: tensors and plain containers only; a pickled object is refused, not built
                out[name] = torch.load(io.BytesIO(archive.read(info)), map_location=device, weights_only=True)
    except ArchiveError:
        raise
    except Exception as e:  # a bad zip, a truncated entry, a pickle that is not plain tensors
        raise ArchiveError(f"{path}: not a readable PPO archive ({_short(e)})") from None
    return out


def load_parameters(model, path: str | Path) -> None:
    """Put the archive's tensors into `model` (built from our config); refused if they do not fit."""
    names = list(model._get_torch_save_params()[0])  # SB3's own list: ["policy", "policy.optimizer"]
    params = read_tensors(path, names, model.device)
    try:
        model.set_parameters(params, exact_match=True, device=model.device)
    except Exception as e:  # shapes or names of another network, an optimizer state of another kind
        raise ArchiveError(f"{path}: its tensors do not fit the PPO this config builds ({_short(e)}); "
                           "was it made with other settings?") from None


# --- checkpoints: tensors + a JSON sidecar -------------------------------------------------------------

def sidecar_of(path: str | Path) -> Path:
    return Path(path).with_suffix(".json")


def save_checkpoint(model, path: str | Path) -> Path:
    """path.zip (tensors) then path.json (the step count and episode statistics a resume needs)."""
    archive = save_parameters(model, Path(path).with_suffix(".zip"))
    info = [{"r": float(e["r"]), "l": int(e["l"]), "t": float(e["t"])} for e in (model.ep_info_buffer or [])]
    state = {"kind": SIDECAR_KIND, "archive": archive.name, "num_timesteps": int(model.num_timesteps),
             "n_updates": int(model._n_updates), "episode_num": int(model._episode_num),
             "ep_info_buffer": info, "ep_success_buffer": [bool(x) for x in (model.ep_success_buffer or [])]}
    _atomic_write(sidecar_of(archive), lambda f: f.write(json.dumps(state, indent=1).encode()))
    return archive


def _int(side: Path, state: dict, key: str) -> int:
    value = state.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2 ** 62:
        raise ArchiveError(f"{side}: {key} must be a non-negative integer, got {value!r}")
    return value


def read_sidecar(archive: str | Path) -> dict:
    """The sidecar of a checkpoint, every value checked. An archive without one (made before
    sidecars) is described by the step count in its name, `ppo_N_steps.zip`, as SB3 named it."""
    archive = Path(archive)
    side = sidecar_of(archive)
    named = _STEPS.search(archive.name)
    if not os.path.lexists(side):
        if named is None:
            raise ArchiveError(f"{archive}: no {side.name} beside it, and no step count in its name")
        return {"num_timesteps": int(named.group(1)), "ep_info_buffer": [], "ep_success_buffer": []}
    _regular_file(side, "checkpoint sidecar")
    if os.stat(side).st_size > 1 << 20:
        raise ArchiveError(f"{side}: larger than a checkpoint sidecar can be")
    try:
        state = json.loads(side.read_bytes())
    except (ValueError, UnicodeDecodeError) as e:
        raise ArchiveError(f"{side}: not valid JSON ({_short(e)})") from None
    if not isinstance(state, dict) or state.get("kind") != SIDECAR_KIND:
        raise ArchiveError(f"{side}: not a saccade PPO checkpoint sidecar")
    steps = _int(side, state, "num_timesteps")
    if named is not None and steps != int(named.group(1)):
        raise ArchiveError(f"{side}: says {steps} steps, but its archive is {archive.name}")
    out = {"num_timesteps": steps, "n_updates": _int(side, state, "n_updates"),
           "episode_num": _int(side, state, "episode_num")}
    info, success = state.get("ep_info_buffer"), state.get("ep_success_buffer")
    if not isinstance(info, list) or not isinstance(success, list) or len(info) > 10_000 or len(success) > 10_000:
        raise ArchiveError(f"{side}: ep_info_buffer and ep_success_buffer must be lists")
    number = (int, float)
    if not all(isinstance(e, dict) and set(e) == {"r", "l", "t"} and all(
            isinstance(e[k], number) and not isinstance(e[k], bool) for k in "rlt") for e in info):
        raise ArchiveError(f"{side}: ep_info_buffer entries must be {{r, l, t}} numbers")
    if not all(isinstance(x, bool) for x in success):
        raise ArchiveError(f"{side}: ep_success_buffer entries must be true or false")
    out["ep_info_buffer"], out["ep_success_buffer"] = info, success
    return out


def restore_checkpoint(model, archive: str | Path) -> None:
    """Resume `model` (built from our config, as for a fresh run) from a checkpoint: its tensors and
    its sidecar; then learn(..., reset_num_timesteps=False) continues the count."""
    state = read_sidecar(archive)
    load_parameters(model, archive)
    model.num_timesteps = state["num_timesteps"]
    model._n_updates = state.get("n_updates", 0)
    model._episode_num = state.get("episode_num", 0)
    window = model._stats_window_size
    model.ep_info_buffer = deque(state["ep_info_buffer"], maxlen=window)
    model.ep_success_buffer = deque(state["ep_success_buffer"], maxlen=window)


def checkpoint_callback(every: int, folder: str | Path, prefix: str = "ppo"):
    """SB3's CheckpointCallback, writing our checkpoints (tensors + sidecar) every `every` calls."""
    from stable_baselines3.common.callbacks import BaseCallback

    class Checkpoints(BaseCallback):
        def _on_step(self) -> bool:
            if self.n_calls % every == 0:
                save_checkpoint(self.model, Path(folder) / f"{prefix}_{self.num_timesteps}_steps")
            return True

    return Checkpoints()
