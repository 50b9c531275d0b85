"""`saccade eval attention`: does the learned gaze look at the right places, for fewer pixels?

1. Scene estimate after K = 1, 2, 4, 8 glimpses on the test scenes (a bank no training or choice
   read): linear probes (agent.attention.scene_probe) read the memory left by each gaze policy:
   the learned ones (each reward kind), random gaze, a fixed scan, looking where the scripted
   expert would (the candidate nearest its look-at point, every glimpse), and one full frame with
   the same total pixels (cut into glimpse-sized tiles for the encoder). Each probe is fitted on the
   training scenes with the same policy's glimpses.
2. In the loop: the acting agent's success (validation phrasings, layouts of their own) with the
   learned gaze, the gaze its own head learned by imitation, random, fixed and the expert's look-at
   gaze; the learned gaze also with the periphery rendered every second step; and the 84x84
   full-frame PPO policy of `saccade eval agent`, when that evaluation has trained it.
3. Pixels rendered per decision and, on one core, render and inference milliseconds per decision.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from agent.attention.bank import FRAME_KS, frame_side, glimpse_pixels, load_bank
from agent.attention.candidates import GazeCandidates
from agent.attention.env import rollout
from agent.attention.memory import memory_slots
from agent.attention.policy import AttentionPolicy, load_attention
from agent.attention.scene_probe import probe_scene
from agent.attention.train import make_view, random_choice
from agent.config import RunConfig
from agent.runs import RunLayout
from agent.seeds import LOOP_SEED_BASE  # in-loop layouts: apart from every bank and from `saccade eval agent`

log = logging.getLogger(__name__)

KS = (1, 2, 4, 8)
FULL_FRAME = 84  # the full-frame policy's image side


def _chosen(policy: str, bank: dict, view, candidates: GazeCandidates, learned: dict, k: int, seed: int) -> np.ndarray:
    s = len(bank["state"])
    if policy in learned:
        return rollout(learned[policy].choose, view[policy], k, learned[policy].spec.glimpses)
    if policy == "random":
        return rollout(random_choice(len(candidates), seed), view["random"], k)
    if policy == "fixed_scan":
        return np.tile(np.array(candidates.scan(k)), (s, 1))
    if policy == "expert_look_at":
        nearest = np.array([candidates.nearest(g) for g in bank["expert_gaze"]])
        return np.repeat(nearest[:, None], k, 1)
    raise ValueError(policy)


def scene_accuracy(config: RunConfig, run: RunLayout, learned: dict[str, AttentionPolicy], *, ks=KS) -> dict:
    folder = run.attention / "bank"
    train, test = load_bank(folder, "train"), load_bank(folder, "test")
    any_policy = next(iter(learned.values()))
    candidates = any_policy.candidates
    views = {"train": {}, "test": {}}
    for name, policy in [*learned.items(), ("random", any_policy)]:
        views["train"][name], views["test"][name] = make_view(policy, train, "train"), make_view(policy, test, "test")
    names = [f"learned_{k}" for k in learned] + ["random", "fixed_scan", "expert_look_at"]
    out: dict = {"scenes": {"train": len(train["state"]), "test": len(test["state"])}}
    chance = probe_scene(np.zeros((len(train["state"]), 1)), train["state"], np.zeros((len(test["state"]), 1)),
                         test["state"])
    out["nothing_seen"] = chance
    acc: dict = {}
    for name in names:
        policy = name.removeprefix("learned_")
        most = max(ks)
        ctrain = _chosen(policy, train, views["train"], candidates, learned, most, config.seed)
        ctest = _chosen(policy, test, views["test"], candidates, learned, most, config.seed + 1)
        acc[name] = {}
        for k in ks:
            acc[name][str(k)] = probe_scene(memory_slots(train["fovea"], train["periphery"], ctrain[:, :k]),
                                            train["state"],
                                            memory_slots(test["fovea"], test["periphery"], ctest[:, :k]), test["state"])
        acc[name]["distinct_gazes_at_8"] = float(np.mean([len(set(r)) for r in ctest[:, :most]]))
    acc["full_frame_same_pixels"] = {str(k): probe_scene(train[f"frame_{k}"], train["state"], test[f"frame_{k}"],
                                                         test["state"]) for k in ks if k in FRAME_KS}
    out["detail"] = acc
    out["scene_accuracy"] = {name: {k: v["scene_accuracy"] for k, v in table.items() if isinstance(v, dict)}
                             for name, table in acc.items()}
    return out


def agent_success(config: RunConfig, run: RunLayout, episodes: int, kinds: list[str], shipped: str, *,
                  progress: bool = False) -> dict:
    """Success per gaze source; "learned" is the shipped kind (the winner on validation scenes)."""
    from agent.rl.evaluate import success_per_task

    cfg = config.attention
    variants = {f"learned_{kind}": {"gaze": "attention", "attention": str(run.attention / kind)} for kind in kinds}
    variants.update({
        "learned_periphery_every_2": {"gaze": "attention", "attention": str(run.attention), "periphery_every": 2},
        "imitation_gaze_head": {}, "expert_look_at": {"gaze": "expert"},
        # the expert's look-at moved to the nearest candidate: what looking at the right thing is worth
        # when the eye can only point at the candidates the learned gaze chooses among
        "expert_look_at_on_candidates": {"gaze": "expert", "snap_to": (cfg.grid, list(cfg.zooms))},
        "random": {"gaze": "random"}, "fixed": {"gaze": "fixed"}})
    out = {}
    for name, variant in variants.items():
        r = success_per_task(config, run.rl, variant, episodes, progress=progress, desc=name, seed_base=LOOP_SEED_BASE)
        out[name] = {"success_mean": r["success_mean"], "success_per_task": r["success_per_task"]}
    out["learned"] = {**out[f"learned_{shipped}"], "kind": shipped}
    out["full_frame_84_ppo"] = full_frame_ppo(config, run, episodes)
    return out


def full_frame_ppo(config: RunConfig, run: RunLayout, episodes: int) -> dict:
    """The full-frame PPO that `saccade eval agent` trained and kept, on the loop's layouts."""
    zips = sorted(run.eval("agent").glob("ppo_pixels_*.zip"))
    if not zips:
        return {"success_mean": None, "note": "not trained: run `saccade eval agent` first"}
    from agent.rl.baselines import evaluate_baseline, load_baseline

    model = load_baseline(config, "pixels", zips[-1], device="cpu")  # tensors only: nothing is unpickled
    r = evaluate_baseline(config, model, "pixels", episodes, LOOP_SEED_BASE)
    return {"success_mean": r["success_mean"], "success_per_task": r["success_per_task"], "model": str(zips[-1]),
            "note": "PPO from scratch on 84x84 frames at the RL layer's step budget, told the task by one-hot "
                    "(saccade eval agent)"}


