"""The desk as a Gymnasium environment: composes the sim, the robot, the scene, the eye and a task."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from envs.eye import Eye, Gaze
from envs.robot import FINGER_JOINTS, PROPRIO_SIZE, Panda
from envs.scene import Scene, SceneState, sample_layout
from envs.sim import Sim
from envs.config import DeskConfig
from envs.state_fields import STATE_SIZE
from envs.tasks import ALL_TASKS, Task, is_success, offered_tasks, one_hot


class DeskEnv(gym.Env):
    metadata = {"render_modes": ["human", "rgb_array"], "render_fps": 24}

    def __init__(self, config: DeskConfig | None = None, render_mode: str | None = None, **overrides: Any):
        config = config or DeskConfig()
        if overrides:
            config = DeskConfig(**{**config.__dict__, **overrides})
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be one of {self.metadata['render_modes']}, got {render_mode!r}")
        self.config = config
        self.render_mode = render_mode
        self.fixed_task = Task.parse(config.task) if config.task else None
        if render_mode == "human":
            from envs.display import check_display

            check_display()  # before PyBullet, which would end the process without a display
        self.sim = Sim(gui=render_mode == "human", substeps=config.substeps)
        self.robot = Panda(self.sim, max_step=config.max_step)
        self.scene = Scene(self.sim)
        self.eye = Eye(self.sim, fovea_size=config.fovea_size, periphery_size=config.periphery_size,
                       frame_size=config.frame_size)
        self._initial_state = self.sim.save_state()
        self.render_size = (320, 240)

        arm = 4
        self.action_space = spaces.Box(-1.0, 1.0, (arm + 3 if config.active_gaze else arm,), np.float32)
        obs: dict[str, spaces.Space] = {
            "proprio": spaces.Box(-10.0, 10.0, (PROPRIO_SIZE,), np.float32),
            "task": spaces.Box(0.0, 1.0, (len(ALL_TASKS),), np.float32),
        }
        if config.obs_mode == "glimpse":
            obs["gaze"] = spaces.Box(-1.0, 1.0, (3,), np.float32)
            obs["fovea"] = spaces.Box(0, 255, (config.fovea_size, config.fovea_size, 3), np.uint8)
            obs["periphery"] = spaces.Box(0, 255, (config.periphery_size, config.periphery_size, 3), np.uint8)
        if config.obs_mode == "frame" or config.include_frame:
            obs["frame"] = spaces.Box(0, 255, (config.frame_size, config.frame_size, 3), np.uint8)
        if config.obs_mode == "state" or config.include_state:
            obs["state"] = spaces.Box(-10.0, 10.0, (STATE_SIZE,), np.float32)
        self.observation_space = spaces.Dict(obs)

        self.task: Task | None = None
        self.gaze = Gaze()
        self.start_state: SceneState | None = None
        self.steps = 0
        self._periphery: np.ndarray | None = None  # the last peripheral view (DeskConfig.periphery_every)

    # --- gymnasium API -----------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict | None = None):
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0):
            raise ValueError(f"seed must be a non-negative integer or None, got {seed!r}")
        options = self._check_options(options)
        super().reset(seed=seed)
        # Restoring the state saved at construction makes an episode independent of
        # the episodes before it: same seed, same episode, in a fresh env or a used one.
        self.sim.restore_state(self._initial_state)
        requested = options.get("task", self.fixed_task)
        requested = Task.parse(requested) if isinstance(requested, str) else requested
        for _ in range(100):
            layout = sample_layout(self.np_random)
            self.robot.reset()
            self.scene.reset(layout)
            self.sim.step()  # let blocks settle so that contacts are known
            self.start_state = self.state()
            offered = offered_tasks(self.start_state)
            if requested is None and offered:
                self.task = offered[int(self.np_random.integers(len(offered)))]
                break
            if requested is not None and requested in offered:
                self.task = requested
                break
        else:
            raise RuntimeError(f"no layout in 100 tries offers task {requested}")
        self.gaze = Gaze.from_array(options["gaze"]) if "gaze" in options else Gaze()
        self.steps = 0
        self._periphery = None
        self.layout = layout
        return self._obs(), self._info(success=False)

    def step(self, action):
        action = self._check_action(action)
        if self.config.active_gaze:
            self.gaze = Gaze.from_array(action[4:7])
        self.robot.apply_action(action[:4])
        self.sim.step()
        self.scene.after_step()
        self.steps += 1
        now = self.state()
        success = is_success(self.task, self.start_state, now)
        error = self.scene.blow_up()
        terminated = success and self.config.terminate_on_success
        truncated = self.steps >= self.config.max_episode_steps or error is not None
        info = self._info(success=success)
        if error is not None:
            info["error"] = error
        reward = 1.0 if success else 0.0
        return self._obs(), reward, terminated, truncated, info

    def render(self):
        if self.render_mode == "rgb_array":
            w, h = self.render_size
            return self.eye.render(self.eye.frame_camera(w, h))
        return None

    def close(self) -> None:
        self.sim.close()

    # --- helpers -----------------------------------------------------------
    RESET_OPTIONS = ("task", "gaze")

    def _check_options(self, options) -> dict:
        """Reset options, checked before anything changes: a bad gaze would otherwise give an
        observation outside the observation space (an all-white fovea), not an error."""
        if options is None:
            return {}
        if not isinstance(options, dict):
            raise ValueError(f"options must be a dict with keys from {self.RESET_OPTIONS}, got {type(options).__name__}")
        unknown = sorted(str(k) for k in options if k not in self.RESET_OPTIONS)
        if unknown:
            raise ValueError(f"unknown reset option(s) {unknown}; known: {list(self.RESET_OPTIONS)}")
        task = options.get("task")
        if task is not None and not isinstance(task, (str, Task)):
            raise ValueError(f"option task must be a task name such as 'open_drawer', got {task!r}")
        if "gaze" in options:
            try:
                gaze = np.asarray(options["gaze"], dtype=np.float64)
            except (TypeError, ValueError):
                raise ValueError(f"option gaze must be 3 numbers (x, y, zoom), got {options['gaze']!r}") from None
            if gaze.shape != (3,):
                raise ValueError(f"option gaze must have shape (3,) (x, y, zoom), got {gaze.shape}")
            if not np.all(np.isfinite(gaze)):
                raise ValueError(f"option gaze contains NaN or infinity: {gaze.tolist()}")
            if np.any(np.abs(gaze) > 1.0 + 1e-6):
                raise ValueError(f"option gaze out of range [-1, 1] (x, y, zoom): {gaze.tolist()}")
            options = {**options, "gaze": np.clip(gaze, -1.0, 1.0)}
        return options

    def _check_action(self, action) -> np.ndarray:
        a = np.asarray(action, dtype=np.float64)
        if a.shape != self.action_space.shape:
            raise ValueError(f"action must have shape {self.action_space.shape}, got {a.shape}")
        if not np.all(np.isfinite(a)):
            raise ValueError(f"action contains NaN or infinity: {a.tolist()}")
        bad = np.flatnonzero(np.abs(a) > 1.0 + 1e-6)
        if bad.size:
            raise ValueError(f"action out of range [-1, 1] at index {bad.tolist()}: {a.tolist()}")
        return np.clip(a, -1.0, 1.0)

    def state(self) -> SceneState:
        return self.scene.state(self.robot.body, FINGER_JOINTS)

    def privileged(self) -> dict[str, Any]:
        """The privileged state as a dict, for the scripted expert and evaluation only."""
        return {
            "drawer": self.scene.drawer_opening(),
            "handle": self.scene.handle_position(),
            "button_depth": self.scene.button_depth(),
            "lamp_on": self.scene.lamp_on,
            "blocks": {c: self.scene.block_pose(c)[0] for c in self.scene.blocks},
            "ee": self.robot.ee_position(),
            "finger_width": self.robot.finger_width(),
            "scene": self.state(),
        }

    def _obs(self) -> dict[str, np.ndarray]:
        cfg = self.config
        proprio = self.robot.proprioception()
        obs = {"proprio": np.clip(proprio, -10, 10), "task": one_hot(self.task)}
        if cfg.obs_mode == "glimpse":
            obs["gaze"] = self.gaze.as_array()
            obs["fovea"] = self.eye.render(self.eye.fovea_camera(self.gaze))
            if self.steps % cfg.periphery_every == 0 or self._periphery is None:
                self._periphery = self.eye.render(self.eye.periphery_camera(self.gaze))
            obs["periphery"] = self._periphery
        if "frame" in self.observation_space.spaces:
            obs["frame"] = self.eye.render(self.eye.frame_camera())
        if "state" in self.observation_space.spaces:
            obs["state"] = np.clip(np.concatenate([self.scene.state_vector(), proprio]), -10, 10).astype(np.float32)
        return obs

    def _info(self, *, success: bool) -> dict[str, Any]:
        return {"task": self.task.name if self.task else None, "is_success": success}

    def begin_task(self, task: Task | str) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """Start a new task in the scene as it is now, without a reset (chains of commands, as in
        CALVIN): success is judged against the state at this moment. A task the scene cannot
        carry out now raises ValueError saying why, and nothing changes."""
        from envs.tasks import why_not_offered

        task = Task.parse(task) if isinstance(task, str) else task
        now = self.state()
        reason = why_not_offered(task, now)
        if reason is not None:
            raise ValueError(reason)
        self.task, self.start_state, self.steps = task, now, 0
        return self._obs(), self._info(success=False)

    # --- save and restore (e.g. for search or tests) -------------------------
    def save_state(self) -> dict[str, Any]:
        return {
            "bullet": self.sim.save_state(),
            "switch": self.scene.save_switch(),
            "gaze": self.gaze,
            "steps": self.steps,
            "task": self.task,
            "start_state": self.start_state,
        }

    def restore_state(self, saved: dict[str, Any]) -> None:
        self.sim.restore_state(saved["bullet"])
        self.scene.restore_switch(saved["switch"])
        self.gaze, self.steps = saved["gaze"], saved["steps"]
        self.task, self.start_state = saved["task"], saved["start_state"]

    def remove_state(self, saved: dict[str, Any]) -> None:
        self.sim.remove_state(saved["bullet"])
