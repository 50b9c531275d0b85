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
    """What `run_stage` returned and wrote is what the stage left on disk: its manifest verifies, its
    config.yaml is the run's config, metrics.json holds the returned figures, and those figures agree
    with the files themselves (chunks, steps, trained steps, demonstrations, banks)."""
    from agent.config import config_to_dict
    from agent.integrity import verify_stage
    from agent.stages import summary

    config, run_dir, metrics = tiny_run
    run = RunLayout(run_dir)
    for stage in built_stages():
        folder = run.stage(stage)
        assert verify_stage(folder), stage  # a manifest is there and every listed file matches it
        written = load_config(folder / "config.yaml")
        assert config_to_dict(written) == config_to_dict(config), stage
        saved = json.loads((folder / "metrics.json").read_text())
        assert summary(saved) == metrics[stage], stage

    # collect: the chunks and steps it reports are the ones in the play data
    from agent.data.format import PlayData

    data = PlayData(run.collect)
    c = config.collect
    assert metrics["collect"]["chunks"] == len(data) == -(-c.episodes // c.chunk_episodes)
    assert metrics["collect"]["steps_collected"] == data.validate()
    assert metrics["collect"]["skipped_chunks"] == 0  # a fresh run folder

    # encoder and capsules: the steps reported are the steps the saved weights say they trained
    for stage, steps in (("encoder", config.encoder.steps), ("capsules", config.capsules.steps)):
        saved = json.loads((run.stage(stage) / "metrics.json").read_text())
        trained = json.loads((run.stage(stage) / f"{stage}.json").read_text())["trained_steps"]
        assert metrics[stage]["steps"] == trained == steps == saved["history"][-1]["step"], stage
    encoder_history = json.loads((run.encoder / "metrics.json").read_text())["history"]
    assert metrics["encoder"]["final_loss"] == encoder_history[-1]["loss"]

    # language: the saved parser, loaded again, gives the training figure reported
    from agent.language.command_sets import labelled_phrasings
    from agent.language.commands import CommandParser

    parser = CommandParser.load(run.commands)
    train = labelled_phrasings("train")
    right = sum(parser.parse(text) == {"task": task, "block": block} for text, task, block in train)
    assert metrics["language"]["commands"]["train_exact"] == pytest.approx(right / len(train))

    # rl: the demonstrations reported are the ones stored, with the success rate they show
    from agent.rl.demos import load_demos

    demos = load_demos([run.rl / "demos"])
    episodes = np.unique(demos["episode"])
    succeeded = [demos["success"][demos["episode"] == e].any() for e in episodes]
    assert metrics["rl"]["demonstrations"]["episodes"] == len(episodes) > 0
    assert metrics["rl"]["demonstrations"]["success_rate_now"] == pytest.approx(np.mean(succeeded))

    # attention: the scenes reported are the ones in the glimpse banks
    from agent.attention.bank import load_bank

    for split, scenes in metrics["attention"]["scenes"].items():
        assert len(load_bank(run.attention / "bank", split, ("state",))["state"]) == scenes, split


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
