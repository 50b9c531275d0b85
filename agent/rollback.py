"""Put a stage folder back as it was before a stage that failed.

    before = Snapshot(folder)
    try:
        ...the stage...
    except Exception:
        if not before.progress_since():
            before.restore()
        raise

The snapshot lists the folder's files and keeps the bytes of its small text files (config.yaml,
dataset.json, metrics, the manifest, checkpoint pointers: what a starting stage rewrites).
Restoring removes what appeared since and puts those bytes back. Weights, chunks and pictures are
never rewritten at a stage's start, so their names suffice (and a snapshot of a large folder stays
cheap).
"""

from __future__ import annotations

import fnmatch
import os
from pathlib import Path

KEEP_BYTES_UP_TO = 1 << 20
KEEP_BYTES_OF = (".json", ".yaml", ".yml", ".txt")
# Files that a resumed stage continues from: once one of these is new, the failure is kept like an
# interruption (run again / --resume), not undone.
PROGRESS = ("chunk_*.npz", "part_*.npz")
PROGRESS_DIRS = ("checkpoints",)
NEVER_TOUCHED = (".lock", ".lock.break")  # agent.locks: the lock's owner removes it


def _files(folder: Path) -> dict[str, Path]:
    if not folder.is_dir():
        return {}
    return {p.relative_to(folder).as_posix(): p for p in folder.rglob("*")
            if p.is_file() and p.name not in NEVER_TOUCHED}


class Snapshot:
    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self.dirs = {p.relative_to(self.folder).as_posix() for p in self.folder.rglob("*") if p.is_dir()} \
            if self.folder.is_dir() else set()
        self.files: dict[str, bytes | None] = {}
        self.stats: dict[str, tuple[int, int]] = {}
        for rel, path in _files(self.folder).items():
            try:
                st = path.stat()
                self.stats[rel] = (st.st_size, st.st_mtime_ns)
                keep = st.st_size <= KEEP_BYTES_UP_TO and (path.suffix in KEEP_BYTES_OF or path.name == "latest")
                self.files[rel] = path.read_bytes() if keep else None
            except OSError:
                self.files[rel] = None

    def new_files(self) -> list[str]:
        return [rel for rel in _files(self.folder) if rel not in self.files]

    def _changed(self) -> list[str]:
        """Files that appeared or were rewritten since the snapshot."""
        out = []
        for rel, path in _files(self.folder).items():
            try:
                st = path.stat()
            except OSError:
                continue
            if self.stats.get(rel) != (st.st_size, st.st_mtime_ns):
                out.append(rel)
        return out

    def progress_since(self) -> bool:
        """Whether files to resume from appeared (or were redone) since the snapshot."""
        for rel in self._changed():
            parts = rel.split("/")
            if any(d in parts[:-1] for d in PROGRESS_DIRS) or any(fnmatch.fnmatch(parts[-1], p) for p in PROGRESS):
                return True
        return False

    def restore(self) -> None:
        for rel in self.new_files():
            (self.folder / rel).unlink(missing_ok=True)
        for rel, data in self.files.items():
            path = self.folder / rel
            if data is None:
                continue
            try:
                if path.is_file() and path.read_bytes() == data:
                    continue
            except OSError:
                pass
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(path.name + ".restore.tmp")
            tmp.write_bytes(data)
            os.replace(tmp, path)
        new_dirs = [p for p in self.folder.rglob("*") if p.is_dir()
                    and p.relative_to(self.folder).as_posix() not in self.dirs] if self.folder.is_dir() else []
        for d in sorted(new_dirs, key=lambda p: len(p.parts), reverse=True):
            if not any(d.iterdir()):
                d.rmdir()
