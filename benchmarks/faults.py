"""Fault and bad-input cases against the saccade CLI and the desk (issue 12): prints cases tried and passed.

    .venv/bin/python benchmarks/faults.py            # every case, a few minutes on 2 cores
    .venv/bin/python benchmarks/faults.py --fast     # only the cases that need no trained run
    .venv/bin/python benchmarks/faults.py --json     # the figures as JSON

Each CLI case runs `python -m agent.cli` in a subprocess, in a fresh temporary folder, mostly on
configs/tiny.yaml, and checks what a user would see:
- a refusal: exit 2, exactly one `saccade: error:` line (containing the expected words) and no traceback;
- a success: exit 0 and no traceback; with --json, stdout is exactly JSON and stderr is empty.
Cases that damage a trained run work on a copy of one tiny run (collect + encoder) built once.
Env cases call the desk directly and expect a ValueError that names the problem.
The fast cases also run as pytest tests (tests/faults/test_inputs.py, marker `faults`).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "configs" / "tiny.yaml"
SHIPPED = ROOT / "agent" / "shipped"
UNWRITABLE = "/proc/saccade-faults"  # cannot be created even by root (chmod does not stop root)
AS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


@dataclass
class Result:
    rc: int | None
    out: str
    err: str
    seconds: float
    tmp: Path


@dataclass
class Case:
    name: str
    category: str
    argv: list[str] = field(default_factory=list)  # {tmp} {tiny} {run} {shipped} {unwritable} are filled in
    expect: str = "refuse"  # refuse | ok | json
    contains: str = ""  # words of the error line (refuse)
    env: dict[str, str | None] = field(default_factory=dict)  # None: unset
    setup: Callable[[Path], None] | None = None
    after: Callable[[Result], str | None] | None = None  # extra check: a problem, or None
    needs_run: bool = False  # works on a copy of the tiny trained run, at {run}
    custom: Callable[[Path], str | None] | None = None  # the whole case in Python: a problem, or None
    skip: str | None = None  # why the case cannot run here

    @property
    def fast(self) -> bool:
        return not self.needs_run and self.custom is None or self.category == "env"


# --- checks ---------------------------------------------------------------------------------------

def check(case: Case, r: Result) -> str | None:
    """None if the outcome is as expected, else what went wrong."""
    if "Traceback" in r.err:
        return "traceback: " + r.err.strip().splitlines()[-1][:200]
    if case.expect == "refuse":
        if r.rc != 2:
            return f"exit {r.rc}, expected 2 (stderr: {r.err.strip()[-200:]!r})"
        lines = [line for line in r.err.splitlines() if line.startswith("saccade: error:")]
        if len(lines) != 1:
            return f"{len(lines)} error lines, expected 1: {r.err.strip()[-300:]!r}"
        if case.contains.lower() not in lines[0].lower():
            return f"error line lacks {case.contains!r}: {lines[0]!r}"
    elif case.expect == "ok":
        if r.rc != 0:
            return f"exit {r.rc}, expected 0 (stderr: {r.err.strip()[-300:]!r})"
    elif case.expect == "json":
        if r.rc != 0:
            return f"exit {r.rc}, expected 0 (stderr: {r.err.strip()[-300:]!r})"
        try:
            json.loads(r.out)
        except ValueError:
            return f"stdout is not exactly JSON: {r.out[:200]!r}"
        if r.err:
            return f"stderr not empty: {r.err[:200]!r}"
    if case.after is not None:
        return case.after(r)
    return None


def _fill(args: list[str], tmp: Path, run: Path | None) -> list[str]:
    values = {"tmp": str(tmp), "tiny": str(TINY), "run": str(run), "shipped": str(SHIPPED), "unwritable": UNWRITABLE}
    return [a.format(**values) for a in args]


def cli(argv: list[str], cwd: Path, env: dict[str, str | None] | None = None, timeout: float = 300) -> Result:
    environ = {**os.environ, "PYTHONPATH": str(ROOT)}
    for k, v in (env or {}).items():
        if v is None:
            environ.pop(k, None)
        else:
            environ[k] = v
    t = time.perf_counter()
    try:
        p = subprocess.run([sys.executable, "-m", "agent.cli", *argv], cwd=cwd, env=environ, capture_output=True,
                           text=True, timeout=timeout)
        rc, out, err = p.returncode, p.stdout, p.stderr
    except subprocess.TimeoutExpired as e:
        rc, out, err = None, str(e.stdout or ""), f"timed out after {timeout} s"
    return Result(rc, out, err, time.perf_counter() - t, cwd)


# --- setups and extra checks -------------------------------------------------------------------------

def _write(name: str, data: bytes | str) -> Callable[[Path], None]:
    def setup(tmp: Path) -> None:
        path = tmp / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data if isinstance(data, bytes) else data.encode())
    return setup


def _mkdir(name: str, mode: int | None = None) -> Callable[[Path], None]:
    def setup(tmp: Path) -> None:
        (tmp / name).mkdir(parents=True, exist_ok=True)
        if mode is not None:
            os.chmod(tmp / name, mode)
    return setup


def _quicker_than(seconds: float) -> Callable[[Result], str | None]:
    """Refused up front: before a video is filmed or an evaluation is run."""
    def after(r: Result) -> str | None:
        if "filming" in r.out or r.seconds > seconds:
            return f"refused only after the work ({r.seconds:.1f} s; stdout {r.out[:80]!r})"
        return None
    return after


def _no_chatter(r: Result) -> str | None:
    for noise in ("argv[0]", "pybullet build time", "Loading weights", "Warning"):
        if noise in r.out or noise in r.err:
            return f"{noise!r} printed"
    return None


def _flip(rel: str, offset: int = -64) -> Callable[[Path], None]:
    def setup(tmp: Path) -> None:
        path = tmp / "run" / rel
        data = bytearray(path.read_bytes())
        data[offset] ^= 0x5A
        path.write_bytes(bytes(data))
    return setup


def _delete(rel: str) -> Callable[[Path], None]:
    return lambda tmp: (tmp / "run" / rel).unlink()


def _garble_chunk(tmp: Path) -> None:
    """Bytes changed inside a compressed array of a chunk (its metadata intact)."""
    path = tmp / "run" / "collect" / "chunk_00001.npz"
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle:middle + 16] = bytes(b ^ 0xFF for b in data[middle:middle + 16])
    path.write_bytes(bytes(data))


def _config_unchanged(stage: str) -> Callable[[Result], str | None]:
    def after(r: Result) -> str | None:
        text = (r.tmp / "run" / stage / "config.yaml").read_text()
        return None if "seed: 0" in text.splitlines() else f"{stage}/config.yaml was rewritten"
    return after


def _after_ok(what: str) -> Callable[[Result], str | None]:
    def after(r: Result) -> str | None:
        return None if (r.tmp / what).exists() else f"{what} not written"
    return after


# --- custom cases ------------------------------------------------------------------------------------

def _interrupt_at_startup(tmp: Path) -> str | None:
    """Ctrl-C while the command is still importing its libraries: 130, no traceback."""
    environ = {**os.environ, "PYTHONPATH": str(ROOT)}
    p = subprocess.Popen([sys.executable, "-m", "agent.cli", "eval", "expert", "--config", str(TINY)], cwd=tmp,
                         env=environ, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(0.4)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=120)
    if "Traceback" in err:
        return "traceback: " + err.strip().splitlines()[-1]
    return None if p.returncode == 130 else f"exit {p.returncode}, expected 130 ({err.strip()[-200:]!r})"


def _interrupt_then_follow_advice(stage: str, extra: list[str]) -> Callable[[Path], str | None]:
    """Ctrl-C during a stage: the message gives a command; that command continues and finishes."""
    def case(tmp: Path) -> str | None:
        argv = ["train", stage, "--config", str(TINY), "--run-dir", str(tmp / "run"), *extra]
        environ = {**os.environ, "PYTHONPATH": str(ROOT)}
        p = subprocess.Popen([sys.executable, "-m", "agent.cli", *argv], cwd=tmp, env=environ,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        marker = tmp / "run" / stage
        deadline = time.time() + 120
        while time.time() < deadline and p.poll() is None:  # interrupt once the stage has started writing
            if (marker / "config.yaml").exists():
                break
            time.sleep(0.05)
        time.sleep(1.5)
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=300)
        if p.returncode == 0:
            return "finished before the interrupt (make the stage longer)"
        if p.returncode != 130 or "Traceback" in err:
            return f"exit {p.returncode} after Ctrl-C: {err.strip()[-300:]!r}"
        line = next((line for line in err.splitlines() if "interrupted" in line), "")
        if "run: saccade " not in line:
            return f"no command to continue in {line!r}"
        advised = line.split("run: saccade ", 1)[1].strip()
        import shlex

        r = cli(shlex.split(advised), tmp)
        if r.rc != 0:
            return f"the advised command {advised!r} exits {r.rc}: {r.err.strip()[-300:]!r}"
        return None
    return case


def _env_case(kind: str, arg) -> Callable[[Path], str | None]:
    """A bad reset or step on the desk: a ValueError that names the problem, and the env still works."""
    def case(tmp: Path) -> str | None:
        import numpy as np

        from envs.desk_env import DeskEnv

        env = DeskEnv(obs_mode="glimpse", fovea_size=16, periphery_size=16, frame_size=32)
        try:
            words = {"gaze": "gaze", "seed": "seed", "option": "option", "action": "action"}[kind.split("_")[0]]
            try:
                if kind.startswith("action"):
                    env.reset(seed=0)
                    env.step(arg)
                elif kind == "seed":
                    env.reset(seed=arg)
                elif kind == "option":
                    env.reset(seed=0, options=arg)
                else:
                    env.reset(seed=0, options={"gaze": arg})
            except ValueError as e:
                if words not in str(e):
                    return f"ValueError does not name the {words}: {e}"
                obs, _ = env.reset(seed=0)
                obs, *_ = env.step(np.zeros(env.action_space.shape, np.float32))
                return None if env.observation_space.contains(obs) else "env unusable after the refusal"
            return f"accepted {arg!r}"
        finally:
            env.close()
    return case


def _human_without_display(tmp: Path) -> str | None:
    os.environ.pop("DISPLAY", None)
    from envs.desk_env import DeskEnv
    from envs.display import NoDisplayError

    try:
        DeskEnv(render_mode="human").close()
    except NoDisplayError as e:
        return None if "rgb_array" in str(e) else f"the error gives no way out: {e}"
    return "a window was opened without a display"


def _gaze_in_space(tmp: Path) -> str | None:
    from envs.desk_env import DeskEnv

    env = DeskEnv(obs_mode="glimpse", fovea_size=16, periphery_size=16, frame_size=32)
    try:
        for gaze in ([1, 1, 1], [-1, -1, -1], [0.3, -0.2, 0.0]):
            obs, _ = env.reset(seed=0, options={"gaze": gaze})
            if not env.observation_space.contains(obs):
                return f"gaze {gaze}: observation outside the observation space"
    finally:
        env.close()
    return None


def _hold_lock(tmp: Path) -> str | None:
    """A second writer while the first holds the stage folder: refused, naming the holder."""
    hold = ("import sys\nfrom pathlib import Path\nfrom agent.locks import stage_lock\n"
            "with stage_lock(Path(sys.argv[1])):\n    print('held', flush=True)\n    sys.stdin.readline()\n")
    environ = {**os.environ, "PYTHONPATH": str(ROOT)}
    holder = subprocess.Popen([sys.executable, "-c", hold, str(tmp / "run" / "collect")], env=environ,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        holder.stdout.readline()
        r = cli(["train", "collect", "--config", str(TINY), "--run-dir", str(tmp / "run")], tmp)
        problem = check(Case("", "", contains=str(holder.pid)), r)
    finally:
        holder.stdin.write("\n")
        holder.stdin.close()
        holder.wait(timeout=60)
    return problem


def _stale_lock(tmp: Path) -> str | None:
    """A lock left by a killed process is taken over: the command runs."""
    die = ("import os, signal, sys\nfrom pathlib import Path\nfrom agent.locks import acquire\n"
           "acquire(Path(sys.argv[1]))\nos.kill(os.getpid(), signal.SIGKILL)\n")
    environ = {**os.environ, "PYTHONPATH": str(ROOT)}
    subprocess.run([sys.executable, "-c", die, str(tmp / "run" / "collect")], env=environ)
    r = cli(["train", "collect", "--config", str(TINY), "--run-dir", str(tmp / "run")], tmp)
    return check(Case("", "", expect="ok"), r)


# --- issue 22: nothing from a handed-over folder runs, nothing the user owns is overwritten ------------

# Run in a fresh interpreter: an SB3-shaped archive whose "data" entry and policy.pth are a pickle
# that creates a marker file when unpickled, read by one of saccade's readers; prints the outcome.
_ARMED = """
import base64, io, json, pickle, sys, zipfile
from dataclasses import replace
from pathlib import Path
import torch
tmp, reader = Path(sys.argv[1]), sys.argv[2]
marker = tmp / "marker"
class Armed:
    def __reduce__(self):
        return open, (str(marker), "a")
