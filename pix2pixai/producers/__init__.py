"""Explanation producers for Keras 3 image classifiers: numeric maps, batched and verified.

Entry points: :func:`explain` (input-specific maps ``[N, H, W, C]``, raw and unnormalised),
:func:`explain_class` (class-level maps ``[K, H, W, C]``) and :func:`reduce_maps` (one value per pixel
``[N, H, W]`` by each method's reduction). The methods, and every fact about them (function, level,
channel reduction, sign, default parameters), are the records of :mod:`pix2pixai.producers.registry`;
each method's maths, units, sign and shape are in its module's docstring. The shared input handling,
targets and score function (``score="logit"`` or ``"probability"``) are in :mod:`pix2pixai.producers.base`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from pix2pixai.errors import InputError

__all__ = ["explain", "explain_class", "reduce_maps"]


def explain(method: str, model: Any, x: Any, targets: Any = None, score: str = "logit", **params: Any) -> np.ndarray:
    """Input-specific explanation maps, float32 ``[N, H, W, C]``, raw and unnormalised.

    Parameters
    ----------
    method : one of :data:`pix2pixai.producers.registry.INPUT_METHODS`.
    model : Keras 3 classifier (softmax, single-sigmoid or linear head).
    x : ``[N, H, W, C]`` (``[N, H, W]`` for one-channel models), or a list/dict for multi-input models
        with ``image_input=`` naming the attributed input.
    targets : class per input (int or ``[N]``); default the predicted class.
    score : ``"logit"`` (pre-activation of the last layer) or ``"probability"``.
    params : the method's own parameters (see its module), e.g. ``background=`` for shap.
    """
    from pix2pixai.producers.registry import method_record

    return method_record(method, "input")(model, x, targets, score, **params)


def explain_class(method: str, model: Any, classes: Sequence[int] | None = None, **params: Any) -> np.ndarray:
    """Class-level maps ``[K, H, W, C]``, one per class in ``classes`` (default all), for a method of
    :data:`pix2pixai.producers.registry.CLASS_METHODS`."""
    from pix2pixai.producers.registry import method_record

    return method_record(method, "class")(model, classes, **params)


def reduce_maps(maps: np.ndarray, method: str | None = None) -> np.ndarray:
    """One value per pixel, ``[N, H, W, C] -> [N, H, W]``, by the method's
    :attr:`~pix2pixai.producers.registry.MethodRecord.reduction`.

    ``method=None`` is allowed only for one-channel maps (nothing to reduce).
    """
    from pix2pixai.producers.registry import RECORDS, method_record

    arr = np.asarray(maps)
    if arr.ndim != 4:
        raise InputError(f"maps have shape {arr.shape}: expected [N, H, W, C]")
    if method is None:
        if arr.shape[-1] != 1:
            raise InputError(f"maps have {arr.shape[-1]} channels: name the method to pick its reduction "
                             f"(one of {sorted(RECORDS)})")
        return arr[..., 0]
    return method_record(method).reduce(arr)
