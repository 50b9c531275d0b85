"""`saccade train all` interrupted by SIGTERM and by SIGKILL, then run again, ends where an
uninterrupted run ends: every model byte for byte, up to the imitation policy. (PPO resumes
from its last archive, which does not hold the environments' random state, so the RL layer
continues rather than replays.)"""

import signal
import subprocess
import sys
import time

import pytest

from agent.runs import RunLayout

CLI = [sys.executable, "-m", "agent.cli"]


def _interrupt_when(args, ready, sig: int, timeout: float = 600) -> None:
    """Start the command, wait until `ready()` says it is where it should be interrupted, send `sig`.

    Waiting on the run's own progress (not on a clock) interrupts the same work on a fast machine and
    a slow one; and the test fails, rather than passes having interrupted nothing, if the command
    finished first.
    """
    proc = subprocess.Popen([*CLI, *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + timeout
        while not ready():
            if proc.poll() is not None:
                pytest.fail(f"{' '.join(args)} ended (exit {proc.returncode}) before it reached the point "
                            f"where {signal.Signals(sig).name} should interrupt it")
            if time.monotonic() > deadline:
                pytest.fail(f"{' '.join(args)} did not reach the point to interrupt in {timeout:.0f} s")
            time.sleep(0.02)
        assert proc.poll() is None, f"{' '.join(args)} finished (exit {proc.returncode}) before the signal"
        proc.send_signal(sig)
        proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    # interrupted, not finished: SIGTERM ends it with 130 (or -15 if it came before the handler); SIGKILL with -9
    assert proc.returncode in ((130, -signal.SIGTERM) if sig == signal.SIGTERM else (-sig,)), proc.returncode


@pytest.mark.slow
def test_train_all_survives_sigterm_and_sigkill(tiny_config_path, tmp_path):
    reference, run = tmp_path / "reference", tmp_path / "run"
    uninterrupted = subprocess.run([*CLI, "train", "all", "--config", str(tiny_config_path), "--run-dir", str(reference)],
                                   capture_output=True, text=True, timeout=900)
    assert uninterrupted.returncode == 0, uninterrupted.stderr[-2000:]
    args = ["train", "all", "--config", str(tiny_config_path), "--run-dir", str(run)]
    layout = RunLayout(run)
    # SIGTERM in the encoder, once it has saved its first checkpoint (step 3 of tiny.yaml's 6)
    _interrupt_when(args, lambda: (layout.encoder / "checkpoints" / "latest").exists(), signal.SIGTERM)
    # SIGKILL in the RL stage, once the first part of its demonstrations is on disk (of two)
    _interrupt_when(args, lambda: any(p for p in (layout.rl / "demos").glob("part_*.npz")
                                      if not p.name.endswith(".tmp.npz")), signal.SIGKILL)
    assert not (layout.rl / "policy.json").exists()
    result = subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-2000:]
    ours, theirs = RunLayout(run), RunLayout(reference)
    for name in ("encoder/encoder.safetensors", "capsules/capsules.safetensors",
                 "language/narrator/narrator.safetensors", "language/reward/reward.safetensors",
                 "rl/imitation/policy.safetensors"):
        assert (ours.root / name).read_bytes() == (theirs.root / name).read_bytes(), name
    assert (ours.rl / "policy.json").exists()
