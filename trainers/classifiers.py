"""Classifier architectures: the CRTS dmdt CNN, braai's VGG6 and a small generic CNN.

All builders return *uncompiled* functional ``keras.Model`` objects with named layers; compiling
(loss, optimiser) is the training loop's job (:func:`pix2pixai.trainers.training.train_classifier`).

Every model ends in a ``Dense`` layer whose activation is the output non-linearity (softmax, or a
single sigmoid for braai's original real/bogus score). Explanation producers need the pre-activation
scores (logits); :func:`logits_model` gives a copy with the same weights and a linear last layer.
"""

from __future__ import annotations

from typing import Literal

import keras
import numpy as np

#: Output non-linearities that :func:`logits_model` knows how to strip.
_SQUASHING = ("softmax", "sigmoid")


def dmdt_cnn(input_shape: tuple[int, ...] = (22, 24, 1), n_classes: int = 7) -> keras.Model:
    """The CRTS periodic-variable CNN of Mahabal et al. (2017), layer for layer.

    ``conv2d1`` Conv2D(16, 5x5, valid, relu, L2 0.01) -> ``maxpool2d1`` MaxPool(2) -> ``conv2d2``
    Conv2D(64, 5x5, valid, relu, L2 0.01) -> ``flatten`` -> ``preds`` Dense(n_classes, softmax).
    With the default (22, 24, 1) input it has 39,527 parameters, exactly the real model's, so the
    real weights load by layer name (:func:`pix2pixai.trainers.legacy.load_legacy_model`).

    Parameters
    ----------
    input_shape : (dm bins, dt bins, channels); SCoPe dmdts are (26, 26, 2), one channel per band.
    n_classes : number of softmax outputs (>= 2).
    """
    _check_classes(n_classes, minimum=2)
    inputs = keras.Input(tuple(input_shape), name="dmdt")
    outputs = keras.layers.Dense(n_classes, activation="softmax", name="preds")(_dmdt_trunk(inputs))
    return keras.Model(inputs, outputs, name="dmdt_cnn")


def _dmdt_trunk(image: keras.KerasTensor) -> keras.KerasTensor:
    """The original CNN's layers from the dmdt up to ``flatten`` (names as in the real model's HDF5)."""
    l2 = keras.regularizers.L2(0.01)
    h = keras.layers.Conv2D(16, 5, padding="valid", activation="relu", kernel_regularizer=l2, name="conv2d1")(image)
    h = keras.layers.MaxPooling2D(2, name="maxpool2d1")(h)
    h = keras.layers.Conv2D(64, 5, padding="valid", activation="relu", kernel_regularizer=l2, name="conv2d2")(h)
    return keras.layers.Flatten(name="flatten")(h)


def dmdt_cnn_wide(input_shape: tuple[int, ...] = (22, 24, 1), n_classes: int = 7) -> keras.Model:
    """A wider dmdt CNN trained from scratch: a second, differently built member for dmdt ensembles.

    Two blocks of two Conv2D(3x3, same, relu) (32 then 64 filters) each followed by MaxPool(2), then
    ``flatten`` -> Dropout 0.5 -> ``fc`` Dense(128, relu) -> Dropout 0.5 -> ``preds`` Dense(n_classes,
    softmax). 3x3 kernels with 'same' padding keep the narrow first dt columns (the same-night pairs,
    where short periods show) that the original's 5x5 'valid' convolutions shrink away; on real CRTS
    curves its errors differ enough from the fine-tuned original's that their average is more
    accurate than either (``scripts/crts_real_benchmark.py``).
    """
    _check_classes(n_classes, minimum=2)
    inputs = keras.Input(tuple(input_shape), name="dmdt")
    h = inputs
    for block, filters in enumerate((32, 64), start=1):
        h = keras.layers.Conv2D(filters, 3, padding="same", activation="relu", name=f"conv{block}a")(h)
        h = keras.layers.Conv2D(filters, 3, padding="same", activation="relu", name=f"conv{block}b")(h)
        h = keras.layers.MaxPooling2D(2, name=f"pool{block}")(h)
    h = keras.layers.Flatten(name="flatten")(h)
    h = keras.layers.Dropout(0.5, name="dropout1")(h)
    h = keras.layers.Dense(128, activation="relu", name="fc")(h)
    h = keras.layers.Dropout(0.5, name="dropout2")(h)
    outputs = keras.layers.Dense(n_classes, activation="softmax", name="preds")(h)
    return keras.Model(inputs, outputs, name="dmdt_cnn_wide")


