import numpy as np
import pytest

from envs.config import DeskConfig
from envs.desk_env import DeskEnv


@pytest.mark.parametrize(
    "action, message",
    [
        (np.array([0, 0, np.nan, 0], dtype=np.float32), "NaN"),
        (np.array([0, 0, 0, np.inf], dtype=np.float32), "NaN or infinity"),
        (np.array([0, 1.5, 0, 0], dtype=np.float32), "out of range"),
        (np.zeros(3, dtype=np.float32), "shape"),
        (np.zeros((1, 4), dtype=np.float32), "shape"),
    ],
)
def test_bad_actions_name_the_problem(make_env, action, message):
    env = make_env(obs_mode="state")
    env.reset(seed=0)
    with pytest.raises(ValueError, match=message):
        env.step(action)
    env.step(np.zeros(4, dtype=np.float32))  # the env is still usable


def test_physics_blow_up_truncates_with_error(make_env):
    env = make_env(obs_mode="state")
    env.reset(seed=0)
    env.sim.p.resetBaseVelocity(env.scene.blocks["red"], [0, 0, 200.0], [0, 0, 0])
    _, _, terminated, truncated, info = env.step(np.zeros(4, dtype=np.float32))
    assert truncated and not terminated
    assert "red block" in info["error"]


def test_close_twice_is_safe():
    env = DeskEnv(obs_mode="state")
    env.reset(seed=0)
    env.close()
    env.close()
    with pytest.raises(RuntimeError, match="closed"):
        env.step(np.zeros(4, dtype=np.float32))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"obs_mode": "pixels"}, "obs_mode"),
        ({"task": "dance"}, "unknown task"),
        ({"fovea_size": 0}, "fovea_size"),
        ({"max_step": 1.0}, "max_step"),
    ],
)
def test_bad_env_config_names_the_key(kwargs, message):
    with pytest.raises(ValueError, match=message):
        DeskConfig(**kwargs)


def test_bad_render_mode():
    with pytest.raises(ValueError, match="render_mode"):
        DeskEnv(render_mode="movie")


def test_requesting_an_impossible_task_at_reset_names_it(make_env):
    env = make_env(obs_mode="state")
    with pytest.raises(ValueError, match="unknown task"):
        env.reset(seed=0, options={"task": "fly"})
