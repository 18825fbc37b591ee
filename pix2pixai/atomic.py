"""Atomic file writes: the one module of the distribution that renames files.

A file is written to a temporary sibling in the same directory, flushed to disk (fsync), then renamed
onto its name (``os.replace``, atomic on POSIX within one file system). A reader therefore sees either
the old file or the complete new one, never a partial write, even if the process is killed mid-write.
Writers that produce a file themselves (Keras ``model.save``, h5py, matplotlib) get the temporary path
(:func:`atomic_path`, :func:`write_file`, with a ``suffix`` where the writer checks the extension); a
file finished in place under another name (the map store's ``<path>.partial``) is renamed by
:func:`publish`. ``tests/test_atomic_writer_only.py`` fails if any other module renames a file.

Layering: :mod:`pix2pixai.errors` and :mod:`pix2pixai.atomic` are the *base* modules of the import
order. They import only the standard library, numpy and each other, and every layer (``metrics``,
``trainers``, the rest of ``pix2pixai``) may import them; otherwise imports point
``metrics <- trainers <- pix2pixai``. Why: one way to write a file safely, with one fault report,
instead of a copy per layer.

New files follow the umask like any file the user creates (mode ``0666 & ~umask``, and a folder's
default ACL applies): the temporary file is created with ``os.open(..., 0o666)``, not with
``tempfile.mkstemp``'s private 0600, so group-shared run folders and a web-served report stay readable.

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
import secrets
from pathlib import Path
from typing import Any, Callable, Iterator

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
def atomic_path(path: str | Path, *, suffix: str = "") -> Iterator[Path]:
    """Yield a new empty temporary file beside ``path``; on success it is renamed onto ``path``.

    ``suffix`` ends the temporary name, for writers that check the extension (``".keras"``,
    ``".h5"``). On any exception the temporary file is removed and ``path`` is left untouched.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp_path = _create_sibling(path, suffix)
    except OSError as error:
        raise write_fault(path, error) from error
    try:
        yield tmp_path
        _sync_and_rename(tmp_path, path)
    except BaseException as error:
        tmp_path.unlink(missing_ok=True)
        if isinstance(error, OSError):
            raise write_fault(path, error) from error
        raise


def write_file(path: str | Path, write: Callable[[Path], object], *, suffix: str = "") -> Path:
    """Atomically create ``path`` by calling ``write(tmp_path)``: ``write_file(p, model.save, suffix=".keras")``."""
    with atomic_path(path, suffix=suffix) as tmp:
        write(tmp)
    return Path(path)


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


def publish(finished: str | Path, path: str | Path) -> Path:
    """Rename the complete file ``finished`` onto ``path`` after flushing it to disk.

    For files written in place under a name of their own until they are complete (a resumable
    ``<path>.partial``). On failure ``finished`` stays where it was, so the work can be resumed.
    """
    path = Path(path)
    try:
        _sync_and_rename(Path(finished), path)
    except OSError as error:
        raise write_fault(path, error) from error
    return path


def _create_sibling(path: Path, suffix: str) -> Path:
    """Create ``.<name>.<random>.tmp<suffix>`` beside ``path`` with mode 0666 less the umask."""
    tmp_path = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp{suffix}")
    os.close(os.open(tmp_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    return tmp_path


def _sync_and_rename(source: Path, path: Path) -> None:
    """fsync ``source`` (its bytes reach the disk before its new name does), then rename it onto ``path``."""
    fd = os.open(source, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(source, path)


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")
