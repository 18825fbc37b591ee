"""Receptive fields of conv/pool stacks and the input patches that most excite one channel.

Receptive field (per axis) of a unit of a layer, walking the chain input -> layer. Every conv or
pooling layer with kernel ``k``, dilation ``d``, stride ``s`` and padding-before ``p`` (0 for ``valid``;
``floor(max((n_out - 1) s + d (k - 1) + 1 - n_in, 0) / 2)`` for TF ``same``) updates, in input pixels,

``size += d (k - 1) jump``,  ``start -= p jump``,  ``jump *= s``

starting from ``size = 1, jump = 1, start = 0``. Unit ``i`` of the layer then sees input pixels
``[start + i jump, start + i jump + size)``. Example: Conv5 -> MaxPool2 -> Conv5 gives 5, 6, 14 px.
Layers that act per pixel (activations, dropout, batch normalisation) leave the field unchanged; any
other layer between the input and the chosen one (flatten, dense, merges) is refused.

Patches are cut from the input at those fields, zero-filled where a field crosses the image border
(what ``same`` zero padding sees for convolutions).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from pix2pixai.errors import InputError
from pix2pixai.inspection.activations import (
    CONV_LAYERS,
    POOLING_LAYERS,
    layer_activations,
    model_images,
)
from pix2pixai.producers.base import batch_size_of

#: Layers that act on each pixel separately, so they do not change a receptive field.
_PER_PIXEL = ("Activation", "ReLU", "LeakyReLU", "ELU", "PReLU", "Softmax", "Dropout", "SpatialDropout2D",
              "GaussianNoise", "GaussianDropout", "BatchNormalization", "LayerNormalization", "Rescaling")


@dataclass(frozen=True)
class ReceptiveField:
    """Receptive field of a layer's units, in input pixels, as ``(rows, cols)`` pairs.

    Attributes
    ----------
    size : field height and width.
    jump : input pixels between neighbouring units (product of strides).
    start : top-left input pixel of unit ``(0, 0)``'s field (negative where padding adds border).
    """

    size: tuple[int, int]
    jump: tuple[int, int]
    start: tuple[int, int]


def receptive_field(model: Any, layer: str) -> ReceptiveField:
    """Receptive field of the units of ``layer`` (see the module docstring for the recursion)."""
    size, jump, start = np.ones(2, int), np.ones(2, int), np.zeros(2, int)
    for op in _chain_to(model, layer):
        kind = op.__class__.__name__
        if kind in _PER_PIXEL:
            continue
        if kind in CONV_LAYERS:
            kernel, stride, dilation = op.kernel_size, op.strides, op.dilation_rate
        elif kind in POOLING_LAYERS:
            kernel, stride, dilation = op.pool_size, op.strides, (1, 1)
        else:
            raise InputError(f"layer {op.name!r} ({kind}) lies between the input and {layer!r}: receptive "
                             "fields are defined for chains of conv, pooling and per-pixel layers only")
        kernel, stride, dilation = (np.asarray(v, int) for v in (kernel, stride, dilation))
        span = dilation * (kernel - 1) + 1
        if op.padding == "same":
            n_in, n_out = (np.asarray(t.shape[1:3], int) for t in (op.input, op.output))
            start -= np.maximum((n_out - 1) * stride + span - n_in, 0) // 2 * jump
        size += (span - 1) * jump
        jump *= stride
    return ReceptiveField(tuple(int(v) for v in size), tuple(int(v) for v in jump), tuple(int(v) for v in start))


def max_activating_patches(
    model: Any,
    x: Any,
    layer: str,
    channel: int,
    k: int = 16,
    *,
    distinct_inputs: bool = True,
    batch_size: int | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The ``k`` input patches whose unit of ``layer`` fires most for ``channel`` (Zeiler & Fergus 2014).

    Parameters
    ----------
    x : ``[N, H, W, C]`` inputs to search.
    layer, channel : the feature map ``layer[..., channel]`` (4-D output).
    k : number of patches (fewer when ``x`` has fewer candidates).
    distinct_inputs : at most one patch per input (its strongest unit), so one image cannot fill the list.

    Returns
    -------
    patches : float32 ``[k, rh, rw, C]``, highest activation first (zero outside the image).
    scores : float32 ``[k]``, the activations.
    positions : int ``[k, 3]``: input index, top row and left column of the patch in input pixels.
    """
    images = model_images(model, x)
    rf = receptive_field(model, layer)
    shape = tuple(model.get_layer(layer).output.shape)
    if not 0 <= channel < shape[-1]:
        raise InputError(f"channel={channel} of layer {layer!r} with output {shape}: expected 0 <= channel "
                         f"< {shape[-1]}")
    if k < 1:
        raise InputError(f"k={k}: expected a positive number of patches")
    fmap = layer_activations(model, (layer,), images, batch_size_of(batch_size))[0][..., channel]
    n, h, w = fmap.shape
    flat = fmap.reshape(n, h * w)
    if distinct_inputs:
        best = flat.argmax(axis=1)
        rows, units = np.arange(n), best
    else:
        rows, units = np.divmod(np.arange(n * h * w), h * w)
    values = flat[rows, units]
    order = np.lexsort((rows, -values))[:k]  # highest first; ties by input index, deterministic
    index, unit = rows[order], units[order]
    top = rf.start[0] + (unit // w) * rf.jump[0]
    left = rf.start[1] + (unit % w) * rf.jump[1]
    patches = _crop(images[index], top, left, rf.size)
    return patches, values[order].astype(np.float32), np.stack([index, top, left], axis=1)


def _crop(images: np.ndarray, top: np.ndarray, left: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``images[i, top_i:top_i+rh, left_i:left_i+rw]`` for every i, zero outside the image (one gather)."""
    rh, rw = size
    _, height, width, _ = images.shape
    pad_top, pad_left = max(0, -int(top.min(initial=0))), max(0, -int(left.min(initial=0)))
    pad_bottom = max(0, int((top + rh).max(initial=0)) - height)
    pad_right = max(0, int((left + rw).max(initial=0)) - width)
    padded = np.pad(images, ((0, 0), (pad_top, pad_bottom), (pad_left, pad_right), (0, 0)))
    r = (top + pad_top)[:, None, None] + np.arange(rh)[None, :, None]
    c = (left + pad_left)[:, None, None] + np.arange(rw)[None, None, :]
    return padded[np.arange(len(images))[:, None, None], r, c]


def _chain_to(model: Any, layer: str) -> list[Any]:
    """The layers from the model input to ``layer`` (inclusive), in forward order; one-input chains only."""
    names = [lyr.name for lyr in model.layers]
    if layer not in names:
        raise InputError(f"layer={layer!r}: not in model {model.name!r} (layers: {names})")
    chain, op = [], model.get_layer(layer)
    while op.__class__.__name__ != "InputLayer":
        chain.append(op)
        inbound = op.input
        if isinstance(inbound, (list, tuple)):
            raise InputError(f"layer {op.name!r} merges {len(inbound)} inputs: receptive fields need a chain")
        op = inbound._keras_history.operation
    return chain[::-1]
