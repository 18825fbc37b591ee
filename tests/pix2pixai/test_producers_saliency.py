"""Saliency: tf-keras-vis parity on the real CRTS CNN and real braai VGG6, a hand-written gradient, SmoothGrad."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from pix2pixai.producers import explain, reduce_maps
from tests.pix2pixai.test_producers_base import braai, crts_cnn, crts_dmdts, tiny_cnn


def _keras_vis_saliency(model, x, target):
    vis = pytest.importorskip("tf_keras_vis.saliency")
    from tf_keras_vis.utils.model_modifiers import ReplaceToLinear
    from tf_keras_vis.utils.scores import CategoricalScore

    sal = vis.Saliency(model, model_modifier=ReplaceToLinear(), clone=True)
    return np.asarray(sal(CategoricalScore([target] * len(x)), x, normalize_map=False))


def test_equals_tf_keras_vis_on_real_crts_cnn():
    model, x = crts_cnn(), crts_dmdts()[:32]
    for target in (0, 6):
        ours = reduce_maps(explain("saliency", model, x, targets=target), "saliency")
        ref = _keras_vis_saliency(model, x, target)
        np.testing.assert_allclose(ours, ref, rtol=1e-4, atol=1e-4 * ref.max())


def test_equals_tf_keras_vis_on_real_braai_vgg6():
    model, triplets = braai()
    x = triplets[:8]
    ours = reduce_maps(explain("saliency", model, x, targets=1), "saliency")
    ref = _keras_vis_saliency(model, x, 0)  # tf-keras-vis index 0 = the single logit = our class 1
    np.testing.assert_allclose(ours, ref, rtol=1e-4, atol=1e-4 * ref.max())


def test_equals_hand_written_gradient_of_the_logit():
    model = tiny_cnn()
    x = np.random.default_rng(0).random((5, 10, 12, 3), np.float32)
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        logits = tf.matmul(_features(model, xt), model.layers[-1].kernel) + model.layers[-1].bias
        score = tf.reduce_sum(logits[:, 2])
    ref = np.abs(tape.gradient(score, xt).numpy())
    np.testing.assert_allclose(explain("saliency", model, x, targets=2), ref, rtol=1e-5, atol=1e-7)


def _features(model, x):
    h = x
    for layer in model.layers[1:-1]:
        h = layer(h)
    return h


def test_smoothgrad_is_seeded_and_averages_noisy_maps():
    model = tiny_cnn()
    x = np.random.default_rng(1).random((3, 10, 12, 3), np.float32)
    a = explain("saliency", model, x, targets=0, smooth_samples=6, seed=3)
    np.testing.assert_array_equal(a, explain("saliency", model, x, targets=0, smooth_samples=6, seed=3))
    assert not np.array_equal(a, explain("saliency", model, x, targets=0, smooth_samples=6, seed=4))
    zero_noise = explain("saliency", model, x, targets=0, smooth_samples=3, smooth_noise=0.0)
    np.testing.assert_allclose(zero_noise, explain("saliency", model, x, targets=0), rtol=1e-6)
