"""Whether a window can be opened: PyBullet's GUI ends the whole process when it cannot."""

from __future__ import annotations

import os
import socket
import sys


class NoDisplayError(RuntimeError):
    """A GUI was asked for on a machine without a display."""


ADVICE = "drop --gui (or use render_mode='rgb_array'); videos are written headless"


def check_display() -> None:
    """Raise NoDisplayError unless a window can be opened. PyBullet's GUI without a display does
    not raise: it prints "cannot connect to X server" and exits the process, so check first."""
    if not sys.platform.startswith("linux"):
        return  # macOS and Windows windows need no X server
    display = os.environ.get("DISPLAY")
    if not display:  # PyBullet's Linux window is an X11 one (XWayland sets DISPLAY under Wayland)
        raise NoDisplayError(f"no display to open the PyBullet window on (DISPLAY is not set): {ADVICE}")
    if not _x_server_answers(display):
        raise NoDisplayError(f"no X server answers at DISPLAY={display}: {ADVICE}")


def _x_server_answers(display: str) -> bool:
    """Connect to the X server's socket as Xlib would: ':N' is a local socket, 'host:N' TCP port 6000+N."""
    host, _, rest = display.rpartition(":")
    try:
        number = int(rest.split(".")[0])
    except ValueError:
        return False  # not a display name
    if host in ("", "unix"):
        path = f"/tmp/.X11-unix/X{number}"
        for address in ("\0" + path, path):  # Linux X servers listen on an abstract socket and a file
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.settimeout(2.0)
                try:
                    s.connect(address)
                    return True
                except OSError:
                    continue
        return False
    if host.startswith("/"):  # a launchd-style socket path (XQuartz): trust it
        return os.path.exists(host + ":" + rest) or os.path.exists(host)
    try:
        socket.create_connection((host, 6000 + number), timeout=2.0).close()
        return True
    except OSError:
        return False
