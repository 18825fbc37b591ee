"""Vanilla gradient saliency (Simonyan et al. 2014) with optional SmoothGrad (Smilkov et al. 2017).

``saliency_{nhwc} = |dS_t/dx_{nhwc}|`` where ``S_t`` is the target score (logit by default, see
:mod:`pix2pixai.producers.base`). The map keeps the channel axis ``[N, H, W, C]``; the published
per-pixel saliency is the max over channels, which :func:`pix2pixai.producers.reduce_maps` applies.

SmoothGrad averages the map over ``smooth_samples`` noisy copies ``x + eps``,
``eps ~ N(0, (smooth_noise * (max(x) - min(x)))^2)`` per input (the paper's noise level relative to
the input's range): ``mean_s |dS_t/dx (x + eps_s)|``. Each input's noise is drawn from ``seed`` and the
input itself, so the same seed gives the same map whatever the batching.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from pix2pixai.errors import InputError
from pix2pixai.producers.base import ScoreModel, input_generators, request


def saliency(
    model: Any,
    x: Any,
    targets: Any = None,
    score: str = "logit",
    *,
    smooth_samples: int = 0,
    smooth_noise: float = 0.1,
    seed: int = 0,
    batch_size: int | None = None,
    image_input: str | None = None,
) -> np.ndarray:
    """Absolute input gradient of the target score, float32 ``[N, H, W, C]``.

    Parameters
    ----------
    smooth_samples : 0 for the vanilla gradient, else the number of SmoothGrad noise samples.
    smooth_noise : SmoothGrad noise standard deviation as a fraction of each input's value range.
    seed : seed of the SmoothGrad noise.
    """
    if smooth_samples < 0 or smooth_noise < 0:
        raise InputError(f"smooth_samples={smooth_samples}, smooth_noise={smooth_noise}: expected >= 0")
    req = request(model, x, targets, score, image_input=image_input, batch_size=batch_size)
    sm = req.sm
    fn = sm.compiled("saliency", _abs_gradient_fn(sm))
    if smooth_samples == 0:
        return req.map_batches(fn)
    out = np.empty(req.inputs.image.shape, np.float32)
    for rows, batch, t in req.batches():
        span = batch.image.max(axis=(1, 2, 3), keepdims=True) - batch.image.min(axis=(1, 2, 3), keepdims=True)
        rngs = input_generators(seed, batch.image)
        total = np.zeros(batch.image.shape, np.float32)
        for _ in range(smooth_samples):
            noise = np.stack([rng.standard_normal(sm.image_shape, np.float32) for rng in rngs])
            total += np.asarray(fn(batch.image + noise * (smooth_noise * span), batch.others, t))
        out[rows] = total / smooth_samples
    return out


def _abs_gradient_fn(sm: ScoreModel) -> Callable[[Any, Any, Any], Any]:
    """Compiled ``|dS_t/dx|`` of one batch (the absolute value taken in the graph: no host pass)."""
    import tensorflow as tf

    def abs_gradient(image: Any, others: Any, targets: Any) -> Any:
        return tf.abs(sm.scores_and_input_gradient(image, others, targets)[1])

    return abs_gradient