def arm(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = base64.b64encode(pickle.dumps(Armed())).decode()
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("data", json.dumps({"policy_class": {":type:": "x", ":serialized:": payload}}))
        for name in ("policy.pth", "policy.optimizer.pth"):
            b = io.BytesIO(); torch.save(Armed(), b); z.writestr(name, b.getvalue())
from agent.config import load_config
from agent.runs import RunLayout
config = load_config(sys.argv[3], [f"run_dir={tmp / 'run'}"])
config = replace(config, env=replace(config.env, frame_size=36))
run = RunLayout(tmp / "run")
try:
    if reader == "eval agent baseline":
        from agent.rl.evaluate import scratch_baselines
        arm(run.eval("agent") / "ppo_state_64.zip")
        scratch_baselines(config, run, 64, 1)
    elif reader == "eval attention full-frame PPO":
        from agent.attention.evaluate import full_frame_ppo
        arm(run.eval("agent") / "ppo_pixels_64.zip")
        full_frame_ppo(config, run, 1)
    else:
        from stable_baselines3 import PPO
        from stable_baselines3.common.vec_env import DummyVecEnv
        from agent.rl.baselines import _make
        from agent.sb3_archive import restore_checkpoint
        arm(tmp / "checkpoints" / "ppo_64_steps.zip")
        vec = DummyVecEnv([_make(config, "state")])
        restore_checkpoint(PPO("MlpPolicy", vec, n_steps=16, batch_size=16), tmp / "checkpoints" / "ppo_64_steps.zip")
    print("accepted")
except Exception as e:
    print(("refused: " if "\\n" not in str(e) else "refused in many lines: ") + type(e).__name__ + ": " + str(e))
print("marker" if marker.exists() else "no marker")
"""


def _armed_archive(reader: str) -> Callable[[Path], str | None]:
    """An armed SB3 archive where saccade reads one: refused in one line, and its code never runs."""
    def case(tmp: Path) -> str | None:
        environ = {**os.environ, "PYTHONPATH": str(ROOT)}
        p = subprocess.run([sys.executable, "-c", _ARMED, str(tmp), reader, str(TINY)], env=environ,
                           capture_output=True, text=True, timeout=300)
        out = p.stdout.strip().splitlines()
        if not out or out[-1] != "no marker":
            return f"the archive's code ran (or the reader crashed): {(p.stdout + p.stderr).strip()[-300:]!r}"
        if not out[0].startswith("refused: ArchiveError"):
            return f"not a one-line refusal: {out[0][:200]!r}"
        return None
    return case


def _closed_stdout(tmp: Path) -> str | None:
    """`saccade eval ... --out m.json | head -0`: the file is written, no traceback."""
    environ = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = tmp / "m.json"
    p = subprocess.Popen([sys.executable, "-m", "agent.cli", "eval", "expert", "--config", str(TINY), "--tasks",
                          "press_button", "--episodes", "1", "--json", "--out", str(out)], cwd=tmp, env=environ,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    p.stdout.close()
    err = p.stderr.read()
    p.wait(timeout=300)
    if "Traceback" in err or "Exception ignored" in err:
        return "traceback: " + err.strip()[-200:]
    if not out.exists():
        return f"{out.name} not written (exit {p.returncode})"
    return None if p.returncode == 0 else f"exit {p.returncode}: {err.strip()[-200:]!r}"


def _prompt_stdin(how: str) -> Callable[[Path], str | None]:
    """`saccade command` (the prompt) with stdin closed or empty: one line, before any model loads."""
    def case(tmp: Path) -> str | None:
        kwargs = {"preexec_fn": lambda: os.close(0)} if how == "closed" else {"stdin": subprocess.DEVNULL}
        environ = {**os.environ, "PYTHONPATH": str(ROOT)}
        t = time.perf_counter()
        p = subprocess.run([sys.executable, "-m", "agent.cli", "command", "--config", str(TINY)], cwd=tmp,
                           env=environ, capture_output=True, text=True, timeout=120, **kwargs)
        r = Result(p.returncode, p.stdout, p.stderr, time.perf_counter() - t, tmp)
        return check(Case("", "", contains="stdin"), r) or _quicker_than(20)(r)
    return case


def _unchanged(rel: str, text: str) -> Callable[[Result], str | None]:
    def after(r: Result) -> str | None:
        return None if (r.tmp / rel).read_text() == text else f"{rel} was overwritten"
    return after


def _manifest_entry(rel: str, value) -> Callable[[Path], None]:
    """Add or change one entry of the encoder's manifest; value "real:PATH" is PATH's true record."""
    def setup(tmp: Path) -> None:
        from agent.integrity import sha256

        path = tmp / "run" / "encoder" / "MANIFEST.json"
        manifest = json.loads(path.read_text())
        if isinstance(value, str) and value.startswith("real:"):
            target = tmp / "run" / value[5:]
            manifest["files"][rel] = {"size": target.stat().st_size, "sha256": sha256(target)}
        else:
            manifest["files"][rel] = value
        path.write_text(json.dumps(manifest))
    return setup


def _spec_value(field: str, value) -> Callable[[Path], None]:
    """A spec value changed in encoder.json, and the manifest rewritten to match it."""
    def setup(tmp: Path) -> None:
        from agent.integrity import write_manifest

        path = tmp / "run" / "encoder" / "encoder.json"
        config = json.loads(path.read_text())
        config["spec"][field] = value
        path.write_text(json.dumps(config))
        write_manifest(tmp / "run" / "encoder", "encoder")
    return setup


def _fifo_for(rel: str) -> Callable[[Path], None]:
    def setup(tmp: Path) -> None:
        (tmp / "run" / rel).unlink()
        os.mkfifo(tmp / "run" / rel)
    return setup


def _agent_copy_with(rel: str, data: bytes) -> Callable[[Path], None]:
    def setup(tmp: Path) -> None:
        shutil.copytree(SHIPPED, tmp / "agent")
        (tmp / "agent" / rel).write_bytes(data)
    return setup


def _link_out(tmp: Path) -> None:
    (tmp / "mine.json").write_text("the user's")
    (tmp / "link.json").symlink_to(tmp / "mine.json")


def _stage_with_file(tmp: Path) -> None:
    (tmp / "run" / "rl").mkdir(parents=True)
    (tmp / "run" / "rl" / "MANIFEST.json").write_text("{}")
    (tmp / "run" / "rl" / "policy.json").write_text("the policy")


# --- the cases ---------------------------------------------------------------------------------------

def cases() -> list[Case]:
    T = ["--config", "{tiny}"]
    ro_skip = "runs as root: permissions do not stop root" if AS_ROOT else None
    c: list[Case] = []

    def add(*args, **kwargs) -> None:
        c.append(Case(*args, **kwargs))

    # Config files and settings: one line, exit 2, naming the file or key.
    add("config file is binary", "config", ["eval", "expert", "--config", "{tmp}/c.yaml"], contains="not text",
        setup=_write("c.yaml", b"\x89PNG\r\n\x1a\n\x00\xff\xfe"))
    add("config file holds NUL bytes", "config", ["eval", "expert", "--config", "{tmp}/c.yaml"], contains="binary",
        setup=_write("c.yaml", b"seed: 0\n\x00\x00\x00"))
    add("config file is a folder", "config", ["eval", "expert", "--config", "{tmp}/c.yaml"], contains="folder",
        setup=_mkdir("c.yaml"))
    add("config file missing", "config", ["eval", "expert", "--config", "{tmp}/none.yaml"], contains="not found")
    add("config file is /dev/zero", "config", ["eval", "expert", "--config", "/dev/zero"], contains="larger than")
    add("config file unreadable", "config", ["eval", "expert", "--config", "{tmp}/c.yaml"], contains="cannot read",
        setup=lambda tmp: (_write("c.yaml", "seed: 1\n")(tmp), os.chmod(tmp / "c.yaml", 0)), skip=ro_skip)
    add("config file not YAML", "config", ["eval", "expert", "--config", "{tmp}/c.yaml"], contains="not valid YAML",
        setup=_write("c.yaml", "env: [unclosed\n"))
    add("config file is a list", "config", ["eval", "expert", "--config", "{tmp}/c.yaml"], contains="mapping",
        setup=_write("c.yaml", "- seed\n- 1\n"))
    add("config nested 100k deep", "config", ["eval", "expert", "--config", "{tmp}/c.yaml"], contains="YAML",
        setup=_write("c.yaml", "seed: " + "[" * 100_000 + "]" * 100_000 + "\n"))
    add("config unknown key", "config", ["eval", "expert", *T, "--set", "env.fovea_sise=32"], contains="fovea_sise")
    add("config seed is a string", "config", ["eval", "expert", *T, "--set", "seed=abc"], contains="expected int")
    add("config seed negative in file", "config", ["eval", "expert", "--config", "{tmp}/c.yaml"],
        contains="seed must be in", setup=_write("c.yaml", "seed: -5\n"))
    add("config steps a float", "config", ["train", "encoder", *T, "--set", "encoder.steps=2.5"], contains="expected int")
    add("config lr a bool", "config", ["train", "encoder", *T, "--set", "encoder.lr=true"], contains="expected float")
    add("config lr NaN", "config", ["train", "encoder", *T, "--set", "encoder.lr=.nan"], contains="finite")
    add("config lr infinite in file", "config", ["train", "encoder", "--config", "{tmp}/c.yaml"], contains="finite",
        setup=_write("c.yaml", "encoder:\n  lr: .inf\n"))
    add("config lr negative", "config", ["train", "encoder", *T, "--set", "encoder.lr=-0.001"], contains="encoder.lr")
    add("config lr zero", "config", ["train", "language", *T, "--set", "narrator.lr=0"], contains="lr must be")
    add("config lr huge", "config", ["train", "rl", *T, "--set", "rl.ppo_lr=5"], contains="rl.ppo_lr")
    add("config lr beyond float", "config", ["train", "encoder", *T, "--set", "encoder.lr=" + "9" * 400],
        contains="too large")
    add("config temperature NaN", "config", ["train", "language", *T, "--set", "reward.temperature=.nan"],
        contains="finite")
    add("config crop scale NaN", "config", ["train", "encoder", *T, "--set", "encoder.crop_scale=[.nan, 1]"],
        contains="crop_scale")
    add("config fraction above 1", "config", ["train", "encoder", *T, "--set", "split.test_fraction=1.5"],
        contains="test_fraction")
    add("config noise negative", "config", ["train", "collect", *T, "--set", "collect.expert_noise=-1"],
        contains="expert_noise")
    add("config steps negative", "config", ["train", "encoder", *T, "--set", "encoder.steps=-3"], contains="steps")
    add("config steps 10^12", "config", ["train", "encoder", *T, "--set", "encoder.steps=1000000000000"],
        contains="encoder.steps")
    add("config int of 5000 digits", "config", ["train", "encoder", *T, "--set", "encoder.steps=" + "9" * 5000])
    add("config workers 10^5", "config", ["train", "collect", *T, "--set", "collect.workers=100000"],
        contains="workers")
    add("config heads do not divide", "config", ["train", "language", *T, "--set", "narrator.n_head=3"],
        contains="n_head")
    add("config image size 0", "config", ["eval", "expert", *T, "--set", "env.fovea_size=0"], contains="fovea_size")
    add("config image size 10^5", "config", ["eval", "expert", *T, "--set", "env.fovea_size=100000"],
        contains="fovea_size")
    add("config video 10^5 wide", "config", ["demo", "--expert", *T, "--set", "demo.width=100000", "--out",
                                             "{tmp}/d.mp4"], contains="width")
    add("config encoder batch 10^9 (memory)", "config", ["train", "encoder", *T, "--set",
                                                         "encoder.batch_size=1000000000"], contains="memory")
    add("config capsule batch 10^8 (memory)", "config", ["train", "capsules", *T, "--set",
                                                         "capsules.batch_size=100000000"], contains="memory")
    add("config capsule memory of an unknown stream", "config",
        ["train", "rl", *T, "--set", "rl.capsule_memory=[nose]"], contains="capsule_memory")
    add("config capsule memory with PPO", "config",
        ["train", "rl", *T, "--set", "rl.capsule_memory=[periphery]", "--set", "rl.ppo_steps=100"],
        contains="ppo_steps")
    add("config identity weighting unknown", "config",
        ["train", "capsules", *T, "--set", "capsules.identity_weighting=parts"], contains="identity_weighting")
    add("config encoder batch x 1024-pixel glimpses (memory)", "config",
        ["train", "encoder", *T, "--set", "env.fovea_size=1024", "--set", "env.periphery_size=1024", "--set",
         "encoder.batch_size=200000"], contains="memory")
    add("config collect chunk of 1024-pixel frames (memory)", "config",
        ["train", "collect", *T, "--set", "env.frame_size=1024", "--set", "collect.frame_every=1", "--set",
         "collect.chunk_episodes=100000"], contains="memory")
    add("--seed negative", "config", ["eval", "expert", *T, "--seed", "-1"], contains="--seed")
    add("--seed 2^40", "config", ["eval", "expert", *T, "--seed", "1099511627776"], contains="--seed")
    add("--seed not a number", "config", ["eval", "expert", *T, "--seed", "one"], contains="invalid int")
    add("--set without =", "config", ["eval", "expert", *T, "--set", "seed"], contains="key.sub=value")
    add("--set value not YAML", "config", ["eval", "expert", *T, "--set", "seed=[1"], contains="not valid YAML")
    add("--set into a number", "config", ["eval", "expert", *T, "--set", "seed.x=1"], contains="not a section")
    add("--set a section to a number", "config", ["eval", "expert", *T, "--set", "env=3"], contains="mapping")
    add("--device unknown", "config", ["train", "encoder", *T, "--device", "tpu"], contains="device")

    # Output files and run folders: checked before the work.
    add("eval --out cannot be created", "files", ["eval", "expert", *T, "--out", "{unwritable}/m.json"],
        contains="cannot write", after=_quicker_than(30))
    add("eval --out is a folder", "files", ["eval", "expert", *T, "--out", "{tmp}/d"], contains="folder",
        setup=_mkdir("d"))
    add("eval --out under a file", "files", ["eval", "expert", *T, "--out", "{tmp}/f/m.json"], contains="is a file",
        setup=_write("f", "x"))
    add("eval --out in a read-only folder", "files", ["eval", "expert", *T, "--out", "{tmp}/ro/m.json"],
        contains="cannot write", setup=_mkdir("ro", 0o555), skip=ro_skip)
    add("demo --out cannot be created (before filming)", "files",
        ["demo", "--expert", *T, "--out", "{unwritable}/d.mp4"], contains="cannot write", after=_quicker_than(20))
    add("demo --out under a file (agent)", "files", ["demo", *T, "--out", "{tmp}/f/d.mp4"], contains="is a file",
        setup=_write("f", "x"), after=_quicker_than(20))
    add("demo --out not a video", "files", ["demo", "--expert", *T, "--out", "{tmp}/d.avi"], contains=".mp4 or .gif")
    add("command --out cannot be created", "files",
        ["command", "open the drawer", *T, "--out", "{unwritable}/c.mp4"], contains="cannot write",
        after=_quicker_than(20))
    add("bench --out cannot be created", "files", ["bench", "env", *T, "--no-baseline", "--no-memory", "--out",
                                                   "{unwritable}/b.json"], contains="cannot write")
    add("train: run folder is a file", "files", ["train", "collect", *T, "--run-dir", "{tmp}/f"], contains="is a file",
        setup=_write("f", "x"))
    add("train: run folder under a file", "files", ["train", "collect", *T, "--run-dir", "{tmp}/f/run"],
        contains="is a file", setup=_write("f", "x"))
    add("train: run folder cannot be created", "files", ["train", "collect", *T, "--run-dir", "{unwritable}/run"],
        contains="cannot write")
    add("train: run folder read-only", "files", ["train", "collect", *T, "--run-dir", "{tmp}/ro"],
        contains="cannot write", setup=_mkdir("ro", 0o555), skip=ro_skip)
    add("parse: run folder under a file", "files", ["parse", "open the drawer", *T, "--run-dir", "{tmp}/f/run"],
        setup=_write("f", "x"))
    add("eval encoder: run folder missing", "files", ["eval", "encoder", *T, "--run-dir", "{tmp}/none"])
    add("train encoder before collect", "files", ["train", "encoder", *T, "--run-dir", "{tmp}/run"],
        contains="needs collect first")
    add("train attention before rl", "files", ["train", "attention", *T, "--run-dir", "{tmp}/run"],
        contains="needs encoder, rl first")
    add("eval attention: run folder without a gaze policy", "files", ["eval", "attention", *T, "--run-dir", "{tmp}/none"],
        contains="no trained gaze policy")
    add("demo: run folder without models", "files", ["demo", *T, "--run-dir", "{tmp}/none", "--out", "{tmp}/d.mp4"],
        contains="no encoder")
    add("eval expert: unknown task", "files", ["eval", "expert", *T, "--tasks", "open_drawer,fly"],
        contains="unknown task")
    add("eval agent: zero episodes", "files", ["eval", "agent", *T, "--episodes", "0", "--run-dir", "{shipped}"],
        contains="--episodes")

    # A GUI without a display: refused before PyBullet (which would end the process) and before any model.
    add("demo --gui, DISPLAY unset", "display", ["demo", "--expert", "--gui", *T, "--out", "{tmp}/d.mp4"],
        env={"DISPLAY": None, "WAYLAND_DISPLAY": None}, contains="display", after=_quicker_than(20))
    add("demo --gui, no X server at DISPLAY", "display", ["demo", "--gui", *T, "--out", "{tmp}/d.mp4"],
        env={"DISPLAY": ":93"}, contains="X server", after=_quicker_than(20))
    add("demo --gui, DISPLAY is nonsense", "display", ["demo", "--expert", "--gui", *T, "--out", "{tmp}/d.mp4"],
        env={"DISPLAY": "nonsense"}, contains="X server")
    add("command --gui, DISPLAY unset", "display", ["command", "open the drawer", "--gui", *T],
        env={"DISPLAY": None}, contains="display")
    add("command --gui, DISPLAY on an unreachable host", "display", ["command", "open the drawer", "--gui", *T],
        env={"DISPLAY": "127.0.0.1:59"}, contains="X server")

    # A command's output is its output.
    add("parse --json: only JSON", "output", ["parse", "open the drawer", "--json", *T, "--run-dir", "{shipped}"],
        expect="json")
    add("parse --json, parser trained on first use: only JSON", "output",
        ["parse", "press the button", "--json", *T, "--run-dir", "{tmp}/run"], expect="json")
    add("eval expert --json: only JSON", "output", ["eval", "expert", "--json", *T, "--tasks", "press_button",
                                                     "--episodes", "1"], expect="json")
    add("demo --expert: no PyBullet chatter", "output", ["demo", "--expert", *T, "--out", "{tmp}/d.mp4"], expect="ok",
        after=_no_chatter)
    add("eval --out written after the results", "output",
        ["eval", "expert", *T, "--tasks", "press_button", "--episodes", "1", "--out", "{tmp}/new/m.json"], expect="ok",
        after=_after_ok("new/m.json"))

    # The desk's inputs: a ValueError naming the problem; never an observation outside the space.
    add("reset gaze NaN", "env", custom=_env_case("gaze", [float("nan"), 0, 0]))
    add("reset gaze infinite", "env", custom=_env_case("gaze", [0, float("inf"), 0]))
    add("reset gaze out of range", "env", custom=_env_case("gaze", [0, 0, 3.0]))
    add("reset gaze of 2 numbers", "env", custom=_env_case("gaze", [0, 0]))
    add("reset gaze a string", "env", custom=_env_case("gaze", "centre"))
    add("reset option unknown", "env", custom=_env_case("option", {"gaze_at": [0, 0, 0]}))
    add("reset options a list", "env", custom=_env_case("option", [0, 0, 0]))
    add("reset seed negative", "env", custom=_env_case("seed", -1))
    add("reset seed a float", "env", custom=_env_case("seed", 1.5))
    add("step action NaN", "env", custom=_env_case("action", [0, 0, float("nan"), 0]))
    add("step action infinite", "env", custom=_env_case("action", [0, float("-inf"), 0, 0]))
    add("step action out of range", "env", custom=_env_case("action", [0, 2.0, 0, 0]))
    add("step action of wrong shape", "env", custom=_env_case("action", [0, 0, 0]))
    add("step action 2-d", "env", custom=_env_case("action", [[0, 0, 0, 0]]))
    add("render_mode human without a display", "env", custom=_human_without_display)
    add("gaze at the corners stays in the space", "env", custom=_gaze_in_space)

    # Ctrl-C.
    add("Ctrl-C during start-up imports", "interrupt", custom=_interrupt_at_startup)
    add("Ctrl-C in train capsules, then the advised command", "interrupt", needs_run=True,
        custom=_interrupt_then_follow_advice("capsules", ["--set", "capsules.steps=200"]))
    add("Ctrl-C in train collect, then the advised command", "interrupt",
        custom=_interrupt_then_follow_advice("collect", ["--set", "collect.episodes=40"]))

    # A trained run, damaged (a copy of one tiny collect + encoder run).
    R = [*T, "--run-dir", "{run}"]
    add("weights: byte flipped inside a tensor", "data", ["eval", "encoder", *R], needs_run=True,
        setup=_flip("encoder/encoder.safetensors"), contains="")
    add("weights: truncated", "data", ["eval", "encoder", *R], needs_run=True,
        setup=lambda tmp: (tmp / "run/encoder/encoder.safetensors").write_bytes(b"\x00" * 10))
    add("weights: missing", "data", ["eval", "encoder", *R], needs_run=True,
        setup=_delete("encoder/encoder.safetensors"))
    add("weights JSON is a list", "data", ["eval", "encoder", *R], needs_run=True,
        setup=lambda tmp: (tmp / "run/encoder/encoder.json").write_text("[1, 2]"))
    add("weights JSON is binary", "data", ["eval", "encoder", *R], needs_run=True,
        setup=lambda tmp: (tmp / "run/encoder/encoder.json").write_bytes(b"\xff\xfe\x00\x01"))
    add("checkpoint pointer is binary", "data", ["train", "encoder", "--resume", *R], needs_run=True,
        setup=lambda tmp: (tmp / "run/encoder/checkpoints/latest").write_bytes(b"\xff\x00\xfe"))
    add("manifest is garbage", "data", ["eval", "encoder", *R], needs_run=True,
        setup=lambda tmp: (tmp / "run/encoder/MANIFEST.json").write_text("{not json"))
    add("play data: chunk deleted", "data", ["train", "capsules", *R], needs_run=True,
        setup=_delete("collect/chunk_00001.npz"), contains="chunk")
    add("play data: chunk garbled inside an array", "data", ["train", "capsules", *R], needs_run=True,
        setup=_garble_chunk)
    add("play data: dataset.json garbage", "data", ["train", "capsules", *R], needs_run=True,
        setup=lambda tmp: (tmp / "run/collect/dataset.json").write_text("]]"))
    add("resume with another seed", "data", ["train", "encoder", "--resume", *R, "--seed", "7"], needs_run=True,
        contains="seed", after=_config_unchanged("encoder"))
    add("resume with another learning rate", "data", ["train", "encoder", "--resume", *R, "--set",
                                                      "encoder.lr=0.01"], needs_run=True, contains="encoder.lr",
        after=_config_unchanged("encoder"))
    add("collect again with another seed", "data", ["train", "collect", *R, "--seed", "3"], needs_run=True,
        contains="seed")
    add("train over a finished stage", "data", ["train", "encoder", *R], needs_run=True)
    add("a second writer while one holds the lock", "data", needs_run=True, custom=_hold_lock)
    add("a lock left by a killed process", "data", needs_run=True, custom=_stale_lock)
    add("eval encoder on the intact run", "data", ["eval", "encoder", "--json", *R], needs_run=True, expect="json")

    # Issue 22. Code from a run folder: an armed SB3 archive in each kind of place one is read.
    for reader in ("eval agent baseline", "eval attention full-frame PPO", "PPO resume checkpoint"):
        add(f"armed SB3 archive: {reader}", "unpickling", custom=_armed_archive(reader))
    # --out never clobbers; a closed stdout loses nothing.
    E1 = ["eval", "expert", *T, "--tasks", "press_button", "--episodes", "1"]
    add("eval --out is a symlink", "files", [*E1, "--out", "{tmp}/link.json"], contains="symbolic link",
        setup=_link_out, after=_unchanged("mine.json", "the user's"))
    add("eval --out is a FIFO", "files", [*E1, "--out", "{tmp}/fifo.json"], contains="not a regular file",
        setup=lambda tmp: os.mkfifo(tmp / "fifo.json"))
    add("bench --out is a device", "files", ["bench", "env", *T, "--no-baseline", "--no-memory", "--out", "/dev/null"],
        contains="not a regular file")
    add("eval --out inside a stage folder", "files", [*E1, "--out", "{tmp}/run/rl/policy.json"],
        contains="stage folder", setup=_stage_with_file, after=_unchanged("run/rl/policy.json", "the policy"))
    add("demo --out inside the shipped agent", "files", ["demo", "--expert", *T, "--out", "{shipped}/demo.mp4"],
        contains="shipped agent")
    add("eval --out with stdout closed", "output", custom=_closed_stdout)
    # The prompt's stdin.
    add("prompt with stdin closed", "prompt", custom=_prompt_stdin("closed"))
    add("prompt with stdin empty", "prompt", custom=_prompt_stdin("empty"))
    # Manifests first: entries, listed files, spec values.
    add("manifest entry leads out of the folder", "manifest", ["eval", "encoder", *R], needs_run=True,
        contains="entry", setup=_manifest_entry("../collect/dataset.json", "real:collect/dataset.json"))
    add("manifest entry is absolute", "manifest", ["eval", "encoder", *R], needs_run=True, contains="entry",
        setup=_manifest_entry("/etc/hostname", {"size": 1, "sha256": "0" * 64}))
    add("manifest entry of the wrong type", "manifest", ["eval", "encoder", *R], needs_run=True, contains="entry",
        setup=_manifest_entry("encoder.json", [1, 2]))
    add("listed file deleted elsewhere in the stage", "manifest", ["eval", "encoder", *R], needs_run=True,
        contains="missing", setup=_delete("encoder/metrics.json"))
    add("listed file replaced by a FIFO", "manifest", ["eval", "encoder", *R], needs_run=True,
        contains="not a regular file", setup=_fifo_for("encoder/encoder.json"))
    add("spec value negative, manifest rewritten", "manifest", ["eval", "encoder", *R], needs_run=True,
        contains="spec value feature_dim", setup=_spec_value("feature_dim", -3))
    add("spec value a string, manifest rewritten", "manifest", ["eval", "encoder", *R], needs_run=True,
        contains="spec value channels", setup=_spec_value("channels", "abc"))
    add("agent config binary, checked by its manifest first", "manifest",
        ["demo", *T, "--run-dir", "{tmp}/agent", "--out", "{tmp}/d.mp4"], contains="the rl stage wrote",
        setup=_agent_copy_with("rl/config.yaml", b"\x89PNG\r\n\x1a\n\x00\xff"))
    return c


# --- running them ------------------------------------------------------------------------------------

def build_run(folder: Path) -> Path:
    """The tiny trained run that the data cases damage copies of."""
    run = folder / "run"
    for stage in ("collect", "encoder"):
        r = cli(["train", stage, "--config", str(TINY), "--run-dir", str(run)], folder)
        if r.rc != 0:
            raise SystemExit(f"building the tiny run failed at {stage}: {r.err[-500:]}")
    return run


def run_case(case: Case, trained: Path | None) -> str | None:
    """None: passed; else what went wrong."""
    with tempfile.TemporaryDirectory(prefix="saccade-fault-") as name:
        tmp = Path(name)
        try:
            if case.needs_run:
                shutil.copytree(trained, tmp / "run")
            if case.setup is not None:
                case.setup(tmp)
            if case.custom is not None:
                return case.custom(tmp)
            return check(case, cli(_fill(case.argv, tmp, tmp / "run"), tmp, case.env))
        finally:
            for path in tmp.rglob("*"):  # let the cleanup remove read-only test folders
                if path.is_dir() and not path.is_symlink():
                    os.chmod(path, 0o755)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--fast", action="store_true", help="only the cases that need no trained run")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    ap.add_argument("--jobs", type=int, default=2, help="cases run at once (default 2)")
    ap.add_argument("-k", default=None, help="only cases whose name contains this")
    args = ap.parse_args()
    todo = [c for c in cases() if (not args.fast or c.fast) and (args.k is None or args.k in c.name)]
    skipped = [c for c in todo if c.skip]
    todo = [c for c in todo if not c.skip]
    t0 = time.perf_counter()
    trained = None
    with tempfile.TemporaryDirectory(prefix="saccade-faults-run-") as folder:
        if any(c.needs_run for c in todo):
            trained = build_run(Path(folder))
        # env cases change os.environ (DISPLAY) and load PyBullet in this process: run them one at a time
        serial = [c for c in todo if c.category == "env"]
        parallel = [c for c in todo if c.category != "env"]
        results: dict[str, str | None] = {}
        with ThreadPoolExecutor(max(1, args.jobs)) as pool:
            for case, problem in zip(parallel, pool.map(lambda c: run_case(c, trained), parallel)):
                results[case.name] = problem
                if not args.json:
                    print(f"{'ok  ' if problem is None else 'FAIL'} [{case.category}] {case.name}"
                          + (f": {problem}" if problem else ""), flush=True)
        for case in serial:
            try:
                problem = run_case(case, trained)
            except Exception as e:  # noqa: BLE001  (an env case that raises otherwise is a failed case)
                problem = f"{type(e).__name__}: {e}"
            results[case.name] = problem
            if not args.json:
                print(f"{'ok  ' if problem is None else 'FAIL'} [{case.category}] {case.name}"
                      + (f": {problem}" if problem else ""), flush=True)
    failed = {name: p for name, p in results.items() if p is not None}
    by_category: dict[str, list[int]] = {}
    for case in todo:
        tried_passed = by_category.setdefault(case.category, [0, 0])
        tried_passed[0] += 1
        tried_passed[1] += results[case.name] is None
    report = {"cases": len(todo), "passed": len(todo) - len(failed), "failed": failed,
              "skipped": {c.name: c.skip for c in skipped},
              "by_category": {k: {"cases": v[0], "passed": v[1]} for k, v in by_category.items()},
              "seconds": round(time.perf_counter() - t0, 1),
              "command": "python benchmarks/faults.py" + (" --fast" if args.fast else "")}
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"{report['passed']} of {report['cases']} cases passed ({report['seconds']} s)"
              + (f"; {len(skipped)} skipped ({'; '.join(sorted(set(report['skipped'].values())))})" if skipped else ""))
        for name, problem in failed.items():
            print(f"  failed: {name}: {problem}")
    return 0 if not failed else 1


if __name__ == "__main__":
    sys.exit(main())
