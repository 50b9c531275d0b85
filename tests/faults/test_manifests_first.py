"""Manifests as the first gate (issue 22): entries are checked before any is used (relative paths
inside the folder, sizes, sha256s), listed files are regular files and none may be missing, spec
values are checked by type and range, and an error while building a model names the file.
Worked on a copy of the shipped agent (no training needed)."""

import json
import os
import shutil
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "agent" / "shipped"


@pytest.fixture
def agent(tmp_path):
    copy = tmp_path / "agent"
    shutil.copytree(SHIPPED, copy, symlinks=True)
    return copy


def one_line(e, *words):
    text = str(e)
    assert "\n" not in text and all(w in text for w in words), text
    return text


def finishes(fn, seconds: float = 20):
    """fn's exception, or the failure of a test that would otherwise hang (a FIFO read blocks)."""
    box = {}

    def run():
        try:
            fn()
        except Exception as e:  # noqa: BLE001
            box["error"] = e

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(seconds)
    assert not t.is_alive(), "blocked"
    return box.get("error")


@pytest.mark.parametrize("entry", ["outside", "absolute", "dot", "not a record", "size a string", "bad sha"])
def test_manifest_entries_are_checked_before_use(agent, entry):
    from agent.integrity import IntegrityError, sha256
    from agent.perception.encoder import load_encoder

    path = agent / "encoder" / "MANIFEST.json"
    manifest = json.loads(path.read_text())
    target = agent / "rl" / "policy.json"
    real = {"size": target.stat().st_size, "sha256": sha256(target)}
    files = manifest["files"]
    if entry == "outside":
        files["../rl/policy.json"] = real  # right size and hash: followed, it would pass
    elif entry == "absolute":
        files[str(target)] = real
    elif entry == "dot":
        files["./encoder.json"] = files["encoder.json"]
    elif entry == "not a record":
        files["encoder.json"] = [1, 2]
    elif entry == "size a string":
        files["encoder.json"]["size"] = str(files["encoder.json"]["size"])
    else:
        files["encoder.json"]["sha256"] = "xyz"
    path.write_text(json.dumps(manifest))
    with pytest.raises(IntegrityError) as e:
        load_encoder(agent / "encoder")
    one_line(e.value, str(path), "entry")


def test_a_listed_file_missing_anywhere_in_the_stage_is_refused(agent):
    """The adapted narrator deleted: before, the language stage's narrator stood in without a word."""
    from agent.command import command_config
    from agent.config import load_config
    from agent.integrity import IntegrityError, check_near

    (agent / "rl" / "narrator" / "narrator.safetensors").unlink()
    with pytest.raises(IntegrityError) as e:
        check_near(agent / "rl" / "policy.json")
    one_line(e.value, "narrator.safetensors", "missing")
    with pytest.raises(IntegrityError):
        command_config(load_config(), agent)


@pytest.mark.parametrize("kind", ["fifo", "link to a copy", "folder link out of the stage"])
def test_a_listed_file_that_is_not_a_regular_file_inside_the_stage_is_refused(agent, tmp_path, kind):
    from agent.integrity import IntegrityError, check_near
    from agent.perception.encoder import load_encoder

    if kind == "fifo":
        (agent / "encoder" / "encoder.json").unlink()
        os.mkfifo(agent / "encoder" / "encoder.json")
        error = finishes(lambda: load_encoder(agent / "encoder"))
        words = ("not a regular file",)
    elif kind == "link to a copy":
        shutil.copy(agent / "encoder" / "encoder.json", tmp_path / "same.json")
        (agent / "encoder" / "encoder.json").unlink()
        (agent / "encoder" / "encoder.json").symlink_to(tmp_path / "same.json")
        error = finishes(lambda: load_encoder(agent / "encoder"))
        words = ("not a regular file",)
    else:
        shutil.move(agent / "rl" / "narrator", tmp_path / "narrator")
        (agent / "rl" / "narrator").symlink_to(tmp_path / "narrator")
        error = finishes(lambda: check_near(agent / "rl" / "policy.json"))
        words = ("outside",)
    assert isinstance(error, IntegrityError), error
    one_line(error, *words)


@pytest.mark.parametrize("field, value", [("feature_dim", -3), ("feature_dim", "128"), ("feature_dim", True),
                                          ("feature_dim", 10 ** 9), ("channels", [32, 0]), ("channels", "abc"),
                                          ("channels", []), ("channels", [32.5])])
def test_spec_values_of_the_wrong_type_or_range_are_refused(agent, field, value):
    """Even with the manifest rewritten to match: the spec is data, checked before a model is built."""
    from agent.integrity import write_manifest
    from agent.perception.encoder import load_encoder
    from agent.weights import WeightsError

    path = agent / "encoder" / "encoder.json"
    config = json.loads(path.read_text())
    config["spec"][field] = value
    path.write_text(json.dumps(config))
    write_manifest(agent / "encoder", "encoder")
    with pytest.raises(WeightsError) as e:
        load_encoder(agent / "encoder")
    one_line(e.value, str(path), f"spec value {field}")


def test_an_error_while_building_a_model_names_the_file(tmp_path):
    from agent.weights import WeightsError, building

    with pytest.raises(WeightsError) as e:
        with building(tmp_path / "narrator.json", "saccade train language"):
            raise AssertionError("n_embd must divide by n_head\n  (a second line)")
    one_line(e.value, "narrator.json", "AssertionError", "saccade train language")


def test_the_agents_config_is_checked_against_its_manifest_before_it_is_parsed(agent):
    from agent.command import command_config
    from agent.config import load_config
    from agent.integrity import IntegrityError

    (agent / "rl" / "config.yaml").write_bytes(b"\x89PNG\r\n\x1a\n\x00\xff")
    with pytest.raises(IntegrityError) as e:
        command_config(load_config(), agent)
    one_line(e.value, "config.yaml", "the rl stage wrote")


def test_the_shipped_agent_passes_its_own_manifests():
    from agent.integrity import check_near, verify_stage

    for stage in ("encoder", "language", "rl"):
        assert verify_stage(SHIPPED / stage)
    check_near(SHIPPED / "rl" / "policy.json")


def test_without_a_manifest_a_fifo_in_place_of_a_model_file_is_refused_not_waited_on(agent):
    from agent.perception.encoder import load_encoder
    from agent.weights import WeightsError

    (agent / "encoder" / "MANIFEST.json").unlink()
    for name in ("encoder.json", "encoder.safetensors"):
        os.replace(agent / "encoder" / name, agent / "encoder" / (name + ".kept"))
        os.mkfifo(agent / "encoder" / name)
        error = finishes(lambda: load_encoder(agent / "encoder"))
        assert isinstance(error, WeightsError), error
        one_line(error, name, "not a regular file")
        (agent / "encoder" / name).unlink()
        os.replace(agent / "encoder" / (name + ".kept"), agent / "encoder" / name)
    load_encoder(agent / "encoder")  # whole again: read as before manifests
