"""Keep PyBullet's C-level chatter ("pybullet build time", "argv[0]=") out of a command's output.

PyBullet prints these from C, past Python's sys.stdout and sys.stderr, when it is imported and
when a client connects. A command's output is its output (`--json` is read by programs), so that
chatter is dropped (`silenced`); where PyBullet's messages may matter (the GUI, which reports
display problems this way), `stdout_to_stderr` keeps them, on stderr.
"""

from __future__ import annotations

import contextlib
import os
import sys


@contextlib.contextmanager
def _redirect(target_fd: int, fds: tuple[int, ...] = (1,)):
    """Point the file descriptors fds at target_fd for the duration (C code writes to them directly)."""
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        saved = [os.dup(fd) for fd in fds]
    except OSError:  # no real stdout (e.g. some test runners): nothing to protect
        yield
        return
    try:
        for fd in fds:
            os.dup2(target_fd, fd)
        yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        _flush_c_stdout()  # else C's buffer, filled while redirected, reaches the real stdout at exit
        for fd, copy in zip(fds, saved):
            os.dup2(copy, fd)
            os.close(copy)


def _flush_c_stdout() -> None:
    try:
        import ctypes

        ctypes.CDLL(None).fflush(None)
    except (OSError, AttributeError):  # no C library to reach (not Linux or macOS): nothing buffered
        pass


@contextlib.contextmanager
def stdout_to_stderr():
    with _redirect(2):
        yield


@contextlib.contextmanager
def silenced():
    """C-level stdout and stderr go to /dev/null for the duration ("pybullet build time" is printed
    on stderr, "argv[0]=" on stdout). PyBullet reports real failures as Python exceptions."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
    except OSError:
        with stdout_to_stderr():
            yield
        return
    try:
        with _redirect(devnull, (1, 2)):
            yield
    finally:
        os.close(devnull)
