"""Explanation producers for Keras 3 image classifiers: numeric maps, batched and verified.

Stable entry points:

* :func:`explain` -- input-specific maps ``[N, H, W, C]`` (raw, unnormalised) by method name:
  ``gradcam``, ``gradcam++``, ``saliency``, ``integrated-gradients``, ``blanking``, ``shap``.
* :func:`reduce_maps` -- one value per pixel ``[N, H, W]`` with each method's documented reduction.
* :func:`explain_class` -- class-level maps ``[K, H, W, C]``: ``lighting``, ``actmax``.

Each method lives in its own module (the maths, shapes and sign are in its docstring); the shared input
handling, targets and score function (``score="logit"`` or ``"probability"``) are in ``base``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from pix2pixai.errors import InputError

__all__ = ["CLASS_METHODS", "METHODS", "explain", "explain_class", "reduce_maps"]

METHODS = ("gradcam", "gradcam++", "saliency", "integrated-gradients", "blanking", "shap", "cam", "guided-backprop",
           "guided-gradcam")
CLASS_METHODS = ("lighting", "actmax")


def explain(method: str, model: Any, x: Any, targets: Any = None, score: str = "logit", **params: Any) -> np.ndarray:
    """Input-specific explanation maps, float32 ``[N, H, W, C]``, raw and unnormalised.

    Parameters
    ----------
    method : one of :data:`METHODS`.
    model : Keras 3 classifier (softmax, single-sigmoid or linear head).
    x : ``[N, H, W, C]`` (``[N, H, W]`` for one-channel models), or a list/dict for multi-input models
        with ``image_input=`` naming the attributed input.
    targets : class per input (int or ``[N]``); default the predicted class.
    score : ``"logit"`` (pre-activation of the last layer) or ``"probability"``.
    params : the method's own parameters (see its module), e.g. ``background=`` for shap.
    """
    from pix2pixai.producers.registry import PRODUCERS

    if method not in PRODUCERS:
        raise InputError(f"method={method!r}: expected one of {sorted(PRODUCERS)} "
                         f"(class-level methods {list(CLASS_METHODS)} go through explain_class)")
    return PRODUCERS[method](model, x, targets, score, **params)


def explain_class(method: str, model: Any, classes: Sequence[int] | None = None, **params: Any) -> np.ndarray:
    """Class-level maps ``[K, H, W, C]`` (one per class in ``classes``, default all) for ``lighting``/``actmax``."""
    from pix2pixai.producers.registry import CLASS_PRODUCERS

    if method not in CLASS_PRODUCERS:
        raise InputError(f"method={method!r}: expected one of {sorted(CLASS_PRODUCERS)} "
                         f"(input-specific methods {list(METHODS)} go through explain)")
    return CLASS_PRODUCERS[method](model, classes, **params)


def reduce_maps(maps: np.ndarray, method: str | None = None) -> np.ndarray:
    """One value per pixel, ``[N, H, W, C] -> [N, H, W]``.

    Reductions (``pix2pixai.producers.registry.CHANNEL_REDUCTIONS``): **sum** over channels for additive
    attributions (shap, integrated-gradients, blanking, lighting, actmax), so the pixel keeps its share of
    the score change; **max** for saliency (the published per-pixel saliency); **mean** for gradcam and
    gradcam++, whose single spatial map is broadcast over channels (mean = that map). ``method=None`` is
    allowed only for one-channel maps (nothing to reduce).
    """
    from pix2pixai.producers.registry import CHANNEL_REDUCTIONS

    arr = np.asarray(maps)
    if arr.ndim != 4:
        raise InputError(f"maps have shape {arr.shape}: expected [N, H, W, C]")
    if method is None:
        if arr.shape[-1] != 1:
            raise InputError(f"maps have {arr.shape[-1]} channels: name the method to pick its reduction "
                             f"(one of {sorted(CHANNEL_REDUCTIONS)})")
        return arr[..., 0]
    if method not in CHANNEL_REDUCTIONS:
        raise InputError(f"method={method!r}: expected one of {sorted(CHANNEL_REDUCTIONS)}")
    return getattr(np, CHANNEL_REDUCTIONS[method])(arr, axis=-1)
