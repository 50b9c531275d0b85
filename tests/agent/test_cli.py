import json
import subprocess
import sys

import pytest

from agent.cli import main

SUBCOMMANDS = ["demo", "train", "command", "parse", "eval", "bench"]


def run_cli(*args, cwd=None):
    """The real console entry point, in a subprocess, as a user runs it."""
    return subprocess.run([sys.executable, "-m", "agent.cli", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=600)


@pytest.mark.parametrize("sub", [None, *SUBCOMMANDS])
def test_help(sub, capsys):
    with pytest.raises(SystemExit) as e:
        main([sub, "--help"] if sub else ["--help"])
    assert e.value.code == 0
    assert "usage: saccade" in capsys.readouterr().out


@pytest.mark.parametrize(
    "args, message",
    [
        (["train", "attention", "--run-dir", "nowhere"], "the stage 'attention' needs encoder, rl first"),
        (["eval", "attention", "--run-dir", "nowhere"], "no trained gaze policy here"),
        (["train", "rl", "--run-dir", "nowhere"], "the stage 'rl' needs encoder, language first"),
        (["train", "encoder", "--run-dir", "nowhere"], "the stage 'encoder' needs collect first"),
        (["command", "open the drawer", "--run-dir", "nowhere"], "no encoder here"),
        (["demo", "--run-dir", "nowhere"], "no encoder here"),
        (["demo", "--commands", " ; "], "--commands holds no command"),
        (["command", "open the drawer", "--out", "x.avi"], "must end in .mp4 or .gif"),
        (["demo", "--expert", "--task", "fly"], "unknown task 'fly'"),
        (["demo", "--expert", "--out", "x.avi"], "must end in .mp4 or .gif"),
        (["eval", "expert", "--set", "env.fovea_size=big"], "env.fovea_size: expected int"),
        (["eval", "expert", "--config", "missing.yaml"], "config file not found"),
        (["eval", "expert", "--episodes", "0"], "--episodes must be positive"),
    ],
)
def test_user_errors_exit_2_without_traceback(args, message, capsys):
    assert main(args) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err


def test_unknown_subcommand_exits_2(capsys):
    with pytest.raises(SystemExit) as e:
        main(["fly"])
    assert e.value.code == 2


def test_demo_end_to_end(tmp_path, tiny_config_path):
    out = tmp_path / "demo.mp4"
    result = run_cli("demo", "--expert", "--task", "press_button", "--out", str(out), "--config", str(tiny_config_path))
    assert result.returncode == 0, result.stderr
    assert "pressing the button" in result.stdout
    assert out.stat().st_size > 1000
    assert (tmp_path / "demo.config.yaml").exists()
    events = json.loads((tmp_path / "demo.events.json").read_text())
    first = events["commands"][0]
    assert first["success"] and first["narration"][0]["text"] == "pressing the button"
    import imageio.v2 as imageio

    frames = imageio.mimread(out)
    assert frames[0].shape == (120, 160, 3)


def test_demo_gif(tmp_path, tiny_config_path):
    out = tmp_path / "demo.gif"
    result = run_cli("demo", "--expert", "--task", "lift_block:blue", "--out", str(out), "--config", str(tiny_config_path))
    assert result.returncode == 0, result.stderr
    assert out.read_bytes()[:3] == b"GIF"


def test_eval_expert_json(tiny_config_path):
    result = run_cli("eval", "expert", "--json", "--config", str(tiny_config_path), "--tasks", "open_drawer,lift_block:red")
    assert result.returncode == 0, result.stderr
    metrics = json.loads(result.stdout)  # stdout holds only the JSON
    assert set(metrics["per_task"]) == {"open_drawer", "lift_block:red"}
    assert metrics["min_success_rate"] == 1.0


@pytest.mark.slow
def test_bench_env_json(tiny_config_path, tmp_path):
    out = tmp_path / "bench.json"
    result = run_cli("bench", "env", "--json", "--config", str(tiny_config_path), "--out", str(out))
    assert result.returncode == 0, result.stderr
    results = json.loads(result.stdout)
    assert json.loads(out.read_text()) == results
    assert {"state", "frame84", "glimpse"} <= set(results["ratios_vs_PandaPush-v3"])
    assert results["memory"]["steps"] == 300


@pytest.mark.slow
def test_collect_encoder_eval_end_to_end(tmp_path, tiny_config_path):
    run_dir = tmp_path / "run"
    common = ["--config", str(tiny_config_path), "--run-dir", str(run_dir)]
    result = run_cli("train", "collect", *common)
    assert result.returncode == 0, result.stderr
    assert (run_dir / "collect" / "config.yaml").exists()
    result = run_cli("train", "encoder", *common)
    assert result.returncode == 0, result.stderr
    assert (run_dir / "encoder" / "encoder.safetensors").exists()
    # a second run into the same folder must be asked for
    result = run_cli("train", "encoder", *common)
    assert result.returncode == 2 and "--resume" in result.stderr
    assert run_cli("train", "encoder", "--resume", *common).returncode == 0
    result = run_cli("eval", "encoder", "--json", *common)
    assert result.returncode == 0, result.stderr
    metrics = json.loads(result.stdout)
    assert set(metrics["probes"]["lamp_on"]) == {"contrastive", "random", "supervised", "contrastive_no_colour",
                                                 "contrastive_simclr_colour", "majority"}
    assert (run_dir / "eval_encoder" / "encoder_pca.png").exists()
    result = run_cli("bench", "encoder", "--json", *common[:2])
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["inference"]["batch_1_glimpses_per_s"] > 0
    result = run_cli("train", "capsules", *common)
    assert result.returncode == 0, result.stderr
    assert (run_dir / "capsules" / "reconstructions.png").exists()
    result = run_cli("eval", "capsules", "--json", *common)
    assert result.returncode == 0, result.stderr
    metrics = json.loads(result.stdout)
    from agent.config import load_config
    from agent.data.format import PlayData
    from agent.perception.stream import split_chunks

    data = PlayData(run_dir / "collect")
    held_out = len(data.read(split_chunks(len(data), load_config(tiny_config_path).split.test_fraction)[1],
                             ("episode",))["episode"])
    assert metrics["test_views"] == min(200, held_out)  # capsules.eval_samples of tiny.yaml, or every held-out glimpse
    assert metrics["seeds"]["seeds"] == [0, 1] and len(metrics["seeds"]["fovea"]["objects_found"]) == 2
    assert {"capsules", "cnn", "slot_attention"} <= set(metrics["viewpoint"])
    assert metrics["viewpoint"]["samples"]["train"] > 0 and metrics["viewpoint"]["samples"]["test_unseen_views"] > 0
    # blocks were projected into the held-out pairs' views (a broken projection sees none)
    assert metrics["scene_memory"]["blocks_seen"] > 0 and metrics["scene_memory"]["scenes"] == 3
    assert metrics["throughput"]["batch_64_parses_per_s"] > 0
    result = run_cli("train", "language", *common)
    assert result.returncode == 0, result.stderr
    assert (run_dir / "language" / "narrator" / "narrator.safetensors").exists()
    result = run_cli("eval", "narrator", "--json", *common)
    assert result.returncode == 0, result.stderr
    narrator = json.loads(result.stdout)
    assert narrator["segments"] > 0 and narrator["test_steps"] > 0  # held-out play data with events was read
    assert (run_dir / "language" / "reward" / "reward.safetensors").exists()
    result = run_cli("eval", "reward", "--json", *common)
    assert result.returncode == 0, result.stderr
    reward = json.loads(result.stdout)
    assert any(v is not None for v in reward["roc_auc_per_task"].values())  # some task's clips were scored
    video = tmp_path / "learned.mp4"
    result = run_cli("demo", "--expert", "--task", "open_drawer", "--narrator", "learned", "--out", str(video), *common)
    events = json.loads((tmp_path / "learned.events.json").read_text())
    assert events["narrator"] == "learned" and events["commands"][0]["task"] == "open_drawer"
    # the exit status says what the episode did; the film has a frame for every step run
    assert result.returncode == (0 if events["commands"][0]["success"] else 1), result.stderr
    import imageio

    with imageio.get_reader(video) as reader:
        frames = sum(1 for _ in reader)
    assert frames >= events["commands"][0]["steps"] > 0


def test_eval_encoder_without_data_is_a_user_error(tmp_path, capsys):
    assert main(["eval", "encoder", "--run-dir", str(tmp_path / "none")]) == 2
    err = capsys.readouterr().err
    assert "no encoder here" in err and "Traceback" not in err


def test_corrupt_chunk_is_a_user_error(tmp_path, capsys):
    folder = tmp_path / "run" / "collect"
    folder.mkdir(parents=True)
    (folder / "chunk_00000.npz").write_bytes(b"garbage")
    (folder / "chunk_00001.npz").write_bytes(b"garbage")
    (folder / "metrics.json").write_text("{}")  # a finished collect whose chunks were damaged afterwards
    assert main(["train", "encoder", "--run-dir", str(tmp_path / "run")]) == 2
    assert "chunk_00000.npz: corrupt chunk" in capsys.readouterr().err


@pytest.fixture(scope="module")
def language_run(tmp_path_factory):
    import torch

    from agent.config import load_config
    from agent.runs import RunLayout
    from agent.stages import train_commands

    run_dir = tmp_path_factory.mktemp("lang")
    torch.set_num_threads(1)
    train_commands(load_config(None, [f"run_dir={run_dir}"]), RunLayout(run_dir))
    return run_dir


@pytest.mark.parametrize("text, expected", [
    ("open the drawer", {"task": "open_drawer", "block": None}),
    ("please put the blue block in the drawer", {"task": "put_block_in_drawer", "block": "blue"}),
])
def test_parse_json(language_run, text, expected, capsys):
    assert main(["parse", text, "--json", "--run-dir", str(language_run)]) == 0
    assert json.loads(capsys.readouterr().out) == expected


@pytest.mark.parametrize("text", ["", "lift the purple block", "qwpoeiru zxmcnv", "x" * 5000])
def test_parse_refuses_with_suggestions_and_exit_2(language_run, text, capsys):
    assert main(["parse", text, "--json", "--run-dir", str(language_run)]) == 2
    out = json.loads(capsys.readouterr().out)
    assert out["error"] and 1 <= len(out["suggestions"]) <= 3
