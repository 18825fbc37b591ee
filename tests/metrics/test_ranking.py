"""pix2pixai.metrics.ranking against skimage pair loops, scipy and brute-force counts."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import stats
from skimage.metrics import structural_similarity

from pix2pixai.metrics.ranking import (
    fidelity_ranking,
    kendall_tau,
    medoid_ranking,
    pixel_median,
    rank_order,
    topk_agreement,
    trimmed_mean,
)


def sk_ssim(a, b, data_range=1.0):
    return structural_similarity(a, b, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                 data_range=data_range)


def test_rank_order_is_best_first_with_index_tie_break_and_nan_last():
    np.testing.assert_array_equal(rank_order(np.array([0.5, 0.9, np.nan, 0.5, 0.9, -1.0])), [1, 4, 0, 3, 5, 2])


def test_fidelity_ranking_orders_by_reconstruction_quality():
    rng = np.random.default_rng(0)
    targets = rng.uniform(0, 1, (6, 32, 32))
    noise = np.array([0.3, 0.01, 0.5, 0.1, 0.05, 0.2])  # known quality order: 1, 4, 3, 5, 0, 2
    generated = np.clip(targets + noise[:, None, None] * rng.normal(size=targets.shape), 0, 1)
    order, scores = fidelity_ranking(generated, targets, data_range=1.0)
    np.testing.assert_array_equal(order, [1, 4, 3, 5, 0, 2])
    np.testing.assert_allclose(scores, [sk_ssim(g, t) for g, t in zip(generated, targets)], atol=1e-6)


def test_medoid_ranking_equals_brute_force_and_puts_the_outlier_last():
    rng = np.random.default_rng(1)
    base = rng.uniform(0, 1, (22, 24))
    maps = np.clip(base + rng.normal(scale=[[[0.05]], [[0.1]], [[0.2]], [[0.15]], [[0.1]]], size=(5, 22, 24)), 0, 1)
    maps = np.concatenate([maps, rng.uniform(0, 1, (1, 22, 24))])  # index 5: unrelated
    order, scores = medoid_ranking(maps, data_range=1.0)
    ref = [np.mean([sk_ssim(maps[i], maps[j]) for j in range(6) if j != i]) for i in range(6)]
    np.testing.assert_allclose(scores, ref, atol=1e-6)
    assert order[-1] == 5 and order[0] == 0


def test_medoid_of_one_map_is_nan():
    order, scores = medoid_ranking(np.zeros((1, 16, 16)), data_range=1.0)
    np.testing.assert_array_equal(order, [0])
    assert np.isnan(scores[0])


def test_trimmed_mean_matches_scipy_and_resists_outliers():
    rng = np.random.default_rng(2)
    maps = rng.normal(size=(20, 5, 6))
    np.testing.assert_allclose(trimmed_mean(maps, 0.1), stats.trim_mean(maps, 0.1, axis=0), rtol=1e-12)
    spiked = maps.copy()
    spiked[0] = 1e6
    np.testing.assert_allclose(trimmed_mean(spiked, 0.1), trimmed_mean(maps, 0.1), atol=0.5)
    with pytest.raises(ValueError, match="proportion"):
        trimmed_mean(maps, 0.5)


def test_pixel_median_is_the_middle_map_of_shifted_copies():
    base = np.arange(12.0).reshape(3, 4)
    maps = base[None] + np.array([3.0, -1.0, 0.0, 10.0, -7.0])[:, None, None]
    np.testing.assert_array_equal(pixel_median(maps), base)


def brute_tau_b(a, b):
    s = sum(np.sign(a[i] - a[j]) * np.sign(b[i] - b[j]) for i, j in itertools.combinations(range(len(a)), 2))
    n0 = len(a) * (len(a) - 1) / 2
    ties = lambda v: sum(v[i] == v[j] for i, j in itertools.combinations(range(len(v)), 2))  # noqa: E731
    return s / np.sqrt((n0 - ties(a)) * (n0 - ties(b)))


def test_kendall_tau_b_against_pair_count():
    rng = np.random.default_rng(3)
    a = rng.integers(0, 5, 30).astype(float)  # many ties
    b = a + rng.integers(0, 3, 30)
    assert kendall_tau(a, b) == pytest.approx(brute_tau_b(a, b), abs=1e-12)
    assert kendall_tau(a, b) == pytest.approx(stats.kendalltau(a, b).statistic, abs=1e-12)
    assert kendall_tau(np.arange(5.0), -np.arange(5.0)) == pytest.approx(-1.0)
    with pytest.raises(ValueError, match="equal length"):
        kendall_tau(a, b[:-1])


def test_topk_agreement():
    assert topk_agreement(np.array([3, 1, 2, 0]), np.array([1, 3, 0, 2]), 2) == 1.0
    assert topk_agreement(np.array([3, 1, 2, 0]), np.array([2, 0, 1, 3]), 2) == 0.0
    assert topk_agreement(np.array([3, 1, 2, 0]), np.array([3, 2, 0, 1]), 3) == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="k must be"):
        topk_agreement(np.arange(4), np.arange(4), 5)
