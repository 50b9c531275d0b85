"""Where to look next: candidate gazes inside the workspace, the glimpse memory, the label-free rewards,
a gaze policy that learns to beat random gaze, determinism, and the stage in `saccade train all`."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from agent.attention.candidates import GazeCandidates
from agent.attention.env import BankView, GlimpseEnv, RewardScales, rollout
from agent.attention.memory import Reduction, memory_slots
from agent.attention.rewards import ScenePredictor, acting_gain
from agent.attention.scene_probe import SceneProbe
from envs.eye import GAZE_X, GAZE_Y

ROOT = Path(__file__).resolve().parents[2]


def test_candidate_gazes_stay_in_the_workspace():
    candidates = GazeCandidates(6, [1.0, 2.0, 4.0])
    assert len(candidates) == 108
    assert np.all(np.abs(candidates.array) <= 1.0)
    for c in range(len(candidates)):
        x, y, _ = candidates.gaze(c).point()
        assert GAZE_X[0] <= x <= GAZE_X[1] and GAZE_Y[0] <= y <= GAZE_Y[1]
    # out-of-range or broken gazes map to a candidate inside, never outside
    for wild in ([5.0, -7.0, 3.0], [np.nan, 0.0, np.inf], [-1.0, 1.0, -1.0]):
        assert 0 <= candidates.nearest(np.array(wild, np.float32)) < len(candidates)
    assert candidates.nearest(candidates.array[17]) == 17
    scan = candidates.scan(8)
    assert len(set(scan)) == 8 and all(candidates.zoom_index(c) == 0 for c in scan)


def test_memory_keeps_the_latest_look_at_each_place():
    fovea = np.arange(2 * 3 * 2, dtype=np.float32).reshape(2, 3, 2)
    periphery = -fovea
    memory = memory_slots(fovea, periphery, np.array([[1, -1], [2, 2]]))
    assert memory.shape == (2, 3, 5)
    assert memory[0, :, 0].tolist() == [0, 1, 0] and memory[1, :, 0].tolist() == [0, 0, 1]
    assert np.array_equal(memory[0, 1, 1:3], fovea[0, 1]) and np.array_equal(memory[0, 1, 3:], periphery[0, 1])
    assert not memory[0, 0].any()  # unseen slots are empty


def test_reduction_whitens():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(500, 10)) @ rng.normal(size=(10, 10)) + 3
    z = Reduction.fit(x, 4)(x)
    assert z.shape == (500, 4)
    assert np.allclose(z.mean(0), 0, atol=1e-4) and np.allclose(z.std(0), 1, atol=0.02)


def test_scene_prediction_error_counts_only_unseen_places_and_falls_as_the_eye_looks():
    rng = np.random.default_rng(0)
    s, c, m = 300, 6, 3
    latent = rng.normal(size=(s, 1, m))
    fovea = latent + 0.1 * rng.normal(size=(s, c, m))  # every place shows the scene's latent
    periphery = latent + 0.1 * rng.normal(size=(s, c, m))
    predictor = ScenePredictor().fit(fovea, periphery, 4, rng)
    targets = fovea
    empty = predictor.error(memory_slots(fovea, periphery, np.full((s, 1), -1)), targets).mean()
    one = predictor.error(memory_slots(fovea, periphery, np.zeros((s, 1), int)), targets).mean()
    everything = predictor.error(memory_slots(fovea, periphery, np.tile(np.arange(c), (s, 1))), targets)
    assert one < 0.5 * empty  # one glimpse tells much of what the others will show
    assert np.all(everything == 0)


def test_acting_gain_is_positive_for_the_better_glimpse():
    errors = np.array([[1.0, 0.0, 2.0]])
    assert acting_gain(errors, np.array([1]))[0] == pytest.approx(1.0)
    assert acting_gain(errors, np.array([2]))[0] == pytest.approx(-1.0)


def test_scene_probe_reads_a_linear_scene():
    from envs.scene import COLOURS
    from envs.state_fields import STATE_FIELDS, STATE_SIZE

    rng = np.random.default_rng(0)
    n = 400
    state = np.zeros((n, STATE_SIZE), np.float32)
    for colour in COLOURS:
        state[:, STATE_FIELDS[f"block_{colour}_position"]] = rng.uniform(0.3, 0.7, (n, 3))
    state[:, STATE_FIELDS["lamp"]] = rng.integers(0, 2, (n, 1))
    memory = np.concatenate([state, rng.normal(size=(n, 20))], 1)  # the truth, plus distractors
    probe = SceneProbe().fit(memory[:300], state[:300])
    predicted = probe.predict(memory[300:])
    truth = state[300:, STATE_FIELDS["block_red_position"]][:, :2]
    assert np.abs(predicted["blocks"][:, 0] - truth).max() < 0.03
    assert np.mean(predicted["lamp_on"] == (state[300:, STATE_FIELDS["lamp"]][:, 0] > 0.5)) > 0.95


def synthetic_bank(scenes: int = 64, candidates: int = 9, seed: int = 0) -> BankView:
    """Two commands; for each, one candidate glimpse is where the hand gets its action right."""
    rng = np.random.default_rng(seed)
    command = rng.integers(0, 2, scenes)
    act_error = rng.uniform(0.5, 1.0, (scenes, candidates)).astype(np.float32)
    act_error[np.arange(scenes), np.where(command == 0, 2, 6)] = 0.0
    return BankView(fovea=rng.normal(size=(scenes, candidates, 2)).astype(np.float32),
                    periphery=rng.normal(size=(scenes, candidates, 2)).astype(np.float32),
                    proprio=np.zeros((scenes, 14), np.float32),
                    command=np.eye(2, 8, dtype=np.float32)[command], act_error=act_error,
                    look_distance=act_error.copy(), zoom_of=np.zeros(candidates, int))


def _train_synthetic(tmp_path: Path, seed: int = 0):
    from agent.attention.policy import AttentionPolicy, AttentionSpec
    from agent.attention.train import train_kind
    from agent.config import load_config

    view = synthetic_bank()
    config = load_config(ROOT / "configs" / "tiny.yaml", [f"run_dir={tmp_path}", f"seed={seed}",
                                                         "attention.ppo_steps=3072", "attention.ppo_n_steps=128",
                                                         "attention.ppo_lr=0.001", "attention.glimpses=2",
                                                         "attention.checkpoint_every=100000"])
    spec = AttentionSpec(grid=3, zooms=[1.0], feature_dim=2, memory_dim=2, glimpses=2, hidden=[32, 32],
                         text_dim=8, reward="acting")
    policy = AttentionPolicy(spec)
    predictor = ScenePredictor().fit(view.fovea, view.periphery, 2, np.random.default_rng(0))
    scales = RewardScales("acting", 0.3, 1.0, 1.0, 0.0)
    train_kind(config, policy, view, predictor, scales, tmp_path / "acting", tmp_path / "tb", resume=False,
               progress=False)
    return policy, view


def test_a_trained_gaze_policy_beats_random_gaze_and_is_deterministic(tmp_path):
    policy, view = _train_synthetic(tmp_path / "a")
    chosen = rollout(policy.choose, view, 2)
    learned = acting_gain(view.act_error, chosen[:, 0]).mean()
    rng = np.random.default_rng(1)
    random = acting_gain(view.act_error, rng.integers(0, 9, len(view))).mean()
    assert learned > random + 0.15, (learned, random)
    again, _ = _train_synthetic(tmp_path / "b")
    for (name, a), b in zip(policy.state_dict().items(), again.state_dict().values()):
        assert torch.equal(a, b), name
    assert (tmp_path / "a" / "tb").exists()  # TensorBoard logs


@pytest.mark.parametrize("kind", ["acting", "scene", "privileged"])
def test_glimpse_env_rewards_and_ends_after_k_looks(kind):
    view = synthetic_bank(scenes=4)
    predictor = ScenePredictor().fit(view.fovea, view.periphery, 3, np.random.default_rng(0))
    env = GlimpseEnv(view, predictor, RewardScales(kind, 1.0, 1.0, 1.0, 0.5), glimpses=3, seed=0)
    obs, _ = env.reset(seed=0)
    assert env.observation_space.contains(obs)
    steps, done, rewards = 0, False, []
    while not done:
        obs, reward, done, truncated, _ = env.step(env.action_space.sample())
        assert np.isfinite(reward) and not truncated
        rewards.append(reward)
        steps += 1
    assert steps == 3 and any(r != 0 for r in rewards)


def test_learned_gaze_in_the_loop_points_inside_the_workspace(tiny_run):
    from agent.attention.gaze import LearnedGaze
    from agent.attention.policy import load_attention
    from agent.runs import RunLayout

    config, run_dir, _ = tiny_run
    policy = load_attention(RunLayout(run_dir).attention)
    looker = LearnedGaze(policy)
    looker.start(np.zeros(384, np.float32))
    d = policy.spec.feature_dim
    rng = np.random.default_rng(0)
    for _ in range(10):
        features = rng.normal(size=2 * d + 14 + 3).astype(np.float32)
        gaze = looker.next_gaze(features, rng.uniform(-3, 3, 3))
        assert gaze.shape == (3,) and np.all(np.abs(gaze) <= 1.0)
        assert len(looker.recent) <= policy.spec.glimpses - 1  # as much memory as in training


def test_train_all_includes_the_attention_stage(tiny_run):
    from agent.stages import ORDER, built_stages

    config, run_dir, metrics = tiny_run
    assert "attention" in built_stages() and ORDER.index("attention") > ORDER.index("rl")
    assert (Path(run_dir) / "attention" / "attention.json").exists()
    choice = metrics["attention"]["choice"]
    assert choice["winner"] in config.attention.rewards
    assert set(choice["validation"]) == {"random", *config.attention.rewards}


def test_bank_recording_is_deterministic(tiny_run, tmp_path):
    from agent.attention.bank import _record_part

    config, run_dir, _ = tiny_run
    paths = [tmp_path / "a.npz", tmp_path / "b.npz"]
    for path in paths:
        _record_part((config, "test", path, [0]))
    with np.load(paths[0]) as a, np.load(paths[1]) as b:
        for key in a.files:
            assert np.array_equal(a[key], b[key]), key
        assert a["fovea"].shape[1] == config.attention.grid ** 2 * len(config.attention.zooms)


def test_periphery_every_second_step_repeats_the_last_view(make_env):
    env = make_env(obs_mode="glimpse", active_gaze=True, periphery_every=2)
    obs, _ = env.reset(seed=0)
    first = obs["periphery"].copy()
    action = np.array([0, 0, 0, 1, 0.8, 0.8, -1], np.float32)  # the eye moves: a new view would differ
    obs, *_ = env.step(action)
    assert np.array_equal(obs["periphery"], first)  # step 1: repeated
    obs, *_ = env.step(action)
    assert not np.array_equal(obs["periphery"], first)  # step 2: rendered where the eye looks now


@pytest.mark.slow
def test_eval_attention_json(tiny_run, tmp_path):
    config, run_dir, _ = tiny_run
    out = tmp_path / "attention.json"
    result = subprocess.run([sys.executable, "-m", "agent.cli", "eval", "attention", "--config",
                             str(ROOT / "configs" / "tiny.yaml"), "--run-dir", str(run_dir), "--json", "--out", str(out)],
                            capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    metrics = json.loads(out.read_text())
    for key in ("scene_accuracy", "agent_success", "pixels_per_decision", "ms_per_decision"):
        assert key in metrics
    assert set(metrics["scene_accuracy"]) >= {"random", "fixed_scan", "expert_look_at", "full_frame_same_pixels"}
    assert set(metrics["scene_accuracy"]["random"]) == {"1", "2", "4", "8"}
    assert {"learned", "imitation_gaze_head", "expert_look_at", "random", "fixed"} <= set(metrics["agent_success"])
    for plot in metrics["plots"]:
        assert Path(plot).stat().st_size > 1000


def test_an_interrupted_attention_stage_resumes(tiny_run, tmp_path):
    """Cut short after the first checkpoint of one kind: --resume keeps the banks and the finished
    kind, and continues the other from its checkpoint to the full step count."""
    import shutil

    from dataclasses import replace

    from agent.stages import run_stage

    config, run_dir, _ = tiny_run
    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy)
    folder = copy / "attention"
    for name in ("attention.json", "scene/attention.json", "MANIFEST.json"):
        (folder / name).unlink()
    zips = sorted((folder / "scene" / "checkpoints").glob("ppo_*_steps.zip"), key=lambda p: int(p.stem.split("_")[1]))
    for z in zips[1:]:
        z.unlink()
    acting_before = (folder / "acting" / "attention.safetensors").read_bytes()
    metrics = run_stage(replace(config, run_dir=str(copy)), "attention", resume=True)
    assert metrics["ppo"]["scene"]["env_steps"] >= config.attention.ppo_steps
    assert "acting" not in metrics["ppo"]  # finished before the cut: kept as it was
    assert (folder / "acting" / "attention.safetensors").read_bytes() == acting_before
    assert (folder / "attention.json").exists()


def test_in_loop_fine_tuning_runs_the_frozen_arm_on_the_chosen_gaze(tiny_run, tmp_path):
    from agent.attention.loop import LoopGazeEnv, finetune_in_loop
    from agent.runs import RunLayout

    config, run_dir, _ = tiny_run
    folder = RunLayout(run_dir).attention / "acting"
    env = LoopGazeEnv(config, str(folder))
    try:
        obs, _ = env.reset(seed=0)
        assert env.observation_space.contains(obs)
        for a in (0, len(env.candidates) - 1):
            obs, reward, terminated, truncated, info = env.step(a)
            assert env.observation_space.contains(obs) and np.isfinite(reward)
            assert np.allclose(env.desk.gaze.as_array(), env.candidates.array[a])  # the eye went where chosen
    finally:
        env.close()
    policy, metrics = finetune_in_loop(config, folder, tmp_path / "loop", 64)
    assert metrics["env_steps"] >= 64 and (tmp_path / "loop" / "attention.json").exists()


@pytest.mark.slow
def test_eval_attention_refuses_a_damaged_glimpse_bank(tiny_run, tmp_path):
    """A bank part that differs from the stage's manifest is refused with one line, not scored."""
    import shutil

    config, run_dir, _ = tiny_run
    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy)
    part = sorted((copy / "attention" / "bank" / "test").glob("part_*.npz"))[0]
    part.write_bytes(part.read_bytes()[:-10])
    result = subprocess.run([sys.executable, "-m", "agent.cli", "eval", "attention", "--config",
                             str(ROOT / "configs" / "tiny.yaml"), "--run-dir", str(copy), "--json"],
                            capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert result.returncode == 2, result.stderr[-2000:]
    assert "part_" in result.stderr and "Traceback" not in result.stderr
