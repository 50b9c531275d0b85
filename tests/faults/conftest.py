"""Fault injection: a tiny run (collect + encoder, a few seconds) built once, copied for each test to damage."""

import shutil

import pytest
from faultkit import tiny


@pytest.fixture(scope="session")
def finished_run(tmp_path_factory):
    """collect and encoder on tiny.yaml, finished (manifests written); never modified."""
    import torch

    from agent.stages import run_stage

    run_dir = tmp_path_factory.mktemp("faults") / "run"
    threads = torch.get_num_threads()
    for stage in ("collect", "encoder"):
        run_stage(tiny(run_dir), stage)
    torch.set_num_threads(threads)
    return run_dir


@pytest.fixture
def run(finished_run, tmp_path):
    """A copy of the finished run, to damage."""
    copy = tmp_path / "run"
    shutil.copytree(finished_run, copy)
    return copy
