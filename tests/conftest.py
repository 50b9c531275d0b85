from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "configs" / "tiny.yaml"


@pytest.fixture
def tiny_config_path() -> Path:
    return TINY


@pytest.fixture
def make_env():
    """Build DeskEnvs with tiny images and close them after the test."""
    from envs.desk_env import DeskEnv

    made = []

    def make(**kwargs):
        kwargs = {"fovea_size": 16, "periphery_size": 16, "frame_size": 32, **kwargs}
        env = DeskEnv(**kwargs)
        made.append(env)
        return env

    yield make
    for env in made:
        env.close()
