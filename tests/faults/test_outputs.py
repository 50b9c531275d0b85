"""Nothing the user owns is overwritten or lost (issue 22): --out refuses what is not a regular file
and what lies in a stage folder; a closed stdout never loses the --out file; the prompt checks its
stdin before loading models and keeps seeds in range."""

import json
import os
import subprocess
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from faultkit import CLI, ROOT, TINY, cli, one_line_error

EVAL = ["eval", "expert", "--config", str(TINY), "--tasks", "press_button", "--episodes", "1"]


def _refused(path, *words):
    from agent.cli import UserError, _check_out

    with pytest.raises(UserError) as e:
        _check_out(str(path))
    text = str(e.value)
    assert "\n" not in text and all(w in text for w in words), text
    return text


def test_out_refuses_what_is_not_a_regular_file(tmp_path):
    target = tmp_path / "mine.json"
    target.write_text("the user's")
    (tmp_path / "link.json").symlink_to(target)
    _refused(tmp_path / "link.json", "symbolic link")
    (tmp_path / "dangling.json").symlink_to(tmp_path / "nowhere")
    _refused(tmp_path / "dangling.json", "symbolic link")
    os.mkfifo(tmp_path / "fifo.json")
    _refused(tmp_path / "fifo.json", "not a regular file")
    _refused("/dev/null", "not a regular file")
    _refused(tmp_path, "folder")
    assert target.read_text() == "the user's"
    from agent.cli import _check_out

    _check_out(str(target))  # a regular file is the user's to overwrite
    _check_out(str(tmp_path / "new" / "m.json"))


def test_out_refuses_a_file_in_a_stage_folder(tmp_path):
    stage = tmp_path / "run" / "encoder"
    stage.mkdir(parents=True)
    (stage / "config.yaml").write_text("seed: 0\n")
    _refused(stage / "encoder.json", "stage folder", str(stage))
    _refused(stage / "checkpoints" / "m.json", "stage folder")
    (tmp_path / "into").symlink_to(stage)  # a link to the stage folder is followed
    _refused(tmp_path / "into" / "m.json", "stage folder")
    _refused(ROOT / "agent" / "shipped" / "rl" / "policy.json", "stage folder")
    _refused(ROOT / "agent" / "shipped" / "MANIFEST.json", "shipped agent")
    from agent.cli import _check_out

    _check_out(str(tmp_path / "run" / "eval_agent" / "m.json"))  # beside the stages is fine
    _check_out(str(tmp_path / "encoder" / "m.json"))  # a folder named so, but no stage's
    from agent.runs import STAGE_FOLDERS
    from agent.stages import ORDER

    assert set(STAGE_FOLDERS) == set(ORDER)


def test_out_in_a_stage_folder_is_refused_by_the_cli_before_the_work(tmp_path):
    stage = tmp_path / "run" / "rl"
    stage.mkdir(parents=True)
    (stage / "MANIFEST.json").write_text("{}")
    (stage / "policy.json").write_text("the policy")
    start = time.perf_counter()
    r = cli(*EVAL, "--out", str(stage / "policy.json"))
    assert r.returncode == 2 and "stage folder" in one_line_error(r.stderr)
    assert (stage / "policy.json").read_text() == "the policy"
    assert time.perf_counter() - start < 60 and "press_button" not in r.stdout


def test_a_closed_stdout_loses_no_file(tmp_path):
    """`saccade eval ... --out m.json | head -0`: the file is written, no traceback."""
    out = tmp_path / "m.json"
    p = subprocess.Popen([*CLI, *EVAL, "--json", "--out", str(out)], cwd=ROOT, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    p.stdout.close()  # the reader is gone before anything is printed
    err = p.stderr.read()
    p.wait(timeout=300)
    assert "Traceback" not in err and "Exception ignored" not in err, err
    assert p.returncode == 0, err
    assert isinstance(json.loads(out.read_text()), dict)


@pytest.mark.parametrize("stdin", ["closed", "empty"])
def test_the_prompt_refuses_an_unusable_stdin_before_loading(tmp_path, stdin):
    kwargs = {"closed": {"preexec_fn": lambda: os.close(0)}, "empty": {"stdin": subprocess.DEVNULL}}[stdin]
    start = time.perf_counter()
    r = subprocess.run([*CLI, "command", "--config", str(TINY)], cwd=ROOT, capture_output=True, text=True,
                       timeout=120, **kwargs)
    assert r.returncode == 2 and "stdin" in one_line_error(r.stderr)
    assert time.perf_counter() - start < 30  # refused before the models load


def test_reset_keeps_the_seed_in_range():
    from agent.command import CommandSession
    from agent.config import SEED_MAX

    seen = []
    session = SimpleNamespace(seed=SEED_MAX, env=SimpleNamespace(reset=lambda seed: seen.append(seed) or (None, {})))
    CommandSession.reset(session)
    assert session.seed == 0 and seen == [0]
    CommandSession.reset(session)
    assert session.seed == 1
    CommandSession.reset(session, SEED_MAX)
    assert session.seed == SEED_MAX