def pixels_per_decision(config: RunConfig) -> dict:
    f, p = config.env.fovea_size ** 2, config.env.periphery_size ** 2
    full = FULL_FRAME ** 2
    return {"glimpse": f + p, "glimpse_periphery_every_2": f + p / 2, "full_frame_84": full,
            "glimpse_share_of_full_frame": round((f + p) / full, 3),
            "glimpse_periphery_every_2_share_of_full_frame": round((f + p / 2) / full, 3),
            "scene_estimate_glimpses": {str(k): k * glimpse_pixels(config) for k in KS}}


def ms_per_decision(config: RunConfig, run: RunLayout, policy: AttentionPolicy, repeats: int = 30) -> dict:
    """Median milliseconds on one core: render and encode K glimpses (and choose each with the gaze
    policy) against one full frame with the same pixels; and one control decision of the agent
    (a glimpse, the encoder, the gaze and arm policies) against an 84x84 frame through SB3's
    NatureCNN (the full-frame policy's network)."""
    import gymnasium as gym
    import torch
    from stable_baselines3.common.torch_layers import NatureCNN

    from agent.attention.bank import SceneRecorder
    from agent.attention.gaze import LearnedGaze
    from agent.perception.encoder import load_encoder
    from agent.perception.features import PerceptionFeatures
    from agent.rl.policy import load_policy
    from envs.desk_env import DeskEnv
    from envs.tasks import ALL_TASKS

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    from agent.rl.capsule_inputs import refuse_capsule_memory

    encoder, arm = load_encoder(run.encoder), load_policy(run.rl)
    refuse_capsule_memory(arm, run.rl, "the attention evaluation")
    perception, looker = PerceptionFeatures(encoder), LearnedGaze(policy)
    recorder = SceneRecorder(config, encoder, arm)
    env = DeskEnv(replace(config.env, task=None, obs_mode="glimpse", active_gaze=True, terminate_on_success=False))
    cnn = NatureCNN(gym.spaces.Box(0, 255, (3, FULL_FRAME, FULL_FRAME), np.uint8), features_dim=512)
    cnn_head = torch.nn.Linear(512, 7)

    def median_ms(fn) -> float:
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        return round(1000 * float(np.median(times)), 2)

    try:
        obs, _ = env.reset(seed=LOOP_SEED_BASE, options={"task": ALL_TASKS[0]})
        looker.start(np.zeros(policy.spec.text_dim, np.float32))
        command = torch.zeros(arm.spec.text_dim)
        out: dict = {"threads": 1, "glimpses": {}, "full_frame_same_pixels": {}}
        for k in KS:
            def glimpses(k=k):
                features = perception(obs)
                for _ in range(k):
                    fovea, periphery = env.eye.glimpse(env.gaze)
                    features = perception({**obs, "fovea": fovea, "periphery": periphery})
                    looker.next_gaze(features, obs["gaze"])

            out["glimpses"][str(k)] = median_ms(glimpses)
            out["full_frame_same_pixels"][str(k)] = median_ms(lambda k=k: recorder.frame_features(env, k))
        out["full_frame_sides"] = {str(k): frame_side(config, k) for k in KS}

        def agent_decision():
            fovea, periphery = env.eye.glimpse(env.gaze)
            features = perception({**obs, "fovea": fovea, "periphery": periphery})
            looker.next_gaze(features, obs["gaze"])
            arm.act(features, np.zeros(7, np.float32), command)

        def frame_decision():
            frame = env.eye.render(env.eye.frame_camera(FULL_FRAME, FULL_FRAME))
            with torch.no_grad():
                cnn_head(cnn(torch.from_numpy(frame.copy()).permute(2, 0, 1)[None].float() / 255))

        out["agent_decision_learned_gaze"] = median_ms(agent_decision)
        out["full_frame_84_cnn_decision"] = median_ms(frame_decision)
    finally:
        env.close()
        torch.set_num_threads(threads)
    return out


