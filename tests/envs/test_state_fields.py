import gymnasium as gym
import numpy as np
import pytest

import envs  # noqa: F401  (registers the Gymnasium ids)
from envs.robot import PROPRIO_SIZE
from envs.scene import COLOURS
from envs.state_fields import SCENE_STATE_SIZE, STATE_FIELDS, STATE_SIZE, block_position, field


def test_table_covers_the_vector_without_gap_or_overlap():
    spans = sorted((s.start, s.stop) for s in STATE_FIELDS.values())
    assert spans[0][0] == 0 and spans[-1][1] == STATE_SIZE
    for (_, stop), (start, _) in zip(spans, spans[1:]):
        assert stop == start
    assert all(stop > start for start, stop in spans)
    assert STATE_SIZE == SCENE_STATE_SIZE + PROPRIO_SIZE


def test_field_reads_any_leading_shape():
    state = np.arange(2 * 5 * STATE_SIZE, dtype=np.float32).reshape(2, 5, STATE_SIZE)
    assert field(state, "drawer").shape == (2, 5)  # one-wide fields lose their last axis
    assert block_position(state, "green").shape == (2, 5, 3)
    assert np.array_equal(field(state[0, 0], "arm_joints"), state[0, 0, -7:])
    with pytest.raises(ValueError):
        field(state[..., :-1], "drawer")


@pytest.fixture(scope="module")
def env():
    env = gym.make("saccade/DeskState-v0")
    env.reset(seed=0)
    # a few steps, so that velocities and joints are not just their reset values
    action = np.zeros(env.action_space.shape, dtype=np.float32)
    action[:4] = [0.5, -0.3, -0.5, -1.0]
    for _ in range(5):
        env.step(action)
    yield env
    env.close()


def test_named_fields_match_the_privileged_state(env):
    desk = env.unwrapped
    assert env.observation_space["state"].shape == (STATE_SIZE,)
    assert len(desk.scene.state_vector()) == SCENE_STATE_SIZE
    assert len(desk.robot.proprioception()) == PROPRIO_SIZE
    state = desk._obs()["state"]
    truth = desk.privileged()
    close = dict(atol=1e-5)
    assert np.isclose(field(state, "drawer"), truth["drawer"], **close)
    assert np.isclose(field(state, "button"), truth["button_depth"], **close)
    assert field(state, "lamp") == float(truth["lamp_on"])
    for c in COLOURS:
        assert np.allclose(block_position(state, c), truth["blocks"][c], **close)
        assert np.allclose(field(state, f"block_{c}_orientation"), desk.scene.block_pose(c)[1], **close)
    assert np.allclose(field(state, "ee_position"), truth["ee"], **close)
    assert np.allclose(field(state, "ee_velocity"), desk.robot.ee_velocity(), **close)
    assert np.isclose(field(state, "finger_width"), truth["finger_width"], **close)
    assert np.allclose(field(state, "arm_joints"), desk.robot.joint_positions(), **close)


def test_scene_switch_round_trip(env):
    scene = env.unwrapped.scene
    saved = scene.save_switch()
    scene.restore_switch({"lamp_on": not saved["lamp_on"], "was_pressed": True})
    assert scene.lamp_on != saved["lamp_on"]
    scene.restore_switch(saved)
    assert scene.save_switch() == saved
