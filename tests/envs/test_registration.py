import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env as gym_check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

import envs
from envs import ENV_IDS


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_gymnasium_check_env(env_id):
    env = gym.make(env_id, fovea_size=16, periphery_size=16, frame_size=32)
    gym_check_env(env.unwrapped, skip_render_check=True)
    env.close()


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_sb3_check_env(env_id):
    env = gym.make(env_id, fovea_size=16, periphery_size=16, frame_size=32)
    with warnings.catch_warnings():
        # SB3 warns that 16x16 images are too small for its NatureCNN; our extractor is our own.
        warnings.simplefilter("ignore")
        sb3_check_env(env.unwrapped, warn=True)
    env.close()


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_random_steps_stay_in_spaces(env_id):
    env = gym.make(env_id, fovea_size=16, periphery_size=16, frame_size=32)
    obs, _ = env.reset(seed=1)
    env.action_space.seed(1)
    for _ in range(60):
        obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
        assert env.observation_space.contains(obs)
        assert "error" not in info
        if terminated or truncated:
            obs, _ = env.reset()
    env.close()


def test_ids_are_registered_in_one_place():
    assert set(ENV_IDS) <= set(gym.registry)
    assert len(envs.ALL_TASKS) == 18


def test_active_gaze_moves_the_fovea(make_env):
    env = make_env(active_gaze=True)
    env.reset(seed=0)
    left = env.step(np.array([0, 0, 0, 0, -0.8, 0.8, 0.0], dtype=np.float32))[0]["fovea"]
    right = env.step(np.array([0, 0, 0, 0, 0.8, -0.8, 0.0], dtype=np.float32))[0]["fovea"]
    assert not np.array_equal(left, right)
    assert np.allclose(env.gaze.as_array(), [0.8, -0.8, 0.0])


def test_numpy_cameras_match_pybullet():
    import pybullet

    from envs.eye import HEAD, projection_matrix, view_matrix

    assert np.allclose(view_matrix(HEAD, [0.5, 0.1, 0.03]), pybullet.computeViewMatrix(HEAD, [0.5, 0.1, 0.03], [0, 0, 1]),
                       atol=1e-6)
    assert np.allclose(projection_matrix(20.0, 1.0), pybullet.computeProjectionMatrixFOV(20.0, 1.0, 0.05, 3.0),
                       atol=1e-6)
