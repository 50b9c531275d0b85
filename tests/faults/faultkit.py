"""Helpers of the fault-injection tests."""

import subprocess
import sys
from pathlib import Path

from agent.config import load_config

ROOT = Path(__file__).resolve().parents[2]
TINY = ROOT / "configs" / "tiny.yaml"
CLI = [sys.executable, "-m", "agent.cli"]


def tiny(run_dir, *overrides):
    return load_config(TINY, [f"run_dir={run_dir}", *overrides])


def cli(*args, timeout=120):
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=timeout, cwd=ROOT)


def one_line_error(stderr: str) -> str:
    """The `saccade: error:` line of a refusal; asserts there is one and no traceback."""
    assert "Traceback" not in stderr, stderr
    lines = [line for line in stderr.splitlines() if line.startswith("saccade: error:")]
    assert len(lines) == 1, stderr
    return lines[0]


def flip_byte(path: Path, offset: int) -> None:
    data = bytearray(Path(path).read_bytes())
    data[offset] ^= 0x5A
    Path(path).write_bytes(bytes(data))


def tree(folder: Path) -> dict:
    """Every file under folder and its bytes: to compare a folder before and after."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(Path(folder).rglob("*")) if p.is_file()}
