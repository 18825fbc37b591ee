"""Light curves straight to class probabilities: the original work's end-user workflow."""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path
from typing import Sequence

import numpy as np

from pix2pixai import atomic
from pix2pixai.data.classes import CRTS_CLASSES
from pix2pixai.errors import InputError


def load_dmdt_model(path: Path):
    """A ``.keras`` model, or a legacy Keras-2 ``.h5`` CRTS CNN (rebuilt by ``trainers``)."""
    import keras

    from pix2pixai.trainers import load_legacy_model

    if not Path(path).exists():
        raise InputError(f"{path}: model file not found")
    if not str(path).endswith((".keras", ".h5")):
        raise InputError(f"{path}: expected a .keras model or a legacy .h5 CRTS CNN")
    try:
        if str(path).endswith(".keras"):
            return keras.models.load_model(path, compile=False)
        return load_legacy_model(path, "crts_cnn")
    except (ValueError, OSError, KeyError, zipfile.BadZipFile) as err:  # truncated, corrupt or another format
        raise InputError(f"{path}: not a loadable model ({type(err).__name__}: {err}); expected a complete .keras "
                         "file or a legacy Keras-2 .h5 CRTS CNN") from err


def classify_lightcurves(curves: Sequence, model_path: Path, *, preset: str = "crts", out: Path,
                         class_names: Sequence[str] = CRTS_CLASSES) -> list[dict[str, object]]:
    """Bin each curve to a dmdt, run the CNN, write ``id, predicted, p_<class>...`` to ``out``."""
    from pix2pixai.data.dmdt_images import dmdt_from_lightcurves
    from pix2pixai.trainers.training import predict_proba

    model = load_dmdt_model(model_path)
    x = dmdt_from_lightcurves(list(curves), preset=preset)[..., None]
    expected = tuple(model.input_shape[1:])
    if x.shape[1:] != expected:
        raise InputError(f"{model_path}: model expects inputs {expected}, preset {preset!r} gives {x.shape[1:]}")
    probs = predict_proba(model, x, batch_size=512)
    if probs.shape[1] != len(class_names):
        class_names = [f"class_{k}" for k in range(probs.shape[1])]
    rows = []
    for curve, p in zip(curves, probs):
        row: dict[str, object] = {"id": curve.lcid, "predicted": class_names[int(np.argmax(p))]}
        row.update({f"p_{name}": f"{float(v):.6f}" for name, v in zip(class_names, p)})
        rows.append(row)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]) if rows else ["id", "predicted"])
    writer.writeheader()
    writer.writerows(rows)
    atomic.write_text(out, buffer.getvalue())
    return rows
