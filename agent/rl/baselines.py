"""Reference policies at the RL layer's environment-step budget: PPO from scratch, end to end on
84x84 full frames (stable-baselines3's CnnPolicy) and on the privileged state vector.

They answer "what does the same budget of environment steps buy without the frozen
perception and the demonstrations". Unlike the agent, they are told the task by the env's
one-hot (they have no language), and they are rewarded by the task's success only.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import gymnasium as gym
import numpy as np

from agent.config import RunConfig
from envs.tasks import ALL_TASKS

MODES = {"pixels": ("frame", "CnnPolicy"), "state": ("state", "MlpPolicy")}


class _Flat(gym.ObservationWrapper):
    """Dict observation -> what SB3's standard policies take: the frame (image) or one vector."""

    def __init__(self, env: gym.Env, mode: str):
        super().__init__(env)
        self.mode = mode
        spaces = env.observation_space.spaces
        if mode == "pixels":
            self.observation_space = spaces["frame"]
        else:
            n = sum(spaces[k].shape[0] for k in ("state", "task"))
            self.observation_space = gym.spaces.Box(-10.0, 10.0, (n,), np.float32)

    def observation(self, obs: dict):
        if self.mode == "pixels":
            return obs["frame"]
        return np.concatenate([obs["state"], obs["task"]]).astype(np.float32)


class _TaskChannel(gym.ObservationWrapper):
    """For pixels: the task one-hot painted as a row of the frame (CnnPolicy reads one image)."""

    def observation(self, obs: dict) -> dict:
        frame = obs["frame"].copy()
        row = np.repeat((obs["task"] * 255).astype(np.uint8), max(1, frame.shape[1] // len(ALL_TASKS)))
        frame[0, : len(row), :] = row[: frame.shape[1], None]
        return {**obs, "frame": frame}


def _make(config: RunConfig, mode: str):
    def make():
        import torch

        from stable_baselines3.common.monitor import Monitor

        from envs.desk_env import DeskEnv

        torch.set_num_threads(1)
        obs_mode = MODES[mode][0]
        env_config = replace(config.env, task=None, obs_mode=obs_mode, active_gaze=False,
                             max_episode_steps=config.rl.max_steps)
        env = DeskEnv(env_config)
        if mode == "pixels":
            env = _TaskChannel(env)
        return Monitor(_Flat(env, mode))
    return make


def new_baseline(config: RunConfig, mode: str, vec, tensorboard_log: str | None = None):
    """The baseline's PPO, untrained, for the environments vec: every trained one is built here."""
    from stable_baselines3 import PPO

    n_steps = config.rl.ppo_n_steps
    return PPO(MODES[mode][1], vec, n_steps=n_steps, batch_size=min(256, n_steps * vec.num_envs), seed=config.seed,
               device=config.device, tensorboard_log=tensorboard_log, verbose=0)


def load_baseline(config: RunConfig, mode: str, path: Path, device: str | None = None):
    """A baseline saved with agent.sb3_archive.save_parameters (or SB3's own save): built from the
    config, then only its tensors read (agent.sb3_archive: nothing in the archive is unpickled)."""
    from stable_baselines3.common.vec_env import DummyVecEnv

    from agent.sb3_archive import load_parameters

    vec = DummyVecEnv([_make(config, mode)])  # one desk, for the observation and action spaces
    try:
        model = new_baseline(replace(config, device=device or config.device), mode, vec)
    finally:
        vec.close()
    load_parameters(model, path)
    return model


def train_baseline(config: RunConfig, mode: str, out_dir: Path, steps: int) -> tuple[object, dict]:
    from stable_baselines3.common.vec_env import SubprocVecEnv

    n = config.rl.ppo_envs
    vec = SubprocVecEnv([_make(config, mode) for _ in range(n)], start_method="spawn")
    try:
        model = new_baseline(config, mode, vec, tensorboard_log=str(out_dir / "tb"))
        start = time.perf_counter()
        model.learn(steps, tb_log_name=f"ppo_{mode}")
        wall = time.perf_counter() - start
        success = [float(x) for x in model.ep_success_buffer]
    finally:
        vec.close()
    return model, {"env_steps": int(model.num_timesteps), "wall_time_s": round(wall, 1),
                   "training_success_rate_last_100": float(np.mean(success)) if success else None}


def evaluate_baseline(config: RunConfig, model, mode: str, episodes: int, seed_base: int) -> dict:
    env = _make(config, mode)()
    per_task = {}
    try:
        for task in config.rl.task_list():
            wins = 0
            for k in range(episodes):
                obs, _ = env.reset(seed=seed_base + k, options={"task": task})
                for _ in range(config.rl.max_steps):
                    action, _ = model.predict(obs, deterministic=True)
                    obs, _, terminated, truncated, info = env.step(action)
                    if terminated or truncated:
                        break
                wins += bool(info["is_success"])
            per_task[task.name] = wins / episodes
    finally:
        env.close()
    return {"success_mean": float(np.mean(list(per_task.values()))), "success_per_task": per_task,
            "episodes_per_task": episodes}
