"""One writer per stage folder: a second one is refused with the holder named; a lock left by a
killed process is taken over; two collects started together do not race."""

import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest
from faultkit import CLI, ROOT, TINY, cli, one_line_error, tiny

from agent.data.format import PlayData
from agent.integrity import verify_stage
from agent.locks import LOCK, acquire, holder_of, is_stale, release
from agent.stages import StageError, run_stage

pytestmark = pytest.mark.faults

HOLD = """
import sys
from pathlib import Path
from agent.locks import stage_lock
folder = Path(sys.argv[1]); folder.mkdir(parents=True, exist_ok=True)
with stage_lock(folder):
    print("held", flush=True)
    sys.stdin.readline()
"""

DIE_HOLDING = """
import os, signal, sys
from pathlib import Path
from agent.locks import acquire
folder = Path(sys.argv[1]); folder.mkdir(parents=True, exist_ok=True)
acquire(folder)
os.kill(os.getpid(), signal.SIGKILL)
"""


@pytest.fixture
def holder():
    """Start a process that holds a folder's lock until the test ends."""
    procs = []

    def hold(folder):
        proc = subprocess.Popen([sys.executable, "-c", HOLD, str(folder)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                text=True, cwd=ROOT)
        procs.append(proc)
        assert proc.stdout.readline().strip() == "held"
        return proc

    yield hold
    for proc in procs:
        proc.stdin.close()
        proc.wait(timeout=30)


def test_a_second_writer_is_refused_naming_the_holder(tmp_path, holder):
    run_dir = tmp_path / "run"
    proc = holder(run_dir / "collect")
    with pytest.raises(StageError, match=rf"being written by another command \(PID {proc.pid} on "
                                          rf"{socket.gethostname()}, since .*: -c "):
        run_stage(tiny(run_dir), "collect")
    assert sorted(p.name for p in (run_dir / "collect").iterdir()) == [LOCK]  # nothing written
    result = cli("train", "collect", "--config", str(TINY), "--run-dir", str(run_dir))
    assert result.returncode == 2
    assert f"PID {proc.pid}" in one_line_error(result.stderr)
    proc.stdin.close()
    proc.wait(timeout=30)
    assert run_stage(tiny(run_dir), "collect")["collected_chunks"] == 3  # free again
    assert not (run_dir / "collect" / LOCK).exists()


def test_a_stage_does_not_read_a_stage_being_written(run, holder):
    import shutil

    shutil.rmtree(run / "encoder")
    proc = holder(run / "collect")
    with pytest.raises(StageError, match=rf"reads collect, which another command is writing now \(PID {proc.pid}"):
        run_stage(tiny(run), "encoder")
    assert not (run / "encoder").exists()


def test_two_collects_started_together_do_not_race(tmp_path):
    run_dir = tmp_path / "run"
    args = [*CLI, "train", "collect", "--config", str(TINY), "--run-dir", str(run_dir)]
    procs = [subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
             for _ in range(2)]
    results = [(p.wait(timeout=120), *p.communicate()) for p in procs]
    for code, _, err in results:
        # each one either collected (or found everything collected) or was refused in one line
        assert code in (0, 2), err
        if code == 2:
            assert "being written by another command" in one_line_error(err)
    assert 0 in [code for code, _, _ in results]
    assert verify_stage(run_dir / "collect") and len(PlayData(run_dir / "collect")) == 3
    assert not (run_dir / "collect" / LOCK).exists()


def test_a_lock_left_by_a_killed_process_is_taken_over(tmp_path):
    run_dir = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-c", DIE_HOLDING, str(run_dir / "collect")], cwd=ROOT)
    deadline = time.monotonic() + 30
    lock = run_dir / "collect" / LOCK
    while not (lock.exists() and lock.read_text()) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.2)
    left = json.loads(lock.read_text())
    assert left["pid"] == proc.pid
    assert is_stale(left)  # killed, not yet reaped by its parent (a zombie): dead all the same
    assert proc.wait(timeout=30) == -signal.SIGKILL
    assert holder_of(run_dir / "collect") is None
    assert run_stage(tiny(run_dir), "collect")["collected_chunks"] == 3
    assert not lock.exists()


def test_a_pid_reused_by_another_process_does_not_hold_the_lock(tmp_path):
    me = acquire(tmp_path)
    assert not is_stale(me)  # this process, alive
    assert is_stale({**me, "start": "1"})  # the same PID, started at another time: another process
    assert not is_stale({**me, "host": "elsewhere"})  # cannot be checked from here: taken as alive
    release(tmp_path, me)
    assert not (tmp_path / LOCK).exists()


def test_a_lock_on_another_host_is_refused_not_broken(tmp_path):
    (tmp_path / LOCK).write_text(json.dumps({"pid": os.getpid(), "host": "elsewhere", "command": "saccade train collect",
                                             "since": "2026-01-01T00:00:00+00:00"}))
    with pytest.raises(Exception, match=r"PID \d+ on elsewhere, since 2026-01-01.*saccade train collect"):
        acquire(tmp_path)


def test_an_empty_lock_file_left_long_ago_is_taken_over(tmp_path):
    lock = tmp_path / LOCK
    lock.write_text("")  # a writer killed between creating the lock and filling it
    os.utime(lock, (time.time() - 60, time.time() - 60))
    me = acquire(tmp_path)
    assert json.loads(lock.read_text()) == me
    release(tmp_path, me)


def test_release_never_removes_another_process_lock(tmp_path):
    me = acquire(tmp_path)
    theirs = {**me, "pid": me["pid"] + 1}
    (tmp_path / LOCK).write_text(json.dumps(theirs))
    release(tmp_path, me)
    assert json.loads((tmp_path / LOCK).read_text()) == theirs
