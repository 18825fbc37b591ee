"""Atomic file writes: write to a temporary file in the same directory, fsync, then rename.

A reader therefore sees either the old file or the complete new one, never a partial write, even if
the process is killed mid-write (rename is atomic on POSIX within one file system).

A full disk, an exceeded quota, a read-only file system or a folder without write permission is
reported as one :class:`~pix2pixai.errors.InputError` naming the file that could not be written
(the OSError of a failed ``write`` often carries no file name); the temporary file is removed and
the earlier file, if any, is left as it was.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from pix2pixai.errors import InputError

#: OSErrors that are the machine's state, not a bug: what the user is told to fix.
WRITE_FAULTS: dict[int, str] = {
    errno.ENOSPC: "no space left on the device: free some space and re-run",
    errno.EDQUOT: "disk quota exceeded: free some space and re-run",
    errno.EROFS: "read-only file system: choose another output folder",
    errno.EACCES: "permission denied: make the folder writable or choose another one",
    errno.EPERM: "operation not permitted: make the folder writable or choose another one",
}


def write_fault(path: Path, error: OSError) -> InputError | OSError:
    """The InputError for a write of ``path`` that failed with ``error``, or ``error`` itself if it is
    not a full disk / permission problem."""
    reason = WRITE_FAULTS.get(error.errno)
    if reason is None:
        return error
    return InputError(f"{path}: cannot write ({reason}); nothing was replaced, earlier results are intact")


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it is renamed onto ``path``.

    On any exception the temporary file is removed and ``path`` is left untouched.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as error:
        raise write_fault(path, error) from error
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp_path, path)
    except BaseException as error:
        tmp_path.unlink(missing_ok=True)
        if isinstance(error, OSError):
            raise write_fault(path, error) from error
        raise


def write_text(path: str | Path, text: str) -> Path:
    """Atomically write ``text`` (UTF-8) to ``path``."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def write_json(path: str | Path, obj: Any) -> Path:
    """Atomically write ``obj`` as pretty, key-sorted JSON (stable bytes for determinism)."""
    return write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=_json_default) + "\n")


def save_npy(path: str | Path, array: np.ndarray) -> Path:
    """Atomically save one array in ``.npy`` format."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.save(fh, np.asarray(array))
    return Path(path)


def save_npz(path: str | Path, **arrays: np.ndarray) -> Path:
    """Atomically save arrays in an uncompressed ``.npz``."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)
    return Path(path)


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")
