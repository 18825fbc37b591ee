"""CAM (exact Grad-CAM multiple on GAP heads), guided backprop (hand-computed rule), Guided Grad-CAM."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from pix2pixai.errors import InputError
from pix2pixai.producers.cam import cam, pooled_layer
from pix2pixai.producers.gradcam import gradcam
from pix2pixai.producers.guided import guided_backprop, guided_gradcam
from tests.pix2pixai.test_producers_base import crts_cnn, crts_dmdts, tiny_cnn


# ------------------------------------------------------------------------------------------ CAM
@pytest.fixture(scope="module")
def gap_cnn() -> keras.Model:
    from pix2pixai.trainers import generic_cnn

    keras.utils.set_random_seed(3)
    return generic_cnn((12, 12, 2), n_classes=3, width=4)


def test_cam_is_gradcam_of_the_logit_times_the_number_of_positions(gap_cnn):
    x = np.random.default_rng(0).random((5, 12, 12, 2), np.float32)
    h, w = gap_cnn.get_layer("last_conv").output.shape[1:3]
    for relu in (True, False):
        for targets in (None, 0):
            ours = cam(gap_cnn, x, targets, relu=relu)
            ref = gradcam(gap_cnn, x, targets, relu=relu, weighting="mean")
            assert ours.shape == (5, 12, 12, 2) and ours.dtype == np.float32
            assert np.abs(ours).max() > 0 or (relu and targets is None)
            np.testing.assert_allclose(ours, ref * (h * w), rtol=1e-4, atol=1e-5 * np.abs(ours).max())


def test_signed_cam_averages_to_logit_minus_bias(gap_cnn):
    x = np.random.default_rng(1).random((4, 12, 12, 2), np.float32)
    features = keras.Model(gap_cnn.inputs, gap_cnn.get_layer("last_conv").output).predict(x, verbose=0)
    kernel, bias = gap_cnn.get_layer("preds").get_weights()
    per_class = np.einsum("nijk,kc->nijc", features, kernel)  # Zhou et al.'s definition, by hand
    logits = features.mean(axis=(1, 2)) @ kernel + bias
    for c in range(3):
        np.testing.assert_allclose(per_class[..., c].mean(axis=(1, 2)), logits[:, c] - bias[c], rtol=1e-5,
                                   atol=1e-5)
        ours = cam(gap_cnn, x, c, relu=False)
        coarse = tf.image.resize(per_class[..., c:c + 1], (12, 12), method="bilinear").numpy()[..., 0]
        np.testing.assert_allclose(ours[..., 0], coarse, rtol=1e-4, atol=1e-5)


def test_cam_refuses_flatten_heads_probability_and_other_layers(gap_cnn):
    with pytest.raises(InputError, match="Flatten .* -> Dense"):
        cam(tiny_cnn(), np.zeros((1, 10, 12, 3), np.float32))
    with pytest.raises(InputError, match="logit only"):
        cam(gap_cnn, np.zeros((1, 12, 12, 2), np.float32), score="probability")
    with pytest.raises(InputError, match="'last_conv'"):
        cam(gap_cnn, np.zeros((1, 12, 12, 2), np.float32), layer="conv1")
    assert pooled_layer(gap_cnn) == "last_conv"


def test_cam_looks_through_dropout_and_refuses_the_real_crts_cnn():
    keras.utils.set_random_seed(0)
    inp = keras.Input((6, 6, 1))
    h = keras.layers.Conv2D(3, 3, activation="relu", name="maps")(inp)
    h = keras.layers.Dropout(0.5)(keras.layers.GlobalAveragePooling2D()(h))
    model = keras.Model(inp, keras.layers.Dense(2, activation="softmax")(h))
    assert pooled_layer(model) == "maps"
    with pytest.raises(InputError, match="Flatten"):
        pooled_layer(crts_cnn())


# ----------------------------------------------------------------------------- guided backprop
def _one_hidden(use_relu_layer: bool) -> tuple[keras.Model, np.ndarray, np.ndarray]:
    w1 = np.array([[1.0, -2.0, 0.5, 1.5], [0.5, 1.0, -1.0, 2.0], [-1.0, 0.5, 2.0, -0.5], [2.0, 1.0, 1.0, 1.0]],
                  np.float32)
    w2 = np.array([[1.0, -1.0], [-2.0, 1.0], [0.5, 0.5], [-1.0, 2.0]], np.float32)
    inp = keras.Input((2, 2, 1))
    flat = keras.layers.Flatten()(inp)
    if use_relu_layer:
        hidden = keras.layers.ReLU()(keras.layers.Dense(4, name="hidden")(flat))
    else:
        hidden = keras.layers.Dense(4, activation="relu", name="hidden")(flat)
    model = keras.Model(inp, keras.layers.Dense(2, activation="softmax", name="head")(hidden))
    model.get_layer("hidden").set_weights([w1, np.zeros(4, np.float32)])
    model.get_layer("head").set_weights([w2, np.zeros(2, np.float32)])
    return model, w1, w2


def _guided_by_hand(x: np.ndarray, w1: np.ndarray, w2: np.ndarray, target: int) -> np.ndarray:
    u = x.reshape(len(x), -1) @ w1
    dy = np.broadcast_to(w2[:, target], u.shape)
    du = dy * (u > 0) * (dy > 0)
    return (du @ w1.T).reshape(x.shape)


@pytest.mark.parametrize("use_relu_layer", [False, True])
def test_guided_backprop_matches_hand_computed_rule(use_relu_layer):
    model, w1, w2 = _one_hidden(use_relu_layer)
    x = np.random.default_rng(2).normal(size=(6, 2, 2, 1)).astype(np.float32)
    for target in (0, 1):
        ref = _guided_by_hand(x, w1, w2, target)
        plain = (np.broadcast_to(w2[:, target], (6, 4)) * (x.reshape(6, -1) @ w1 > 0)) @ w1.T
        assert not np.allclose(ref.reshape(6, -1), plain), "the guided rule must matter on this model"
        np.testing.assert_allclose(guided_backprop(model, x, target), ref, rtol=1e-5, atol=1e-6)


def test_guided_backprop_leaves_the_model_alone_and_follows_its_new_weights():
    model, w1, w2 = _one_hidden(False)
    x = np.random.default_rng(3).normal(size=(4, 2, 2, 1)).astype(np.float32)
    before = model.predict(x, verbose=0)
    guided_backprop(model, x, 0)
    assert model.get_layer("hidden").activation is keras.activations.relu
    np.testing.assert_array_equal(model.predict(x, verbose=0), before)
    model.get_layer("hidden").set_weights([-w1, np.zeros(4, np.float32)])
    np.testing.assert_allclose(guided_backprop(model, x, 0), _guided_by_hand(x, -w1, w2, 0), rtol=1e-5, atol=1e-6)


def test_guided_backprop_refuses_models_without_relu():
    inp = keras.Input((2, 2, 1))
    model = keras.Model(inp, keras.layers.Dense(2, activation="softmax")(keras.layers.Flatten()(inp)))
    with pytest.raises(InputError, match="no ReLU"):
        guided_backprop(model, np.zeros((1, 2, 2, 1), np.float32))


def _guided_crts_stepwise(model: keras.Model, x: np.ndarray, target: int) -> np.ndarray:
    """Layer-by-layer backward pass of the CRTS CNN with the guided rule written out at each ReLU."""
    conv1, pool, conv2, head = (model.get_layer(n) for n in ("conv2d1", "maxpool2d1", "conv2d2", "preds"))
    x = tf.constant(x)

    def linear_conv(layer, v):
        return tf.nn.conv2d(v, layer.kernel, 1, "VALID") + layer.bias

    def vjp(fn, v, cotangent):
        with tf.GradientTape() as tape:
            tape.watch(v)
            out = fn(v)
        return tape.gradient(out, v, output_gradients=cotangent)

    a1 = linear_conv(conv1, x)
    r1 = tf.nn.relu(a1)
    a2 = linear_conv(conv2, pool(r1))
    g_r2 = tf.reshape(tf.broadcast_to(head.kernel[:, target], (len(x), head.kernel.shape[0])), a2.shape)
    g_a2 = g_r2 * tf.cast(a2 > 0, tf.float32) * tf.cast(g_r2 > 0, tf.float32)
    g_r1 = vjp(pool, r1, vjp(lambda v: linear_conv(conv2, v), pool(r1), g_a2))
    g_a1 = g_r1 * tf.cast(a1 > 0, tf.float32) * tf.cast(g_r1 > 0, tf.float32)
    return vjp(lambda v: linear_conv(conv1, v), x, g_a1).numpy()


def test_guided_backprop_on_real_crts_cnn_matches_stepwise_reference():
    model, dmdts = crts_cnn(), crts_dmdts()
    x = dmdts[:8]
    for target in (0, 6):
        ours = guided_backprop(model, x, target)
        ref = _guided_crts_stepwise(model, x, target)
        assert np.abs(ref).max() > 0
        np.testing.assert_allclose(ours, ref, rtol=1e-4, atol=1e-5 * np.abs(ref).max())


def test_guided_gradcam_is_upsampled_gradcam_times_guided_map_for_the_predicted_class():
    model = tiny_cnn()
    x = np.random.default_rng(4).random((3, 10, 12, 3), np.float32)
    predicted = model.predict(x, verbose=0).argmax(1)
    ours = guided_gradcam(model, x)
    ref = gradcam(model, x, predicted) * guided_backprop(model, x, predicted)
    assert np.abs(ref).max() > 0
    np.testing.assert_allclose(ours, ref, rtol=1e-6, atol=0)
