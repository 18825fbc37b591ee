"""The rewritten backward pass of a one-channel first convolution equals TF's own input gradient."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from pix2pixai.producers import explain
from pix2pixai.producers.base import score_model
from tests.pix2pixai.test_producers_base import crts_cnn, crts_dmdts


def _tape_gradient(model, x, targets):
    """Plain ``dS_t/dx`` of the logit, differentiated through the whole model by TF."""
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        head = model.layers[-1]
        features = keras.Model(model.inputs, head.input)(xt, training=False)
        logits = tf.matmul(features, head.kernel) + head.bias
        score = tf.reduce_sum(tf.gather(logits, targets, axis=1, batch_dims=1))
    return tape.gradient(score, xt).numpy()


def _cnn(shape, kernel, padding, activation, channels=1, strides=1, seed=0):
    keras.utils.set_random_seed(seed)
    inp = keras.Input(shape + (channels,))
    h = keras.layers.Conv2D(6, kernel, strides=strides, padding=padding, activation=activation, name="first")(inp)
    h = keras.layers.MaxPooling2D(2)(h)
    h = keras.layers.Conv2D(4, 3, activation="relu")(h)
    h = keras.layers.Flatten()(h)
    return keras.Model(inp, keras.layers.Dense(3, activation="softmax")(h))


@pytest.mark.parametrize("kernel,padding,activation", [
    ((5, 5), "valid", "relu"),
    ((3, 4), "same", "relu"),   # even kernel width: "same" pads one more column on the right
    ((4, 3), "same", None),
    ((1, 1), "valid", "tanh"),
])
def test_equals_tape_gradient(kernel, padding, activation):
    model = _cnn((13, 14), kernel, padding, activation)
    assert score_model(model)._first_conv is not None
    x = np.random.default_rng(1).random((7, 13, 14, 1), np.float32)
    targets = np.array([0, 1, 2, 0, 1, 2, 0], np.int32)
    ref = _tape_gradient(model, x, targets)
    ours = score_model(model).gradients(x, {}, targets)[1]
    np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=1e-6 * np.abs(ref).max())
    assert np.abs(ref).max() > 0


@pytest.mark.parametrize("channels,strides", [(3, 1), (1, 2)])
def test_other_first_layers_keep_the_tape_gradient(channels, strides):
    model = _cnn((16, 16), (3, 3), "valid", "relu", channels=channels, strides=strides)
    assert score_model(model)._first_conv is None
    x = np.random.default_rng(2).random((4, 16, 16, channels), np.float32)
    ref = _tape_gradient(model, x, np.zeros(4, np.int32))
    np.testing.assert_allclose(score_model(model).gradients(x, {}, np.zeros(4, np.int32))[1], ref, rtol=1e-5, atol=1e-7)


def test_image_used_twice_keeps_the_tape_gradient():
    inp = keras.Input((8, 8, 1))
    h = keras.layers.Flatten()(keras.layers.Conv2D(2, 3, activation="relu")(inp))
    h = keras.layers.Concatenate()([h, keras.layers.Flatten()(inp)])
    model = keras.Model(inp, keras.layers.Dense(2, activation="softmax")(h))
    assert score_model(model)._first_conv is None


def test_multi_input_model_with_features_beside_the_image():
    """ZTF SCoPe-style: the dmdt goes through the convolution, a feature vector joins at the head."""
    keras.utils.set_random_seed(3)
    image, feats = keras.Input((10, 11, 1), name="dmdt"), keras.Input((4,), name="features")
    h = keras.layers.Flatten()(keras.layers.Conv2D(3, 3, activation="relu")(image))
    h = keras.layers.Concatenate()([h, keras.layers.Dense(5, activation="relu")(feats)])
    model = keras.Model([image, feats], keras.layers.Dense(3, activation="softmax")(h))
    rng = np.random.default_rng(4)
    x, f = rng.random((6, 10, 11, 1), np.float32), rng.random((6, 4), np.float32)
    sm = score_model(model, image_input="dmdt")
    assert sm._first_conv is not None
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        score = tf.reduce_sum(sm.call([xt, tf.constant(f)])[:, 1])
    ref = tape.gradient(score, xt).numpy()
    ours = explain("saliency", model, {"dmdt": x, "features": f}, targets=1, image_input="dmdt")
    np.testing.assert_allclose(ours, np.abs(ref), rtol=1e-5, atol=1e-6 * np.abs(ref).max())


def test_real_crts_cnn_gradients_equal_the_tape():
    model, x = crts_cnn(), crts_dmdts()[:64]
    sm = score_model(model)
    assert sm._first_conv is not None
    targets = np.full(len(x), 6, np.int32)  # LPV: non-zero gradients for most real dmdts
    ref = _tape_gradient(model, x, targets)
    np.testing.assert_allclose(sm.gradients(x, {}, targets)[1], ref, rtol=1e-5, atol=1e-5 * np.abs(ref).max())
