"""Where a command may write: checks every command runs on its outputs before any work starts.

Three rules, each refused with one :class:`~pix2pixai.errors.InputError` naming the paths involved:

- an output never resolves (symlinks and ``..`` resolved) to one of the command's inputs, nor into
  an input folder, so no command can overwrite the model, curves, config or arrays it reads;
- an output can be created: a file is not an existing folder (and a folder not an existing file),
  nothing lies under a regular file, and the file-system root is never an output folder;
- a path built from a name (a survey, group or method name in a config) stays inside its output
  folder (:func:`inside`).

The run-folder rule (empty, new, or marked as this toolkit's run of the same config) builds on
these in :mod:`pix2pixai.pipeline.runner`. Imports only the standard library and ``errors``, so
every layer that writes user-named outputs may use it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from pix2pixai.errors import InputError


def resolved(path: str | Path) -> Path:
    """``path`` absolute, with ``~``, symlinks and ``..`` resolved (a path that does not exist yet
    is resolved as far as it exists)."""
    try:
        return Path(path).expanduser().resolve()
    except (OSError, RuntimeError) as err:  # a symlink loop
        raise InputError(f"{path}: cannot be resolved ({err})") from None


def check_output_file(out: str | Path, inputs: Iterable[str | Path], *, what: str = "--out",
                      replace: bool = False) -> Path:
    """Refuse an output file that is a folder, cannot be created, or is (or lies in) an input; an
    existing file too unless ``replace`` (a command never overwrites a file it was not asked to)."""
    out = Path(out)
    if out.is_dir():
        raise InputError(f"{what} {out}: is a folder; expected a file name")
    _check_creatable(out.parent, what, out)
    _check_not_an_input(out, inputs, what)
    if out.exists() and not replace:
        raise InputError(f"{what} {out}: exists; choose another name, or pass --force to replace it")
    return out


def check_output_folder(out: str | Path, inputs: Iterable[str | Path], *, owned: Iterable[str | Path] = (),
                        what: str = "--out") -> Path:
    """Refuse an output folder that is a file, cannot be created, is ``/``, or is (or lies in) an input.

    ``owned`` are the paths under ``out`` the command writes (files or folders): an input lying at or
    under one of them is refused too, since it would be overwritten.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InputError(f"{what} {out}: is a file; expected a folder")
    target = resolved(out)
    if target == Path(target.anchor):
        raise InputError(f"{what} {out}: the file-system root cannot be an output folder; choose a folder of its own")
    _check_creatable(out, what, out)
    _check_not_an_input(out, inputs, what)
    written = [resolved(p) for p in owned]
    for item in inputs:
        source = resolved(item)
        for path in written:
            if source == path or path in source.parents:
                raise InputError(f"{what} {out}: would overwrite the input {item} ({path} is written by this command)")
    return out


def inside(root: str | Path, path: str | Path, *, what: str = "output") -> Path:
    """``path`` when it resolves inside ``root``; an ``InputError`` when it would escape it."""
    if resolved(root) not in resolved(path).parents:
        raise InputError(f"{what} {path}: lies outside the output folder {root}; names in configs must be plain names")
    return Path(path)


def _check_not_an_input(out: Path, inputs: Iterable[str | Path], what: str) -> None:
    target = resolved(out)
    for item in inputs:
        source = resolved(item)
        if target == source:
            raise InputError(f"{what} {out}: is the input {item}; choose another output name")
        if source.is_dir() and source in target.parents:
            raise InputError(f"{what} {out}: lies inside the input folder {item}; write outputs elsewhere")


def _check_creatable(folder: Path, what: str, out: Path) -> None:
    """The nearest existing ancestor of ``folder`` (itself included) must be a writable folder."""
    for ancestor in (folder, *folder.parents):
        if ancestor.exists() or ancestor.is_symlink():
            break
    else:  # pragma: no cover - a relative path's ancestors end at ".", which exists
        return
    if not ancestor.is_dir():
        raise InputError(f"{what} {out}: lies under {ancestor}, which is a file, not a folder")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise InputError(f"{what} {out}: cannot be created: {ancestor} is not writable")
