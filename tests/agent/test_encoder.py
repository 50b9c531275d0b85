import json
import os
import signal
from pathlib import Path

import numpy as np
import pytest
import torch

from agent.config import load_config
from agent.data.collect import collect
from agent.perception.augment import augment, colour_distort
from agent.perception.contrastive import nt_xent, train_contrastive
from agent.perception.encoder import EncoderSpec, GlimpseEncoder, load_encoder, save_encoder
from agent.weights import WeightsError

TINY = Path(__file__).resolve().parents[2] / "configs" / "tiny.yaml"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("run")
    config = load_config(TINY, [f"run_dir={run_dir}"])
    collect(config, run_dir / "collect")
    return config, run_dir


def test_encoder_takes_any_image_size_and_layout():
    enc = GlimpseEncoder(EncoderSpec([8, 16], 12))
    assert enc(torch.zeros(2, 16, 16, 3, dtype=torch.uint8)).shape == (2, 12)
    assert enc(torch.rand(3, 3, 84, 84)).shape == (3, 12)


def test_augment_is_seeded_and_in_range():
    x = torch.randint(0, 256, (4, 16, 16, 3), dtype=torch.uint8)
    a = augment(x, crop_scale=(0.4, 1.0), colour=True, colour_strength=0.5, gen=torch.Generator().manual_seed(1))
    b = augment(x, crop_scale=(0.4, 1.0), colour=True, colour_strength=0.5, gen=torch.Generator().manual_seed(1))
    assert a.shape == (4, 3, 16, 16) and torch.equal(a, b)
    assert a.min() >= 0 and a.max() <= 1


def test_colour_distortion_changes_colour_histogram():
    x = torch.rand(64, 3, 8, 8)
    y = colour_distort(x, 0.5, torch.Generator().manual_seed(0))
    assert (x.mean(dim=(2, 3)) - y.mean(dim=(2, 3))).abs().mean() > 0.02


def test_nt_xent_prefers_matching_pairs():
    z = torch.nn.functional.normalize(torch.randn(8, 16), dim=1)
    matched, pos, neg = nt_xent(torch.cat([z, z]), 0.1)
    shuffled, _, _ = nt_xent(torch.cat([z, z.roll(1, 0)]), 0.1)
    assert matched < shuffled and pos == pytest.approx(1.0)


def test_save_load_identical_outputs(tmp_path):
    enc = GlimpseEncoder(EncoderSpec([8, 16], 12)).eval()
    save_encoder(enc, tmp_path)
    loaded = load_encoder(tmp_path)
    x = torch.rand(2, 3, 16, 16)
    assert torch.equal(enc(x), loaded(x))


def test_truncated_or_foreign_weights_are_named(tmp_path):
    enc = GlimpseEncoder(EncoderSpec([8, 16], 12))
    save_encoder(enc, tmp_path)
    weights = tmp_path / "encoder.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    with pytest.raises(WeightsError, match="encoder.safetensors: not a readable safetensors file"):
        load_encoder(tmp_path)
    (tmp_path / "encoder.json").write_text(json.dumps({"kind": "something else"}))
    with pytest.raises(WeightsError, match="not a saccade encoder"):
        load_encoder(tmp_path)
    with pytest.raises(WeightsError, match="no encoder here"):
        load_encoder(tmp_path / "missing")


def test_training_lowers_the_loss_and_writes_artifacts(run):
    config, run_dir = run
    config = load_config(TINY, [f"run_dir={run_dir}", "encoder.steps=30", "encoder.log_every=5",
                                "encoder.checkpoint_every=10"])
    metrics = train_contrastive(config, run_dir / "collect", run_dir / "enc_long")
    losses = [h["loss"] for h in metrics["history"]]
    assert np.mean(losses[-2:]) < losses[0]
    out = run_dir / "enc_long"
    assert (out / "encoder.safetensors").exists() and (out / "encoder.json").exists()  # config.yaml: agent.stages
    assert list((out / "tb").iterdir())  # TensorBoard events
    assert (out / "checkpoints" / "latest").read_text() == "step_000030"


def test_interrupted_training_resumes_exactly(run, monkeypatch):
    import agent.perception.contrastive as contrastive

    config, run_dir = run
    straight = train_contrastive(config, run_dir / "collect", run_dir / "straight")
    calls = {"n": 0}
    real = contrastive.nt_xent

    def interrupt_at_step_5(z, t):
        calls["n"] += 1
        if calls["n"] == 5:  # Ctrl-C in the middle of the fifth step
            os.kill(os.getpid(), signal.SIGINT)
        return real(z, t)

    monkeypatch.setattr(contrastive, "nt_xent", interrupt_at_step_5)
    with pytest.raises(KeyboardInterrupt):
        train_contrastive(config, run_dir / "collect", run_dir / "resumed")
    # the step in flight was finished, then checkpointed
    assert (run_dir / "resumed" / "checkpoints" / "latest").read_text() == "step_000005"
    monkeypatch.setattr(contrastive, "nt_xent", real)
    resumed = train_contrastive(config, run_dir / "collect", run_dir / "resumed", resume=True)
    a, b = load_encoder(run_dir / "straight"), load_encoder(run_dir / "resumed")
    for (k, va), vb in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.equal(va, vb), k
    assert resumed["history"][-1]["loss"] == straight["history"][-1]["loss"]


def test_same_seed_same_weights(run):
    config, run_dir = run
    train_contrastive(config, run_dir / "collect", run_dir / "seed_a")
    train_contrastive(config, run_dir / "collect", run_dir / "seed_b")
    a, b = load_encoder(run_dir / "seed_a"), load_encoder(run_dir / "seed_b")
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


def test_existing_run_needs_resume(run):
    config, run_dir = run
    train_contrastive(config, run_dir / "collect", run_dir / "twice")
    with pytest.raises(FileExistsError, match="--resume"):
        train_contrastive(config, run_dir / "collect", run_dir / "twice")
