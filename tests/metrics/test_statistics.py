"""metrics.statistics against independent references: exact Wilcoxon by enumeration, scipy's bootstrap,
a hand-worked Holm adjustment, and the coverage of the interval on known distributions."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import stats

from pix2pixai.metrics.statistics import bootstrap_interval, holm, mean_interval, paired_comparison


def _exact_wilcoxon_p(diff: np.ndarray) -> float:
    """Two-sided exact signed-rank p-value by enumerating all 2^n sign patterns (no ties, no zeros)."""
    ranks = stats.rankdata(np.abs(diff))
    observed = ranks[diff > 0].sum()
    expected = ranks.sum() / 2
    sums = np.array([sum(r for r, s in zip(ranks, signs) if s) for signs in itertools.product([0, 1], repeat=diff.size)])
    return float(np.mean(np.abs(sums - expected) >= abs(observed - expected) - 1e-12))


def test_identical_candidates_give_delta_zero_and_p_one():
    scores = np.random.default_rng(0).normal(size=30)
    result = paired_comparison(scores, scores.copy())
    assert result.delta == 0 and result.ci == (0.0, 0.0) and result.p == 1.0 and result.n == 30


def test_paired_p_value_equals_exact_enumeration():
    rng = np.random.default_rng(1)
    a = rng.normal(size=10)
    b = a - 0.4 + rng.normal(scale=0.5, size=10)
    result = paired_comparison(a, b)
    assert result.p == pytest.approx(_exact_wilcoxon_p(a - b), abs=1e-9)
    assert result.delta == pytest.approx(np.mean(a - b))
    assert result.ci[0] <= result.delta <= result.ci[1]


def test_a_clear_shift_is_significant_and_its_interval_excludes_zero():
    rng = np.random.default_rng(2)
    a = rng.normal(size=60)
    result = paired_comparison(a + 1.0 + rng.normal(scale=0.3, size=60), a)
    assert result.p < 1e-6 and result.ci[0] > 0.5


def test_mean_interval_agrees_with_scipy_bootstrap():
    values = np.random.default_rng(3).exponential(size=80)
    mean, low, high = mean_interval(values, n_boot=4000, seed=0)
    reference = stats.bootstrap((values,), np.mean, n_resamples=4000, method="percentile", random_state=0)
    width = reference.confidence_interval.high - reference.confidence_interval.low
    assert mean == pytest.approx(values.mean())
    assert low == pytest.approx(reference.confidence_interval.low, abs=0.1 * width)
    assert high == pytest.approx(reference.confidence_interval.high, abs=0.1 * width)


def test_interval_covers_the_true_mean_about_95_percent_of_the_time():
    rng = np.random.default_rng(4)
    covered = [low <= 0 <= high for low, high in
               (mean_interval(rng.normal(size=50), n_boot=500, seed=k)[1:] for k in range(300))]
    assert 0.90 <= np.mean(covered) <= 0.98


def test_bootstrap_is_deterministic_for_a_seed_and_resamples_pairs_together():
    a = np.arange(20.0)
    first = bootstrap_interval(lambda x, y: (x - y).mean(axis=1), a, a + 1.0, seed=7)
    assert first == bootstrap_interval(lambda x, y: (x - y).mean(axis=1), a, a + 1.0, seed=7)
    assert first == (-1.0, -1.0, -1.0)  # paired rows stay together: every draw has difference -1


def test_holm_matches_a_hand_worked_example():
    adjusted = holm(np.array([0.01, 0.04, 0.03, 0.005]))
    # sorted: 0.005*4 = 0.02, 0.01*3 = 0.03, 0.03*2 = 0.06, 0.04*1 = 0.04 -> monotone 0.06
    np.testing.assert_allclose(adjusted, [0.03, 0.06, 0.06, 0.02])
    assert holm(np.array([0.9, 0.8])).max() == 1.0


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError):
        paired_comparison(np.zeros(3), np.zeros(4))
    with pytest.raises(ValueError):
        mean_interval(np.zeros(3), level=1.5)