def evaluate_attention(config: RunConfig, run_dir: Path | str, *, progress: bool = False,
                       episodes: int | None = None) -> dict:
    from agent.weights import WeightsError

    start = time.perf_counter()
    run = RunLayout(run_dir)
    if not (run.attention / "attention.json").exists():
        raise WeightsError(f"{run.attention}: no trained gaze policy here (attention.json); "
                           "run `saccade train attention` first")
    from agent.integrity import verify_stage

    verify_stage(run.attention)  # the glimpse-bank parts too: a deleted or damaged part is refused, not skipped
    shipped = load_attention(run.attention)
    learned = {kind: load_attention(run.attention / kind) for kind in config.attention.rewards
               if (run.attention / kind / "attention.json").exists()}
    learned = learned or {shipped.spec.reward: shipped}  # a run trained with other kinds: the shipped one
    scene = scene_accuracy(config, run, learned)
    loop = agent_success(config, run, episodes or config.attention.eval_episodes, list(learned), shipped.spec.reward,
                         progress=progress)
    pixels = pixels_per_decision(config)
    ms = ms_per_decision(config, run, shipped)
    metrics = {"shipped_reward": shipped.spec.reward, "scene_accuracy": scene["scene_accuracy"],
               "agent_success": {k: v["success_mean"] for k, v in loop.items()},
               "pixels_per_decision": pixels, "ms_per_decision": ms,
               "scene_detail": scene, "agent_detail": loop,
               "sets": {"scene": "test bank (layouts 10,600,000+), probes fitted on the train bank",
                        "loop": f"layouts {LOOP_SEED_BASE:,}+, validation phrasings, "
                                f"{episodes or config.attention.eval_episodes} episodes per task"}}
    metrics["goals"] = goals(metrics, list(learned))
    from agent.attention.pictures import plot_accuracy, draw_gaze_paths

    pictures = run.eval("attention")
    metrics["plots"] = [str(plot_accuracy(metrics, pictures / "scene_accuracy.png")),
                        str(draw_gaze_paths(config, run, shipped, pictures / "gaze_paths.png"))]
    metrics["wall_time_s"] = round(time.perf_counter() - start, 1)
    return metrics


