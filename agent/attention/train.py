"""`saccade train attention`: where to look next, learned with PPO on glimpse banks.

1. banks: train, validation and test scenes from scripted-expert episodes, every candidate
   glimpse rendered and encoded once (attention/bank/; resumable by part);
2. the memory's PCA and the scene predictor, fitted on the training bank;
3. for each reward kind (attention.rewards): stable-baselines3 PPO trains a gaze policy on the
   training scenes (attention/KIND/: checkpoints, resume, TensorBoard in attention/tb);
4. the kinds are compared on the validation scenes and the winner is shipped as
   attention/attention.safetensors + attention.json (the stage's done marker).
Perception and the acting policy stay frozen: they were used once, to fill the banks.
"""

from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path

import numpy as np

from agent.attention.bank import SPLITS, load_bank, record_bank
from agent.attention.candidates import GazeCandidates
from agent.attention.env import BankView, GlimpseEnv, RewardScales, rollout
from agent.attention.memory import Reduction, memory_slots
from agent.attention.policy import AttentionPolicy, AttentionSpec, load_attention, save_attention
from agent.attention.rewards import ScenePredictor
from agent.attention.scene_probe import probe_scene
from agent.config import RunConfig
from agent.runs import RunLayout
from agent.seeds import ATTENTION_ENV_SEED_STRIDE

log = logging.getLogger(__name__)

CHOICE_K = 4  # the scene estimate that decides between reward kinds (validation scenes)
LABEL_FREE = ("acting", "scene")  # the kinds that may be shipped; "privileged" is a comparison


def command_embeddings(bank: dict, split: str) -> np.ndarray:
    """(S, 384): the embedding of each scene's command (training phrasings in train, validation ones else)."""
    from agent.language.embedding import embed_texts
    from envs.instructions import phrasings
    from envs.tasks import ALL_TASKS

    which = "train" if split == "train" else "validation"
    texts = [phrasings(ALL_TASKS[int(t)], which)[int(p)] for t, p in zip(bank["task"], bank["phrasing"])]
    unique = sorted(set(texts))
    vectors = embed_texts(unique).numpy()
    index = {t: i for i, t in enumerate(unique)}
    return vectors[[index[t] for t in texts]].astype(np.float32)


def make_view(policy: AttentionPolicy, bank: dict, split: str) -> BankView:
    candidates = policy.candidates
    look = np.array([candidates.distance(g) for g in bank["expert_gaze"]], np.float32)
    return BankView(fovea=policy.reduction("fovea")(bank["fovea"]),
                    periphery=policy.reduction("periphery")(bank["periphery"]),
                    proprio=policy.normalise_proprio(bank["proprio"]), command=command_embeddings(bank, split),
                    act_error=bank["act_error"], look_distance=look, zoom_of=candidates.zoom_index(np.arange(len(candidates))))


def new_policy(config: RunConfig, bank: dict, reward: str) -> AttentionPolicy:
    cfg = config.attention
    spec = AttentionSpec(grid=cfg.grid, zooms=list(cfg.zooms), feature_dim=bank["fovea"].shape[-1],
                         memory_dim=min(cfg.memory_dim, bank["fovea"].shape[-1]), glimpses=cfg.glimpses,
                         hidden=list(cfg.hidden), reward=reward)
    policy = AttentionPolicy(spec)
    policy.set_reductions(Reduction.fit(bank["fovea"], spec.memory_dim), Reduction.fit(bank["periphery"], spec.memory_dim),
                          bank["proprio"])
    return policy


def reward_scales(config: RunConfig, view: BankView, predictor: ScenePredictor, kind: str) -> RewardScales:
    """Each kind in units of its typical step: the spread of acting_gain over candidates, and what a
    random second glimpse takes off the prediction error (the first takes off far more)."""
    rng = np.random.default_rng(config.seed)
    first = rng.integers(len(view.zoom_of), size=len(view))
    second = (first + 1 + rng.integers(len(view.zoom_of) - 1, size=len(view))) % len(view.zoom_of)
    one = predictor.error(memory_slots(view.fovea, view.periphery, first[:, None]), view.fovea)
    two = predictor.error(memory_slots(view.fovea, view.periphery, np.stack([first, second], 1)), view.fovea)
    scene = float((one - two).mean())
    acting = float((view.act_error - view.act_error.mean(1, keepdims=True)).std())
    privileged = float((view.look_distance - view.look_distance.mean(1, keepdims=True)).std())
    return RewardScales(kind, max(acting, 1e-6), max(privileged, 1e-6), max(scene, 1e-6),
                        config.attention.zoom_change_cost)


