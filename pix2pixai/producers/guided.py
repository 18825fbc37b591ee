"""Guided backpropagation (Springenberg et al. 2015) and Guided Grad-CAM (Selvaraju et al. 2017).

Guided backpropagation is the input gradient of the target score ``S_t`` (see
:mod:`pix2pixai.producers.base`) computed with a modified ReLU backward rule. For ``y = ReLU(u)`` and the
gradient ``dy`` arriving from above, plain backprop passes ``du = dy [u > 0]``; the *guided* rule passes

``du = dy [u > 0] [dy > 0]``

(only positive gradients through positive activations). The forward pass is unchanged, so scores and
predicted classes are the model's own. Output: the signed map float32 ``[N, H, W, C]``.

The user's model is never edited: the rule runs on a clone (``keras.models.clone_model``) whose ReLUs
(``activation="relu"`` in any layer, ``Activation("relu")`` and plain ``ReLU()`` layers) are replaced
by a ``tf.custom_gradient`` guided ReLU. The clone is built once per model and its weights are copied
from the model on every call, so a model trained after a first call is explained with its new weights.
Other non-linearities (sigmoid, tanh, leaky ReLU) keep their ordinary gradient.

Guided Grad-CAM multiplies the guided map by the Grad-CAM map upsampled to the input size (same
target, same score; Grad-CAM's weighting as in :func:`pix2pixai.producers.gradcam.gradcam`, element-wise
by default, ``weighting="mean"`` for the paper's classic weights):
``ggc_nhwc = gradcam_nhw * guided_nhwc``.
"""

from __future__ import annotations

import weakref
from typing import Any

import numpy as np

from pix2pixai.errors import InputError
from pix2pixai.producers.base import request
from pix2pixai.producers.gradcam import gradcam

_GUIDED_CLONES: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()


def guided_backprop(
    model: Any,
    x: Any,
    targets: Any = None,
    score: str = "logit",
    *,
    batch_size: int | None = None,
    image_input: str | None = None,
) -> np.ndarray:
    """Guided-backpropagation gradient ``dS_t/dx`` of ``targets`` (default: predicted class).

    Parameters
    ----------
    model : Keras 3 Sequential or functional classifier with at least one ReLU.
    x : ``[N, H, W, C]`` array (or list/dict for multi-input models, see ``image_input``).
    targets : int, ``[N]`` ints or None (predicted class).
    score : ``"logit"`` or ``"probability"``.

    Returns
    -------
    float32 ``[N, H, W, C]``, signed and unnormalised.
    """
    req = request(guided_clone(model), x, targets, score, image_input=image_input, batch_size=batch_size)
    out = np.empty(req.inputs.image.shape, np.float32)
    for rows, batch, t in req.batches():
        out[rows] = req.sm.gradients(batch.image, batch.others, t)[1]
    return out


def guided_gradcam(
    model: Any,
    x: Any,
    targets: Any = None,
    score: str = "logit",
    *,
    layer: str | None = None,
    weighting: str = "elementwise",
    upsample: str = "bilinear",
    batch_size: int | None = None,
    image_input: str | None = None,
) -> np.ndarray:
    """Guided Grad-CAM: upsampled Grad-CAM (``relu=True``) times guided backpropagation, ``[N, H, W, C]``.

    Both factors explain the same target (resolved once: given, or the model's predicted class).
    ``layer``, ``weighting`` and ``upsample`` are Grad-CAM's (see :func:`pix2pixai.producers.gradcam.gradcam`).
    """
    req = request(model, x, targets, score, image_input=image_input, batch_size=batch_size)
    coarse = gradcam(model, x, req.targets, score, layer=layer, weighting=weighting, upsample=upsample,
                     batch_size=req.batch_size, image_input=image_input)
    return coarse * guided_backprop(model, x, req.targets, score, batch_size=req.batch_size, image_input=image_input)


def guided_clone(model: Any) -> Any:
    """The model's guided-ReLU clone (cached per model), with the model's current weights copied in."""
    import keras

    if model not in _GUIDED_CLONES:
        if not isinstance(model, (keras.Sequential, keras.Model)) or not _is_graph_model(model):
            raise InputError(f"model {getattr(model, 'name', model)!r} is a subclassed {type(model).__name__}: "
                             "guided backprop needs a Sequential or functional Keras model")
        replaced: list[str] = []
        clone = keras.models.clone_model(model, clone_function=lambda layer: _guided_layer(layer, replaced))
        if not replaced:
            raise InputError(f"model {model.name!r} has no ReLU: guided backprop would equal the plain "
                             "gradient (use method 'saliency')")
        _GUIDED_CLONES[model] = clone
    clone = _GUIDED_CLONES[model]
    for target, source in zip(clone.weights, model.weights):
        target.assign(source)
    return clone


def guided_relu(u: Any) -> Any:
    """ReLU forward; backward passes ``dy [u > 0] [dy > 0]`` (the guided rule), TF ops."""
    import tensorflow as tf

    @tf.custom_gradient
    def _relu(v: Any) -> Any:
        def grad(dy: Any) -> Any:
            return dy * tf.cast(v > 0, dy.dtype) * tf.cast(dy > 0, dy.dtype)

        return tf.nn.relu(v), grad

    return _relu(u)


def _is_graph_model(model: Any) -> bool:
    import keras

    return isinstance(model, keras.Sequential) or type(model).__name__ == "Functional"


def _guided_layer(layer: Any, replaced: list[str]) -> Any:
    """A fresh copy of ``layer`` whose ReLU, if any, follows the guided rule (names recorded in ``replaced``)."""
    import keras

    if isinstance(layer, keras.Model):
        raise InputError(f"layer {layer.name!r} is a nested model: guided backprop needs a flat Sequential or "
                         "functional model")
    config = layer.get_config()
    if isinstance(layer, keras.layers.ReLU):
        if config.get("max_value") is not None or config.get("negative_slope") or config.get("threshold"):
            return layer.__class__.from_config(config)
        replaced.append(layer.name)
        return keras.layers.Activation(guided_relu, name=layer.name)
    fresh = layer.__class__.from_config(config)
    if getattr(layer, "activation", None) is keras.activations.relu:
        fresh.activation = guided_relu
        replaced.append(layer.name)
    return fresh
