"""Grad-CAM family: tf-keras-vis parity, the Flatten-head finding on the real CRTS CNN, exactness."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from pix2pixai.errors import InputError
from pix2pixai.producers import explain
from pix2pixai.producers.gradcam import last_conv_layer
from tests.pix2pixai.test_producers_base import braai, crts_cnn, crts_dmdts, tiny_cnn

LPV = 6


def _keras_vis_gradcam(model, x, target, layer):
    vis = pytest.importorskip("tf_keras_vis.gradcam")
    from tf_keras_vis.utils.model_modifiers import ReplaceToLinear
    from tf_keras_vis.utils.scores import CategoricalScore

    cam = vis.Gradcam(model, model_modifier=ReplaceToLinear(), clone=True)
    return np.asarray(cam(CategoricalScore([target] * len(x)), x, penultimate_layer=layer,
                          expand_cam=False, normalize_cam=False))


def test_mean_weighting_equals_tf_keras_vis_on_real_crts_cnn_lpv():
    model, dmdts = crts_cnn(), crts_dmdts()
    probs = model.predict(dmdts, verbose=0)
    lpv = dmdts[probs.argmax(1) == LPV][:16]
    ours = explain("gradcam", model, lpv, targets=LPV, weighting="mean", conv_resolution=True)
    nonzero = ours.max(axis=(1, 2)) > 0
    assert nonzero.sum() >= 3, "need real inputs whose classic Grad-CAM is non-zero"
    ref = _keras_vis_gradcam(model, lpv, LPV, "conv2d2")
    np.testing.assert_allclose(ours[nonzero], ref[nonzero], rtol=1e-4, atol=1e-4 * np.abs(ref).max())


def test_mean_weighting_equals_tf_keras_vis_on_real_braai_vgg6():
    model, triplets = braai()
    x = triplets[:8]
    ours = explain("gradcam", model, x, targets=1, weighting="mean", conv_resolution=True)
    ref = _keras_vis_gradcam(model, x, 0, "conv4")  # tf-keras-vis index 0 = the single logit = our class 1
    nonzero = ours.max(axis=(1, 2)) > 0
    assert nonzero.any()
    np.testing.assert_allclose(ours[nonzero], ref[nonzero], rtol=1e-4, atol=1e-4 * np.abs(ref).max())


def test_classic_gradcam_vanishes_on_flatten_head_and_elementwise_decomposes_the_logit():
    model, dmdts = crts_cnn(), crts_dmdts()
    x = dmdts[:64]
    classic = explain("gradcam", model, x, weighting="mean", conv_resolution=True)
    assert (classic.max(axis=(1, 2)) == 0).sum() >= 48  # the finding: most real dmdts get an empty map
    default = explain("gradcam", model, x, conv_resolution=True)
    signed = explain("gradcam", model, x, relu=False, conv_resolution=True)
    logits = keras.Model(model.inputs, model.layers[-1].input).predict(x, verbose=0) @ model.layers[-1].kernel.numpy()
    targets = model.predict(x, verbose=0).argmax(1)
    # independent: with a Flatten -> Dense head, sum_ij sum_k g A = logit - bias exactly
    np.testing.assert_allclose(signed.sum(axis=(1, 2)), logits[np.arange(64), targets], rtol=1e-4, atol=1e-4)
    positive = logits[np.arange(64), targets] > 0
    assert np.all(default[positive].max(axis=(1, 2)) > 0)
    np.testing.assert_array_equal(default, np.maximum(signed, 0))


def test_elementwise_equals_classic_gradcam_on_global_average_pooling_head():
    model = tiny_cnn(head="gap")
    x = np.random.default_rng(0).random((6, 10, 12, 3), np.float32)
    for relu in (True, False):
        a = explain("gradcam", model, x, relu=relu, conv_resolution=True)
        b = explain("gradcam", model, x, relu=relu, weighting="mean", conv_resolution=True)
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_upsampled_map_is_resized_conv_map_broadcast_over_channels():
    model = tiny_cnn()
    x = np.random.default_rng(1).random((3, 10, 12, 3), np.float32)
    small = explain("gradcam", model, x, conv_resolution=True)
    for method in ("bilinear", "bicubic"):
        full = explain("gradcam", model, x, upsample=method)
        ref = tf.image.resize(small[..., None], (10, 12), method=method).numpy()[..., 0]
        assert full.shape == x.shape
        np.testing.assert_allclose(full[..., 2], ref, rtol=1e-5, atol=1e-6)
        np.testing.assert_array_equal(full[..., 0], full[..., 1])


def test_gradcam_plusplus_matches_a_plain_numpy_formula():
    model = tiny_cnn()
    x = np.random.default_rng(2).random((4, 10, 12, 3), np.float32)
    ours = explain("gradcam++", model, x, targets=1, conv_resolution=True)
    sub = keras.Model(model.inputs, [model.get_layer("conv_b").output, model.layers[-1].input])
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        acts, feats = sub(xt)
        logit = tf.matmul(feats, model.layers[-1].kernel)[:, 1]
    g, a = tape.gradient(logit, acts).numpy().astype(np.float64), acts.numpy().astype(np.float64)
    denom = 2 * g**2 + a.sum(axis=(1, 2), keepdims=True) * g**3
    alpha = np.where(denom != 0, g**2 / np.where(denom != 0, denom, 1), 0)
    weights = (alpha * np.maximum(g, 0)).sum(axis=(1, 2))
    ref = np.maximum(np.einsum("nijk,nk->nij", a, weights), 0)
    np.testing.assert_allclose(ours, ref, rtol=1e-4, atol=1e-6 * ref.max())


def test_layer_autodetect_finds_separable_and_depthwise_convs():
    inp = keras.Input((8, 8, 2))
    h = keras.layers.Conv2D(4, 3, name="c")(inp)
    h = keras.layers.SeparableConv2D(4, 3, name="sep")(h)
    h = keras.layers.DepthwiseConv2D(3, name="dw")(h)
    out = keras.layers.Dense(2, activation="softmax")(keras.layers.Flatten()(h))
    model = keras.Model(inp, out)
    assert last_conv_layer(model) == "dw"
    assert last_conv_layer(keras.Model(inp, keras.layers.Dense(2, activation="softmax")(
        keras.layers.Flatten()(model.get_layer("sep").output)))) == "sep"
    with pytest.raises(InputError, match="no 2-D convolution"):
        last_conv_layer(keras.Model(inp, keras.layers.Dense(2, activation="softmax")(keras.layers.Flatten()(inp))))
    with pytest.raises(InputError, match="not in model"):
        explain("gradcam", model, np.zeros((1, 8, 8, 2)), layer="nope")
