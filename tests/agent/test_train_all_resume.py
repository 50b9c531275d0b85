"""`saccade train all` interrupted by SIGTERM and by SIGKILL, then run again, ends where an
uninterrupted run ends: every model byte for byte, up to the imitation policy. (PPO resumes
from its last archive, which does not hold the environments' random state, so the RL layer
continues rather than replays.)"""

import signal
import subprocess
import sys

import pytest

from agent.runs import RunLayout

CLI = [sys.executable, "-m", "agent.cli"]


def _interrupt_after(args, seconds: float, sig: int) -> None:
    proc = subprocess.Popen([*CLI, *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        proc.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        proc.send_signal(sig)
        proc.wait(timeout=120)


@pytest.mark.slow
def test_train_all_survives_sigterm_and_sigkill(tiny_config_path, tmp_path):
    reference, run = tmp_path / "reference", tmp_path / "run"
    uninterrupted = subprocess.run([*CLI, "train", "all", "--config", str(tiny_config_path), "--run-dir", str(reference)],
                                   capture_output=True, text=True, timeout=900)
    assert uninterrupted.returncode == 0, uninterrupted.stderr[-2000:]
    args = ["train", "all", "--config", str(tiny_config_path), "--run-dir", str(run)]
    _interrupt_after(args, 12, signal.SIGTERM)
    _interrupt_after(args, 25, signal.SIGKILL)
    result = subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-2000:]
    ours, theirs = RunLayout(run), RunLayout(reference)
    for name in ("encoder/encoder.safetensors", "capsules/capsules.safetensors",
                 "language/narrator/narrator.safetensors", "language/reward/reward.safetensors",
                 "rl/imitation/policy.safetensors"):
        assert (ours.root / name).read_bytes() == (theirs.root / name).read_bytes(), name
    assert (ours.rl / "policy.json").exists()
