"""The files of a checkpoint folder: only names tinylm writes, only inside the folder, written
atomically, checked by hash.

Students share run folders, so `checkpoint.json` is input from a stranger: a name in it that
leads out of the folder (`../x`, an absolute path, a link to elsewhere) is refused before any
file is opened. Writing goes through `Transaction`, which removes what it wrote when a write
fails (a full disk, a vanished folder), so a failed save leaves the last good checkpoint as it
was and no temporary files behind.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

FIXED_NAMES = ("checkpoint.json", "tokenizer.json", "metrics.json")
NUMBERED = {"weights": re.compile(r"weights-\d{1,9}\.safetensors"),
            "state": re.compile(r"state-\d{1,9}\.pt")}


class CheckpointError(ValueError):
    """A checkpoint folder that cannot be used; the message says why and what to do."""


class SaveError(CheckpointError):
    """A checkpoint could not be written (the model it was saving is still in memory)."""


def member(folder: Path, name, kind: str | None = None) -> Path:
    """`folder / name` for a file name tinylm writes (`kind` "weights" or "state" for the
    numbered ones), refusing anything else and anything that resolves outside the folder."""
    allowed = NUMBERED[kind].fullmatch(name) if kind and isinstance(name, str) \
        else name in FIXED_NAMES
    if not allowed:
        what = f"a {kind} file name like {kind}-1.{'safetensors' if kind == 'weights' else 'pt'}" \
            if kind else "a tinylm file"
        raise CheckpointError(f"{folder}: checkpoint.json names {name!r}, which is not {what}; "
                              "the folder was not written by tinylm or was edited by hand")
    f = folder / name
    if f.is_symlink() or (f.exists() and f.resolve().parent != folder.resolve()):
        raise CheckpointError(f"{f} is a link to a file outside the checkpoint folder; refusing "
                              "to read it (copy the real file into the folder instead)")
    return f


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def verify(folder: Path, name: str, expected, check: bool = True, kind: str | None = None) -> Path:
    """The member file (see `member`), present and, when `check`, matching its sha256."""
    f = member(folder, name, kind)
    if not f.is_file():
        raise CheckpointError(f"{folder}: missing {name}; the checkpoint is incomplete")
    if not check:
        return f
    if not isinstance(expected, str) or not expected:
        raise CheckpointError(
            f"{folder}: checkpoint.json records no sha256 for {name}, so it cannot be verified; "
            "if you trust where the folder came from, load it with tinylm.load(path, "
            "verify=False) (command line: --unverified)")
    if sha256(f) != expected:
        raise CheckpointError(f"{f}: contents do not match the recorded sha256 (truncated or "
                              "corrupted); retrain or restore the folder from a copy")
    return f


def atomic_write(path: Path, data: bytes | str) -> None:
    """Write `data` to `path` via a temporary file and a rename: never half a file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(data.encode() if isinstance(data, str) else data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


class Transaction:
    """Writes into a folder; on failure, removes every new file it wrote and raises SaveError
    naming the folder and the cause. Files become visible by rename only."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.new: list[Path] = []  # written but not yet committed by checkpoint.json

    def __enter__(self) -> Transaction:
        return self

    def tmp(self, name: str) -> Path:
        path = self.folder / f".{name}.{os.getpid()}.tmp"
        self.new.append(path)
        return path

    def publish(self, tmp: Path, name: str) -> Path:
        os.replace(tmp, self.folder / name)
        self.new.append(self.folder / name)
        return self.folder / name

    def __exit__(self, kind, error, tb) -> bool:
        if error is None or not isinstance(error, Exception):
            return False
        for f in self.new:
            try:
                f.unlink(missing_ok=True)
            except OSError:
                pass
        raise SaveError(f"could not save the checkpoint to {self.folder}: {reason(error)}") from None

    def committed(self) -> None:
        """checkpoint.json now names the new files: they stay, whatever happens next."""
        self.new.clear()


def reason(error: BaseException) -> str:
    """The cause of a failed write in a few words (`No space left on device`)."""
    if isinstance(error, OSError) and error.strerror:
        where = f" ({error.filename})" if error.filename else ""
        return f"{error.strerror}{where}"
    text = (str(error).strip().splitlines() or [type(error).__name__])[0]
    return text[:200]
