"""Any saved classifier file into a Keras 3 model: one loader for every command that takes ``--model``.

A ``.keras`` file (checked first as the zip with ``config.json`` it must be, so a truncated or renamed
file is named as such rather than failing deep inside Keras), a Keras-3 ``.h5``, or a legacy Keras-2
``.h5`` rebuilt by :mod:`pix2pixai.trainers.legacy`. Every failure is one
:class:`~pix2pixai.errors.InputError` that names the file and says "not a loadable model".
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import keras

from pix2pixai.errors import InputError
from pix2pixai.trainers.legacy import LEGACY_BUILDERS, load_legacy_model


def load_model_file(path: str | Path, legacy_kind: str | None = None) -> keras.Model:
    """The model saved at ``path``, uncompiled.

    ``legacy_kind`` (``crts_cnn`` or ``braai``) names a legacy ``.h5``'s architecture; without it an
    ``.h5`` that Keras cannot load is tried as each legacy kind in turn (their layer shapes differ, so
    at most one fits). It does not apply to ``.keras`` files, which carry their architecture.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: model file not found")
    if path.suffix not in (".keras", ".h5"):
        raise InputError(f"{path}: expected a .keras model or an .h5 (Keras 3 or legacy Keras 2) model")
    if path.suffix == ".keras":
        _check_keras_archive(path)
        try:
            return keras.models.load_model(path, compile=False)
        except Exception as err:  # noqa: BLE001 - Keras raises many types for a damaged archive; each is reported
            raise InputError(f"{path}: not a loadable model ({type(err).__name__}: "
                             f"{next(iter(str(err).splitlines()), '')})") from None
    if legacy_kind is not None:
        if legacy_kind not in LEGACY_BUILDERS:
            raise InputError(f"legacy kind {legacy_kind!r}: expected one of {sorted(LEGACY_BUILDERS)}")
        try:
            return load_legacy_model(path, legacy_kind)
        except (ValueError, OSError, KeyError) as err:
            raise InputError(f"{path}: not a loadable model as a legacy {legacy_kind} ({err})") from None
    tried = []
    try:
        return keras.models.load_model(path, compile=False)
    except Exception as err:  # noqa: BLE001 - Keras raises many types for Keras-2 files; each is reported
        tried.append(f"keras: {type(err).__name__}")
    for kind in LEGACY_BUILDERS:
        try:
            return load_legacy_model(path, kind)
        except (ValueError, OSError, KeyError) as err:
            tried.append(f"{kind}: {str(err).splitlines()[0][:120]}")
    raise InputError(f"{path}: not a loadable model ({'; '.join(tried)})")


def _check_keras_archive(path: Path) -> None:
    """A ``.keras`` file is a zip holding ``config.json``: say so when it is truncated or another zip."""
    if not zipfile.is_zipfile(path):
        raise InputError(f"{path}: not a loadable model (not a zip archive: a truncated .keras, or another kind "
                         "of file)")
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, OSError) as err:
        raise InputError(f"{path}: not a loadable model (damaged zip archive: {err})") from None
    if "config.json" not in names:
        raise InputError(f"{path}: not a loadable model (a zip archive without config.json, not a .keras model)")
