"""Settings of one desk environment (importable without the simulator)."""

from __future__ import annotations

from dataclasses import dataclass

from envs.tasks import Task

OBS_MODES = ("glimpse", "state", "frame")
MAX_IMAGE_SIZE = 1024  # pixels per side: larger renders take seconds a step and gigabytes a chunk


@dataclass
class DeskConfig:
    """Settings of one desk environment. Defaults are the shipped agent's."""

    task: str | None = None  # e.g. "open_drawer" or "lift_block:red"; None: a random offered task per episode
    obs_mode: str = "glimpse"  # glimpse (fovea + periphery), state (privileged vector) or frame (full camera image)
    active_gaze: bool = False  # add a gaze action (x, y, zoom) to the arm action
    include_frame: bool = False  # also return the full-frame camera image
    include_state: bool = False  # also return the privileged state (expert, probes and evaluation only)
    fovea_size: int = 32  # pixels per side of the foveal glimpse
    periphery_size: int = 32  # pixels per side of the coarse peripheral view
    frame_size: int = 84  # pixels per side of the full frame
    # Render the peripheral view every this many control steps and repeat the last one in between:
    # fewer pixels per decision (the periphery changes slowly; the fovea is rendered every step).
    periphery_every: int = 1
    max_episode_steps: int = 150
    max_step: float = 0.03  # metres of end-effector motion per unit action per control step
    substeps: int = 5  # physics steps of 1/120 s per control step (24 Hz control)
    terminate_on_success: bool = True

    def __post_init__(self) -> None:
        if self.obs_mode not in OBS_MODES:
            raise ValueError(f"obs_mode must be one of {OBS_MODES}, got {self.obs_mode!r}")
        if self.task is not None:
            Task.parse(self.task)  # raises with the list of known tasks
        for name in ("fovea_size", "periphery_size", "frame_size", "max_episode_steps", "substeps", "periphery_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        for name in ("fovea_size", "periphery_size", "frame_size"):
            if getattr(self, name) > MAX_IMAGE_SIZE:
                raise ValueError(f"{name} must be at most {MAX_IMAGE_SIZE} pixels, got {getattr(self, name)}")
        if self.substeps > 1000:
            raise ValueError(f"substeps must be at most 1000, got {self.substeps}")
        if not 0.0 < self.max_step <= 0.1:
            raise ValueError(f"max_step must be in (0, 0.1] metres, got {self.max_step}")
