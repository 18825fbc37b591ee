"""Small Keras layers of the floored U-Net generator, registered so that ``generator.keras`` reloads.

* ``CoordinatePlanes``: appends a row and a column plane, ``linspace(-1, 1, S)`` down the rows and
  across the columns of the padded S x S square, so a convolution can express absolute position
  (dm / dt bin) instead of only local patterns.
* ``GroupPlanes``: a one-hot group vector [B, G] broadcast to G constant planes [B, S, S, G], the
  class-conditional generator's group input.
* ``ReflectPad``: reflect padding by ``pad`` pixels on each side of the two spatial axes; a
  convolution after it sees mirrored content at the image edge instead of zeros, so it has no edge
  signal from which to paint a frame.
* ``FlooredOutput``: ``clip(floor + residual, low, high)`` forward, identity gradient backward
  (straight-through), so a pixel whose sum left the range still receives the L1 gradient that
  brings it back instead of a zero one.
"""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

PACKAGE = "pix2pixai"


@keras.saving.register_keras_serializable(package=PACKAGE)
class CoordinatePlanes(keras.layers.Layer):
    """[B, S, S, C] -> [B, S, S, C + 2]: the input with row and column coordinates in [-1, 1] appended."""

    def call(self, x):
        height, width = x.shape[1], x.shape[2]
        rows = ops.broadcast_to(ops.reshape(ops.linspace(-1.0, 1.0, height), (1, height, 1, 1)), (1, height, width, 1))
        cols = ops.broadcast_to(ops.reshape(ops.linspace(-1.0, 1.0, width), (1, 1, width, 1)), (1, height, width, 1))
        planes = ops.concatenate([rows, cols], axis=-1)
        planes = ops.broadcast_to(ops.cast(planes, x.dtype), (ops.shape(x)[0], height, width, 2))
        return ops.concatenate([x, planes], axis=-1)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:3], input_shape[3] + 2)


@keras.saving.register_keras_serializable(package=PACKAGE)
class GroupPlanes(keras.layers.Layer):
    """([B, S, S, C] reference, [B, G] one-hot) -> [B, S, S, G]: each group value as a constant plane."""

    def call(self, inputs):
        reference, group = inputs
        height, width = reference.shape[1], reference.shape[2]
        planes = ops.reshape(ops.cast(group, reference.dtype), (-1, 1, 1, group.shape[-1]))
        return ops.broadcast_to(planes, (ops.shape(reference)[0], height, width, group.shape[-1]))

    def compute_output_shape(self, input_shapes):
        reference, group = input_shapes
        return (*reference[:3], group[-1])


@keras.saving.register_keras_serializable(package=PACKAGE)
class ReflectPad(keras.layers.Layer):
    """[B, H, W, C] -> [B, H + 2 pad, W + 2 pad, C], mirrored without repeating the edge (``pad < H, W``)."""

    def __init__(self, pad: int = 1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.pad = int(pad)

    def call(self, x):
        p = self.pad
        return ops.pad(x, ((0, 0), (p, p), (p, p), (0, 0)), mode="reflect")

    def compute_output_shape(self, input_shape):
        grow = [None if d is None else d + 2 * self.pad for d in input_shape[1:3]]
        return (input_shape[0], *grow, input_shape[3])

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "pad": self.pad}


@keras.saving.register_keras_serializable(package=PACKAGE)
class FlooredOutput(keras.layers.Layer):
    """(floor, residual) [B, S, S, 1] each -> ``clip(floor + residual, low, high)``, straight-through.

    Forward: exactly ``c = clip(v, low, high)`` with ``v = floor + residual`` (computed as
    ``(v - stop_gradient(v)) + stop_gradient(c)``, whose first term is exactly 0). Backward:
    ``d out / d v = 1`` everywhere. With a zero residual and a floor inside the range the output is
    the floor bit for bit.
    """

    def __init__(self, low: float = 0.0, high: float = 1.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.low, self.high = float(low), float(high)

    def call(self, inputs):
        floor, residual = inputs
        value = floor + residual
        clipped = ops.clip(value, self.low, self.high)
        return (value - ops.stop_gradient(value)) + ops.stop_gradient(clipped)

    def compute_output_shape(self, input_shapes):
        return input_shapes[0]

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "low": self.low, "high": self.high}
