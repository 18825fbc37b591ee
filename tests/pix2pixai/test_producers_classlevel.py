"""Class-level producers: lighting equals a one-input-at-a-time loop; actmax respects its constraints."""

from __future__ import annotations

import numpy as np
import pytest

from pix2pixai.errors import InputError
from pix2pixai.producers import explain_class
from pix2pixai.producers.actmax import _project
from pix2pixai.producers.base import score_model
from tests.pix2pixai.test_producers_base import crts_cnn, crts_dmdts, tiny_cnn


def test_lighting_equals_lighting_each_pixel_alone_on_real_crts_cnn():
    model = crts_cnn()
    maps = explain_class("lighting", model, classes=[6, 0], value=5.0, batch_size=100)
    assert maps.shape == (2, 22, 24, 1)
    rng = np.random.default_rng(0)
    for r, c in zip(rng.integers(0, 22, 5), rng.integers(0, 24, 5)):
        lit = np.zeros((1, 22, 24, 1), np.float32)
        lit[0, r, c, 0] = 5.0
        probs = model.predict(lit, verbose=0)[0]
        np.testing.assert_allclose(maps[:, r, c, 0], probs[[6, 0]], rtol=1e-5, atol=1e-6)


def test_lighting_per_channel_and_all_classes_sum_to_one():
    model = tiny_cnn()
    maps = explain_class("lighting", model, value=2.0, background=0.1)
    assert maps.shape == (4, 10, 12, 3)
    np.testing.assert_allclose(maps.sum(axis=0), 1.0, rtol=1e-5)
    lit = np.full((1, 10, 12, 3), 0.1, np.float32)
    lit[0, 4, 5, 2] = 2.0
    np.testing.assert_allclose(maps[:, 4, 5, 2], model.predict(lit, verbose=0)[0], rtol=1e-5, atol=1e-6)


def test_projection_is_onto_box_with_fixed_total():
    rng = np.random.default_rng(1)
    lo, hi = np.zeros((3, 4, 1), np.float32), rng.random((3, 4, 1)).astype(np.float32) * 2
    v = rng.normal(size=(5, 3, 4, 1)).astype(np.float32)
    p = _project(v, lo, hi, total=3.0)
    np.testing.assert_allclose(p.sum(axis=(1, 2, 3)), 3.0, rtol=1e-5)
    assert np.all(p >= lo - 1e-7) and np.all(p <= hi + 1e-7)
    # optimality (KKT): p = clip(v - tau) with one tau per input
    free = (p > lo + 1e-6) & (p < hi - 1e-6)
    for i in range(5):
        tau = (v[i] - p[i])[free[i]]
        np.testing.assert_allclose(tau, tau[0], atol=1e-5)


def test_actmax_on_real_crts_cnn_raises_class_score_within_constraints():
    model, dmdts = crts_cnn(), crts_dmdts()
    lo, hi = dmdts.min(axis=0), dmdts.max(axis=0)
    total = float(np.median(dmdts.sum(axis=(1, 2, 3))))
    maps = explain_class("actmax", model, classes=[6, 1], bounds=(lo, hi), total=total, steps=60, restarts=2, seed=0)
    assert maps.shape == (2, 22, 24, 1)
    np.testing.assert_allclose(maps.sum(axis=(1, 2, 3)), total, rtol=1e-4)
    assert np.all(maps >= 0) and np.all(maps <= hi + 1e-5)
    logits = score_model(model, "logit")
    scores = logits.predict(logits.inputs(maps))
    start = logits.predict(logits.inputs(_project(np.full((1, *lo.shape), total / lo.size, np.float32), lo, hi, total)))
    assert scores[0, 6] > start[0, 6] and scores[1, 1] > start[0, 1]
    np.testing.assert_array_equal(
        maps, explain_class("actmax", model, classes=[6, 1], bounds=(lo, hi), total=total, steps=60, restarts=2, seed=0))


def test_actmax_needs_bounds_and_a_feasible_total():
    model = tiny_cnn()
    with pytest.raises(InputError, match="bounds"):
        explain_class("actmax", model)
    with pytest.raises(InputError, match="total"):
        explain_class("actmax", model, bounds=(0.0, 1.0), total=1e6)
