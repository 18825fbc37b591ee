"""Light curves straight to class probabilities: the original work's end-user workflow."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from pix2pixai import atomic
from pix2pixai.data.classes import CRTS_CLASSES
from pix2pixai.data.lightcurves import LightCurve
from pix2pixai.errors import InputError


def classify_lightcurves(curves: Sequence[LightCurve], model_path: str | Path, *, preset: str = "crts",
                         out: str | Path | None = None, class_names: Sequence[str] | None = None) -> Any:
    """Class probabilities of light curves: each curve binned to a dmdt and run through the CNN.

    Returns an astropy ``Table`` with one row per curve: ``id``, ``source`` (the file it was read
    from, or empty), ``predicted`` (the most probable class) and one float64 column per class, named
    by the class. Class names come from ``class_names``, else the model's card (written beside a
    model trained by this toolkit), else the CRTS classes for a 7-output legacy CNN, else
    ``class_0...``. A card whose preset differs from ``preset`` is refused: the model would see bins
    it was not trained on. ``out``: also write the table as CSV there (atomically).
    """
    from astropy.table import Table

    from pix2pixai.data.dmdt_images import dmdt_from_lightcurves
    from pix2pixai.trainers.model_card import load_card
    from pix2pixai.trainers.model_files import load_model_file
    from pix2pixai.trainers.training import predict_proba

    model = load_model_file(model_path)
    card = load_card(model_path)
    if card is not None and card.preset is not None and card.preset != preset:
        raise InputError(f"{model_path}: the model was trained on dmdt preset {card.preset!r} (its card says so); "
                         f"got preset {preset!r}")
    x = dmdt_from_lightcurves(list(curves), preset=preset)[..., None]
    expected = tuple(model.input_shape[1:])
    if x.shape[1:] != expected:
        raise InputError(f"{model_path}: model expects inputs {expected}, preset {preset!r} gives {x.shape[1:]}")
    probs = predict_proba(model, x, batch_size=512)
    names = _class_names(class_names, card, probs.shape[1], model_path)
    table = Table()
    table["id"] = [str(c.lcid) for c in curves]
    table["source"] = [str(c.source or "") for c in curves]
    table["predicted"] = [names[int(k)] for k in np.argmax(probs, axis=1)] if len(curves) else []
    for k, name in enumerate(names):
        table[name] = probs[:, k].astype(np.float64)
    if out is not None:
        buffer = io.StringIO()
        table.write(buffer, format="ascii.csv")
        atomic.write_text(out, buffer.getvalue())
    return table


def _class_names(given: Sequence[str] | None, card: Any, n_outputs: int, model_path: str | Path) -> list[str]:
    """Output names, checked against the model's number of outputs."""
    if given is not None:
        names = list(map(str, given))
        if len(names) != n_outputs:
            raise InputError(f"{model_path}: {len(names)} class names given for a model with {n_outputs} outputs")
        return names
    if card is not None:
        if len(card.class_names) != n_outputs:
            raise InputError(f"{model_path}: its card names {len(card.class_names)} classes but the model has "
                             f"{n_outputs} outputs; the card belongs to another model")
        return list(card.class_names)
    if n_outputs == len(CRTS_CLASSES):
        return list(CRTS_CLASSES)
    return [f"class_{k}" for k in range(n_outputs)]
