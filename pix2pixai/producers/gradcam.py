"""Grad-CAM and Grad-CAM++: class-discriminative maps from the last convolutional activations.

Notation: ``A`` = activations of the target layer ``[N, h, w, K]``, ``S`` = target score
(see :mod:`pix2pixai.producers.base`), ``g = dS/dA`` (same shape).

* ``weighting="mean"`` (Selvaraju et al. 2017, classic Grad-CAM):
  ``alpha_k = mean_ij g_ijk``,  ``cam_ij = ReLU(sum_k alpha_k A_ijk)``.
* ``weighting="elementwise"`` (HiResCAM, Draelos & Carin 2020; the default):
  ``cam_ij = ReLU(sum_k g_ijk A_ijk)``.
* ``weighting="plusplus"`` (Grad-CAM++, Chattopadhay et al. 2018), exponential-score closed form:
  ``a_ijk = g^2 / (2 g^2 + sum_ab A_abk g^3)`` (0 where the denominator is 0),
  ``w_k = sum_ij a_ijk ReLU(g_ijk)``, ``cam_ij = ReLU(sum_k w_k A_ijk)``. The paper's ``exp(S)`` factor
  cancels in ``a`` and is one positive scale per input in ``w``; it is left out.

Why the default is element-wise (measured on the real CRTS dmdt CNN, whose head is
``conv (5x6x64) -> Flatten -> Dense(7)``): with a Flatten head the logit is linear in ``A`` with a
*different weight at every position*, ``S = sum_ijk W_ijk A_ijk + b``, so ``g_ijk = W_ijk``. Classic
Grad-CAM averages these weights over all 30 positions; the network uses position-specific weights
(strongly positive where a channel fires for the class, negative elsewhere) and only ~9% of the
averaged ``alpha_k`` stay positive, so ``sum_k alpha_k A_k`` is negative at every position and the ReLU
map is all zero for 59 of the first 64 real dmdts (their predicted class). Averaging is only justified
when the gradient is constant over positions (global-average-pooling heads), and there
``g_ijk = w_k / (hw)`` makes the element-wise map *identical* to classic Grad-CAM. Element-wise
weighting therefore keeps Grad-CAM where Grad-CAM is exact and, with a Flatten head, is the exact
decomposition ``sum_ij cam_ij = S - b`` before the ReLU: its positive part is non-empty whenever
the logit exceeds the bias. ``weighting="mean"`` reproduces classic Grad-CAM (and tf-keras-vis),
``relu=False`` returns the signed map.

Output: float32 ``[N, H, W, C]``, the cam upsampled (bilinear or bicubic) to the input size and
broadcast over the input channels (one spatial map; reduce with the mean), or ``[N, h, w]`` at the
layer's resolution with ``conv_resolution=True``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from pix2pixai.errors import InputError
from pix2pixai.producers.base import ScoreModel, request, target_scores

WEIGHTINGS = ("elementwise", "mean", "plusplus")
UPSAMPLING = ("bilinear", "bicubic")
_CONV_CLASSES = ("Conv2D", "SeparableConv2D", "DepthwiseConv2D", "Conv2DTranspose")


def gradcam(
    model: Any,
    x: Any,
    targets: Any = None,
    score: str = "logit",
    *,
    layer: str | None = None,
    weighting: str = "elementwise",
    relu: bool = True,
    upsample: str = "bilinear",
    conv_resolution: bool = False,
    batch_size: int | None = None,
    image_input: str | None = None,
) -> np.ndarray:
    """Grad-CAM family map of ``targets`` (default: predicted class) for inputs ``x``.

    Parameters
    ----------
    model : Keras 3 classifier.
    x : ``[N, H, W, C]`` array (or list/dict for multi-input models, see ``image_input``).
    targets : int, ``[N]`` ints or None (predicted class).
    score : ``"logit"`` or ``"probability"``.
    layer : name of the layer to explain; default the last conv-like layer (see :func:`last_conv_layer`).
    weighting : ``"elementwise"`` (default, HiResCAM), ``"mean"`` (classic) or ``"plusplus"``.
    relu : keep only positive evidence (the published definition); ``False`` gives the signed map.
    upsample : ``"bilinear"`` or ``"bicubic"`` resizing to the input's ``H x W``.
    conv_resolution : return ``[N, h, w]`` at the layer's resolution (no resizing, no broadcast).

    Returns
    -------
    float32 ``[N, H, W, C]`` (or ``[N, h, w]``), unnormalised.
    """
    if weighting not in WEIGHTINGS:
        raise InputError(f"weighting={weighting!r}: expected one of {WEIGHTINGS}")
    if upsample not in UPSAMPLING:
        raise InputError(f"upsample={upsample!r}: expected one of {UPSAMPLING}")
    layer = layer or last_conv_layer(model)
    _check_layer(model, layer)
    req = request(model, x, targets, score, image_input=image_input, batch_size=batch_size)
    fn = req.sm.compiled(f"gradcam/{layer}/{weighting}/{relu}/{upsample}/{conv_resolution}",
                         _cam_fn(req.sm, layer, weighting, relu, upsample, conv_resolution))
    maps = req.map_batches(fn)
    return maps if conv_resolution else req.spatial(maps)


def last_conv_layer(model: Any) -> str:
    """Name of the last layer that is a 2-D convolution (Conv2D, SeparableConv2D, DepthwiseConv2D)."""
    for layer in reversed(model.layers):
        if layer.__class__.__name__ in _CONV_CLASSES and len(layer.output.shape) == 4:
            return layer.name
    raise InputError(f"model {model.name!r} has no 2-D convolution layer: name the layer to explain with layer=")


def _check_layer(model: Any, layer: str) -> None:
    names = [lyr.name for lyr in model.layers]
    if layer not in names:
        raise InputError(f"layer={layer!r}: not in model {model.name!r} (layers: {names})")
    if len(model.get_layer(layer).output.shape) != 4:
        raise InputError(f"layer={layer!r} has output shape {model.get_layer(layer).output.shape}: "
                         "expected a 4-D [N, h, w, K] feature map")


def _cam_fn(sm: ScoreModel, layer: str, weighting: str, relu: bool, upsample: str, conv_resolution: bool):
    import tensorflow as tf

    run = sm.with_layer(layer)
    height, width = sm.image_shape[:2]

    def cam(image: Any, others: Any, targets: Any) -> Any:
        with tf.GradientTape() as tape:
            activations, scores = run(sm.model_inputs(image, others), watch=tape.watch)
            s = target_scores(scores, targets)
        g = tape.gradient(s, activations)
        if weighting == "elementwise":
            cam_map = tf.reduce_sum(g * activations, axis=-1)
        else:
            weights = tf.reduce_mean(g, axis=(1, 2)) if weighting == "mean" else _plusplus_weights(g, activations)
            cam_map = tf.einsum("nijk,nk->nij", activations, weights)
        if relu:
            cam_map = tf.nn.relu(cam_map)
        if conv_resolution:
            return cam_map
        return tf.image.resize(cam_map[..., None], (height, width), method=upsample)[..., 0]

    return cam


def _plusplus_weights(g: Any, activations: Any) -> Any:
    """Grad-CAM++ channel weights ``w_k = sum_ij a_ijk ReLU(g_ijk)`` ``[N, K]`` (see module docstring)."""
    import tensorflow as tf

    g2 = g * g
    denom = 2.0 * g2 + tf.reduce_sum(activations, axis=(1, 2), keepdims=True) * g2 * g
    a = tf.math.divide_no_nan(g2, denom)
    return tf.reduce_sum(a * tf.nn.relu(g), axis=(1, 2))