def train_kind(config: RunConfig, policy: AttentionPolicy, view: BankView, predictor: ScenePredictor,
               scales: RewardScales, out: Path, tb: Path, *, resume: bool, progress: bool) -> dict:
    """PPO on the glimpse bank; the actor exported into `policy` (in place)."""
    import torch
    from stable_baselines3 import PPO
    from stable_baselines3.common.monitor import Monitor
    from stable_baselines3.common.vec_env import DummyVecEnv
    from torch import nn

    from agent.rl.ppo import latest_zip
    from agent.sb3_archive import checkpoint_callback, restore_checkpoint, save_checkpoint

    cfg = config.attention
    ckpt = out / "checkpoints"
    makers = [lambda i=i: Monitor(GlimpseEnv(view, predictor, scales, cfg.glimpses,
                                             seed=config.seed * ATTENTION_ENV_SEED_STRIDE + i))
              for i in range(cfg.ppo_envs)]
    vec = DummyVecEnv(makers)
    last = latest_zip(ckpt) if resume else None
    if last is None and ckpt.exists() and any(ckpt.glob("*.zip")):
        raise FileExistsError(f"{out} already holds a PPO run; pass --resume to continue it")
    # a resume builds the same model from the config, then reads the checkpoint's tensors (no unpickling)
    torch.manual_seed(config.seed)
    model = PPO("MlpPolicy", vec, learning_rate=cfg.ppo_lr, n_steps=cfg.ppo_n_steps,
                batch_size=min(256, cfg.ppo_n_steps * cfg.ppo_envs), n_epochs=4, gamma=0.95,
                ent_coef=cfg.ppo_ent_coef, seed=config.seed, device=config.device, tensorboard_log=str(tb),
                verbose=0, policy_kwargs={"net_arch": {"pi": list(cfg.hidden), "vf": list(cfg.hidden)},
                                          "activation_fn": nn.ReLU})
    if last is not None:
        log.info("resuming the %s gaze policy from %s", scales.kind, last)
        restore_checkpoint(model, last)
    done = model.num_timesteps
    start = time.perf_counter()
    if cfg.ppo_steps > done:
        callback = checkpoint_callback(max(cfg.checkpoint_every // cfg.ppo_envs, 1), ckpt)
        try:
            model.learn(cfg.ppo_steps - done, callback=callback, reset_num_timesteps=last is None,
                        tb_log_name=f"attention_{scales.kind}", progress_bar=progress)
        finally:  # the end of the run (or where Ctrl-C stopped it) is where a resume starts
            save_checkpoint(model, ckpt / f"ppo_{model.num_timesteps}_steps")
    wall = time.perf_counter() - start
    policy.net.load_state_dict(model.policy.mlp_extractor.policy_net.state_dict())
    policy.head.load_state_dict(model.policy.action_net.state_dict())
    policy.eval()
    returns = [float(e["r"]) for e in model.ep_info_buffer]
    return {"env_steps": int(model.num_timesteps), "wall_time_s": round(wall, 1),
            "steps_per_s": round((model.num_timesteps - done) / wall, 1) if wall > 0 else None,
            "episode_return_last_100": float(np.mean(returns)) if returns else None}


def random_choice(n_candidates: int, seed: int):
    rng = np.random.default_rng(seed)
    return lambda obs: rng.integers(n_candidates, size=len(obs))


def compare_on_validation(policies: dict[str, AttentionPolicy], train: dict, val: dict, seed: int) -> dict:
    """Each kind's scene estimate at CHOICE_K glimpses and its arm action error, against random gaze,
    on the validation scenes; the winner has the larger sum of the two relative gains."""
    any_policy = next(iter(policies.values()))
    k, n = any_policy.spec.glimpses, any_policy.spec.n_candidates

    def measure(choose_train, choose_val, policy: AttentionPolicy) -> dict:
        chosen_train = rollout(choose_train, make_view(policy, train, "train"), k)
        chosen_val = rollout(choose_val, make_view(policy, val, "validation"), k)
        scene = probe_scene(memory_slots(train["fovea"], train["periphery"], chosen_train[:, :CHOICE_K]), train["state"],
                            memory_slots(val["fovea"], val["periphery"], chosen_val[:, :CHOICE_K]), val["state"])
        return {"scene_accuracy": scene["scene_accuracy"],
                "arm_action_error": float(np.take_along_axis(val["act_error"], chosen_val, 1).mean())}

    table = {"random": measure(random_choice(n, seed), random_choice(n, seed + 1), any_policy)}
    base = table["random"]
    for kind, policy in policies.items():
        t = table[kind] = measure(policy.choose, policy.choose, policy)
        t["score"] = ((t["scene_accuracy"] - base["scene_accuracy"]) / max(base["scene_accuracy"], 1e-6)
                      + (base["arm_action_error"] - t["arm_action_error"]) / max(base["arm_action_error"], 1e-6))
    label_free = [kind for kind in policies if kind in LABEL_FREE]
    if not label_free:
        raise ValueError("attention.rewards holds no label-free kind (acting, scene) to ship")
    winner = max(label_free, key=lambda kind: table[kind]["score"])
    return {"validation": table, "winner": winner, "choice_k": CHOICE_K,
            "rule": "among the label-free kinds, the largest sum of relative gains over random gaze: scene "
                    "accuracy at K=4 and arm action error"}


def train_attention(config: RunConfig, run: RunLayout, *, resume: bool = False, progress: bool = False) -> dict:
    cfg = config.attention
    folder = run.attention
    if not resume and any((folder / kind / "checkpoints").exists() for kind in cfg.rewards):
        raise FileExistsError(f"{folder} already holds a run; pass --resume to continue it or choose another run folder")
    from agent.rl.capsule_inputs import refuse_capsule_memory
    from agent.rl.policy import load_policy

    refuse_capsule_memory(load_policy(run.rl), run.rl, "the glimpse banks of the attention stage")
    times: dict[str, float] = {}
    t0 = time.perf_counter()
    banks = {split: record_bank(config, folder / "bank", split, progress=progress) for split in SPLITS}
    times["banks_s"] = round(time.perf_counter() - t0, 1)
    train, val = load_bank(folder / "bank", "train"), load_bank(folder / "bank", "validation")

    t0 = time.perf_counter()
    policies, kinds = {}, {}
    for kind in cfg.rewards:
        out = folder / kind
        if resume and (out / "attention.json").exists():
            policies[kind] = load_attention(out)
            continue
        policy = new_policy(config, train, kind)
        view = make_view(policy, train, "train")
        predictor = ScenePredictor().fit(view.fovea, view.periphery, cfg.glimpses, np.random.default_rng(config.seed))
        scales = reward_scales(config, view, predictor, kind)
        kinds[kind] = train_kind(config, policy, view, predictor, scales, out, folder / "tb", resume=resume,
                                 progress=progress)
        kinds[kind]["reward_scales"] = {"acting": scales.acting, "scene": scales.scene, "privileged": scales.privileged}
        save_attention(policy, out, {"seed": config.seed})
        policies[kind] = policy
    times["ppo_s"] = round(time.perf_counter() - t0, 1)

    t0 = time.perf_counter()
    choice = compare_on_validation(policies, train, val, config.seed)
    times["validation_s"] = round(time.perf_counter() - t0, 1)
    winner = choice["winner"]
    for suffix in ("safetensors", "json"):  # the shipped gaze policy; attention.json last: the stage is done
        shutil.copyfile(folder / winner / f"attention.{suffix}", folder / f"attention.{suffix}.tmp")
    (folder / "attention.safetensors.tmp").replace(folder / "attention.safetensors")
    (folder / "attention.json.tmp").replace(folder / "attention.json")
    return {"banks": banks, "scenes": {"train": len(train["state"]), "validation": len(val["state"])},
            "candidates": len(GazeCandidates(cfg.grid, cfg.zooms)), "ppo": kinds, "choice": choice, "times": times}