def dmdt_features_cnn(feature_mean: np.ndarray, feature_std: np.ndarray, input_shape: tuple[int, ...] = (22, 24, 1),
                      n_classes: int = 7, hidden: int = 64, dropout: float = 0.3) -> keras.Model:
    """The CRTS dmdt CNN with a second input of per-curve features (period, folded shape, amplitude...).

    A dmdt keeps the magnitude changes at each time lag but not their phase coherence, so the period
    and the folded shape are only implicit in it; classifiers of periodic variables (e.g. ZTF SCoPe)
    feed such features beside the dmdt (:func:`pix2pixai.data.features.lightcurve_features` computes
    them). Inputs ``dmdt`` [22, 24, 1] and ``features`` [F]:

    * the dmdt branch is :func:`dmdt_cnn`'s layers up to ``flatten`` (same names and shapes, so the
      real CNN's convolution weights load into it);
    * the features are standardised by ``feature_scaling`` with ``feature_mean`` / ``feature_std``
      (statistics of the *training* split only; the layer stores them, so the saved model needs no
      side file), then ``feature_fc1``, ``feature_fc2`` Dense(hidden, relu) with Dropout;
    * ``preds`` Dense(n_classes, softmax) on the concatenation [flatten, feature_fc2]. Its first 1,920
      kernel rows play the role of the original ``preds``: copying the original's kernel there and
      zeros below gives, before any training, exactly the original CNN (the feature branch then only
      adds what it learns), which is how ``scripts/crts_real_benchmark.py`` starts its fine-tuning.
    """
    _check_classes(n_classes, minimum=2)
    mean = np.asarray(feature_mean, np.float32).reshape(-1)
    std = np.asarray(feature_std, np.float32).reshape(-1)
    if mean.shape != std.shape or mean.size < 1 or not np.all(std > 0):
        raise ValueError(f"dmdt_features_cnn: feature_mean and feature_std must be [F] with std > 0, got shapes "
                         f"{mean.shape}, {std.shape} (min std {std.min() if std.size else None})")
    image = keras.Input(tuple(input_shape), name="dmdt")
    features = keras.Input((mean.size,), name="features")
    h = _dmdt_trunk(image)
    g = keras.layers.Normalization(mean=mean, variance=std**2, name="feature_scaling")(features)
    for k in (1, 2):
        g = keras.layers.Dense(hidden, activation="relu", name=f"feature_fc{k}")(g)
        g = keras.layers.Dropout(dropout, name=f"feature_dropout{k}")(g)
    joined = keras.layers.Concatenate(name="joined")([h, g])
    outputs = keras.layers.Dense(n_classes, activation="softmax", name="preds")(joined)
    return keras.Model([image, features], outputs, name="dmdt_features_cnn")


def braai_vgg6(
    input_shape: tuple[int, ...] = (63, 63, 3), output: Literal["softmax2", "sigmoid"] = "softmax2"
) -> keras.Model:
    """braai's VGG6 real/bogus network (Duev et al. 2019), with the layer names of its Keras-2 files.

    ``conv1``, ``conv2`` (16, 3x3, relu) -> ``max_pooling2d`` (2) -> ``dropout`` .25 -> ``conv3``,
    ``conv4`` (32, 3x3, relu) -> ``max_pooling2d_1`` (4) -> ``dropout_1`` .25 -> ``flatten`` ->
    ``fc_1`` Dense 256 relu -> ``dropout_2`` .5 -> ``fc_out``.

    Parameters
    ----------
    input_shape : (63, 63, 3) cutouts, channels [science, reference, difference].
    output : ``"softmax2"`` = 2-way softmax [bogus, real] (as in braXAI, so class-wise explanations
        exist for both classes); ``"sigmoid"`` = braai's original single real-probability output.
    """
    if output not in ("softmax2", "sigmoid"):
        raise ValueError(f"braai_vgg6: output must be 'softmax2' or 'sigmoid', got {output!r}")
    inputs = keras.Input(tuple(input_shape), name="triplet")
    h = inputs
    for name, filters in (("conv1", 16), ("conv2", 16)):
        h = keras.layers.Conv2D(filters, 3, padding="valid", activation="relu", name=name)(h)
    h = keras.layers.MaxPooling2D(2, name="max_pooling2d")(h)
    h = keras.layers.Dropout(0.25, name="dropout")(h)
    for name, filters in (("conv3", 32), ("conv4", 32)):
        h = keras.layers.Conv2D(filters, 3, padding="valid", activation="relu", name=name)(h)
    h = keras.layers.MaxPooling2D(4, name="max_pooling2d_1")(h)
    h = keras.layers.Dropout(0.25, name="dropout_1")(h)
    h = keras.layers.Flatten(name="flatten")(h)
    h = keras.layers.Dense(256, activation="relu", name="fc_1")(h)
    h = keras.layers.Dropout(0.5, name="dropout_2")(h)
    units, activation = (2, "softmax") if output == "softmax2" else (1, "sigmoid")
    outputs = keras.layers.Dense(units, activation=activation, name="fc_out")(h)
    return keras.Model(inputs, outputs, name="braai_vgg6")


