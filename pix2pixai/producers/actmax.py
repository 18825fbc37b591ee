"""Activation maximisation (class-level): the input the model finds most typical of a class.

For class ``k`` it maximises, by projected gradient ascent (Adam steps),

    ``J(x) = S_k(x) - tv_weight * TV(x / s) - l2_weight * ||x / s||^2 / (H W C)``

with ``S_k`` the class logit (default), ``TV(u) = mean_{hwc} (|u_{h+1,w} - u_{h,w}| + |u_{h,w+1} - u_{h,w}|)``
(anisotropic total variation: favours smooth maps over adversarial speckle) and ``s`` the largest
per-pixel range of the bounds, so the regulariser weights do not depend on the data's units.

Constraints keep ``x`` in the data's real input space: ``lo <= x <= hi`` per pixel (``bounds``, e.g.
the training set's per-pixel min/max) and, for dmdts, ``x >= 0`` with ``sum(x) = total`` (a dmdt is a
normalised histogram). After each step ``x`` is projected onto that set: ``x = clip(v - tau, lo, hi)``
with the scalar ``tau`` found by bisection so the sum equals ``total`` (the Euclidean projection onto a
box intersected with a hyperplane). ``restarts`` seeded random starts per class run in one batch; the
one with the highest final ``J`` is returned. Output ``[K, H, W, C]``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from pix2pixai.errors import InputError
from pix2pixai.producers.base import ScoreModel, class_indices, require_single_input, score_model, target_scores

_BISECTION_STEPS = 60


def actmax(
    model: Any,
    classes: Sequence[int] | None = None,
    *,
    bounds: tuple[Any, Any] | None = None,
    total: float | None = None,
    score: str = "logit",
    steps: int = 200,
    learning_rate: float = 0.02,
    tv_weight: float = 1.0,
    l2_weight: float = 0.1,
    restarts: int = 4,
    seed: int = 0,
) -> np.ndarray:
    """Regularised class-score maximising inputs ``[K, H, W, C]`` (see module docstring).

    Parameters
    ----------
    bounds : ``(lo, hi)``, scalars or arrays broadcastable to ``[H, W, C]`` (required: the data range).
    total : fixed sum of every input (dmdts); then the inputs are also non-negative.
    steps, learning_rate : Adam ascent steps and step size (in units of each pixel's range ``hi - lo``).
    tv_weight, l2_weight : regulariser weights.
    restarts : random starts per class; the best final objective wins.
    seed : seed of the random starts.
    """
    sm = score_model(model, score)
    require_single_input(sm)
    cls = class_indices(sm, classes)
    lo, hi = _bounds(sm, bounds, total)
    if steps < 1 or restarts < 1 or learning_rate <= 0:
        raise InputError(f"steps={steps}, restarts={restarts}, learning_rate={learning_rate}: expected positive values")
    targets = np.repeat(cls, restarts).astype(np.int32)
    rng = np.random.default_rng(seed)
    x = _project(lo + (hi - lo) * rng.random((targets.size, *sm.image_shape), np.float32), lo, hi, total)
    scale = np.float32(max(float((hi - lo).max()), 1e-12))
    step_fn = sm.compiled(f"actmax/{tv_weight}/{l2_weight}", _objective_fn(sm, tv_weight, l2_weight))
    m = np.zeros_like(x)
    v = np.zeros_like(x)
    beta1, beta2, eps = 0.9, 0.999, 1e-8
    for step in range(1, steps + 1):
        _, grad = step_fn(x, targets, scale)
        grad = np.asarray(grad)
        m = beta1 * m + (1 - beta1) * grad
        v = beta2 * v + (1 - beta2) * grad * grad
        update = (m / (1 - beta1**step)) / (np.sqrt(v / (1 - beta2**step)) + eps)
        x = _project(x + learning_rate * (hi - lo) * update, lo, hi, total)
    objective = np.asarray(step_fn(x, targets, scale)[0]).reshape(len(cls), restarts)
    best = objective.argmax(axis=1)
    return x.reshape(len(cls), restarts, *sm.image_shape)[np.arange(len(cls)), best]


def _objective_fn(sm: ScoreModel, tv_weight: float, l2_weight: float):
    import tensorflow as tf

    def objective(x: Any, targets: Any, scale: Any) -> tuple[Any, Any]:
        with tf.GradientTape() as tape:
            tape.watch(x)
            u = x / scale
            tv = (tf.reduce_mean(tf.abs(u[:, 1:] - u[:, :-1]), axis=(1, 2, 3))
                  + tf.reduce_mean(tf.abs(u[:, :, 1:] - u[:, :, :-1]), axis=(1, 2, 3)))
            l2 = tf.reduce_mean(u * u, axis=(1, 2, 3))
            j = target_scores(sm.call([x]), targets) - tv_weight * tv - l2_weight * l2
        return j, tape.gradient(j, x)

    return objective


def _bounds(sm: ScoreModel, bounds: tuple[Any, Any] | None, total: float | None) -> tuple[np.ndarray, np.ndarray]:
    if bounds is None or len(bounds) != 2:
        raise InputError("actmax needs bounds=(lo, hi): the data's per-pixel range (e.g. training min/max)")
    try:
        lo, hi = (np.broadcast_to(np.asarray(b, np.float32), sm.image_shape).copy() for b in bounds)
    except ValueError:
        raise InputError(f"bounds have shapes {[np.shape(b) for b in bounds]}: expected broadcastable to "
                         f"{sm.image_shape}") from None
    if total is not None:
        lo = np.maximum(lo, 0.0)
        hi = np.maximum(hi, lo)
        if not lo.sum() <= total <= hi.sum():
            raise InputError(f"total={total}: expected between sum(lo)={lo.sum():g} and sum(hi)={hi.sum():g}")
    if np.any(hi < lo):
        raise InputError(f"bounds: hi < lo at {int(np.sum(hi < lo))} pixels: expected lo <= hi")
    return lo, hi


def _project(x: np.ndarray, lo: np.ndarray, hi: np.ndarray, total: float | None) -> np.ndarray:
    """Euclidean projection of each input onto ``{lo <= x <= hi}`` (and ``sum x = total`` when given)."""
    if total is None:
        return np.clip(x, lo, hi)
    flat = x.reshape(len(x), -1).astype(np.float64)
    lo_f, hi_f = lo.ravel(), hi.ravel()
    # sum(clip(v - tau)) decreases in tau: bracket tau and bisect every input at once.
    tau_lo = (flat - hi_f).min(axis=1)
    tau_hi = (flat - lo_f).max(axis=1)
    for _ in range(_BISECTION_STEPS):
        tau = 0.5 * (tau_lo + tau_hi)
        too_big = np.clip(flat - tau[:, None], lo_f, hi_f).sum(axis=1) > total
        tau_lo = np.where(too_big, tau, tau_lo)
        tau_hi = np.where(too_big, tau_hi, tau)
    return np.clip(flat - (0.5 * (tau_lo + tau_hi))[:, None], lo_f, hi_f).reshape(x.shape).astype(np.float32)
