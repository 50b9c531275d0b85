"""Stage manifests: what a finished stage wrote, file by file (size and sha256), so that nothing
damaged or changed afterwards is read silently.

    runs/NAME/encoder/MANIFEST.json   {"kind": "saccade.stage-manifest", "stage": "encoder",
                                       "files": {"encoder.safetensors": {"size": ..., "sha256": ...}, ...}}

`agent.stages.run_stage` writes it last, atomically, when a stage finishes, and removes it when
the stage is run again (the folder is then being rewritten). Readers check against it:
`check_near` (the model loaders in agent.weights: the files beside the one read) and
`verify_stage` (every file, before a stage trains on another stage's output). `check_near` also
refuses a listed file that is missing anywhere in the stage (readers that fall back on a missing
file would otherwise do so without a word). Entries are checked before any is used: relative
paths that stay inside the folder, sizes, sha256s; listed files must be regular files. A folder
without a manifest (a run made before manifests) is read as before.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path

from agent.data.format import DataError
from agent.weights import WeightsError

log = logging.getLogger(__name__)

MANIFEST = "MANIFEST.json"
KIND = "saccade.stage-manifest"
LOCK = ".lock"  # agent.locks; never part of a manifest
# How far above a file its stage folder can be: language/narrator/checkpoints/step_000100/tensors.safetensors
MAX_DEPTH = 4


class IntegrityError(WeightsError, DataError):
    """A file differs from, or is missing against, its stage's manifest. Both a WeightsError and a
    DataError, so that every place that reports those in one line reports this one too."""


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _listed(folder: Path) -> list[Path]:
    """The files a manifest covers: everything but itself, the lock and temporary files."""
    return sorted(p for p in folder.rglob("*")
                  if p.is_file() and p.name not in (MANIFEST, LOCK) and not p.name.endswith(".tmp"))


def write_manifest(folder: str | Path, stage: str) -> Path:
    folder = Path(folder)
    files = {p.relative_to(folder).as_posix(): {"size": p.stat().st_size, "sha256": sha256(p)} for p in _listed(folder)}
    tmp = folder / (MANIFEST + ".tmp")
    with open(tmp, "w") as f:
        json.dump({"kind": KIND, "stage": stage, "files": files}, f, indent=1)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, folder / MANIFEST)
    return folder / MANIFEST


def remove_manifest(folder: str | Path) -> None:
    (Path(folder) / MANIFEST).unlink(missing_ok=True)


def read_manifest(folder: str | Path) -> dict | None:
    """The stage manifest in folder; None if there is none (or only another kind of MANIFEST.json,
    such as agent/shipped's)."""
    path = Path(folder) / MANIFEST
    if not path.is_file():
        return None
    try:
        manifest = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise IntegrityError(f"{path}: unreadable stage manifest ({type(e).__name__}); "
                             f"recreate the stage: {recreate_command(Path(folder), None)}") from None
    if not isinstance(manifest, dict) or manifest.get("kind") != KIND:
        return None
    if not isinstance(manifest.get("files"), dict):
        raise IntegrityError(f"{path}: stage manifest without its file list; "
                             f"recreate the stage: {recreate_command(Path(folder), manifest.get('stage'))}")
    for rel, entry in manifest["files"].items():
        problem = _entry_problem(rel, entry)
        if problem:
            raise IntegrityError(f"{path}: entry {rel!r} {problem}; "
                                 f"recreate the stage: {recreate_command(Path(folder), None)}")
    return manifest


def _entry_problem(rel, entry) -> str | None:
    """What is wrong with one manifest entry: a relative path that stays inside the folder, with
    its size and sha256 (a hand-edited or hostile manifest must not send a reader elsewhere)."""
    import re

    parts = rel.split("/")
    if not rel or rel.startswith("/") or "\\" in rel or "\x00" in rel or any(p in ("", ".", "..") for p in parts):
        return "is not a plain relative path inside the stage folder"
    if not isinstance(entry, dict):
        return "is not a {size, sha256} record"
    size, digest = entry.get("size"), entry.get("sha256")
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        return f"has a size that is not a byte count ({size!r})"
    if not isinstance(digest, str) or not re.fullmatch(r"[0-9a-f]{64}", digest):
        return "has no sha256 of 64 hex digits"
    return None


def recreate_command(folder: Path, stage: str | None) -> str:
    """The command that makes the stage in `folder` again, with the settings it was made with."""
    stage = stage or folder.name
    run_dir = folder.parent
    if run_dir.resolve() == Path(__file__).resolve().parent / "shipped":  # agent.shipping.SHIPPED
        return "restore the shipped agent: git checkout -- agent/shipped (or reinstall saccade)"
    if stage == "collect":  # collect re-collects missing and damaged chunks by itself
        return f"saccade train collect --config {folder / 'config.yaml'} --run-dir {run_dir}"
    # A trained stage refuses a folder that holds a run, so it is moved aside first; its config.yaml
    # keeps the settings it was trained with.
    aside = folder.with_name(folder.name + ".damaged")
    return f"mv {folder} {aside} && saccade train {stage} --config {aside / 'config.yaml'} --run-dir {run_dir}"


def find_manifest(path: str | Path) -> tuple[Path, dict] | None:
    """The stage folder above `path` that holds a stage manifest, and the manifest."""
    folder = Path(path).resolve().parent
    for _ in range(MAX_DEPTH):
        manifest = read_manifest(folder)
        if manifest is not None:
            return folder, manifest
        if folder.parent == folder:
            break
        folder = folder.parent
    return None


def _check_present(folder: Path, manifest: dict, rel: str) -> Path:
    """The listed file: there, a regular file (not a link, a FIFO or a device), inside the folder."""
    import stat

    path = folder / rel
    how = f"recreate it: {recreate_command(folder, manifest.get('stage'))}"
    try:
        mode = os.lstat(path).st_mode
    except OSError:
        mode = None
    if mode is None:
        raise IntegrityError(f"{path}: missing, but the {manifest.get('stage')} stage wrote it "
                             f"(listed in {folder / MANIFEST}); {how}")
    if not stat.S_ISREG(mode):
        raise IntegrityError(f"{path}: not a regular file, but the {manifest.get('stage')} stage wrote one there; {how}")
    if not path.resolve().is_relative_to(folder.resolve()):  # a folder on the way is a link out of the stage
        raise IntegrityError(f"{path}: lies outside {folder} (through a link); {how}")
    return path


def _check_entry(folder: Path, manifest: dict, rel: str, entry: dict) -> None:
    path = _check_present(folder, manifest, rel)
    how = f"recreate it: {recreate_command(folder, manifest.get('stage'))}"
    size = path.stat().st_size
    if size != entry.get("size"):
        raise IntegrityError(f"{path}: {size} bytes, but the {manifest.get('stage')} stage wrote "
                             f"{entry.get('size')} (truncated or changed since); {how}")
    if sha256(path) != entry.get("sha256"):
        raise IntegrityError(f"{path}: contents changed since the {manifest.get('stage')} stage wrote it "
                             f"(sha256 differs from {folder / MANIFEST}); {how}")


def check_near(path: str | Path) -> None:
    """Check `path` and the files beside it (a model's JSON, weights, tokenizer) against their stage's
    manifest, if there is one. Files the manifest does not list were written after the stage finished
    (an evaluation's pictures, say) and are not checked."""
    found = find_manifest(path)
    if found is None:
        return
    folder, manifest = found
    here = Path(path).resolve().parent.relative_to(folder).as_posix()
    here = "" if here == "." else here + "/"
    rel = Path(path).resolve().relative_to(folder).as_posix()
    for name, entry in manifest["files"].items():
        if name == rel or (name.startswith(here) and "/" not in name[len(here):]):
            _check_entry(folder, manifest, name, entry)
        else:  # the rest are not hashed here, but none may be missing: readers fall back on a missing file
            _check_present(folder, manifest, name)


def verify_stage(folder: str | Path) -> bool:
    """Check every file a finished stage wrote; False if the folder has no manifest (made before
    manifests existed)."""
    folder = Path(folder)
    manifest = read_manifest(folder)
    if manifest is None:
        return False
    for rel, entry in manifest["files"].items():
        _check_entry(folder, manifest, rel, entry)
    return True