def generic_cnn(input_shape: tuple[int, ...], n_classes: int, width: int = 16) -> keras.Model:
    """A small CNN for any labelled image set, with a CAM-ready head.

    Three blocks of Conv2D(3x3, same, relu) with ``width``, ``2 width``, ``4 width`` filters, max
    pooling (2) between blocks, then ``gap`` GlobalAveragePooling2D -> ``preds`` Dense(n_classes,
    softmax). Because the head is a global average followed by one linear layer, the class
    activation map of class c is exactly ``sum_k w[k, c] * A_k`` over the last convolution
    ``last_conv``'s feature maps ``A_k`` (Zhou et al. 2016). Pooling is skipped once the feature
    map would drop below 2x2, so small inputs (e.g. 22x24 dmdts) also work.
    """
    _check_classes(n_classes, minimum=2)
    if len(input_shape) != 3 or min(input_shape) < 1:
        raise ValueError(f"generic_cnn: input_shape must be (height, width, channels), got {tuple(input_shape)}")
    inputs = keras.Input(tuple(input_shape), name="image")
    h, size = inputs, min(input_shape[:2])
    names = ("conv1", "conv2", "last_conv")
    for block, name in enumerate(names):
        h = keras.layers.Conv2D(width * 2**block, 3, padding="same", activation="relu", name=name)(h)
        if block < len(names) - 1 and size >= 4:
            h = keras.layers.MaxPooling2D(2, name=f"pool{block + 1}")(h)
            size //= 2
    h = keras.layers.GlobalAveragePooling2D(name="gap")(h)
    outputs = keras.layers.Dense(n_classes, activation="softmax", name="preds")(h)
    return keras.Model(inputs, outputs, name="generic_cnn")


def logits_model(model: keras.Model) -> keras.Model:
    """A copy of ``model`` with the same weights whose last Dense layer is linear (pre-softmax scores).

    The user's model is left untouched: every layer is re-created from its config (the output Dense
    with ``activation="linear"``), then all weights are copied. For a softmax model the outputs are
    logits z with ``softmax(z) = model(x)``; for a single-sigmoid model the output is the log-odds
    ``log(p / (1 - p))``.

    Raises
    ------
    ValueError
        if the model's output layer is not a Dense layer with a softmax or sigmoid activation.
    """
    last = model.layers[-1]
    activation = last.get_config().get("activation") if isinstance(last, keras.layers.Dense) else None
    if activation not in _SQUASHING:
        raise ValueError(
            f"logits_model: model {model.name!r} must end in a Dense layer with softmax or sigmoid activation; "
            f"its last layer is {type(last).__name__} {last.name!r} (activation {activation!r})"
        )

    def clone(layer: keras.layers.Layer) -> keras.layers.Layer:
        config = layer.get_config()
        if layer is last:
            config["activation"] = "linear"
        return layer.__class__.from_config(config)

    logits = keras.models.clone_model(model, clone_function=clone)
    logits.set_weights(model.get_weights())
    return logits


def _check_classes(n_classes: int, minimum: int) -> None:
    if int(n_classes) != n_classes or n_classes < minimum:
        raise ValueError(f"n_classes must be an integer >= {minimum}, got {n_classes!r}")
