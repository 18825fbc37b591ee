"""Integrated gradients: exact on linear scores, complete on the real CRTS CNN, quadrature rules."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter

from pix2pixai.errors import InputError
from pix2pixai.producers import explain
from pix2pixai.producers.base import score_model
from pix2pixai.producers.integrated_gradients import make_baselines, quadrature
from tests.pix2pixai.test_producers_base import crts_cnn, crts_dmdts
from tests.pix2pixai.test_producers_shap import _linear_model


@pytest.mark.parametrize("rule", ["middle", "trapezoid", "left", "right"])
def test_linear_logit_gives_w_times_x_minus_baseline(rule):
    model = _linear_model()
    x = np.random.default_rng(0).normal(size=(3, 6, 5, 2)).astype(np.float32)
    ig = explain("integrated-gradients", model, x, targets=1, steps=5, rule=rule)
    w = model.layers[-1].kernel.numpy()[:, 1].reshape(6, 5, 2)
    np.testing.assert_allclose(ig, w * x, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("rule,steps,tolerance", [("middle", 64, 0.015), ("trapezoid", 64, 0.04), ("middle", 256, 0.004)])
def test_completeness_on_real_crts_cnn(rule, steps, tolerance):
    model, x = crts_cnn(), crts_dmdts()[:32]
    sm = score_model(model, "logit")
    targets = sm.targets(sm.inputs(x), None)
    gap = sm.target_scores(x, {}, targets) - sm.target_scores(np.zeros_like(x), {}, targets)
    ig = explain("integrated-gradients", model, x, steps=steps, rule=rule)
    assert np.abs(ig.sum(axis=(1, 2, 3)) - gap).sum() / np.abs(gap).sum() < tolerance


def test_quadrature_weights_integrate_polynomials():
    for rule, exact_degree in (("middle", 1), ("trapezoid", 1), ("left", 0), ("right", 0)):
        a, w = quadrature(8, rule)
        assert w.sum() == pytest.approx(1.0)
        for degree in range(exact_degree + 1):
            assert (w * a**degree).sum() == pytest.approx(1 / (degree + 1), rel=1e-6)
    with pytest.raises(InputError, match="rule"):
        quadrature(4, "simpson")


def test_baselines():
    x = np.random.default_rng(1).random((2, 9, 9, 2), np.float32)
    np.testing.assert_array_equal(make_baselines(x, "zero", 1.0, 0), 0)
    blurred = make_baselines(x, "blur", 2.0, 0)
    np.testing.assert_allclose(blurred[1, ..., 1], gaussian_filter(x[1, ..., 1], 2.0, mode="nearest"), rtol=1e-5)
    noise = make_baselines(x, "uniform", 1.0, 3)
    np.testing.assert_array_equal(noise, make_baselines(x, "uniform", 1.0, 3))
    assert np.all(noise >= x.min(axis=(1, 2, 3), keepdims=True)) and np.all(noise <= x.max(axis=(1, 2, 3), keepdims=True))
    with pytest.raises(InputError, match="baseline"):
        make_baselines(x, "mean", 1.0, 0)
