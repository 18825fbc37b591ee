"""A full disk or an unwritable folder: one clear error naming the file, earlier results intact.

Faults are injected with monkeypatch (an OSError(ENOSPC) in the middle of writing, after some bytes
reached the temporary file) and with a real read-only folder where the file system honours it (not
for root, whom permissions do not stop).
"""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import numpy as np
import pytest

from pix2pixai import atomic, cli
from pix2pixai.errors import InputError


def _earlier(folder: Path) -> tuple[Path, Path]:
    """An earlier JSON result and an earlier .npz result in ``folder``."""
    return atomic.write_json(folder / "report.json", {"accuracy": 0.9}), atomic.save_npz(folder / "maps.npz",
                                                                                         x=np.arange(4))


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def _full_disk_after_some_bytes(*args, **kwargs):
    """Stand-in for a writer: some bytes reach the file, then the disk is full."""
    target = args[0]
    if hasattr(target, "write"):
        target.write(b"partial")
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


@pytest.mark.parametrize("writer", ["json", "npz", "npy"])
def test_disk_full_mid_write_names_the_file_and_keeps_the_earlier_one(writer, tmp_path, monkeypatch):
    report, maps = _earlier(tmp_path)
    before = {p: p.read_bytes() for p in (report, maps)}
    if writer == "json":
        monkeypatch.setattr(Path, "write_text", lambda self, *a, **k: _full_disk_after_some_bytes(open(self, "wb")))
        call, target = (lambda: atomic.write_json(report, {"accuracy": 0.1})), report
    else:
        monkeypatch.setattr(np, "savez" if writer == "npz" else "save", _full_disk_after_some_bytes)
        target = maps if writer == "npz" else tmp_path / "new.npy"
        call = (lambda: atomic.save_npz(maps, x=np.zeros(3))) if writer == "npz" else \
            (lambda: atomic.save_npy(target, np.zeros(3)))
    with pytest.raises(InputError) as caught:
        call()
    assert str(caught.value).startswith(f"{target}: cannot write (no space left on the device")
    assert {p: p.read_bytes() for p in (report, maps)} == before
    assert _leftovers(tmp_path) == []
    assert writer != "npy" or not target.exists()


@pytest.mark.parametrize("code, words", [(errno.EACCES, "permission denied"), (errno.EROFS, "read-only file system"),
                                         (errno.EDQUOT, "disk quota exceeded")])
def test_unwritable_folder_names_the_file(code, words, tmp_path, monkeypatch):
    report, _ = _earlier(tmp_path)

    def refuse(*args, **kwargs):
        raise OSError(code, os.strerror(code), str(tmp_path))

    monkeypatch.setattr(atomic.os, "open", refuse)  # creating the temporary file fails
    with pytest.raises(InputError, match=f"^{report}: cannot write \\({words}"):
        atomic.write_json(report, {"accuracy": 0.1})
    assert json.loads(report.read_text()) == {"accuracy": 0.9}


def test_other_os_errors_are_not_disguised(tmp_path, monkeypatch):
    monkeypatch.setattr(np, "save", lambda *a, **k: (_ for _ in ()).throw(OSError(errno.EIO, "I/O error")))
    with pytest.raises(OSError) as caught:
        atomic.save_npy(tmp_path / "x.npy", np.zeros(2))
    assert not isinstance(caught.value, InputError) and caught.value.errno == errno.EIO
    assert _leftovers(tmp_path) == []


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root writes into read-only folders")
def test_real_read_only_folder(tmp_path):
    report, _ = _earlier(tmp_path)
    tmp_path.chmod(0o555)
    try:
        with pytest.raises(InputError, match=f"^{report}: cannot write \\(permission denied"):
            atomic.write_json(report, {"accuracy": 0.1})
    finally:
        tmp_path.chmod(0o755)
    assert json.loads(report.read_text()) == {"accuracy": 0.9}


def test_cli_disk_full_is_one_line_naming_the_output(tmp_path, monkeypatch, capsys):
    curve = tmp_path / "curve.csv"
    t = np.linspace(0.0, 300.0, 40)
    curve.write_text("mjd,mag,magerr\n" + "".join(f"{a},{15 + 0.3 * np.sin(a)},0.02\n" for a in t))
    out = tmp_path / "dmdt.npy"
    assert cli.main(["dmdt", str(curve), "--out", str(out)]) == 0
    before = out.read_bytes()
    capsys.readouterr()
    monkeypatch.setattr(np, "save", _full_disk_after_some_bytes)
    assert cli.main(["dmdt", str(curve), "--out", str(out), "--force"]) == cli.EXIT_USER_ERROR
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and str(out) in err and "no space left" in err and "Traceback" not in err
    assert out.read_bytes() == before
