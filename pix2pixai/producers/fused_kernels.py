"""Shift-and-add kernels for the layers next to the image, written for XLA to fuse into one loop each.

* **Thin-input convolution, forward**: ``kh * kw * C`` shifted multiply-adds of the image broadcast
  over the filters, which XLA fuses into one pass over the output.
* **Thin-input convolution, backward**: one matmul ``P = g @ K^T`` (every output pixel's contribution
  to its ``kh x kw x C`` input patch) and ``kh * kw`` shifted adds fused into one loop (``col2im``).
* **Non-overlapping max pooling**: :func:`pool_route` records, in the forward pass, which position of
  its window each output came from (the first maximum in row-major order, TF's rule);
  :func:`pool_unroute` sends the gradient back there with no search.

All are exact: the same sums as TF's kernels, in another order (float32 rounding apart), and the same
routing. Each kernel is compiled on its own (:func:`_compiled`), and only the shift-and-add parts; the
matmul runs as TF's, and wide convolutions keep oneDNN's kernels.

Why: on CPU, oneDNN's ``Conv2D`` and ``Conv2DBackpropInput`` of a 1-4 channel image and ``MaxPoolGrad``
(which searches every window again) are slow and take most of an image CNN's forward and backward
pass; the fused loops run them several times faster (measurements: ``docs/benchmarks.md``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def same_padding(kernel_size: tuple[int, int], padding: str) -> tuple[int, int, int, int]:
    """``(top, bottom, left, right)`` zeros a stride-1 convolution pads (TF's "same": the smaller half first)."""
    if padding != "same":
        return 0, 0, 0, 0
    kh, kw = kernel_size
    return (kh - 1) // 2, kh // 2, (kw - 1) // 2, kw // 2


def thin_convolution(x: Any, kernel: Any, bias: Any | None, padding: str) -> Any:
    """Stride-1 ``Conv2D`` of ``x`` ``[N, H, W, C]`` (small C) as ``kh * kw * C`` shifted multiply-adds.

    ``kernel`` ``[kh, kw, C, F]``, ``bias`` ``[F]`` or ``None``, ``padding`` ``"valid"`` or ``"same"``.
    """
    import tensorflow as tf

    # Read the Keras variables once, as constants to any tape: producers differentiate with respect to
    # inputs only, and a tape that records an XLA call runs an uncompiled copy of it (Grad-CAM 3x slower).
    weights = [tf.stop_gradient(w) for w in (kernel, bias) if w is not None]
    return _compiled(_thin_convolution, padding)(x, *weights)


def _thin_convolution(padding: str, x: Any, kernel: Any, bias: Any = None) -> Any:
    import tensorflow as tf

    kh, kw, channels, _ = (int(d) for d in kernel.shape)
    top, bottom, left, right = same_padding((kh, kw), padding)
    if top or bottom or left or right:
        x = tf.pad(x, [[0, 0], [top, bottom], [left, right], [0, 0]])
    out_h, out_w = int(x.shape[1]) - kh + 1, int(x.shape[2]) - kw + 1
    total = 0.0 if bias is None else bias
    for i in range(kh):
        for j in range(kw):
            for c in range(channels):
                total = total + x[:, i:i + out_h, j:j + out_w, c:c + 1] * kernel[i, j, c]
    return total


def thin_convolution_input_gradient(grad: Any, kernel: Any, input_hw: tuple[int, int], padding: str) -> Any:
    """``dS/dx`` of :func:`thin_convolution` from ``grad`` ``[N, Ho, Wo, F]``: ``P = g @ K^T``, then ``col2im``."""
    import tensorflow as tf

    kh, kw, channels, filters = (int(d) for d in kernel.shape)
    patches = tf.matmul(tf.reshape(grad, [-1, filters]), tf.reshape(kernel, [-1, filters]), transpose_b=True)
    patches = tf.reshape(patches, [-1, int(grad.shape[1]), int(grad.shape[2]), kh * kw * channels])
    top, _, left, _ = same_padding((kh, kw), padding)
    return _compiled(_col2im, (kh, kw), input_hw, (top, left))(patches)


def _col2im(kernel_size: tuple[int, int], input_hw: tuple[int, int], before: tuple[int, int], patches: Any) -> Any:
    """``[N, Ho, Wo, kh*kw*C] -> [N, H, W, C]``: patch contributions summed onto the padded image, cropped.

    ``kh * kw`` shifted adds that XLA fuses into one loop over the image; ``before`` is the padding above
    and left of the image. Why not ``kh + kw`` adds (rows, then columns): the intermediate row sums made
    it slower (``docs/benchmarks.md``).
    """
    import tensorflow as tf

    kh, kw = kernel_size
    (height, width), (top, left) = input_hw, before
    patches = tf.reshape(patches, [-1, int(patches.shape[1]), int(patches.shape[2]), kh, kw,
                                   int(patches.shape[3]) // (kh * kw)])
    image = 0
    for i in range(kh):
        for j in range(kw):
            image += tf.pad(patches[:, :, :, i, j], [[0, 0], [i, kh - 1 - i], [j, kw - 1 - j], [0, 0]])
    return image[:, top:top + height, left:left + width]


def pool_route(x: Any, size: int) -> tuple[Any, Any]:
    """``size x size`` max pooling with stride ``size`` ("valid") of ``x`` ``[N, H, W, C]``, and its routes.

    Returns ``(pooled [N, H//size, W//size, C], route)``: ``route`` (int8, same shape) is the window
    position ``dy * size + dx`` of the first maximum in row-major order, where TF's ``MaxPoolGrad``
    sends the gradient (ties are common after a ReLU: an empty dmdt region gives identical patches).
    """
    return _compiled(_pool_route, size)(x)


def _pool_route(size: int, x: Any) -> tuple[Any, Any]:
    import tensorflow as tf

    height, width, channels = (int(d) for d in x.shape[1:])
    x = x[:, :height // size * size, :width // size * size]
    windows = tf.nn.space_to_depth(x, size)  # channel (dy * size + dx) * C + c
    positions = [windows[..., k * channels:(k + 1) * channels] for k in range(size * size)]
    pooled = positions[0]
    for value in positions[1:]:
        pooled = tf.maximum(pooled, value)
    route = tf.fill(tf.shape(pooled), tf.constant(size * size - 1, tf.int8))
    for k in range(size * size - 2, -1, -1):
        route = tf.where(positions[k] == pooled, tf.constant(k, tf.int8), route)
    return pooled, route


def pool_unroute(grad: Any, route: Any, size: int, input_hw: tuple[int, int]) -> Any:
    """The input gradient of :func:`pool_route`'s pooling: each output's gradient at its routed position."""
    return _compiled(_pool_unroute, size, input_hw)(grad, route)


def _pool_unroute(size: int, input_hw: tuple[int, int], grad: Any, route: Any) -> Any:
    import tensorflow as tf

    spread = tf.concat([tf.where(route == tf.constant(k, tf.int8), grad, 0.0) for k in range(size * size)], axis=-1)
    image = tf.nn.depth_to_space(spread, size)
    height, width = input_hw
    return tf.pad(image, [[0, 0], [0, height - int(image.shape[1])], [0, width - int(image.shape[2])], [0, 0]])


def _compiled(kernel: Callable[..., Any], *static: Any) -> Callable[..., Any]:
    """``kernel`` with its leading ``static`` arguments bound, compiled with XLA once per geometry."""
    import functools

    import tensorflow as tf

    key = (kernel.__name__, *static)
    if key not in _COMPILED:
        _COMPILED[key] = tf.function(functools.partial(kernel, *static), jit_compile=True)
    return _COMPILED[key]


_COMPILED: dict[tuple[Any, ...], Callable[..., Any]] = {}
