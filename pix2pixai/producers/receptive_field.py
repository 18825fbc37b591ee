"""Scores of locally changed inputs: the layers below the first pooling recomputed on a crop only.

Why: blanking scores one occluded copy of the input per window, and a window changes only the few
cells of a pooled feature map whose receptive fields it touches. On the real CRTS CNN a 1x1 window
changes at most 3x3 of the 9x10 cells after ``conv2d1 -> maxpool2d1``; on the braai VGG6 a 3x3
window changes at most 4x4 of the 29x29 cells after ``conv1 -> conv2 -> max_pooling2d``, where
those two convolutions hold most of the forward pass's work. So the *prefix* (the layers from the image
to the first pooling layer) runs once per input on the whole image and, per occluded copy, on the
crop of the image that covers the changed cells' receptive fields; those cells replace their clean
values and the rest of the model runs as usual.

It is exact (the cells are computed by the same layers from the same pixels) when every prefix layer
maps cell ``o`` of its output to input rows ``[s o, s o + k)`` with no padding: "valid" stride-1
``Conv2D`` (elementwise activation), non-overlapping "valid" pooling, inference-time identities
(dropout), elementwise activations and inference-time batch normalisation. The crop starts at a
multiple of the prefix's total stride, so every pooling window of the crop is one of the whole image's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from pix2pixai.producers.graph import IDENTITY, is_plain_conv2d, is_pointwise, layer_run, model_above

_POOLS = ("MaxPooling2D", "AveragePooling2D")


@dataclass(frozen=True)
class LocalPrefix:
    """The layers from the image to the first pooling layer, and the model above them.

    ``stride`` / ``field``: a prefix output cell ``o`` (per axis) depends on image rows
    ``[stride o, stride o + field)``; ``out_hw``: the prefix output's height and width; ``rest`` maps
    ``[prefix output, other model inputs...]`` to the head's input.
    """

    layers: tuple[Any, ...]
    rest: Any
    other_inputs: tuple[str, ...]
    stride: tuple[int, int]
    field: tuple[int, int]
    out_hw: tuple[int, int]

    def apply(self, image: Any) -> Any:
        """The prefix output of ``image`` (any height and width its layers accept)."""
        x = image
        for layer in self.layers:
            x = layer(x, training=False)
        return x

    def cells(self, patch: int) -> tuple[int, int]:
        """Cells (rows, columns) spanned by the changed cells of any ``patch x patch`` window."""
        return tuple(min((patch + f - 2) // s + 1, n) for s, f, n in zip(self.stride, self.field, self.out_hw))

    def crop_size(self, patch: int) -> tuple[int, int]:
        """Image rows and columns that the changed cells of a ``patch x patch`` window depend on."""
        return tuple(s * (c - 1) + f for s, f, c in zip(self.stride, self.field, self.cells(patch)))

    def first_cells(self, top: np.ndarray, left: np.ndarray, patch: int) -> tuple[np.ndarray, np.ndarray]:
        """First changed cell (row, column) of windows at ``top, left``, moved in so that all cells fit the map."""
        firsts = []
        for start, s, f, c, n in zip((top, left), self.stride, self.field, self.cells(patch), self.out_hw):
            first = -((f - 1 - np.asarray(start)) // s)  # ceil((start - f + 1) / s)
            firsts.append(np.clip(first, 0, n - c).astype(np.int32))
        return firsts[0], firsts[1]

    def useful(self, patch: int) -> bool:
        """Whether a crop is smaller than the whole map (else nothing is saved)."""
        return any(c < n for c, n in zip(self.cells(patch), self.out_hw))


def local_prefix(model: Any, image_input: str, head_input: Any) -> LocalPrefix | None:
    """The :class:`LocalPrefix` of ``model`` above ``image_input``, or ``None`` where it does not apply.

    It applies when the run of layers above the image (:func:`pix2pixai.producers.graph.layer_run`)
    holds only supported layers (module doc) up to a pooling layer; other model inputs may join above it.
    """
    layers: list[Any] = []
    stride, field = [1, 1], [1, 1]
    for layer, _, output in layer_run(model, image_input, head_input):
        growth = _receptive_growth(layer)
        if growth is None:
            return None
        (kh, kw), (sh, sw) = growth
        field = [field[0] + (kh - 1) * stride[0], field[1] + (kw - 1) * stride[1]]
        stride = [stride[0] * sh, stride[1] * sw]
        layers.append(layer)
        if type(layer).__name__ in _POOLS:
            above = model_above(model, output, image_input, head_input)
            if above is None:
                return None
            return LocalPrefix(tuple(layers), *above, (stride[0], stride[1]), (field[0], field[1]),
                               (int(output.shape[1]), int(output.shape[2])))
    return None


def _receptive_growth(layer: Any) -> tuple[tuple[int, int], tuple[int, int]] | None:
    """``(window, stride)`` of a supported prefix layer (identity layers: ``(1, 1), (1, 1)``), else ``None``."""
    kind = type(layer).__name__
    if getattr(layer, "data_format", "channels_last") != "channels_last":
        return None
    if kind in IDENTITY or is_pointwise(layer):
        return (1, 1), (1, 1)
    if kind in _POOLS:
        pool = tuple(int(p) for p in layer.pool_size)
        if layer.padding != "valid" or tuple(int(s) for s in layer.strides) != pool:
            return None
        return pool, pool
    if is_plain_conv2d(layer) and layer.padding == "valid" and tuple(layer.strides) == (1, 1):
        return tuple(int(k) for k in layer.kernel_size), (1, 1)
    return None
