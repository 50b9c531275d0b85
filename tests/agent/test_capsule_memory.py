"""The capsule scene memory as the scene estimate reads it: a desk grid a linear probe can read a
place from, capsules recorded at the glimpse bank's own scenes, and the with/without comparison."""

import numpy as np
import pytest

from agent.attention.capsule_memory import CELL, memory_grids
from agent.perception.memory import SceneMemory, desk_grid, grid_nodes


def test_desk_grid_keeps_a_place_finer_than_a_cell():
    memory = SceneMemory()
    features = np.array([1.0, -2.0, 0.5], np.float32)
    memory.add(np.array([[0.413, -0.071, 0.03]]), np.array([0.9]), features[None])
    grid = desk_grid(memory, 3, CELL).reshape(*(len(n) for n in grid_nodes(CELL)), 4)
    xs, ys = grid_nodes(CELL)
    weight = grid[..., 0]
    assert weight.sum() == pytest.approx(0.9)
    # bilinear weights reproduce the place exactly: a linear read-out is not limited to the cell size
    assert (weight * xs[:, None]).sum() / weight.sum() == pytest.approx(0.413, abs=1e-6)
    assert (weight * ys[None, :]).sum() / weight.sum() == pytest.approx(-0.071, abs=1e-6)
    assert np.allclose(grid[..., 1:].sum((0, 1)), 0.9 * features)
    assert (weight > 0).sum() == 4 and CELL > 0.03


def test_memory_grids_grow_with_the_glimpses():
    bank = {"fovea_world": np.array([[[[0.4, 0.0, 0.03]], [[0.5, -0.1, 0.03]]]]),  # 1 scene, 2 candidates, 1 capsule
            "fovea_present": np.ones((1, 2, 1)), "fovea_features": np.ones((1, 2, 1, 2))}
    grids = memory_grids(bank, np.array([[0, 1]]), ("fovea",), (1, 2))
    objects = {k: g.reshape(-1, 3)[:, 0].sum() for k, g in grids.items()}
    assert objects[1] == pytest.approx(1.0) and objects[2] > 1.9  # the second place is far: a second object
    empty = memory_grids(bank, np.array([[-1, -1]]), ("fovea",), (2,))
    assert not empty[2].any()


@pytest.mark.slow
def test_scene_estimate_with_and_without_capsules(tiny_run, tmp_path):
    from agent.attention.bank import load_bank
    from agent.attention.candidates import GazeCandidates
    from agent.attention.capsule_memory import capsule_bank, scene_with_capsules
    from agent.attention.evaluate import scene_accuracy
    from agent.attention.policy import load_attention
    from agent.runs import RunLayout
    from agent.weights import WeightsError

    config, run_dir, _ = tiny_run
    run = RunLayout(run_dir)
    result = scene_with_capsules(config, run, {0: run.capsules}, tmp_path / "capsule_bank")
    assert result["memory_streams"] in result["validation_choice"]
    # without capsules, the estimate is the attention evaluation's own (same banks, gazes and seeds)
    reference = scene_accuracy(config, run, {"shipped": load_attention(run.attention)})["scene_accuracy"]
    for policy, name in (("learned", "learned_shipped"), ("random", "random"), ("fixed_scan", "fixed_scan")):
        row = result["summary"][policy]["2"]["scene_accuracy"]
        assert row["without_capsules"] == pytest.approx(reference[name]["2"], abs=1e-4), policy
        assert len(row["with_capsules"]) == 1
        assert row["gain_median"] == pytest.approx(row["with_capsules"][0] - row["without_capsules"], abs=1e-4)
    # the capsules were recorded at the bank's own scenes; another bank's scenes are refused
    test = load_bank(run.attention / "bank", "test")
    candidates = load_attention(run.attention).candidates
    again = capsule_bank(config, run.capsules, tmp_path / "capsule_bank", "test", test["state"], candidates)
    assert again["fovea_world"].shape[:2] == (len(test["state"]), 18)
    with pytest.raises(WeightsError, match="not the glimpse bank"):
        capsule_bank(config, run.capsules, tmp_path / "capsule_bank", "test", test["state"] + 1, candidates)
    with pytest.raises(WeightsError, match="other candidate gazes"):
        capsule_bank(config, run.capsules, tmp_path / "capsule_bank", "test", test["state"], GazeCandidates(2, [1.0]))


@pytest.mark.slow
def test_agent_with_capsule_memory_trains_acts_and_takes_commands(tiny_run, tmp_path):
    """rl.capsule_memory: demonstrations carry the memory, the policy reads it, and the evaluation
    and the command prompt build it, empty with each command as in the demonstrations."""
    import json
    import shutil
    from dataclasses import replace

    from agent.command import CommandSession
    from agent.rl.capsule_inputs import MemoryPerception
    from agent.rl.demos import load_demos
    from agent.rl.evaluate import success_per_task
    from agent.rl.policy import load_policy
    from agent.runs import RunLayout
    from agent.stages import run_stage

    config, run_dir, _ = tiny_run
    run = tmp_path / "run"
    shutil.copytree(run_dir, run, ignore=shutil.ignore_patterns("attention", "eval_*"))
    shutil.rmtree(run / "rl")
    with_memory = replace(config, run_dir=str(run), rl=replace(
        config.rl, tasks=["press_button"], capsule_memory=["periphery"], ppo_steps=0, narration_episodes_per_task=0,
        dagger_rounds=1))
    run_stage(with_memory, "rl")
    layout = RunLayout(run)
    policy = load_policy(layout.rl)
    assert policy.capsule_memory == ["periphery"]
    assert json.loads((layout.rl / "policy.json").read_text())["capsule_memory"] == ["periphery"]
    without = load_policy(run_dir / "rl")
    assert without.capsule_memory == [] and policy.spec.feature_dim > without.spec.feature_dim
    demos = load_demos([layout.rl / "demos"])
    memory = demos["features"][:, without.spec.feature_dim:]
    assert memory.shape[1] == policy.spec.feature_dim - without.spec.feature_dim and memory.any()
    assert success_per_task(with_memory, layout.rl, {}, 1)["episodes"] == 1
    session = CommandSession.open(run, with_memory, seed=3)
    try:
        assert isinstance(session.perception, MemoryPerception)
        session.run("press the button")
        first = session.perception.memory.memory
        assert first.entries  # the scene was remembered
        session.run("press the button")
        assert session.perception.memory.memory is not first  # a new command starts a new memory
    finally:
        session.close()
