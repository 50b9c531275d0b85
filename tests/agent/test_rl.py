"""The acting agent: frozen perception, commands as the only task input, saving without pickle,
resume, and imitation that beats a random policy on an easy task."""

from dataclasses import replace

import numpy as np
import pytest
import torch

from agent.runs import RunLayout


def test_sb3_update_leaves_frozen_perception_unchanged(make_env):
    """PPO's set_training_mode(True) and its optimiser must not touch the frozen encoder."""
    from stable_baselines3 import PPO

    from agent.perception.encoder import EncoderSpec, GlimpseEncoder
    from agent.perception.features import frozen_extractor_class

    env = make_env(obs_mode="glimpse", active_gaze=True, max_episode_steps=16)
    encoder = GlimpseEncoder(EncoderSpec([8, 16], 16))
    before = {k: v.clone() for k, v in encoder.state_dict().items()}
    model = PPO("MultiInputPolicy", env, n_steps=32, batch_size=16, n_epochs=2, seed=0, device="cpu",
                policy_kwargs={"features_extractor_class": frozen_extractor_class(),
                               "features_extractor_kwargs": {"encoder": encoder}, "normalize_images": False,
                               "net_arch": [16]})
    model.learn(64)
    extractor_encoder = model.policy.features_extractor.encoder
    assert not extractor_encoder.training  # eval mode survives set_training_mode(True)
    for k, v in extractor_encoder.state_dict().items():
        assert torch.equal(v, before[k]), k


def test_the_task_one_hot_never_reaches_the_policy(tiny_run):
    """Same command and perception, another task one-hot: the same action."""
    from agent.perception.encoder import load_encoder
    from agent.perception.features import PerceptionFeatures
    from agent.rl.actor import AgentActor
    from agent.rl.policy import load_policy
    from envs.desk_env import DeskEnv

    config, run_dir, _ = tiny_run
    run = RunLayout(run_dir)
    perception = PerceptionFeatures(load_encoder(run.encoder))
    env = DeskEnv(replace(config.env, active_gaze=True, task="open_drawer"))
    try:
        obs, _ = env.reset(seed=0)
        other = {**obs, "task": np.roll(obs["task"], 3)}
        actions = []
        for o in (obs, other):
            actor = AgentActor(load_policy(run.rl))
            actor.start(env, env.task, "open the drawer")
            actions.append(actor.act(o, perception(o), env))
        assert np.array_equal(actions[0], actions[1])
        # the words are what tells the task: as the parser read them (the default), or heard by the policy itself
        from envs.tasks import Task

        actor = AgentActor(load_policy(run.rl))
        actor.start(env, Task.parse("press_button"), "press the button")
        assert not np.array_equal(actor.act(obs, perception(obs), env), actions[0])
        words = AgentActor(load_policy(run.rl), listen="words")
        words.start(env, env.task, "press the button")
        assert not np.array_equal(words.act(obs, perception(obs), env), actions[0])
    finally:
        env.close()


def test_perception_wrapper_gives_the_features_and_drops_the_task(make_env):
    from agent.perception.encoder import EncoderSpec, GlimpseEncoder
    from agent.perception.features import PerceptionWrapper, feature_dim

    encoder = GlimpseEncoder(EncoderSpec([8], 8))
    env = PerceptionWrapper(make_env(obs_mode="glimpse", active_gaze=True), encoder)
    obs, _ = env.reset(seed=0)
    assert obs.shape == (feature_dim(encoder),) == env.observation_space.shape
    obs2, *_ = env.step(env.action_space.sample())
    assert np.isfinite(obs2).all()


def test_policy_save_load_round_trip_and_bad_files(tmp_path):
    from agent.rl.policy import AgentPolicy, PolicySpec, load_policy, save_policy
    from agent.weights import WeightsError

    policy = AgentPolicy(PolicySpec(feature_dim=10, hidden=[8]))
    policy.fit_normaliser(np.random.default_rng(0).normal(size=(50, 10)).astype(np.float32))
    save_policy(policy, tmp_path / "p")
    loaded = load_policy(tmp_path / "p")
    x = torch.randn(3, policy.spec.input_dim)
    assert torch.equal(policy(x), loaded(x))
    assert torch.equal(policy.feature_mean, loaded.feature_mean)  # normalisation travels with the weights
    weights = tmp_path / "p" / "policy.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    with pytest.raises(WeightsError, match="policy.safetensors"):
        load_policy(tmp_path / "p")
    with pytest.raises(WeightsError, match="no policy here"):
        load_policy(tmp_path / "nothing")


