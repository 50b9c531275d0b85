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


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """Every built stage trained on tiny.yaml by `run_stage`, as `saccade train all` does (about a minute)."""
    import torch

    from agent.config import load_config
    from agent.stages import built_stages, run_stage

    run_dir = tmp_path_factory.mktemp("tiny_run")
    config = load_config(TINY, [f"run_dir={run_dir}"])
    threads = torch.get_num_threads()
    metrics = {stage: run_stage(config, stage) for stage in built_stages()}
    torch.set_num_threads(threads)
    return config, run_dir, metrics