def goals(m: dict, kinds: list[str]) -> dict:
    """The issue's goals, per learned kind. "A quarter of the full frame's pixels": K glimpses
    against the full frame with the pixels of 4K glimpses (K = 2 against the frame of 8)."""
    acc, success, px = m["scene_accuracy"], m["agent_success"], m["pixels_per_decision"]
    full = acc["full_frame_same_pixels"]
    out: dict = {"scene": {}, "loop": {}, "pixels_share_in_loop": px["glimpse_share_of_full_frame"],
                 "pixels_share_in_loop_periphery_every_2": px["glimpse_periphery_every_2_share_of_full_frame"]}
    for kind in kinds:
        name = f"learned_{kind}"
        over_random = acc[name]["4"] - acc["random"]["4"]
        share = acc[name]["2"] / max(full["8"], 1e-9)
        out["scene"][name] = {"minus_random_at_k4": round(over_random, 4), "met_10_points": over_random >= 0.10,
                              "k2_share_of_full_frame_k8": round(share, 3), "met_95_percent": share >= 0.95}
        loop = success.get(name)
        if loop is not None:
            out["loop"][name] = {"minus_expert_look_at": round(loop - success["expert_look_at"], 4),
                                 "minus_random": round(loop - success["random"], 4),
                                 "met": loop >= success["expert_look_at"] and loop - success["random"] >= 0.10}
    out["loop_pixels_met"] = px["glimpse_share_of_full_frame"] <= 0.25
    out["loop_pixels_met_periphery_every_2"] = px["glimpse_periphery_every_2_share_of_full_frame"] <= 0.25
    return out


def format_attention_metrics(m: dict) -> str:
    lines = ["scene accuracy (test scenes) by glimpses K:"]
    for name, table in m["scene_accuracy"].items():
        lines.append(f"  {name:26s} " + "  ".join(f"K={k}: {v:.3f}" for k, v in table.items()))
    lines.append("agent success in the loop (mean over tasks):")
    for name, v in m["agent_success"].items():
        lines.append(f"  {name:26s} " + ("not measured" if v is None else f"{v:.3f}"))
    px = m["pixels_per_decision"]
    lines.append(f"pixels per decision: glimpse {px['glimpse']}, periphery every 2nd step "
                 f"{px['glimpse_periphery_every_2']:.0f}, 84x84 frame {px['full_frame_84']}")
    ms = m["ms_per_decision"]
    lines.append(f"ms per decision (1 core): agent with learned gaze {ms['agent_decision_learned_gaze']}, "
                 f"84x84 frame + CNN {ms['full_frame_84_cnn_decision']}")
    g = m["goals"]
    for name, r in g["scene"].items():
        lines.append(f"goal, scene ({name}): {r['minus_random_at_k4']:+.3f} over random at K=4 (goal +0.10: "
                     f"{'met' if r['met_10_points'] else 'not met'}); K=2 reaches {r['k2_share_of_full_frame_k8']:.0%} of "
                     f"the frame with 4x the pixels (goal 95%: {'met' if r['met_95_percent'] else 'not met'})")
    for name, r in g["loop"].items():
        lines.append(f"goal, loop ({name}): {r['minus_expert_look_at']:+.3f} against the expert's look-at, "
                     f"{r['minus_random']:+.3f} over random ({'met' if r['met'] else 'not met'})")
    return "\n".join(lines)
