"""Lighting (class-level, from the seed work): what one lit pixel alone makes the model predict.

For every position ``(h, w)`` and channel ``c`` the input is an empty image (``background``, default all
zeros: an empty dmdt) with the single value ``x_{hwc} = value``; the map is the model's class score for
that input,

    ``L[k, h, w, c] = S_k(lit(h, w, c))``     (``score="probability"`` by default: a probability map).

It shows which single dmdt bin (or cutout pixel) pushes the classifier towards each class on its own.
All ``H * W * C`` lit inputs go through the compiled model in a few large batches. Output ``[K, H, W, C]``
for the requested classes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from pix2pixai.errors import InputError
from pix2pixai.producers.base import class_indices, require_single_input, score_model

DEFAULT_BATCH = 4096


def lighting(
    model: Any,
    classes: Sequence[int] | None = None,
    *,
    value: float = 1.0,
    background: np.ndarray | float = 0.0,
    score: str = "probability",
    batch_size: int = DEFAULT_BATCH,
) -> np.ndarray:
    """Per-class score of one-pixel-lit inputs, float32 ``[K, H, W, C]`` (see module docstring).

    Parameters
    ----------
    classes : class indices (default all); the map rows follow this order.
    value : value of the lit pixel (e.g. a high percentile of the non-empty training values).
    background : the empty input, scalar or broadcastable to ``[H, W, C]``.
    score : ``"probability"`` (default) or ``"logit"``.
    batch_size : lit inputs per compiled call.
    """
    sm = score_model(model, score)
    require_single_input(sm)
    cls = class_indices(sm, classes)
    height, width, channels = sm.image_shape
    try:
        empty = np.broadcast_to(np.asarray(background, np.float32), sm.image_shape)
    except ValueError:
        raise InputError(f"background has shape {np.shape(background)}: expected broadcastable to {sm.image_shape}") from None
    n_lit = height * width * channels
    scores = np.empty((n_lit, sm.n_classes), np.float32)
    for start in range(0, n_lit, batch_size):
        flat = np.arange(start, min(start + batch_size, n_lit))
        lit = np.repeat(empty[None], flat.size, axis=0).reshape(flat.size, -1)
        lit[np.arange(flat.size), flat] = value
        scores[flat] = sm.predict(sm.inputs(lit.reshape(flat.size, *sm.image_shape)))
    return np.ascontiguousarray(scores[:, cls].T.reshape(len(cls), height, width, channels))
