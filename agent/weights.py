"""Saved models: safetensors weights beside a JSON config. Nothing is ever unpickled.

Every model folder holds NAME.json ({"kind": ..., "spec": {...}, ...}) and
NAME.safetensors; these helpers read them and turn every way they can be wrong
(missing, truncated, foreign, for another model size) into a WeightsError that names
the file.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import load_file


class WeightsError(ValueError):
    """A missing, truncated or foreign weights file; the message names it."""


def load_safetensors(path: str | Path) -> dict[str, torch.Tensor]:
    try:
        return load_file(str(path))
    except FileNotFoundError:
        raise WeightsError(f"{path}: weights file not found") from None
    except Exception as e:  # safetensors raises its own error types for truncated or foreign files
        raise WeightsError(f"{path}: not a readable safetensors file ({type(e).__name__}: {e})") from None


def read_model_config(folder: str | Path, name: str, kind: str, how_to_make: str) -> dict:
    """The JSON config of the model NAME in folder, checked to be of the expected kind."""
    folder = Path(folder)
    cfg = folder / f"{name}.json"
    if not cfg.exists() or not (folder / f"{name}.safetensors").exists():
        raise WeightsError(f"{folder}: no {name} here ({name}.json + {name}.safetensors); run `{how_to_make}` first")
    try:
        config = json.loads(cfg.read_text())
    except json.JSONDecodeError as e:
        raise WeightsError(f"{cfg}: not valid JSON ({e})") from None
    if config.get("kind") != kind:
        raise WeightsError(f"{cfg}: not a saccade {name} config (kind={config.get('kind')!r})")
    return config


def load_weights(model: torch.nn.Module, path: str | Path) -> torch.nn.Module:
    """Load safetensors weights into a model built from its config; shared tensors are fine."""
    from safetensors.torch import load_model

    load_safetensors(path)  # names a missing, truncated or foreign file
    try:
        load_model(model, str(path))
    except RuntimeError as e:
        raise WeightsError(f"{path}: weights do not fit the model its config describes ({e})") from None
    return model.eval()


def save_model_files(folder: str | Path, name: str, module: torch.nn.Module, config: dict) -> Path:
    """Write NAME.safetensors and NAME.json atomically (temporary file, then rename): an interrupted
    save leaves the previous model or none, never half of one. Shared (tied) tensors are fine."""
    from safetensors.torch import save_model

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f"{name}.safetensors.tmp"
    save_model(module, str(tmp))
    tmp.replace(folder / f"{name}.safetensors")
    tmp = folder / f"{name}.json.tmp"
    tmp.write_text(json.dumps(config, indent=2))
    tmp.replace(folder / f"{name}.json")
    return folder
