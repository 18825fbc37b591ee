"""The input gradient ``dS_t/dx`` with a faster backward pass through a one-channel first convolution.

Why this module exists: every gradient producer (saliency, SmoothGrad, integrated gradients, SHAP)
spends most of its time in one op when the image has a single channel (dmdt images): TensorFlow's
gradient of a convolution with respect to a one-channel input (``Conv2DBackpropInput``) is slow on CPU.
Measured on this 2-core CPU, the real CRTS CNN's first layer (5x5, 1 -> 16 channels) on 844 dmdts:
23 ms for that op, against 4 ms for the layer's forward pass and 12 ms for the whole forward pass;
the same backward written as below takes 9.5 ms. With 2 or 3 input channels the rewrite is no faster
(24 vs 23 ms, 43 vs 24 ms), so it is used for one input channel only.

The rewrite, for a stride-1 ``Conv2D`` ``z = conv(x, K) + b`` that is the only consumer of the image:

1. TF differentiates everything above the layer: ``g = dS/dz`` ``[N, Ho, Wo, F]``.
2. One matmul gives every output pixel's contribution to its ``kh x kw`` input patch:
   ``P = g @ K^T`` (``K`` reshaped to ``[kh*kw*C, F]``).
3. ``col2im``: the patch contributions are summed back onto the (padded) image with ``kh + kw``
   shifted adds, compiled with XLA, which fuses them into one loop; then the padding of ``"same"`` is
   cropped off. This is exactly the chain rule of a convolution, so the result equals the tape's
   gradient up to float32 summation order (tested).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class FirstConvolution:
    """A model split at its first layer, a stride-1 one-channel ``Conv2D`` fed by the image input alone.

    ``rest`` maps ``[layer output, other model inputs...]`` to the features the score function takes
    (the head's input), so ``scores(rest(activation(conv(x))))`` is the model's score.
    """

    layer: Any
    rest: Any
    other_inputs: tuple[str, ...]
    col2im: Callable[[Any], Any]

    def pre_activation(self, image: Any) -> Any:
        """``z = conv(x, K) + b`` of the layer (not differentiated: :meth:`input_gradient` does that)."""
        import tensorflow as tf

        z = tf.nn.conv2d(image, self.layer.kernel, 1, self.layer.padding.upper())
        return z + self.layer.bias if self.layer.use_bias else z

    def features(self, z: Any, others: dict[str, Any]) -> Any:
        """Head-input features from the layer's pre-activation ``z`` and the other model inputs."""
        a = self.layer.activation(z)
        inputs = [a, *(others[name] for name in self.other_inputs)]
        return self.rest(inputs[0] if len(inputs) == 1 else inputs, training=False)

    def input_gradient(self, grad_z: Any) -> Any:
        """``dS/dx`` ``[N, H, W, 1]`` from ``dS/dz`` ``[N, Ho, Wo, F]`` (steps 2 and 3 of the module doc)."""
        import tensorflow as tf

        kernel = self.layer.kernel
        filters = int(kernel.shape[-1])
        flat = tf.reshape(grad_z, [-1, filters])
        patches = tf.matmul(flat, tf.reshape(kernel, [-1, filters]), transpose_b=True)
        return self.col2im(tf.reshape(patches, [tf.shape(grad_z)[0], grad_z.shape[1], grad_z.shape[2], -1]))


def first_convolution(model: Any, image_input: str, image_shape: Sequence[int], head_input: Any) -> FirstConvolution | None:
    """The :class:`FirstConvolution` of ``model``, or ``None`` when the rewrite does not apply.

    It applies when the attributed input feeds exactly one layer, a ``Conv2D`` with stride 1, dilation 1,
    one group, float32 weights and a single input channel. ``None`` means: use the plain tape gradient.
    """
    import keras

    from pix2pixai.producers.base import graph_tensors

    consumers = _consumers(model, image_input)
    if len(consumers) != 1 or type(consumers[0]) is not keras.layers.Conv2D:
        return None
    layer = consumers[0]
    if (tuple(layer.strides) != (1, 1) or tuple(layer.dilation_rate) != (1, 1) or layer.groups != 1
            or layer.data_format != "channels_last" or layer.kernel.dtype != "float32" or image_shape[-1] != 1):
        return None
    others = tuple(t.name for t in model.inputs if t.name != image_input)
    other_tensors = [t for t in model.inputs if t.name != image_input]
    try:
        rest = keras.Model([graph_tensors(model, layer)[1], *other_tensors], head_input)
    except ValueError:  # the image reaches the head by another path too
        return None
    return FirstConvolution(layer, rest, others, _col2im_fn(layer, image_shape))


def _consumers(model: Any, input_name: str) -> list[Any]:
    """The layers that take the model input ``input_name`` directly (input layers excluded)."""
    graph = getattr(model, "_functional", None) or model
    source = next(t for t in model.inputs if t.name == input_name)
    found = []
    for nodes in getattr(graph, "_nodes_by_depth", {}).values():
        for node in nodes:
            if type(node.operation).__name__ == "InputLayer":
                continue
            if any(t is source for t in node.input_tensors):
                found.append(node.operation)
    return found


def _col2im_fn(layer: Any, image_shape: Sequence[int]) -> Callable[[Any], Any]:
    """XLA-compiled ``[N, Ho, Wo, kh*kw] -> [N, H, W, 1]``: patch contributions summed onto the image."""
    import tensorflow as tf

    kh, kw = (int(k) for k in layer.kernel_size)
    height, width = int(image_shape[0]), int(image_shape[1])
    # "same" pads kh - 1 rows in total, the smaller half on top (TF's rule); "valid" pads nothing.
    top, left = ((kh - 1) // 2, (kw - 1) // 2) if layer.padding == "same" else (0, 0)

    def col2im(patches: Any) -> Any:
        patches = tf.reshape(patches, [tf.shape(patches)[0], patches.shape[1], patches.shape[2], kh, kw])
        rows = 0
        for i in range(kh):
            rows += tf.pad(patches[:, :, :, i], [[0, 0], [i, kh - 1 - i], [0, 0], [0, 0]])
        image = 0
        for j in range(kw):
            image += tf.pad(rows[..., j], [[0, 0], [0, 0], [j, kw - 1 - j]])
        return image[:, top:top + height, left:left + width, None]

    return tf.function(col2im, jit_compile=True)
