"""The gaze policy fine-tuned in the loop: rewarded when the hand, acting on what the eye shows,
gets the command done.

The bank's acting reward scores one step, and a gaze that makes the arm hedge scores well there
(docs/attention.md). EyeRobot rewards the eye when the hand acts right; here over whole episodes:
the frozen arm policy acts on the glimpse the gaze policy chose, and PPO fine-tunes the gaze
policy (perception and arm frozen) from its bank-trained weights. Reward: 1 when the task's
predicate first holds (the episode ends there), plus the learned language reward's progress for
the command, as in the arm's PPO layer (agent.rl.env). Each step renders the desk, so this runs
at the desk's speed (about 200 steps/s on 2 cores), not the bank's.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from pathlib import Path

import gymnasium as gym
import numpy as np

from agent.config import RunConfig
from agent.runs import RunLayout
from agent.seeds import LOOP_TRAIN_SEED_BASE, LOOP_TRAIN_SEEDS  # layouts apart from every evaluation

log = logging.getLogger(__name__)



class LoopGazeEnv(gym.Env):
    metadata = {"render_modes": []}

    def __init__(self, config: RunConfig, attention_folder: str):
        import torch

        from agent.attention.gaze import LearnedGaze
        from agent.attention.policy import load_attention
        from agent.language.reward import load_reward
        from agent.perception.encoder import load_encoder
        from agent.perception.features import PerceptionFeatures
        from agent.rl.imitation import training_commands
        from agent.rl.policy import load_policy
        from envs.desk_env import DeskEnv

        torch.set_num_threads(1)  # one process per core
        run = RunLayout(config.run_dir)
        self.config = config
        self.perception = PerceptionFeatures(load_encoder(run.encoder))
        self.arm = load_policy(run.rl)
        from agent.rl.capsule_inputs import refuse_capsule_memory

        refuse_capsule_memory(self.arm, run.rl, "the attention loop")
        attention = load_attention(attention_folder)
        self.looker = LearnedGaze(attention)
        self.candidates = attention.candidates
        self.reward_model = load_reward(run.reward) if (run.reward / "reward.json").exists() else None
        self.desk = DeskEnv(replace(config.env, task=None, obs_mode="glimpse", active_gaze=True,
                                    terminate_on_success=True, max_episode_steps=config.rl.max_steps))
        self.commands = training_commands()  # (tasks, phrasings, 384)
        if self.reward_model is not None:
            with torch.no_grad():
                self.command_vectors = self.reward_model.text_embedding(self.commands)
        self.tasks = config.rl.task_list()
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, (attention.spec.input_dim,), np.float32)
        self.action_space = gym.spaces.Discrete(len(self.candidates))

    def _score(self) -> float:
        import torch

        with torch.no_grad():
            clip = self.reward_model.clip_embedding(torch.from_numpy(self.first)[None],
                                                    torch.from_numpy(self.features)[None])
            return float(clip[0] @ self.command_vectors[self.task_index, self.phrasing])

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        from envs.tasks import TASK_INDEX

        super().reset(seed=seed)
        task = self.tasks[int(self.np_random.integers(len(self.tasks)))]
        self.task_index = TASK_INDEX[task]
        self.phrasing = int(self.np_random.integers(self.commands.shape[1]))
        layout = LOOP_TRAIN_SEED_BASE + int(self.np_random.integers(LOOP_TRAIN_SEEDS))
        obs, info = self.desk.reset(seed=layout, options={"task": task})
        self.command = self.commands[self.task_index, self.phrasing]
        self.looker.start(self.command.numpy())
        self.features = self.first = self.perception(obs)
        self.last_score = self._score() if self.reward_model is not None else 0.0
        return self.looker.observe(self.features, obs["gaze"]), {"task": info["task"]}

    def step(self, action):
        arm = self.arm.act(self.features, np.zeros(7, np.float32), self.command)
        move = np.concatenate([arm[:4], self.candidates.array[int(action)]]).astype(np.float32)
        obs, _, terminated, truncated, info = self.desk.step(move)
        self.features = self.perception(obs)
        reward = 1.0 if info["is_success"] else 0.0
        if self.reward_model is not None:
            score = self._score()
            reward += self.config.rl.learned_reward_scale * (score - self.last_score)
            self.last_score = score
        return self.looker.observe(self.features, obs["gaze"]), reward, terminated, truncated, info

    def close(self) -> None:
        self.desk.close()


def _make(config: RunConfig, attention_folder: str):
    def make():
        from stable_baselines3.common.monitor import Monitor

        return Monitor(LoopGazeEnv(config, attention_folder))
    return make


def finetune_in_loop(config: RunConfig, attention_folder: Path, out: Path, steps: int, *, resume: bool = False,
                     progress: bool = False) -> tuple[object, dict]:
    """PPO on LoopGazeEnv from the gaze policy in attention_folder; the result saved in out."""
    import torch
    from stable_baselines3 import PPO
    from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv
    from torch import nn

    from agent.attention.policy import load_attention, save_attention
    from agent.rl.ppo import latest_zip
    from agent.sb3_archive import checkpoint_callback, restore_checkpoint, save_checkpoint

    cfg = config.attention
    policy = load_attention(attention_folder)
    n = config.rl.ppo_envs
    makers = [_make(config, str(attention_folder)) for _ in range(n)]
    vec = SubprocVecEnv(makers, start_method="spawn") if n > 1 else DummyVecEnv(makers)
    ckpt = out / "checkpoints"
    try:
        last = latest_zip(ckpt) if resume else None
        # a resume builds the same model from the config, then reads the checkpoint's tensors (no unpickling)
        torch.manual_seed(config.seed)
        model = PPO("MlpPolicy", vec, learning_rate=cfg.ppo_lr / 3, n_steps=cfg.ppo_n_steps,
                    batch_size=min(256, cfg.ppo_n_steps * n), n_epochs=4, gamma=0.99, ent_coef=0.0,
                    seed=config.seed, device=config.device, tensorboard_log=str(out / "tb"), verbose=0,
                    policy_kwargs={"net_arch": {"pi": list(policy.spec.hidden), "vf": list(policy.spec.hidden)},
                                   "activation_fn": nn.ReLU})
        if last is not None:
            restore_checkpoint(model, last)
        else:
            model.policy.mlp_extractor.policy_net.load_state_dict(policy.net.state_dict())
            model.policy.action_net.load_state_dict(policy.head.state_dict())
        done = model.num_timesteps
        start = time.perf_counter()
        if steps > done:
            try:
                model.learn(steps - done, callback=checkpoint_callback(max(cfg.checkpoint_every // n, 1), ckpt),
                            reset_num_timesteps=last is None, tb_log_name="attention_in_loop", progress_bar=progress)
            finally:
                save_checkpoint(model, ckpt / f"ppo_{model.num_timesteps}_steps")
        wall = time.perf_counter() - start
        success = [float(x) for x in model.ep_success_buffer]
    finally:
        vec.close()
    policy.net.load_state_dict(model.policy.mlp_extractor.policy_net.state_dict())
    policy.head.load_state_dict(model.policy.action_net.state_dict())
    save_attention(policy.eval(), out, {"seed": config.seed, "fine_tuned_in_loop_from": str(attention_folder)})
    return policy, {"env_steps": int(model.num_timesteps), "wall_time_s": round(wall, 1),
                    "rollout_success_rate_last_100": float(np.mean(success)) if success else None}
