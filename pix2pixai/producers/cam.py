"""Class Activation Mapping (CAM, Zhou et al. 2016) for global-average-pooling heads.

CAM needs the head ``A -> GlobalAveragePooling2D -> Dense``: ``A`` = feature maps ``[N, h, w, K]`` of
the layer the pooling averages, ``W`` = Dense kernel ``[K, n_out]``. The logit of class ``c`` is then
``z_c = sum_k W_kc mean_ij A_ijk + b_c``, and the class activation map spreads it over positions:

``cam_ij = sum_k W_kc A_ijk``  (so ``mean_ij cam_ij = z_c - b_c``; the bias has no position).

The per-position map is computed by passing every position's feature vector through the shared score
function of :mod:`pix2pixai.producers.base` and removing its value at ``A = 0`` (the bias), so a
single-sigmoid head gets the same class convention as every other producer: class 1 ``+w``, class 0
``-w``. Only the logit is linear in ``A``, so ``score="logit"`` is the only score CAM defines.

Because ``dz_c/dA_ijk = W_kc / (h w)`` on such a head, CAM equals Grad-CAM of the logit (element-wise
or classic weighting) times ``h w``: the tests check this. A ``Flatten -> Dense`` head (the real CRTS
CNN) has a different weight at every position, which CAM cannot express; it is refused with a pointer
to Grad-CAM, whose element-wise weighting is exact there.

ReLU and upsampling follow :func:`pix2pixai.producers.gradcam.gradcam`: ``relu=True`` keeps positive
evidence, the map is resized (bilinear or bicubic) to the input's ``H x W`` and broadcast over its
channels: float32 ``[N, H, W, C]``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from pix2pixai.errors import InputError
from pix2pixai.producers.base import ScoreModel, request
from pix2pixai.producers.gradcam import UPSAMPLING
from pix2pixai.producers.graph import IDENTITY


def cam(
    model: Any,
    x: Any,
    targets: Any = None,
    score: str = "logit",
    *,
    layer: str | None = None,
    upsample: str = "bilinear",
    relu: bool = True,
    batch_size: int | None = None,
    image_input: str | None = None,
) -> np.ndarray:
    """Class activation map of ``targets`` (default: predicted class) for inputs ``x``.

    Parameters
    ----------
    model : Keras 3 classifier whose last layer is a Dense fed by ``GlobalAveragePooling2D``.
    x : ``[N, H, W, C]`` array (or list/dict for multi-input models, see ``image_input``).
    targets : int, ``[N]`` ints or None (predicted class).
    score : must be ``"logit"`` (CAM is the spatial decomposition of the logit).
    layer : the pooled layer; default (and only valid value) the layer the global average pooling reads.
    upsample : ``"bilinear"`` or ``"bicubic"`` resizing to the input's ``H x W``.
    relu : keep only positive evidence; ``False`` gives the signed map.

    Returns
    -------
    float32 ``[N, H, W, C]``, unnormalised (logit units per position).
    """
    if score != "logit":
        raise InputError(f"score={score!r}: CAM is defined on the logit only (use score='logit', or gradcam "
                         "for a probability score)")
    if upsample not in UPSAMPLING:
        raise InputError(f"upsample={upsample!r}: expected one of {UPSAMPLING}")
    pooled = pooled_layer(model)
    if layer is not None and layer != pooled:
        raise InputError(f"layer={layer!r}: CAM needs the maps the global average pooling reads, i.e. layer "
                         f"{pooled!r} of model {model.name!r}")
    req = request(model, x, targets, "logit", image_input=image_input, batch_size=batch_size)
    fn = req.sm.compiled(f"cam/{pooled}/{relu}/{upsample}", _cam_fn(req.sm, pooled, relu, upsample))
    return req.spatial(req.map_batches(fn))


def pooled_layer(model: Any) -> str:
    """Name of the layer whose maps reach the output Dense through ``GlobalAveragePooling2D`` only.

    Raises :class:`InputError` naming the actual head (e.g. ``Flatten -> Dense``) for any other design.
    """
    head = model.layers[-1]
    if head.__class__.__name__ != "Dense":
        raise InputError(f"model {model.name!r} ends in {head.__class__.__name__} {head.name!r}: CAM needs a "
                         "Dense output layer fed by GlobalAveragePooling2D")
    pooling = _producer(head.input)
    if pooling.__class__.__name__ != "GlobalAveragePooling2D" or getattr(pooling, "keepdims", False):
        raise InputError(f"model {model.name!r} has head {pooling.__class__.__name__} {pooling.name!r} -> Dense "
                         f"{head.name!r}: CAM needs GlobalAveragePooling2D -> Dense (Zhou et al. 2016); use "
                         "gradcam, whose element-wise weighting is exact for other heads")
    if getattr(pooling, "data_format", "channels_last") != "channels_last":
        raise InputError(f"pooling {pooling.name!r} is channels_first: expected channels_last [N, h, w, K] maps")
    return _producer(pooling.input).name


def _producer(tensor: Any) -> Any:
    """The layer that produced symbolic ``tensor``, looking through inference-time identity layers."""
    layer = tensor._keras_history.operation
    while layer.__class__.__name__ in IDENTITY:
        layer = layer.input._keras_history.operation
    return layer


def _cam_fn(sm: ScoreModel, layer: str, relu: bool, upsample: str):
    import tensorflow as tf

    run = sm.with_layer(layer)
    height, width = sm.image_shape[:2]

    def class_map(image: Any, others: Any, targets: Any) -> Any:
        activations, _ = run(sm.model_inputs(image, others))
        n, h, w, k = (tf.shape(activations)[i] for i in range(4))
        per_position = sm.scores_from_features(tf.reshape(activations, (-1, k)))
        bias = sm.scores_from_features(tf.zeros((1, k), activations.dtype))
        scores = tf.reshape(per_position - bias, (n, h, w, -1))
        cam_map = tf.gather(scores, tf.cast(targets, tf.int32), axis=3, batch_dims=1)
        if relu:
            cam_map = tf.nn.relu(cam_map)
        return tf.image.resize(cam_map[..., None], (height, width), method=upsample)[..., 0]

    return class_map
