"""Bad configs, files, folders, displays and env inputs: the fast cases of benchmarks/faults.py, run
in this process (`main(argv)`, output captured at the file descriptors), and the error boundary itself."""

import importlib.util
import os
import sys

import pytest
from faultkit import ROOT

from agent import cli

pytestmark = pytest.mark.faults

_spec = importlib.util.spec_from_file_location("saccade_faults", ROOT / "benchmarks" / "faults.py")
faults = importlib.util.module_from_spec(_spec)
sys.modules["saccade_faults"] = faults  # dataclasses look their module up
_spec.loader.exec_module(faults)
FAST = [c for c in faults.cases() if c.fast]


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """A temporary working folder; the environment and torch's thread count put back afterwards
    (the CLI sets library verbosity variables, the demo one thread)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(os, "environ", os.environ.copy())
    threads = sys.modules["torch"].get_num_threads() if "torch" in sys.modules else None
    yield tmp_path
    if threads is not None:
        sys.modules["torch"].set_num_threads(threads)


def test_the_benchmark_has_cases_in_every_category():
    categories = {c.category for c in faults.cases()}
    assert {"config", "files", "display", "output", "env", "interrupt", "data"} <= categories
    assert len(FAST) >= 60


@pytest.mark.parametrize("case", FAST, ids=[c.name for c in FAST])
def test_fault_case(case, isolated, monkeypatch, capfd):
    if case.skip:
        pytest.skip(case.skip)
    tmp = isolated
    if case.setup is not None:
        case.setup(tmp)
    try:
        if case.custom is not None:
            problem = case.custom(tmp)
        else:
            for key, value in case.env.items():
                if value is None:
                    monkeypatch.delenv(key, raising=False)
                else:
                    monkeypatch.setenv(key, value)
            import time

            t = time.perf_counter()
            try:
                rc = cli.main(faults._fill(case.argv, tmp, tmp / "run"))
            except SystemExit as e:  # argparse
                rc = e.code
            out, err = capfd.readouterr()
            problem = faults.check(case, faults.Result(rc, out, err, time.perf_counter() - t, tmp))
    finally:
        for path in tmp.rglob("*"):
            if path.is_dir():
                os.chmod(path, 0o755)
    assert problem is None, problem


def test_a_bug_is_a_traceback_and_a_line_to_report_it(isolated, monkeypatch, capsys):
    def broken(args):
        raise ZeroDivisionError("a bug")

    monkeypatch.setitem(cli.COMMANDS, "parse", broken)
    assert cli.main(["parse", "open the drawer"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and "ZeroDivisionError" in err
    assert err.strip().splitlines()[-1] == cli.BUG_REPORT


def test_ctrl_c_during_start_up_is_quiet(monkeypatch, capsys):
    def interrupted():
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "build_parser", interrupted)
    assert cli.main(["eval", "expert"]) == 130
    err = capsys.readouterr().err
    assert "Traceback" not in err and "interrupted" in err


@pytest.mark.parametrize("argv, advice", [
    (["train", "encoder", "--config", "c.yaml"], "run: saccade train encoder --config c.yaml --resume"),
    (["train", "language", "--resume"], "run: saccade train language --resume"),
    (["train", "collect", "--set", "seed=3"], "run: saccade train collect --set seed=3"),
    (["train", "all"], "run: saccade train all"),
])
def test_ctrl_c_advice_is_the_command_that_continues(argv, advice):
    args = cli.build_parser().parse_args(argv)
    args.argv = argv
    stage = "rl" if args.stage == "all" else args.stage
    text = cli._resume_advice(args, stage, args.stage == "all")
    assert text.endswith(advice)
    assert text.count("--resume") == (0 if args.stage in ("collect", "all") else 1)


def test_memory_check_names_the_setting_and_the_figures(monkeypatch):
    from agent.config import ConfigError, check_memory, load_config

    config = load_config(ROOT / "configs" / "tiny.yaml", ["encoder.batch_size=4096"])
    check_memory(config, ["encoder"])  # fits
    monkeypatch.setattr("agent.config.available_memory", lambda: 10 * 2 ** 20)
    with pytest.raises(ConfigError, match=r"encoder\.batch_size=4096.*MiB of memory.*10\.0 MiB available"):
        check_memory(config, ["encoder"])


def test_default_and_tiny_configs_fit_on_a_small_machine():
    """The lower bounds stay far below what the shipped settings really use: no false refusals."""
    from agent.config import load_config, memory_needs

    for config in (load_config(), load_config(ROOT / "configs" / "tiny.yaml")):
        assert max(need for need, _ in memory_needs(config).values()) < 512 * 2 ** 20
