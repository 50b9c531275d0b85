"""The desk as stable-baselines3 sees it in the thin RL layer: told a command, rewarded by the
learned language reward.

Each episode draws a task and one of its training phrasings. The observation is a plain
vector, computed once per step with perception frozen (agent.perception.features), by the
policy's own input function (agent.rl.policy.AgentPolicy.inputs): what the policy reads. The task
one-hot and the privileged state never appear in it.

Reward (RLConfig.reward):
- "learned": the change, from one step to the next, of the learned reward's score of the clip
  (first step, now) against the command, times learned_reward_scale. Rewarding the change (a
  potential-based shaping, Ng et al. 1999) rather than the level pays for progress, and an agent
  cannot collect it by standing still in a state that merely looks right;
- "success": 1 when the task's predicate first holds (the episode ends there);
- "both": the sum.
"""

from __future__ import annotations

from dataclasses import replace

import gymnasium as gym
import numpy as np
import torch

from agent.config import RunConfig
from agent.rl.demos import start_action
from agent.rl.imitation import training_commands
from agent.rl.policy import ACTION_DIM, AgentPolicy, PolicySpec
from agent.runs import RunLayout
from agent.seeds import PPO_SEED_BASE, PPO_SEEDS  # RL layouts: apart from demonstrations and evaluation
from envs.instructions import phrasings
from envs.tasks import ALL_TASKS, TASK_INDEX




class CommandEnv(gym.Env):
    metadata = {"render_modes": []}

    def __init__(self, config: RunConfig, spec: PolicySpec, feature_mean: np.ndarray, feature_std: np.ndarray):
        from agent.language.reward import load_reward
        from agent.perception.encoder import load_encoder
        from agent.perception.features import PerceptionFeatures
        from envs.desk_env import DeskEnv

        torch.set_num_threads(1)  # one process per core
        self.cfg = config.rl
        run = RunLayout(config.run_dir)
        self.perception = PerceptionFeatures(load_encoder(run.encoder))
        self.reward_model = load_reward(run.reward) if self.cfg.reward != "success" else None
        env_config = replace(config.env, task=None, obs_mode="glimpse", active_gaze=True, terminate_on_success=True,
                             max_episode_steps=self.cfg.max_steps)
        self.desk = DeskEnv(env_config)
        self.policy_inputs = AgentPolicy(spec).eval()  # its input function and normaliser, nothing else
        self.policy_inputs.feature_mean.copy_(torch.from_numpy(np.asarray(feature_mean, np.float32)))
        self.policy_inputs.feature_std.copy_(torch.from_numpy(np.asarray(feature_std, np.float32)))
        self.texts = [phrasings(t) for t in ALL_TASKS]
        self.commands = training_commands()  # (tasks, phrasings, 384)
        if self.reward_model is not None:
            with torch.no_grad():
                self.command_vectors = self.reward_model.text_embedding(self.commands)
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, (spec.input_dim,), np.float32)
        self.action_space = gym.spaces.Box(-1.0, 1.0, (ACTION_DIM,), np.float32)
        self.task_indices = [TASK_INDEX[t] for t in config.rl.task_list()]

    def _obs(self, features: np.ndarray) -> np.ndarray:
        command = self.commands[self.task_index, self.phrasing]
        with torch.no_grad():
            x = self.policy_inputs.inputs(torch.from_numpy(features)[None], torch.from_numpy(self.prev)[None],
                                          command[None])
        return x[0].numpy().astype(np.float32)

    def _score(self, features: np.ndarray) -> float:
        with torch.no_grad():
            clip = self.reward_model.clip_embedding(torch.from_numpy(self.first)[None], torch.from_numpy(features)[None])
            return float(clip[0] @ self.command_vectors[self.task_index, self.phrasing])

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self.task_index = self.task_indices[int(self.np_random.integers(len(self.task_indices)))]
        self.phrasing = int(self.np_random.integers(self.commands.shape[1]))
        layout_seed = PPO_SEED_BASE + int(self.np_random.integers(PPO_SEEDS))
        obs, info = self.desk.reset(seed=layout_seed, options={"task": ALL_TASKS[self.task_index]})
        self.prev = start_action(obs["gaze"])
        features = self.perception(obs)
        self.first = features
        self.last_score = self._score(features) if self.reward_model is not None else 0.0
        return self._obs(features), {"task": info["task"], "command": self.texts[self.task_index][self.phrasing]}

    def step(self, action):
        action = np.clip(np.asarray(action, np.float32), -1.0, 1.0)
        obs, _, terminated, truncated, info = self.desk.step(action)
        self.prev = action
        features = self.perception(obs)
        reward = 0.0
        if self.reward_model is not None:
            score = self._score(features)
            reward += self.cfg.learned_reward_scale * (score - self.last_score)
            self.last_score = score
        if self.cfg.reward != "learned" and info["is_success"]:
            reward += 1.0
        return self._obs(features), reward, terminated, truncated, info

    def close(self) -> None:
        self.desk.close()
