"""The play-data format: a folder of chunk files, each a few episodes, streamed one at a time.

    runs/NAME/collect/
        dataset.json          what was collected and with which settings
        chunk_00000.npz       episodes 0..E-1, arrays concatenated over their steps
        chunk_00001.npz       ...

A chunk is a NumPy .npz archive (loaded with allow_pickle=False: nothing is ever
unpickled), written to a temporary name and renamed into place, so an interrupted
collect never leaves a half-written chunk. Arrays are read lazily, key by key: the
unsupervised stages read only `UNSUPERVISED_KEYS` and never touch the labels.

dataset.json lists every chunk with its size and sha256 (`chunk_files`), recorded as each
chunk is written: PlayData refuses play data with a chunk missing or changed, rather than
training on what is left, and a collect run again redoes such chunks.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import zipfile
import zlib
from pathlib import Path

import numpy as np

FORMAT_VERSION = 1
CHUNK_GLOB = "chunk_*.npz"
# What a learner without labels may read.
UNSUPERVISED_KEYS = ("episode", "step", "fovea", "periphery", "gaze", "proprio", "action", "frame", "frame_step")
# For evaluation and the language stage only.
LABEL_KEYS = ("state", "task", "narration")
REQUIRED_KEYS = ("meta", *UNSUPERVISED_KEYS, *LABEL_KEYS)
# What a damaged archive raises while an array is read (zlib: a garbled compressed stream).
READ_ERRORS = (zipfile.BadZipFile, EOFError, OSError, ValueError, KeyError, UnicodeDecodeError, zlib.error)

log = logging.getLogger(__name__)


class DataError(ValueError):
    """Missing, foreign or corrupt play data; the message names the file."""


def chunk_path(folder: Path, index: int) -> Path:
    return Path(folder) / f"chunk_{index:05d}.npz"


def file_record(path: Path) -> dict:
    """What dataset.json records of a chunk: its size and sha256."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return {"size": Path(path).stat().st_size, "sha256": h.hexdigest()}


def recollect_command(folder: Path) -> str:
    folder = Path(folder)
    return f"saccade train collect --config {folder / 'config.yaml'} --run-dir {folder.parent}"


def write_chunk(path: Path, arrays: dict[str, np.ndarray], meta: dict) -> None:
    """Write atomically: a temporary file, flushed to disk, then renamed into place."""
    path = Path(path)
    meta = {**meta, "format_version": FORMAT_VERSION}
    payload = {**arrays, "meta": np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)}
    missing = set(REQUIRED_KEYS) - set(payload)
    if missing:
        raise ValueError(f"chunk is missing arrays: {sorted(missing)}")
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        np.savez_compressed(f, **payload)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


class Chunk:
    """One chunk file, opened lazily: `chunk["fovea"]` reads only that array."""

    def __init__(self, path: Path):
        self.path = Path(path)
        try:
            self._npz = np.load(self.path, allow_pickle=False)
            keys = set(self._npz.files)
            if "meta" not in keys:
                raise DataError(f"{self.path}: not a saccade play-data chunk (no 'meta' array)")
            self.meta = json.loads(bytes(self._npz["meta"]).decode())
        except DataError:
            raise
        except FileNotFoundError:
            raise DataError(f"{self.path}: chunk file not found") from None
        except READ_ERRORS as e:
            raise DataError(f"{self.path}: corrupt chunk ({type(e).__name__}: {e}); delete it and run "
                            "`saccade train collect` again to re-collect it") from None
        version = self.meta.get("format_version")
        if version != FORMAT_VERSION:
            raise DataError(f"{self.path}: play-data format version {version}, but this saccade reads version "
                            f"{FORMAT_VERSION}; collect the data again with `saccade train collect`")
        missing = set(REQUIRED_KEYS) - keys
        if missing:
            raise DataError(f"{self.path}: chunk is missing arrays {sorted(missing)}")

    def __getitem__(self, key: str) -> np.ndarray:
        try:
            return self._npz[key]
        except READ_ERRORS as e:
            raise DataError(f"{self.path}: corrupt array {key!r} ({type(e).__name__}: {e}); run "
                            f"`{recollect_command(self.path.parent)}` to collect it again") from None

    def verify(self) -> None:
        """Read every array: the archive's CRC checks catch a chunk garbled anywhere inside."""
        for key in self._npz.files:
            self[key]

    def read(self, keys: tuple[str, ...]) -> dict[str, np.ndarray]:
        return {k: self[k] for k in keys}

    def close(self) -> None:
        self._npz.close()

    def __enter__(self) -> Chunk:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class PlayData:
    """A folder of play data. Lists the chunks; opens them one at a time."""

    def __init__(self, folder: str | Path, verify: bool = True):
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise DataError(f"{self.folder}: play-data folder not found; run `saccade train collect` first")
        manifest = self.folder / "dataset.json"
        try:
            self.info = json.loads(manifest.read_text()) if manifest.exists() else {}
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            raise DataError(f"{manifest}: unreadable ({type(e).__name__}); collect the data again") from None
        if not isinstance(self.info, dict):
            raise DataError(f"{manifest}: not a play-data description; collect the data again")
        if isinstance(self.info.get("chunks"), int):
            # The chunks dataset.json lists, all of them: training on what is left of a damaged
            # collect would silently change every result.
            self.chunks = [chunk_path(self.folder, i) for i in range(self.info["chunks"])]
            missing = [p.name for p in self.chunks if not p.exists()]
            if missing:
                raise DataError(f"{self.folder}: {len(missing)} of the {len(self.chunks)} chunks that dataset.json "
                                f"lists are missing ({', '.join(missing[:3])}{', ...' if len(missing) > 3 else ''}); "
                                f"run `{recollect_command(self.folder)}` to collect them again")
            if verify:
                self.check_chunks()
        else:  # play data from before dataset.json listed its chunks
            self.chunks = sorted(self.folder.glob(CHUNK_GLOB))
        if not self.chunks:
            raise DataError(f"{self.folder}: no play-data chunks ({CHUNK_GLOB}); run `saccade train collect` first")

    def check_chunks(self) -> None:
        """Every chunk as collect recorded it (size and sha256), where dataset.json records them."""
        records = self.info.get("chunk_files") or {}
        if not records:
            log.warning("%s: dataset.json records no chunk hashes (collected before it did): chunks not checked",
                        self.folder)
        for path in self.chunks:
            record = records.get(path.name)
            if record is None:
                continue
            if path.stat().st_size != record.get("size") or file_record(path) != record:
                raise DataError(f"{path}: differs from the chunk that collect wrote (size or sha256 in dataset.json); "
                                f"run `{recollect_command(self.folder)}` to collect it again")

    def __len__(self) -> int:
        return len(self.chunks)

    def open(self, index: int) -> Chunk:
        return Chunk(self.chunks[index])

    def read(self, chunk_ids: list[int], keys: tuple[str, ...]) -> dict[str, np.ndarray]:
        """The given arrays of the given chunks, concatenated over their steps (for evaluation sets)."""
        parts: dict[str, list] = {k: [] for k in keys}
        for cid in chunk_ids:
            with self.open(cid) as chunk:
                for k in keys:
                    parts[k].append(chunk[k])
        return {k: np.concatenate(v) for k, v in parts.items()}

    def validate(self) -> int:
        """Open every chunk once (checks version and arrays); returns the number of steps."""
        steps = 0
        for i in range(len(self)):
            with self.open(i) as chunk:
                steps += len(chunk["episode"])
        return steps

