import numpy as np
import pytest
import torch

from agent.language.reward import (RewardModel, RewardSpec, episode_ends, hard_negative_texts, load_reward,
                                   save_reward, train_reward)
from agent.weights import WeightsError
from envs.instructions import phrasings
from envs.tasks import Task


def test_hard_negatives_are_the_opposite_task_and_another_colour():
    rng = np.random.default_rng(0)
    opposite, colour = hard_negative_texts(Task("put_block_in_drawer", "red"), rng)
    assert opposite in phrasings(Task("take_block_out", "red"))
    assert "red" not in colour and "block" in colour
    (only,) = hard_negative_texts(Task("open_drawer"), rng)
    assert only in phrasings(Task("close_drawer"))


def test_episode_ends():
    first, last = episode_ends({"episode": np.array([0, 0, 0, 1, 1, 2])})
    assert first.tolist() == [0, 3, 5] and last.tolist() == [2, 4, 5]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    torch.manual_seed(0)
    torch.set_num_threads(1)
    tasks = [Task("open_drawer"), Task("close_drawer")] * 8
    first = torch.zeros(16, 4)
    first[:, 0] = torch.tensor([0.0, 1.0] * 8)  # open: the drawer feature goes 0 -> 1; close: 1 -> 0
    end = first.flip(1).clone()
    end[:, 0] = 1 - first[:, 0]
    end[:, 3] = 0
    model = RewardModel(RewardSpec(input_dim=4, embed_dim=8))
    history = train_reward(model, first, end, tasks, steps=60, batch=8, lr=3e-3, seed=0,
                           out_dir=tmp_path_factory.mktemp("reward"))
    return model.eval(), first, end, [h["loss"] for h in history]


def test_training_separates_a_change_from_its_reverse(trained):
    from agent.language.reward import embed_texts

    model, first, end, losses = trained
    assert losses[-1] < losses[0]  # logged every 25 steps
    text = embed_texts(["open the drawer"])
    with torch.no_grad():
        forward = model.score(first[:1], end[:1], text)
        backward = model.score(end[:1], first[:1], text)
    assert forward > backward


def test_save_load_identical(trained, tmp_path):
    model, first, end, _ = trained
    save_reward(model, tmp_path)
    loaded = load_reward(tmp_path)
    text = torch.randn(2, 384)
    assert torch.equal(model.score(first[:2], end[:2], text), loaded.score(first[:2], end[:2], text))
    (tmp_path / "reward.safetensors").write_bytes(b"")
    with pytest.raises(WeightsError, match="reward.safetensors"):
        load_reward(tmp_path)
