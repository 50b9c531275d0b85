"""Whether a window can be opened: PyBullet's GUI ends the whole process when it cannot."""

from __future__ import annotations

import os
import sys


class NoDisplayError(RuntimeError):
    """A GUI was asked for on a machine without a display."""


def check_display() -> None:
    """Raise NoDisplayError unless a window can be opened. PyBullet's GUI without a display does
    not raise: it prints "cannot connect to X server" and exits the process, so check first."""
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        raise NoDisplayError("no display to open the PyBullet window on (DISPLAY is not set): drop --gui "
                             "(or use render_mode='rgb_array'); videos are written headless")
