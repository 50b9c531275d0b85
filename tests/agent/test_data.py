import json
from pathlib import Path

import numpy as np
import pytest

from agent.config import load_config
from agent.data.collect import collect
from envs.narration import NARRATIONS
from agent.data.format import FORMAT_VERSION, Chunk, DataError, PlayData, chunk_path, write_chunk

TINY = Path(__file__).resolve().parents[2] / "configs" / "tiny.yaml"


@pytest.fixture(scope="module")
def played(tmp_path_factory):
    """Tiny play data, collected once for the module."""
    config = load_config(TINY, ["collect.episodes=4", "collect.chunk_episodes=2"])
    folder = tmp_path_factory.mktemp("play") / "collect"
    metrics = collect(config, folder)
    return config, folder, metrics


def test_collect_writes_chunks_with_all_arrays(played):
    config, folder, metrics = played
    assert metrics["chunks"] == 2 and metrics["collected_chunks"] == 2
    data = PlayData(folder)
    assert data.validate() == metrics["steps_collected"]
    with data.open(0) as chunk:
        n = len(chunk["episode"])
        assert chunk["fovea"].shape == (n, 16, 16, 3) and chunk["fovea"].dtype == np.uint8
        assert chunk["action"].shape == (n, 7)
        assert set(np.unique(chunk["episode"])) == {0, 1}
        assert chunk["frame"].shape[0] == len(chunk["frame_step"]) > 0
        assert chunk["narration"].min() >= -1 and chunk["narration"].max() < len(NARRATIONS)
        assert [m["episode"] for m in chunk.meta["episodes"]] == [0, 1]
    manifest = json.loads((folder / "dataset.json").read_text())
    assert manifest["narrations"] == list(NARRATIONS)


def test_collect_resumes_and_is_deterministic(played, tmp_path):
    config, folder, _ = played
    again = collect(config, folder)  # everything is there already
    assert again["collected_chunks"] == 0 and again["skipped_chunks"] == 2
    # an interrupted collect: chunk 1 missing, a stale temporary file left behind
    other = tmp_path / "collect"
    other.mkdir()
    (other / "chunk_00001.npz.tmp").write_bytes(b"half a chunk")
    first = collect(config, other)
    assert first["collected_chunks"] == 2 and not list(other.glob("*.tmp"))
    for i in range(2):
        with Chunk(chunk_path(folder, i)) as a, Chunk(chunk_path(other, i)) as b:
            for key in ("fovea", "periphery", "action", "state", "narration"):
                assert np.array_equal(a[key], b[key]), key


def test_corrupt_and_truncated_chunks_name_the_file(played, tmp_path):
    _, folder, _ = played
    good = chunk_path(folder, 0).read_bytes()
    bad = tmp_path / "chunk_00000.npz"
    bad.write_bytes(good[: len(good) // 2])
    with pytest.raises(DataError, match="chunk_00000.npz: corrupt chunk"):
        Chunk(bad)
    bad.write_bytes(b"not a zip at all")
    with pytest.raises(DataError, match="corrupt chunk"):
        Chunk(bad)


def test_old_format_version_is_rejected(tmp_path):
    path = chunk_path(tmp_path, 0)
    with open(path, "wb") as f:
        np.savez(f, meta=np.frombuffer(json.dumps({"format_version": 0}).encode(), dtype=np.uint8))
    with pytest.raises(DataError, match=f"format version 0, but this saccade reads version {FORMAT_VERSION}"):
        Chunk(path)


def test_foreign_npz_is_rejected(tmp_path):
    path = tmp_path / "chunk_00000.npz"
    np.savez(path, x=np.zeros(3))
    with pytest.raises(DataError, match="not a saccade play-data chunk"):
        Chunk(path)


def test_missing_and_empty_folders(tmp_path):
    with pytest.raises(DataError, match="not found"):
        PlayData(tmp_path / "nope")
    with pytest.raises(DataError, match="no play-data chunks"):
        PlayData(tmp_path)


def test_write_chunk_refuses_incomplete_arrays(tmp_path):
    with pytest.raises(ValueError, match="missing arrays"):
        write_chunk(tmp_path / "c.npz", {"fovea": np.zeros((1, 2, 2, 3), np.uint8)}, {})
    assert not list(tmp_path.iterdir())


def test_resuming_with_other_settings_is_refused(played):
    config, folder, _ = played
    from dataclasses import replace

    other = replace(config, seed=config.seed + 1)
    with pytest.raises(DataError, match=r"other settings \(seed\)"):
        collect(other, folder)
    fewer_workers = replace(config, collect=replace(config.collect, workers=2))
    assert collect(fewer_workers, folder)["skipped_chunks"] == 2
