"""Play data: every chunk dataset.json lists must be there and as collect wrote it before anything
trains on it; collect run again redoes missing and garbled chunks (garbled inside an array too)."""

import json
import zipfile

import pytest
from faultkit import TINY, flip_byte, tiny, tree

from agent.cli import main
from agent.data.format import Chunk, DataError, PlayData, chunk_path
from agent.integrity import MANIFEST, IntegrityError, verify_stage
from agent.stages import run_stage

pytestmark = pytest.mark.faults


def garble_array(path, key="fovea") -> None:
    """Flip a byte in the middle of one array's compressed data; the archive's directory and the
    'meta' array stay intact, so the chunk still opens."""
    with zipfile.ZipFile(path) as z:
        info = z.getinfo(key + ".npy")
    data = path.read_bytes()
    name_len = int.from_bytes(data[info.header_offset + 26:info.header_offset + 28], "little")
    extra_len = int.from_bytes(data[info.header_offset + 28:info.header_offset + 30], "little")
    start = info.header_offset + 30 + name_len + extra_len
    flip_byte(path, start + info.compress_size // 2)


def without_encoder(run):
    import shutil

    shutil.rmtree(run / "encoder")
    return run


def test_training_on_play_data_with_a_chunk_deleted_is_refused(run, capsys):
    without_encoder(run)
    chunk_path(run / "collect", 1).unlink()
    with pytest.raises(IntegrityError, match=r"chunk_00001\.npz: missing.*saccade train collect"):
        run_stage(tiny(run), "encoder")
    assert main(["train", "encoder", "--config", str(TINY), "--run-dir", str(run)]) == 2
    err = capsys.readouterr().err
    assert "chunk_00001.npz" in err and "Traceback" not in err
    assert not (run / "encoder").exists()
    # without the stage manifest, dataset.json's list still refuses
    (run / "collect" / MANIFEST).unlink()
    with pytest.raises(DataError, match=r"1 of the 3 chunks that dataset.json lists are missing \(chunk_00001.npz\)"):
        PlayData(run / "collect")


def test_collect_again_collects_deleted_chunks(run, finished_run):
    chunk_path(run / "collect", 0).unlink()
    chunk_path(run / "collect", 2).unlink()
    metrics = run_stage(tiny(run), "collect")
    assert metrics["collected_chunks"] == 2 and metrics["skipped_chunks"] == 1
    for i in range(3):
        assert chunk_path(run / "collect", i).read_bytes() == chunk_path(finished_run / "collect", i).read_bytes()
    assert verify_stage(run / "collect") and len(PlayData(run / "collect")) == 3


def test_a_chunk_garbled_inside_an_array_is_caught(run, finished_run):
    path = chunk_path(run / "collect", 1)
    garble_array(path)
    Chunk(path).close()  # the metadata still reads: that check alone would pass it
    with pytest.raises(DataError, match=r"corrupt array 'fovea'"):
        Chunk(path)["fovea"]  # one line, not a zlib traceback
    (run / "collect" / MANIFEST).unlink()  # dataset.json's record alone catches it
    with pytest.raises(DataError, match=r"chunk_00001\.npz: differs from the chunk that collect wrote"):
        PlayData(run / "collect")
    metrics = run_stage(tiny(run), "collect")  # and collect redoes it
    assert metrics["collected_chunks"] == 1
    assert path.read_bytes() == chunk_path(finished_run / "collect", 1).read_bytes()
    PlayData(run / "collect")


def test_collect_catches_a_garbled_chunk_it_had_not_recorded(run, finished_run):
    """A collect killed between writing a chunk and recording it: every array is read (CRC) instead."""
    info = json.loads((run / "collect" / "dataset.json").read_text())
    del info["chunk_files"]["chunk_00002.npz"]
    (run / "collect" / "dataset.json").write_text(json.dumps(info))
    garble_array(chunk_path(run / "collect", 2), key="state")
    metrics = run_stage(tiny(run), "collect")
    assert metrics["collected_chunks"] == 1
    ours, theirs = tree(run / "collect"), tree(finished_run / "collect")
    for name in ("chunk_00000.npz", "chunk_00001.npz", "chunk_00002.npz", "dataset.json"):
        assert ours[name] == theirs[name], name  # the chunk redone, and recorded again


def test_a_chunk_not_listed_is_not_read(run):
    import shutil

    shutil.copy(chunk_path(run / "collect", 0), chunk_path(run / "collect", 7))  # a stray file
    assert len(PlayData(run / "collect")) == 3
