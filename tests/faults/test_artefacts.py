"""Damaged stage artefacts (weights, checkpoints, model JSON) are refused in one line that names the
file and the command that makes it again; the command given works."""

import json
import shlex
import shutil

import pytest
from faultkit import TINY, flip_byte, tiny

from agent.cli import main
from agent.integrity import MANIFEST, IntegrityError, verify_stage
from agent.stages import run_stage
from agent.weights import WeightsError

pytestmark = pytest.mark.faults


def inside_a_tensor(path) -> int:
    """An offset in the tensor data of a safetensors file (past its 8-byte length and JSON header)."""
    data = path.read_bytes()
    start = 8 + int.from_bytes(data[:8], "little")
    return start + (len(data) - start) // 2


def test_the_manifest_lists_every_file_of_a_finished_stage(run):
    for stage in ("collect", "encoder"):
        folder = run / stage
        manifest = json.loads((folder / MANIFEST).read_text())
        on_disk = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()} - {MANIFEST}
        assert set(manifest["files"]) == on_disk, stage  # no lock left behind, nothing unlisted
        assert verify_stage(folder)


def test_a_byte_flipped_inside_a_tensor_is_refused(run, capsys):
    from safetensors.torch import load_file

    from agent.perception.encoder import load_encoder

    weights = run / "encoder" / "encoder.safetensors"
    flip_byte(weights, inside_a_tensor(weights))
    load_file(str(weights))  # still a well-formed file: only the hash can tell
    with pytest.raises(WeightsError, match=r"encoder\.safetensors: contents changed.*saccade train encoder"):
        load_encoder(run / "encoder")
    assert main(["eval", "encoder", "--config", str(TINY), "--run-dir", str(run)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "encoder.safetensors" in err and "Traceback" not in err


def test_the_command_in_the_refusal_makes_the_file_again(run, capsys):
    weights = run / "encoder" / "encoder.safetensors"
    good = weights.read_bytes()
    flip_byte(weights, inside_a_tensor(weights))
    with pytest.raises(IntegrityError) as refused:
        verify_stage(run / "encoder")
    command = str(refused.value).split("recreate it: ", 1)[1]
    move, train = command.split(" && ")
    _, src, dst = shlex.split(move)
    shutil.move(src, dst)
    args = shlex.split(train)
    assert args[:3] == ["saccade", "train", "encoder"]
    assert main(args[1:]) == 0, capsys.readouterr().err
    assert weights.read_bytes() == good  # same settings, same seed: the same model


def test_a_damaged_input_stops_the_next_stage_before_it_trains(run):
    weights = run / "encoder" / "encoder.safetensors"
    flip_byte(weights, inside_a_tensor(weights))
    with pytest.raises(IntegrityError, match="encoder.safetensors"):
        run_stage(tiny(run), "language")
    assert not (run / "language").exists()


def test_truncated_and_missing_weights_are_refused(run):
    from agent.perception.encoder import load_encoder

    weights = run / "encoder" / "encoder.safetensors"
    weights.write_bytes(weights.read_bytes()[:-100])
    with pytest.raises(WeightsError, match="truncated or changed"):
        load_encoder(run / "encoder")
    weights.unlink()
    with pytest.raises(WeightsError, match="no encoder here"):
        load_encoder(run / "encoder")


def test_a_damaged_checkpoint_is_not_resumed_from(run):
    tensors = run / "encoder" / "checkpoints" / "step_000006" / "tensors.safetensors"
    flip_byte(tensors, inside_a_tensor(tensors))
    with pytest.raises(IntegrityError, match="step_000006/tensors.safetensors"):
        run_stage(tiny(run), "encoder", resume=True)
    assert (run / "encoder" / MANIFEST).exists()  # the refusal left the folder as it was


def test_an_edited_model_json_is_refused(run):
    from agent.perception.encoder import load_encoder

    path = run / "encoder" / "encoder.json"
    config = json.loads(path.read_text())
    config["spec"]["feature_dim"] = 17
    path.write_text(json.dumps(config, indent=2))
    with pytest.raises(WeightsError, match="encoder.json"):
        load_encoder(run / "encoder")


def test_a_model_json_missing_a_field_is_refused_not_defaulted(run, tmp_path):
    """Without a manifest (a model copied elsewhere) the JSON is still checked field by field."""
    from agent.language.narrator import NONE, Narrator, NarratorSpec, build_tokenizer, load_narrator, save_narrator
    from agent.perception.encoder import load_encoder
    from envs.narration import NARRATIONS

    (run / "encoder" / MANIFEST).unlink()
    path = run / "encoder" / "encoder.json"
    config = json.loads(path.read_text())
    del config["spec"]["feature_dim"]
    path.write_text(json.dumps(config))
    with pytest.raises(WeightsError, match="missing feature_dim"):
        load_encoder(run / "encoder")

    spec = NarratorSpec(input_dim=6, window=3, prefix_tokens=2, n_embd=16, n_layer=1, n_head=2)
    save_narrator(Narrator(spec, build_tokenizer([*NARRATIONS, NONE])).eval(), tmp_path / "narrator")
    path = tmp_path / "narrator" / "narrator.json"
    config = json.loads(path.read_text())
    del config["spec"]["n_head"]
    path.write_text(json.dumps(config))
    with pytest.raises(WeightsError, match=r"narrator\.json: .*missing n_head.*saccade train language"):
        load_narrator(tmp_path / "narrator")


def test_a_stage_manifest_that_is_garbage_is_refused(run):
    from agent.perception.encoder import load_encoder

    (run / "encoder" / MANIFEST).write_bytes(b"\x00\xff not json")
    with pytest.raises(IntegrityError, match="unreadable stage manifest"):
        load_encoder(run / "encoder")


def test_a_stage_refuses_to_run_over_a_finished_one_and_leaves_it_whole(run):
    with pytest.raises(FileExistsError, match="--resume"):
        run_stage(tiny(run), "encoder")
    assert verify_stage(run / "encoder")  # manifest back, config.yaml as it was

