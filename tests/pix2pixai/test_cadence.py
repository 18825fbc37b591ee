"""Cadence diagnostics against analytic lag distributions and plain all-pairs histograms."""

from __future__ import annotations

import numpy as np
import pytest

from pix2pixai.data.cadence import cadence_report, kl_from_uniform, suggest_dt_edges
from pix2pixai.data.dmdt_images import DMDT_PRESETS
from pix2pixai.data.lightcurves import LightCurve
from pix2pixai.errors import InputError


def curve_from_times(t: np.ndarray, lcid: str = "c") -> LightCurve:
    return LightCurve(lcid, t, np.zeros_like(t), np.full_like(t, 0.1))


def all_pair_lags(curves: list[LightCurve]) -> np.ndarray:
    lags = []
    for c in curves:
        t = np.sort(c.mjd)
        i, j = np.triu_indices(t.size, 1)
        lags.append(t[j] - t[i])
    return np.concatenate(lags)


def test_kl_is_zero_for_the_reference_shape_and_minus_log_share_for_one_bin():
    edges = np.array([1.0, 2.0, 4.0, 10.0])
    assert kl_from_uniform(np.diff(edges) * 7, edges, log=False) == pytest.approx(0.0, abs=1e-12)
    assert kl_from_uniform(np.array([3, 3, 0]), np.array([1.0, 2.0, 4.0, 8.0]), log=True) == pytest.approx(
        np.log(3 / 2), abs=1e-12)
    assert kl_from_uniform(np.array([0, 5, 0]), edges, log=False) == pytest.approx(-np.log(2 / 9))


def test_uniform_gaps_are_uniform_and_log_uniform_gaps_are_log_uniform():
    rng = np.random.default_rng(0)
    uniform = [curve_from_times(np.cumsum(rng.uniform(1.0, 3.0, 100)), str(k)) for k in range(400)]
    report = cadence_report(uniform, "crts")
    assert report.kl_gaps_uniform < 0.01
    assert report.kl_gaps_log_uniform > 0.02
    log_uniform = [curve_from_times(np.cumsum(np.exp(rng.uniform(np.log(0.01), np.log(100.0), 100))), str(k))
                   for k in range(400)]
    report = cadence_report(log_uniform, "crts")
    assert report.kl_gaps_log_uniform < 0.01
    assert report.kl_gaps_uniform > 1.0


def test_all_pair_lags_of_uniform_times_are_triangular():
    # lags of n uniform times on [0, T] have density 2 (T - d) / T^2: KL from uniform = log 2 - 1/2
    rng = np.random.default_rng(1)
    report = cadence_report([curve_from_times(rng.uniform(0, 1000, 1500))], "crts")
    assert report.kl_pairs_uniform == pytest.approx(np.log(2) - 0.5, abs=0.01)


def test_preset_bins_and_zero_lags_match_a_plain_histogram():
    rng = np.random.default_rng(2)
    curves = [curve_from_times(np.concatenate([[0.0, 0.0], rng.uniform(0, 5000, int(n))]), str(k))
              for k, n in enumerate(rng.integers(5, 80, 6))]
    report = cadence_report(curves, "crts", n_bins=8)
    lags = all_pair_lags(curves)
    dt_edges = DMDT_PRESETS["crts"].dt_edges
    np.testing.assert_array_equal(report.pairs_per_dt_bin, np.histogram(lags, dt_edges)[0])
    assert report.n_pairs == lags.size and report.pairs_out_of_range == np.count_nonzero(lags > 4000)
    assert report.n_zero_lag_pairs == np.count_nonzero(lags == 0) >= 6
    assert report.fine_pair_counts.sum() == lags.size
    assert report.suggested_dt_edges.size == 9
    table = report.to_table()
    assert "'crts'" in table and "out of range" in table and len(table.splitlines()) == 6 + 24 + 2


def test_suggested_edges_give_near_equal_pair_counts():
    rng = np.random.default_rng(3)
    curves = [curve_from_times(np.sort(rng.uniform(0, 3000, 150)) + rng.choice([0.0, 0.01], 150), str(k))
              for k in range(8)]
    edges = suggest_dt_edges(curves, 10)
    lags = all_pair_lags(curves)
    counts = np.histogram(lags, edges)[0]
    assert edges[0] == 0 and edges[-1] == lags.max() and np.all(np.diff(edges) > 0)
    np.testing.assert_allclose(counts, lags.size / 10, rtol=0.02)


def test_bad_inputs_are_refused():
    with pytest.raises(InputError, match="no light curves"):
        cadence_report([])
    with pytest.raises(InputError, match="lag is 0"):
        cadence_report([curve_from_times(np.zeros(3))])
    with pytest.raises(InputError, match="n_bins"):
        suggest_dt_edges([curve_from_times(np.arange(5.0))], 0)
