"""The atomic writer: file modes follow the umask, writers that need an extension get one, and a
finished partial file is published by rename (or left in place to resume when that fails)."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import pytest

from pix2pixai import atomic
from pix2pixai.errors import InputError

WRITERS: dict[str, Callable[[Path], Path]] = {
    "text": lambda path: atomic.write_text(path, "hello\n"),
    "json": lambda path: atomic.write_json(path, {"a": np.float32(1.5)}),
    "npy": lambda path: atomic.save_npy(path, np.arange(3)),
    "npz": lambda path: atomic.save_npz(path, x=np.arange(3)),
    "callable": lambda path: atomic.write_file(path, lambda tmp: tmp.write_bytes(b"\x00\x01")),
}


@pytest.fixture
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    """Run the test under the umask ``request.param``; the process's umask is restored afterwards."""
    old = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")
@pytest.mark.parametrize("umask", [0o022, 0o002, 0o077], indirect=True)
@pytest.mark.parametrize("writer", sorted(WRITERS))
def test_new_and_replaced_files_follow_the_umask(writer, umask, tmp_path):
    """Like any file the user creates (0666 & ~umask), not the temporary file's private 0600, so
    group-shared run folders and a web-served report stay readable."""
    path = tmp_path / f"out.{writer}"
    WRITERS[writer](path)
    assert _mode(path) == 0o666 & ~umask
    path.chmod(0o600)
    WRITERS[writer](path)
    assert _mode(path) == 0o666 & ~umask


def test_write_file_gives_the_writer_a_sibling_ending_in_the_suffix(tmp_path):
    seen: list[Path] = []
    target = tmp_path / "deep" / "generator.keras"
    atomic.write_file(target, lambda tmp: (seen.append(tmp), tmp.write_text("model")), suffix=".keras")
    (tmp,) = seen
    assert tmp.parent == target.parent and tmp.name.startswith(".generator.keras.") and tmp.name.endswith(".tmp.keras")
    assert target.read_text() == "model" and sorted(p.name for p in target.parent.iterdir()) == ["generator.keras"]


def test_a_failing_writer_leaves_the_earlier_file_and_no_temporary_file(tmp_path):
    target = atomic.write_text(tmp_path / "model.keras", "earlier")

    def broken(tmp: Path) -> None:
        tmp.write_text("half")
        raise RuntimeError("writer failed")

    with pytest.raises(RuntimeError, match="writer failed"):
        atomic.write_file(target, broken, suffix=".keras")
    assert target.read_text() == "earlier" and [p.name for p in tmp_path.iterdir()] == ["model.keras"]


def test_publish_renames_a_finished_file_onto_its_name(tmp_path):
    partial = tmp_path / "maps.h5.partial"
    partial.write_bytes(b"complete")
    (tmp_path / "maps.h5").write_bytes(b"old")
    assert atomic.publish(partial, tmp_path / "maps.h5") == tmp_path / "maps.h5"
    assert (tmp_path / "maps.h5").read_bytes() == b"complete" and not partial.exists()


def test_publish_that_cannot_rename_names_the_file_and_keeps_the_partial_for_resuming(tmp_path, monkeypatch):
    partial = tmp_path / "maps.h5.partial"
    partial.write_bytes(b"complete")

    def refuse(*args: object) -> None:
        raise OSError(errno.EACCES, os.strerror(errno.EACCES))

    monkeypatch.setattr(atomic.os, "replace", refuse)
    with pytest.raises(InputError, match=f"^{tmp_path / 'maps.h5'}: cannot write \\(permission denied"):
        atomic.publish(partial, tmp_path / "maps.h5")
    assert partial.read_bytes() == b"complete" and not (tmp_path / "maps.h5").exists()
