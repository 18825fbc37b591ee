"""Expected-gradients SHAP: exact on linear models, complete on the real CNN, equal to brute-force
Shapley values on an additive model, and equal in expectation to shap.GradientExplainer."""

from __future__ import annotations

import itertools
import math

import keras
import numpy as np
import pytest

from pix2pixai.errors import InputError
from pix2pixai.producers import explain
from pix2pixai.producers.base import score_model
from tests.pix2pixai.test_producers_base import crts_cnn, crts_dmdts, tiny_cnn


def _linear_model(shape=(6, 5, 2), n_classes=3):
    keras.utils.set_random_seed(0)
    inp = keras.Input(shape)
    return keras.Model(inp, keras.layers.Dense(n_classes, activation="softmax")(keras.layers.Flatten()(inp)))


def test_linear_logit_gives_w_times_x_minus_background_mean_exactly():
    model = _linear_model()
    rng = np.random.default_rng(0)
    x, bg = rng.normal(size=(4, 6, 5, 2)).astype(np.float32), rng.normal(size=(8, 6, 5, 2)).astype(np.float32)
    phi = explain("shap", model, x, targets=2, background=bg, n_samples=16)  # 16 = 2 passes over 8
    w = model.layers[-1].kernel.numpy()[:, 2].reshape(6, 5, 2)
    np.testing.assert_allclose(phi, w * (x - bg.mean(axis=0)), rtol=1e-4, atol=1e-5)


def test_completeness_within_5_percent_on_real_crts_cnn_at_default_samples():
    """Logit score: additive and unsaturated (probabilities of confident inputs are ~1 with ~0 gradient)."""
    model, dmdts = crts_cnn(), crts_dmdts()
    rng = np.random.default_rng(1)
    background = dmdts[rng.choice(np.arange(200, len(dmdts)), 64, replace=False)]
    x = dmdts[:32]
    phi = explain("shap", model, x, background=background, seed=2)
    sm = score_model(model, "logit")
    targets = sm.targets(sm.inputs(x), None)
    expected_bg = sm.predict(sm.inputs(background)).mean(axis=0)[targets]
    gap = sm.target_scores(x, {}, targets) - expected_bg
    error = np.abs(phi.sum(axis=(1, 2, 3)) - gap).sum() / np.abs(gap).sum()
    assert error < 0.05


def _additive_model():
    """logit_k = sum_pixels W_k,p tanh(u x_p + c) + b_k: nonlinear per pixel, no interaction between pixels."""
    keras.utils.set_random_seed(3)
    inp = keras.Input((4, 4, 1))
    unit = keras.initializers.RandomNormal(stddev=1.0)
    h = keras.layers.DepthwiseConv2D(1, activation="tanh", depthwise_initializer=unit, bias_initializer=unit)(inp)
    h = keras.layers.Flatten()(h)
    return keras.Model(inp, keras.layers.Dense(2, activation="softmax", kernel_initializer=unit)(h))


def exact_shapley(model, x, background, target, players):
    """Brute force over all coalitions: v(S) = mean_b S_t(x on S, b elsewhere); players = pixel masks."""
    sm = score_model(model, "logit")
    n = len(players)
    coalitions = list(itertools.product([0, 1], repeat=n))
    masks = np.stack([sum((p for p, on in zip(players, c) if on), np.zeros_like(players[0])) for c in coalitions])
    mixed = masks[:, None] * x[None] + (1 - masks[:, None]) * background[None]
    values = sm.target_scores(mixed.reshape(-1, *x.shape).astype(np.float32), {},
                              np.full(mixed.shape[0] * mixed.shape[1], target, np.int32))
    v = dict(zip(coalitions, values.reshape(len(coalitions), -1).mean(axis=1)))
    phi = np.zeros(n)
    for c in coalitions:
        for p in range(n):
            if c[p]:
                continue
            size = sum(c)
            weight = math.factorial(size) * math.factorial(n - size - 1) / math.factorial(n)
            phi[p] += weight * (v[c[:p] + (1,) + c[p + 1:]] - v[c])
    return phi


def test_equals_brute_force_shapley_on_an_additive_model_with_8_superpixels():
    """What this proves: for a model without interactions between players (additive over superpixels,
    nonlinear within them), our expected gradients summed over each superpixel equal the exact Shapley
    values of the background-replacement game, i.e. the sampling, path and background averaging are right.
    For interacting players expected gradients are Aumann-Shapley values, not Shapley values; this test
    says nothing about that case."""
    model = _additive_model()
    rng = np.random.default_rng(4)
    x = rng.normal(size=(4, 4, 1)).astype(np.float32) * 2
    background = rng.normal(size=(8, 4, 4, 1)).astype(np.float32) * 2
    players = [np.zeros((4, 4, 1), np.float32) for _ in range(8)]
    for p in range(8):  # 2x1 superpixels
        players[p][2 * (p // 4):2 * (p // 4) + 2, p % 4] = 1
    exact = exact_shapley(model, x, background, 1, players)
    phi = explain("shap", model, x[None], targets=1, background=background, n_samples=8 * 128)[0]
    ours = np.array([(phi * p).sum() for p in players])
    np.testing.assert_allclose(ours, exact, atol=2e-3 * np.abs(exact).max())
    assert np.abs(exact).max() > 0.05  # the check has something to compare


def test_agrees_with_shap_gradient_explainer_in_expectation():
    shap = pytest.importorskip("shap")
    model = tiny_cnn(shape=(6, 6, 2), n_classes=3, head="gap")
    rng = np.random.default_rng(5)
    x, bg = rng.random((2, 6, 6, 2), np.float32), rng.random((16, 6, 6, 2), np.float32)
    theirs = np.asarray(shap.GradientExplainer(model, bg).shap_values(x, nsamples=4000, rseed=0))[..., 1]
    ours = explain("shap", model, x, targets=1, score="probability", background=bg, n_samples=4000)
    scale = np.abs(ours).max()
    assert np.abs(ours - theirs).max() < 0.1 * scale
    np.testing.assert_allclose(ours.sum(axis=(1, 2, 3)), theirs.sum(axis=(1, 2, 3)), atol=0.02 * np.abs(ours.sum(axis=(1, 2, 3))).max())


def test_needs_background():
    with pytest.raises(InputError, match="background"):
        explain("shap", tiny_cnn(), np.zeros((1, 10, 12, 3)))
