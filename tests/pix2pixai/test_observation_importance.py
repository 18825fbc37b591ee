"""observation_importance: a hand-worked curve, a per-pair reference loop, conservation as a property
and on the real CRTS curves, and independence of the order the points come in."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pix2pixai.data.dmdt_images import DMDT_PRESETS, dmdt_counts
from pix2pixai.data.lightcurves import read_lightcurves_npz
from pix2pixai.data.lightcurve_importance import observation_importance
from pix2pixai.errors import InputError
from tests.conftest import shared_path

CRTS = DMDT_PRESETS["crts"]


def _pair_loop(mjd, mag, attribution, preset=CRTS):
    """Reference: every pair i < j of the (mjd, mag)-sorted curve, binned by np.histogram2d one at a
    time; each bin's value shared equally among its pairs, each pair's share halved between its points."""
    order = np.lexsort((mag, mjd))
    t, m = mjd[order], mag[order]
    pairs = []
    for i in range(t.size):
        for j in range(i + 1, t.size):
            hist, _, _ = np.histogram2d([m[j] - m[i]], [t[j] - t[i]], bins=[preset.dm_edges, preset.dt_edges])
            if hist.sum():
                pairs.append((i, j, tuple(np.argwhere(hist)[0])))
    per_bin = {}
    for _, _, cell in pairs:
        per_bin[cell] = per_bin.get(cell, 0) + 1
    out = np.zeros(t.size)
    for i, j, cell in pairs:
        out[i] += attribution[cell] / per_bin[cell] / 2
        out[j] += attribution[cell] / per_bin[cell] / 2
    result = np.empty(t.size)
    result[order] = out
    return result


def test_hand_worked_four_point_curve():
    # times 0, 1, 2, 30 d; mags 15.0, 15.25, 15.0, 16.0 (binary-exact differences). Pairs (dm, dt), crts bins:
    #  (0,1): +0.25, 1 d  -> dm bin [0.2, 0.3) = row 13, dt bin [3/25, 1.5) = col 7
    #  (0,2):  0.0,  2 d  -> dm bin [0, 0.1) = row 11, dt bin [1.5, 2.5) = col 8
    #  (1,2): -0.25, 1 d  -> dm bin [-0.3, -0.2) = row 8, col 7
    #  (0,3): +1.0, 30 d  -> dm bin [1, 1.5) = row 16, dt bin [30, 60) = col 16
    #  (1,3): +0.75, 29 d -> dm bin [0.5, 1) = row 15, dt bin [20, 30) = col 15
    #  (2,3): +1.0, 28 d  -> row 16, col 15
    attribution = np.zeros(CRTS.shape)
    attribution[13, 7] = 2.0    # pair (0,1) alone: 1 to each point
    attribution[11, 8] = 4.0    # pair (0,2) alone: 2 to each
    attribution[16, 16] = -6.0  # pair (0,3) alone: -3 to each
    attribution[0, 0] = 100.0   # an empty bin: nobody gets its value
    got = observation_importance(np.array([0.0, 1.0, 2.0, 30.0]), np.array([15.0, 15.25, 15.0, 16.0]), attribution)
    np.testing.assert_allclose(got, [1 + 2 - 3, 1.0, 2.0, -3.0])


def test_equals_the_per_pair_loop_with_shared_bins_and_out_of_range_pairs():
    rng = np.random.default_rng(0)
    mjd = np.concatenate([rng.uniform(0, 50, 25), [0.0, 0.0, 9000.0]])  # a tie in time, a pair beyond the dt edges
    mag = 15 + rng.normal(0, 0.4, mjd.size)
    attribution = rng.normal(size=CRTS.shape)
    np.testing.assert_allclose(observation_importance(mjd, mag, attribution), _pair_loop(mjd, mag, attribution),
                               atol=1e-12)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 4000), st.floats(10, 20)), min_size=2, max_size=40), st.integers(0, 2**31))
def test_importances_conserve_the_attribution_of_occupied_bins(points, seed):
    mjd, mag = np.array(points).T
    attribution = np.random.default_rng(seed).normal(size=(*CRTS.shape, 1))
    occupied = dmdt_counts([mjd], [mag], CRTS)[0] > 0
    got = observation_importance(mjd, mag, attribution)
    assert got.sum() == pytest.approx(attribution[..., 0][occupied].sum(), abs=1e-9)
    order = np.random.default_rng(seed).permutation(mjd.size)
    np.testing.assert_allclose(observation_importance(mjd[order], mag[order], attribution), got[order], atol=1e-12)


def test_conservation_on_real_crts_curves():
    curves = read_lightcurves_npz(shared_path("crts-lightcurves-kvmu", "lightcurves.npz"))[:200]
    rng = np.random.default_rng(1)
    for curve in curves:
        attribution = rng.normal(size=CRTS.shape)
        occupied = dmdt_counts([curve.mjd], [curve.mag], CRTS)[0] > 0
        total = observation_importance(curve.mjd, curve.mag, attribution).sum()
        assert total == pytest.approx(attribution[occupied].sum(), rel=1e-9, abs=1e-9)


def test_wrong_shapes_are_refused():
    with pytest.raises(InputError, match=r"expected \(22, 24\)"):
        observation_importance(np.arange(3.0), np.zeros(3), np.zeros((26, 26)))
    with pytest.raises(InputError, match="equal 1-D shapes"):
        observation_importance(np.arange(3.0), np.zeros(2), np.zeros((22, 24)))
