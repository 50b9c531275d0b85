"""One writer per stage folder: a lock file created with O_EXCL, removed when the writer ends.

    with stage_lock(run_dir / "collect"):
        ...write the stage...

The lock file (`STAGE/.lock`) says who holds it: PID, host, command and since when, so a second
writer is refused with a message naming the holder. A writer killed with SIGKILL leaves its lock
behind; the next one sees that the PID is no longer alive on this host (or is another process
now) and takes the lock over.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

LOCK = ".lock"
# A lock file is written right after it is created; an empty one younger than this is a writer
# between those two moments, an older one was left by a writer killed between them.
WRITING_GRACE_S = 5.0


class LockHeld(RuntimeError):
    """Another live process writes this folder; the message names it."""


def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (Linux), to tell a reused PID from its
    first owner; None where /proc is not there."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]  # field 22, counted after the command name


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    try:  # a killed child that its parent has not reaped yet is a zombie: dead for our purposes
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


def _me() -> dict:
    pid = os.getpid()
    return {"pid": pid, "host": socket.gethostname(), "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
            "since": datetime.now().astimezone().isoformat(timespec="seconds"), "start": _start_time(pid)}


def read_lock(path: Path) -> dict | None:
    """The holder recorded in a lock file; None if it is empty or unreadable (being written)."""
    try:
        holder = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
    return holder if isinstance(holder, dict) and isinstance(holder.get("pid"), int) else None


def is_stale(holder: dict) -> bool:
    """True if the holder is known to be gone: a dead PID on this host, or the PID now belongs to
    another process. A holder on another host cannot be checked and is taken as alive."""
    if holder.get("host") != socket.gethostname():
        return False
    pid = holder["pid"]
    if not _alive(pid):
        return True
    start = holder.get("start")
    return start is not None and _start_time(pid) not in (None, start)


def holder_of(folder: str | Path) -> dict | None:
    """Who writes the folder now (a live holder of its lock), or None."""
    path = Path(folder) / LOCK
    if not path.exists():
        return None
    holder = read_lock(path)
    if holder is None:
        return {"pid": "?", "host": "?", "command": "?", "since": "?"} if _young(path) else None
    return None if is_stale(holder) else holder


def describe(holder: dict) -> str:
    return f"PID {holder.get('pid')} on {holder.get('host')}, since {holder.get('since')}: {holder.get('command')}"


def _young(path: Path) -> bool:
    try:
        return time.time() - path.stat().st_mtime < WRITING_GRACE_S
    except OSError:
        return False


def _remove_if_unchanged(path: Path, seen: dict | None) -> None:
    """Remove a stale lock, unless another process has meanwhile replaced it with its own. A second
    lock file (`.lock.break`, O_EXCL too) makes check-and-remove one step among those breaking it."""
    breaker = path.with_name(path.name + ".break")
    try:
        fd = os.open(breaker, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        if not _young(breaker):  # left by a process killed while breaking: take it over next time
            breaker.unlink(missing_ok=True)
        time.sleep(0.05)
        return
    os.close(fd)
    try:
        if read_lock(path) == seen:
            path.unlink(missing_ok=True)
    finally:
        breaker.unlink(missing_ok=True)


def acquire(folder: str | Path, timeout_s: float = 10.0) -> dict:
    """Take the folder's lock or raise LockHeld naming the holder; returns what the lock records."""
    path = Path(folder) / LOCK
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            holder = read_lock(path)
            if holder is None and _young(path):  # its writer is between creating and filling it
                pass
            elif holder is None or is_stale(holder):
                _remove_if_unchanged(path, holder)
                continue
            else:
                raise LockHeld(f"{folder} is being written by another command ({describe(holder)}); wait for it "
                               f"to finish, or use another run folder. If that process is gone, delete {path}")
            if time.monotonic() > deadline:
                raise LockHeld(f"{path}: a lock file that stays empty; if no other saccade command runs, delete it")
            time.sleep(0.05)
            continue
        me = _me()
        with os.fdopen(fd, "w") as f:
            json.dump(me, f)
            f.flush()
            os.fsync(f.fileno())
        return me


def release(folder: str | Path, me: dict) -> None:
    """Remove the lock if it is still ours (never one that another process has taken over)."""
    path = Path(folder) / LOCK
    if read_lock(path) == me:
        path.unlink(missing_ok=True)


@contextmanager
def stage_lock(folder: str | Path):
    me = acquire(folder)
    try:
        yield me
    finally:
        release(folder, me)