def test_rl_resume_continues_where_it_stopped(tiny_run, tmp_path):
    """PPO stopped at its budget resumes from its checkpoint to a larger budget, not from zero."""
    import json
    import shutil

    from agent.stages import StageError, run_stage

    config, run_dir, _ = tiny_run
    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy)
    (copy / "rl" / "policy.json").unlink()
    (copy / "rl" / "MANIFEST.json").unlink()  # a stage that has not finished has no manifest
    more = replace(config, run_dir=str(copy), rl=replace(config.rl, ppo_steps=2 * config.rl.ppo_steps))
    with pytest.raises(StageError, match=r"rl\.ppo_steps: 64 -> 128"):  # another budget must be asked for
        run_stage(more, "rl", resume=True)
    metrics = run_stage(more, "rl", resume=True, allow_config_change=True)
    assert metrics["ppo"]["env_steps"] == 2 * config.rl.ppo_steps
    saved = json.loads((copy / "rl" / "metrics.json").read_text())
    assert not [k for k in saved["imitation"] if k.startswith("round_")]  # kept, not trained again
    assert saved["imitation"]["dagger_1_episodes"]["collected_now"] == 0


@pytest.mark.slow
def test_imitation_beats_a_random_policy_on_an_easy_task(tiny_run, tmp_path):
    """press_button from glimpse features: cloned from a few dozen expert episodes, it succeeds
    where random actions almost never do."""
    import shutil

    from agent.rl.evaluate import success_per_task
    from agent.stages import run_stage

    config, run_dir, _ = tiny_run
    run = tmp_path / "run"
    shutil.copytree(run_dir, run)
    shutil.rmtree(run / "rl")
    easy = replace(config, run_dir=str(run), rl=replace(config.rl, tasks=["press_button"], demos_per_task=40,
                                                         hidden=[128, 128], bc_steps=1500, ppo_steps=0,
                                                         dagger_rounds=1))
    run_stage(easy, "rl")
    agent = success_per_task(easy, RunLayout(run).rl, {}, 10)["success_mean"]
    random = success_per_task(easy, None, {"actor": "random"}, 10)["success_mean"]
    assert agent >= 0.5 and agent > random, (agent, random)


def test_rl_stage_adapts_the_narrator_to_the_agent(tiny_run):
    from agent.language.narrator import load_narrator
    from agent.runs import RunLayout

    config, run_dir, metrics = tiny_run
    run = RunLayout(run_dir)
    assert run.agent_narrator == run.rl / "narrator"
    narration = metrics["rl"]["narration"]
    assert narration["agent_episodes"] == 18 * config.rl.narration_episodes_per_task
    assert narration["steps"] == config.rl.narration_steps
    adapted, original = load_narrator(run.agent_narrator), load_narrator(run.narrator)
    assert adapted.spec == original.spec
    changed = [k for k, v in adapted.state_dict().items() if not torch.equal(v, original.state_dict()[k])]
    assert changed  # fine-tuned, not a copy


def test_hand_minus_gaze_is_the_hand_relative_to_the_gaze_point():
    """The policy's hand-relative input, from the features alone: 10 x (hand - gaze point)."""
    from agent.rl.policy import hand_minus_gaze
    from envs.eye import Gaze
    from envs.robot import PROPRIO_SIZE

    d = 4
    gaze = Gaze(0.3, -0.5, 0.2)
    proprio = np.zeros(PROPRIO_SIZE, np.float32)
    proprio[:3] = [0.5, 0.1, 0.2]
    features = np.concatenate([np.ones(2 * d), proprio, gaze.as_array()]).astype(np.float32)
    got = hand_minus_gaze(torch.from_numpy(features), d).numpy()
    assert np.allclose(got, 10 * (proprio[:3] - gaze.point()), atol=1e-5)
