"""Integrated gradients (Sundararajan et al. 2017) with a quadrature rule on the straight path.

    ``IG(x)_{hwc} = (x - x')_{hwc} * int_0^1 dS_t/dx (x' + a (x - x'))_{hwc} da``
    ``           ~= (x - x')_{hwc} * sum_k w_k dS_t/dx (x' + a_k (x - x'))_{hwc}``

Completeness: ``sum_{hwc} IG(x) = S_t(x) - S_t(x')`` up to the quadrature error. Rules: ``"middle"``
Riemann sum (``a_k = (k + 1/2)/m``, the default), ``"trapezoid"`` (``a_k = k/m``, ``k = 0..m``, end
weights ``1/(2m)``), ``"left"``/``"right"`` Riemann sums. Measured on the real CRTS CNN (64 dmdts, zero
baseline, logit), the completeness error ``sum |sum IG - (S(x) - S(x'))| / sum |S(x) - S(x')|`` at
16 / 64 / 256 steps is 3.5% / 0.8% / 0.2% (middle), 8.4% / 2.6% / 0.5% (trapezoid), 17% / 3.6% / 1.0%
(left): the ReLU network is piecewise linear along the path and the midpoint rule halves the
trapezoid's error constant. Baselines ``x'``: ``"zero"`` (the empty dmdt / empty cutout),
``"blur"`` (the input blurred with a Gaussian of ``blur_sigma`` pixels per channel: removes the fine
structure but keeps the overall level, Sturmfels et al. 2020) or ``"uniform"`` (seeded uniform noise
within each input's range). Attributions are signed and per channel, ``[N, H, W, C]``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.ndimage import gaussian_filter

from pix2pixai.errors import InputError
from pix2pixai.producers.base import input_generators, path_integral, request

RULES = ("middle", "trapezoid", "left", "right")
BASELINES = ("zero", "blur", "uniform")


def integrated_gradients(
    model: Any,
    x: Any,
    targets: Any = None,
    score: str = "logit",
    *,
    baseline: str = "zero",
    steps: int = 64,
    rule: str = "middle",
    blur_sigma: float = 5.0,
    seed: int = 0,
    batch_size: int | None = None,
    image_input: str | None = None,
) -> np.ndarray:
    """Integrated-gradients attributions ``[N, H, W, C]`` (see module docstring).

    Parameters
    ----------
    baseline : ``"zero"``, ``"blur"`` or ``"uniform"``.
    steps : number of quadrature intervals ``m``.
    rule : ``"middle"``, ``"trapezoid"``, ``"left"`` or ``"right"``.
    blur_sigma : Gaussian sigma in pixels of the ``"blur"`` baseline.
    seed : seed of the ``"uniform"`` baseline.
    """
    if steps < 1:
        raise InputError(f"steps={steps}: expected >= 1")
    req = request(model, x, targets, score, image_input=image_input, batch_size=batch_size)
    baselines = make_baselines(req.inputs.image, baseline, blur_sigma, seed)
    alpha, weight = quadrature(steps, rule)
    n = len(req.inputs)
    row_input = np.repeat(np.arange(n), alpha.size)
    return path_integral(req, row_input, baselines, row_input, np.tile(alpha, n), np.tile(weight, n))


def quadrature(steps: int, rule: str) -> tuple[np.ndarray, np.ndarray]:
    """Path fractions ``a_k`` and weights ``w_k`` (summing to 1) of a rule on ``[0, 1]``."""
    k = np.arange(steps, dtype=np.float64)
    if rule == "trapezoid":
        alpha = np.arange(steps + 1, dtype=np.float64) / steps
        weight = np.full(steps + 1, 1.0 / steps)
        weight[[0, -1]] /= 2
    elif rule in ("left", "right", "middle"):
        alpha = (k + {"left": 0.0, "right": 1.0, "middle": 0.5}[rule]) / steps
        weight = np.full(steps, 1.0 / steps)
    else:
        raise InputError(f"rule={rule!r}: expected one of {RULES}")
    return alpha.astype(np.float32), weight.astype(np.float32)


def make_baselines(image: np.ndarray, baseline: str, blur_sigma: float, seed: int) -> np.ndarray:
    """Baselines ``x'`` ``[N, H, W, C]`` for a batch ``image``."""
    if baseline == "zero":
        return np.zeros_like(image)
    if baseline == "blur":
        if blur_sigma <= 0:
            raise InputError(f"blur_sigma={blur_sigma}: expected > 0")
        return gaussian_filter(image, sigma=(0, blur_sigma, blur_sigma, 0), mode="nearest").astype(np.float32)
    if baseline == "uniform":
        lo = image.min(axis=(1, 2, 3), keepdims=True)
        hi = image.max(axis=(1, 2, 3), keepdims=True)
        noise = np.array([rng.random(image.shape[1:]) for rng in input_generators(seed, image)]).reshape(image.shape)
        return (lo + (hi - lo) * noise).astype(np.float32)
    raise InputError(f"baseline={baseline!r}: expected one of {BASELINES}")
