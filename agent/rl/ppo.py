"""The thin RL layer: stable-baselines3's PPO fine-tunes the imitation policy, perception frozen.

PPO's actor network is laid out as agent.rl.policy's MLP (ReLU layers, then a linear head), so
it starts from the imitation weights with a small exploration noise; the value network starts
fresh. The frozen perception lives in the environments (agent.rl.env.CommandEnv, one process
per core), so PPO's `set_training_mode` never reaches it. Checkpoints hold PPO's tensors only, with
a JSON sidecar (agent.sb3_archive: nothing is unpickled on resume); the shipped policy is exported
back to safetensors + JSON. An interrupted run resumes from the last checkpoint. EvalCallback scores
the policy deterministically at every checkpoint on an environment of its own (a training
monitor, on the RL layouts' band: the held-out proof is `saccade eval agent`).
"""

from __future__ import annotations

import logging
import re
import time
from pathlib import Path

import numpy as np
from torch import nn

from agent.config import RunConfig
from agent.rl.policy import AgentPolicy
# the EvalCallback's environment: the RL layouts' band, on a random stream of its own
from agent.seeds import PPO_EVAL_SEED_OFFSET as EVAL_SEED_OFFSET

log = logging.getLogger(__name__)


def _make_env(config: RunConfig, spec, mean: np.ndarray, std: np.ndarray):
    def make():
        from stable_baselines3.common.monitor import Monitor

        from agent.rl.env import CommandEnv

        return Monitor(CommandEnv(config, spec, mean, std))
    return make


def load_imitation_into(model, policy: AgentPolicy) -> None:
    """Copy the imitation MLP into PPO's actor (mlp_extractor.policy_net + action_net)."""
    ppo_net = model.policy.mlp_extractor.policy_net
    ppo_net.load_state_dict(policy.net.state_dict())
    model.policy.action_net.load_state_dict(policy.head.state_dict())


def export_from(model, policy: AgentPolicy) -> AgentPolicy:
    """PPO's actor back into the policy (normalisation unchanged)."""
    policy.net.load_state_dict(model.policy.mlp_extractor.policy_net.state_dict())
    policy.head.load_state_dict(model.policy.action_net.state_dict())
    return policy.eval()


def latest_zip(folder: Path) -> Path | None:
    """The newest `ppo_N_steps.zip` checkpoint in folder (None: none)."""
    zips = [(int(m.group(1)), p) for p in folder.glob("ppo_*_steps.zip") if (m := re.search(r"_(\d+)_steps", p.name))]
    return max(zips)[1] if zips else None


def finetune(config: RunConfig, policy: AgentPolicy, out_dir: Path, *, resume: bool = False,
             progress: bool = False) -> tuple[AgentPolicy, dict]:
    from stable_baselines3 import PPO
    from stable_baselines3.common.callbacks import EvalCallback
    from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv

    from agent.sb3_archive import checkpoint_callback, restore_checkpoint, save_checkpoint

    cfg = config.rl
    out_dir.mkdir(parents=True, exist_ok=True)
    ckpt_dir = out_dir / "checkpoints"
    mean, std = policy.feature_mean.numpy(), policy.feature_std.numpy()
    makers = [_make_env(config, policy.spec, mean, std) for _ in range(cfg.ppo_envs)]
    vec = SubprocVecEnv(makers, start_method="spawn") if cfg.ppo_envs > 1 else DummyVecEnv(makers)
    eval_vec = None
    try:
        last = latest_zip(ckpt_dir) if resume else None
        if last is None and ckpt_dir.exists() and any(ckpt_dir.glob("*.zip")):
            raise FileExistsError(f"{out_dir} already holds a PPO run; pass --resume to continue it")
        # a resume builds the same model from the config, then reads the checkpoint's tensors
        model = PPO("MlpPolicy", vec, learning_rate=cfg.ppo_lr, n_steps=cfg.ppo_n_steps,
                    batch_size=min(256, cfg.ppo_n_steps * cfg.ppo_envs), n_epochs=4, gamma=0.99,
                    clip_range=0.1, ent_coef=0.0, seed=config.seed, device=config.device,
                    tensorboard_log=str(out_dir / "tb"), verbose=0,
                    policy_kwargs={"net_arch": {"pi": list(cfg.hidden), "vf": list(cfg.hidden)},
                                   "activation_fn": nn.ReLU, "log_std_init": cfg.ppo_log_std,
                                   "ortho_init": False})
        if last is not None:
            log.info("resuming PPO from %s", last)
            restore_checkpoint(model, last)
        else:
            load_imitation_into(model, policy)
        done = model.num_timesteps
        start = time.perf_counter()
        every = max(cfg.checkpoint_every // cfg.ppo_envs, 1)
        callbacks = [checkpoint_callback(every, ckpt_dir)]
        if cfg.ppo_eval_episodes > 0:
            eval_vec = DummyVecEnv([_make_env(config, policy.spec, mean, std)])
            eval_vec.seed(config.seed + EVAL_SEED_OFFSET)
            callbacks.append(EvalCallback(eval_vec, n_eval_episodes=cfg.ppo_eval_episodes, eval_freq=every,
                                          deterministic=True, log_path=str(out_dir / "eval"), verbose=0))
        if cfg.ppo_steps > done:
            try:
                model.learn(cfg.ppo_steps - done, callback=callbacks, reset_num_timesteps=last is None,
                            tb_log_name="ppo", progress_bar=progress)
            finally:  # the end of the run (or where Ctrl-C stopped it) is where a resume starts
                save_checkpoint(model, ckpt_dir / f"ppo_{model.num_timesteps}_steps")
        wall = time.perf_counter() - start
        success = [float(x) for x in model.ep_success_buffer]
        metrics = {"env_steps": int(model.num_timesteps), "wall_time_s": round(wall, 1),
                   "env_steps_per_s": round((model.num_timesteps - done) / wall, 1) if wall > 0 else None,
                   "rollout_success_rate_last_100": float(np.mean(success)) if success else None,
                   "reward": cfg.reward}
    finally:
        vec.close()
        if eval_vec is not None:
            eval_vec.close()
    return export_from(model, policy), metrics
