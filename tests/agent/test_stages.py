"""The stage registry and `train all` on tiny.yaml, called directly; figures a broken stage would fail."""

import json

import numpy as np
import pytest

from agent.config import load_config
from agent.runs import RunLayout
from agent.stages import ORDER, STAGES, StageError, built_stages, run_stage


def test_registry_orders_every_stage_after_what_it_needs():
    assert set(ORDER) == set(STAGES)
    for i, name in enumerate(ORDER):
        assert all(ORDER.index(need) < i for need in STAGES[name].needs), name


def test_a_stage_refuses_to_run_without_what_it_needs(tmp_path, tiny_config_path):
    config = load_config(tiny_config_path, [f"run_dir={tmp_path}"])
    with pytest.raises(StageError, match="needs collect first"):
        run_stage(config, "encoder")
    with pytest.raises(StageError, match="needs encoder, rl first"):
        run_stage(config, "attention")


def test_every_stage_writes_its_config_and_metrics(tiny_run):
    _, run_dir, metrics = tiny_run
    for stage in built_stages():
        folder = RunLayout(run_dir).stage(stage)
        assert (folder / "config.yaml").exists(), stage
        saved = json.loads((folder / "metrics.json").read_text())
        assert set(metrics[stage]) <= set(saved), stage


def test_trained_encoder_moved_from_its_initialisation(tiny_run):
    """The encoder stage trained (its weights are not a fresh initialisation) and gives finite features."""
    import torch

    from agent.data.format import PlayData
    from agent.perception.encoder import EncoderSpec, GlimpseEncoder, load_encoder
    from agent.perception.features import step_features

    config, run_dir, _ = tiny_run
    run = RunLayout(run_dir)
    data = PlayData(run.collect)
    with data.open(0) as chunk:
        arrays = {k: chunk[k] for k in ("fovea", "periphery", "proprio", "gaze", "state")}
    trained = load_encoder(run.encoder)
    torch.manual_seed(0)
    random = GlimpseEncoder(EncoderSpec(list(config.encoder.channels), config.encoder.feature_dim))
    assert trained.state_dict()["fc.weight"].shape == random.state_dict()["fc.weight"].shape
    assert not torch.equal(trained.state_dict()["fc.weight"], random.state_dict()["fc.weight"])
    feats = step_features(trained, arrays["fovea"], arrays["periphery"], arrays["proprio"], arrays["gaze"])
    assert np.isfinite(feats).all() and feats.std(0).max() > 0


def test_language_stage_figures(tiny_run):
    _, _, metrics = tiny_run
    assert metrics["language"]["commands"]["train_exact"] >= 0.98  # the parser learns its own phrasings
    assert metrics["language"]["narrator"]["steps"] > 0


def test_rl_stage_exports_a_policy_without_pickle(tiny_run):
    from agent.rl.policy import load_policy

    _, run_dir, metrics = tiny_run
    run = RunLayout(run_dir)
    policy = load_policy(run.rl)
    assert not list(run.rl.glob("*.zip")) and not list(run.rl.glob("*.pkl"))
    assert metrics["rl"]["demonstrations"]["episodes"] > 0
    assert policy.spec.feature_dim == policy.feature_mean.shape[0]


def test_a_setting_added_since_a_checkpoint_counts_as_its_default():
    """Resuming a stage saved before a setting existed: the new setting at its default is no change."""
    from agent.config import RunConfig, config_to_dict
    from agent.stages import config_differences

    now = config_to_dict(RunConfig())
    saved = json.loads(json.dumps(now))
    del saved["rl"]["capsule_memory"], saved["capsules"]["identity_weighting"]
    defaults = config_to_dict(RunConfig())
    assert config_differences(saved, now, ("rl", "capsules"), defaults) == []
    assert config_differences(saved, now, ("rl", "capsules")) == ["capsules.identity_weighting: (absent) -> objects",
                                                                 "rl.capsule_memory: (absent) -> []"]
    now["capsules"]["identity_weighting"] = "places"
    assert config_differences(saved, now, ("capsules",), defaults) == ["capsules.identity_weighting: objects -> places"]
