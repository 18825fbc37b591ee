"""Dormant filters: ReLU convolution filters that no input of a batch can switch on, skipped exactly.

A convolution computes only its live filters, and the next convolution reads only its live input
channels. Which filters are treated as dormant is decided once from the weights
(:func:`dormant_filters`: negative bias, weights too small to overcome it for any input below
:data:`DORMANT_REACH` in magnitude); whether they are really off is *checked on every batch* from the
current weights and the batch itself (:func:`asleep`): a filter's pre-activation is at most
``b + sum|K| * max|x|``, so when that bound, widened by :data:`ROUNDING_SLACK` for float32 summation in
any order, is negative for every dormant filter, each of them outputs exactly 0 on the whole batch.
When the check fails (inputs of enormous magnitude, or weights trained since the plan was made), the
caller runs the model's own full computation instead. Exact, not approximate.

Why: weight decay drives the filters a network stopped using to a negative bias and weights near zero,
and trained CNNs keep many of them (the real CRTS dmdt CNN: 10 of its 16 first-layer and 40 of its 64
second-layer filters), yet every forward and backward pass computes them (measurements:
``docs/benchmarks.md``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

#: Input magnitude up to which a filter counted as dormant stays off: larger inputs fail :func:`asleep`.
DORMANT_REACH = 1e6
#: Relative widening of the bound for float32 rounding: ``n * 2^-24`` stays below it up to 16,000 terms.
ROUNDING_SLACK = 1e-3


def dormant_filters(layer: Any) -> tuple[int, ...]:
    """Output channels of a ReLU ``Conv2D`` treated as dormant (empty when none, or when all would be)."""
    from pix2pixai.producers.graph import activation_name

    if activation_name(layer) != "relu" or not layer.use_bias:
        return ()
    kernel, bias = np.asarray(layer.kernel), np.asarray(layer.bias)
    reach = np.abs(kernel).reshape(-1, kernel.shape[-1]).sum(axis=0)
    dormant = np.flatnonzero((bias < 0) & (reach * DORMANT_REACH <= -bias))
    return () if len(dormant) == len(bias) else tuple(int(c) for c in dormant)


def asleep(layer: Any, dormant: tuple[int, ...], x: Any) -> Any:
    """Scalar bool tensor: every ``dormant`` filter of ``layer`` outputs exactly 0 on all of ``x`` (its input)."""
    import tensorflow as tf

    kernel = tf.gather(layer.kernel, dormant, axis=3)
    reach = tf.reduce_sum(tf.abs(kernel), axis=(0, 1, 2))
    largest = tf.maximum(tf.reduce_max(tf.abs(x)), 0.0)
    return tf.reduce_all(tf.gather(layer.bias, dormant) + (1.0 + ROUNDING_SLACK) * reach * largest < 0.0)


def expand_channels(x: Any, kept: tuple[int, ...], channels: int) -> Any:
    """``[..., len(kept)] -> [..., channels]``: the kept channels in place, zeros for the dormant ones."""
    import tensorflow as tf

    where = np.full(channels, len(kept), np.int32)
    where[list(kept)] = np.arange(len(kept), dtype=np.int32)
    return tf.gather(tf.concat([x, tf.zeros_like(x[..., :1])], axis=-1), where, axis=-1)


def kept_channels(x: Any, kept: tuple[int, ...]) -> Any:
    """``[..., channels] -> [..., len(kept)]``: the channels of ``kept`` only."""
    import tensorflow as tf

    return tf.gather(x, kept, axis=-1)


def live_filters(layer: Any, dormant: tuple[int, ...]) -> tuple[int, ...] | None:
    """The complement of ``dormant`` among the layer's filters, ``None`` when nothing is dormant."""
    if not dormant:
        return None
    left_out = set(dormant)
    return tuple(c for c in range(int(layer.filters)) if c not in left_out)
