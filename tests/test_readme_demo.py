"""The README's `make demo` transcript is what `saccade demo` prints with the shipped agent: the same
commands, narration lines at the same steps, the same outcomes (wall times aside)."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _transcript_in_readme() -> list[str]:
    text = (ROOT / "README.md").read_text()
    block = re.search(r"```\n(the agent in agent/shipped, seed 0:.*?)```", text, re.S)
    assert block, "README.md has no `make demo` transcript starting 'the agent in agent/shipped, seed 0:'"
    return block.group(1).strip().splitlines()


def _comparable(line: str) -> str:
    """A line without what varies from machine to machine: wall times and the video's path."""
    line = re.sub(r"\|\s*[\d.]+ s\]", "| s]", line)  # "[step  38 |  1.58 s]": simulated time, kept below
    line = re.sub(r", [\d.]+ s wall\)", ")", line)
    return re.sub(r"video: \S+", "video: ...", line)


@pytest.mark.slow
def test_readme_demo_transcript_is_what_saccade_demo_prints(tmp_path):
    out = subprocess.run([sys.executable, "-m", "agent.cli", "demo", "--out", str(tmp_path / "demo.mp4")],
                         cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    printed = [_comparable(x) for x in out.stdout.strip().splitlines()]
    readme = [_comparable(x) for x in _transcript_in_readme()]
    assert printed == readme, "\n".join(["README:", *readme, "printed:", *printed])
