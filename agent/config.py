"""Typed run configuration, loaded from YAML.

A config file maps onto nested dataclasses. An unknown key or a value of the wrong
type is an error that names the key and the file; every run writes the resolved
config next to its outputs.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from envs.desk_env import DeskConfig


class ConfigError(ValueError):
    """A bad config file or override; the message names the key and the file."""


@dataclass
class DemoConfig:
    fps: int = 24  # video frame rate; one frame per control step
    width: int = 480  # pixels of the rendered video
    height: int = 360
    max_steps: int = 150  # the demo stops here if the task is not done
    tail_steps: int = 12  # steps recorded after success so that the end is visible

    def __post_init__(self) -> None:
        for name in ("fps", "width", "height", "max_steps"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be positive")
        if self.width % 8 or self.height % 8:
            raise ValueError("width and height must be multiples of 8 (video codecs need it)")


@dataclass
class BenchConfig:
    state_steps: int = 3000  # steps per state-only measurement
    render_steps: int = 400  # steps per rendered measurement (ours)
    baseline_render_steps: int = 60  # steps per rendered measurement of the slow baseline
    rounds: int = 2  # measurements alternate cores each round; the median is reported
    memory_steps: int = 100_000  # steps of the leak check (glimpse observations, with resets)

    def __post_init__(self) -> None:
        for f in fields(self):
            if getattr(self, f.name) < 1:
                raise ValueError(f"{f.name} must be positive")


@dataclass
class ExpertEvalConfig:
    episodes: int = 100  # seeds per task
    seed: int = 0  # first seed

    def __post_init__(self) -> None:
        if self.episodes < 1:
            raise ValueError("episodes must be positive")


@dataclass
class RunConfig:
    seed: int = 0  # seeds everything: layouts, sampling, training
    run_dir: str = "runs/default"  # where stages write their outputs
    env: DeskConfig = field(default_factory=DeskConfig)
    demo: DemoConfig = field(default_factory=DemoConfig)
    bench: BenchConfig = field(default_factory=BenchConfig)
    expert_eval: ExpertEvalConfig = field(default_factory=ExpertEvalConfig)


def _check_type(value: Any, annotation: Any, key: str) -> Any:
    """Return value converted to the annotated type, or raise naming the key."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(annotation)
        if value is None and type(None) in options:
            return None
        errors = []
        for option in options:
            if option is type(None):
                continue
            try:
                return _check_type(value, option, key)
            except ConfigError as e:
                errors.append(str(e))
        raise ConfigError(errors[0] if errors else f"{key}: bad value {value!r}")
    if dataclasses.is_dataclass(annotation):
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a mapping of settings, got {type(value).__name__}")
        return _build(annotation, value, key)
    if annotation is bool:
        if isinstance(value, bool):
            return value
    elif annotation is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif annotation is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif annotation is str:
        if isinstance(value, str):
            return value
    else:
        raise ConfigError(f"{key}: unsupported type {annotation}")
    raise ConfigError(f"{key}: expected {annotation.__name__}, got {type(value).__name__} {value!r}")


def _build(cls: type, data: dict, prefix: str = "") -> Any:
    hints = typing.get_type_hints(cls)
    known = {f.name for f in fields(cls)}
    for key in data:
        if key not in known:
            path = f"{prefix}.{key}" if prefix else str(key)
            raise ConfigError(f"unknown key {path!r}; known keys here: {', '.join(sorted(known))}")
    kwargs = {}
    for name, value in data.items():
        path = f"{prefix}.{name}" if prefix else name
        kwargs[name] = _check_type(value, hints[name], path)
    try:
        return cls(**kwargs)
    except (ValueError, TypeError) as e:
        raise ConfigError(f"{prefix or 'config'}: {e}") from None


def _apply_override(data: dict, override: str) -> None:
    """'env.fovea_size=48' -> data['env']['fovea_size'] = 48 (the value is parsed as YAML)."""
    key, sep, raw = override.partition("=")
    if not sep or not key:
        raise ConfigError(f"override {override!r} must look like key.sub=value")
    parts = key.split(".")
    node = data
    for part in parts[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ConfigError(f"override {override!r}: {part!r} is not a section")
    node[parts[-1]] = yaml.safe_load(raw)


def load_config(path: str | Path | None = None, overrides: list[str] | tuple[str, ...] = ()) -> RunConfig:
    """Load a YAML config (None: all defaults) and apply 'key=value' overrides."""
    data: dict = {}
    source = "defaults"
    if path is not None:
        source = str(path)
        try:
            text = Path(path).read_text()
        except FileNotFoundError:
            raise ConfigError(f"config file not found: {path}") from None
        try:
            data = yaml.safe_load(text) or {}
        except yaml.YAMLError as e:
            raise ConfigError(f"{path}: not valid YAML: {e}") from None
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: the top level must be a mapping of settings")
    try:
        for override in overrides:
            _apply_override(data, override)
        return _build(RunConfig, data)
    except ConfigError as e:
        raise ConfigError(f"{source}: {e}") from None


def config_to_dict(config: Any) -> dict:
    return asdict(config)


def save_config(config: Any, path: str | Path) -> Path:
    """Write the resolved config as YAML."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config_to_dict(config), sort_keys=False))
    return path
