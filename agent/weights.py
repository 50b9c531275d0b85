"""Saved models: safetensors weights beside a JSON config. Nothing is ever unpickled.

Every model folder holds NAME.json ({"kind": ..., "spec": {...}, ...}) and
NAME.safetensors; these helpers read them and turn every way they can be wrong
(missing, truncated, foreign, for another model size) into a WeightsError that names
the file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # torch is imported where weights are read: `saccade --help` stays quick
    import torch


class WeightsError(ValueError):
    """A missing, truncated or foreign weights file; the message names it."""


def load_safetensors(path: str | Path) -> dict[str, torch.Tensor]:
    from agent.integrity import check_near

    # A byte flipped inside a tensor still parses; only the stage manifest's sha256 can tell.
    check_near(path)
    if Path(path).exists() and not Path(path).is_file():  # a FIFO would block the read, a device never end
        raise WeightsError(f"{path}: not a regular file")
    from safetensors.torch import load_file

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
    from agent.integrity import check_near

    check_near(cfg)
    for path in (cfg, folder / f"{name}.safetensors"):
        if not path.is_file():  # checked also without a manifest: a FIFO would block the read forever
            raise WeightsError(f"{path}: not a regular file (a folder, FIFO or device); run `{how_to_make}` again")
    try:
        config = json.loads(cfg.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise WeightsError(f"{cfg}: not valid JSON ({e})") from None
    if not isinstance(config, dict) or config.get("kind") != kind:
        found = config.get("kind") if isinstance(config, dict) else type(config).__name__
        raise WeightsError(f"{cfg}: not a saccade {name} config (kind={found!r})")
    return config


def make_spec(spec_class, config: dict, path: str | Path, how_to_make: str):
    """The model's spec from its saved JSON, every field present: a missing field is refused, not
    filled with today's default (which may not be what the weights were trained with)."""
    import dataclasses

    spec = config.get("spec")
    fields = {f.name for f in dataclasses.fields(spec_class)}
    if not isinstance(spec, dict):
        raise WeightsError(f"{path}: no model spec (\"spec\"); run `{how_to_make}` again")
    missing, unknown = sorted(fields - set(spec)), sorted(set(spec) - fields)
    if missing or unknown:
        what = "; ".join(x for x in (missing and f"missing {', '.join(missing)}",
                                      unknown and f"unknown {', '.join(unknown)}") if x)
        raise WeightsError(f"{path}: the model spec does not match this saccade's ({what}); run `{how_to_make}` again")
    for f in dataclasses.fields(spec_class):
        problem = _spec_value_problem(f, spec[f.name])
        if problem:
            raise WeightsError(f"{path}: spec value {f.name}={spec[f.name]!r} {problem}; run `{how_to_make}` again")
    try:
        return spec_class(**spec)
    except (TypeError, ValueError) as e:
        raise WeightsError(f"{path}: not a valid model spec ({e}); run `{how_to_make}` again") from None


MAX_SIZE = 1 << 14  # a width, count or size in a spec: ours are at most a few hundred; more would only exhaust memory


def _spec_value_problem(f, value) -> str | None:
    """What is wrong with one saved spec value, judged by the field's annotation and default (a size
    whose default is positive must be positive); None if it is fine or of a kind not checked here."""
    import dataclasses
    import math

    kind = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))
    kind = kind.replace(" ", "")
    default = f.default if f.default is not dataclasses.MISSING else (
        f.default_factory() if f.default_factory is not dataclasses.MISSING else None)

    def integer(v, low: int) -> str | None:
        if isinstance(v, bool) or not isinstance(v, int):
            return "is not an integer"
        return None if low <= v <= MAX_SIZE else f"is outside {low}..{MAX_SIZE}"

    def number(v, positive: bool) -> str | None:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            return "is not a finite number"
        return "is not positive" if positive and v <= 0 else None

    if kind == "int":
        return integer(value, 0 if default == 0 else 1)
    if kind == "float":
        return number(value, default is None or default > 0)
    if kind == "bool":
        return None if isinstance(value, bool) else "is not true or false"
    if kind == "str":
        return None if isinstance(value, str) else "is not a string"
    if kind in ("list[int]", "list[float]"):
        if not isinstance(value, list) or not value or len(value) > 64:
            return "is not a list of 1 to 64 numbers"
        check = (lambda v: integer(v, 1)) if kind == "list[int]" else (lambda v: number(v, True))
        return next((f"holds {v!r}, which {p}" for v in value if (p := check(v))), None)
    return None


class building:
    """Around building a model from a checked folder's spec: any error becomes a one-line
    WeightsError naming the file (a spec that parses yet does not make a model, say)."""

    def __init__(self, path: str | Path, how_to_make: str):
        self.path, self.how = path, how_to_make

    def __enter__(self):
        return self

    def __exit__(self, kind, value, tb):
        if kind is None or not issubclass(kind, Exception) or issubclass(kind, WeightsError):
            return False
        text = (str(value).strip().splitlines() or [""])[0][:160]
        raise WeightsError(f"{self.path}: cannot build the model it describes ({kind.__name__}: {text}); "
                           f"run `{self.how}` again") from None


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
