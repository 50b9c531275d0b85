"""`saccade command`: one command, the prompt, refusals that move nothing, the shipped agent."""

import os
import subprocess
import sys

import numpy as np
import pytest

from agent.shipping import SHIPPED

CLI = [sys.executable, "-m", "agent.cli"]


def _run(args, stdin=None, env=None):
    return subprocess.run([*CLI, *args], input=stdin, capture_output=True, text=True, timeout=600,
                          env={**os.environ, **(env or {})})


@pytest.fixture(scope="module")
def tiny_args(tiny_run):
    from tests.conftest import TINY

    _, run_dir, _ = tiny_run
    return ["--run-dir", str(run_dir), "--config", str(TINY)]


def test_one_command_ends_with_one_clear_line(tiny_args, tmp_path):
    video = tmp_path / "cmd.mp4"
    result = _run(["command", "press the button", "--out", str(video), *tiny_args])
    assert result.returncode in (0, 1), result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[-1].startswith("video:") and video.stat().st_size > 0
    assert lines[-2].startswith(("success: press_button in", "failure: press_button not done after"))
    assert "Traceback" not in result.stderr


def test_prompt_takes_commands_from_stdin(tiny_args):
    result = _run(["command", *tiny_args], stdin="help\ntasks\nmake me a cup of coffee\nreset\n")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "The desk has a drawer" in out and "this scene offers:" in out
    assert "cannot do that:" in out and "a new scene (seed 1)" in out


def test_refused_commands_leave_the_scene_untouched(tiny_run):
    from agent.command import CommandSession
    from envs.instructions import phrasings
    from envs.tasks import ALL_TASKS

    config, run_dir, _ = tiny_run
    session = CommandSession.open(run_dir, config, seed=3)
    try:
        impossible = next(t for t in ALL_TASKS if t not in session.offered())
        for text in ("make me a cup of coffee", phrasings(impossible)[0]):
            before = (session.env.state(), session.env.robot.proprioception().copy(), session.env.steps)
            outcome = session.run(text)
            assert outcome.refused and outcome.episode is None, text
            after = (session.env.state(), session.env.robot.proprioception(), session.env.steps)
            assert before[0] == after[0] and np.array_equal(before[1], after[1]) and before[2] == after[2]
    finally:
        session.close()


def test_gui_without_a_display_is_a_clear_error(tiny_args):
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    result = subprocess.run([*CLI, "command", "open the drawer", "--gui", *tiny_args], capture_output=True,
                            text=True, timeout=300, env=env)
    assert result.returncode == 2
    assert "drop --gui" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.skipif(not (SHIPPED / "rl" / "policy.json").exists(), reason="no shipped agent in this checkout")
def test_the_shipped_agent_loads_and_runs_one_command():
    result = _run(["command", "press the button"])
    assert result.returncode in (0, 1), result.stderr
    assert result.stdout.strip().splitlines()[-1].startswith(("success: press_button", "failure: press_button"))
