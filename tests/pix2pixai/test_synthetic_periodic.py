"""Synthetic periodic variables: cadences, error model, class shapes, determinism, realism.

Independent references: the real CRTS curves (cadence and errors), Lomb-Scargle periodograms from
astropy (periods), a plain FFT (RRd period ratio), closed-form light-curve properties, and the real
CRTS CNN, never trained on our data (realism).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import norm

from pix2pixai.data.classes import CRTS_CLASSES
from pix2pixai.data.synthetic.cadences import (
    CRTS_ERRORS,
    DAYS_PER_YEAR,
    ZTF_ERRORS,
    crts_cadence,
    ztf_cadence,
)
from pix2pixai.data.synthetic.periodic import CLASS_MODELS, simulate_periodic
from pix2pixai.errors import InputError
from tests.conftest import shared_path

REALISM_CLASSES = ("EW", "EA", "RRab", "RRc", "LPV")


def _largest_yearly_gap(mjd: np.ndarray) -> float:
    """Longest stretch of the year (days) with no observation, from times folded modulo one year."""
    folded = np.sort(np.mod(mjd, DAYS_PER_YEAR))
    return float(np.diff(np.concatenate([folded, folded[:1] + DAYS_PER_YEAR])).max())


def _real_crts():
    path = shared_path("crts-lightcurves-kvmu", "lightcurves.npz")
    with np.load(path) as z:
        return {key: z[key] for key in ("labels", "offsets", "mjd", "mag", "magerr")}


# --- cadences -----------------------------------------------------------------------------------------


def test_crts_cadence_groups_visits_seasons_and_baseline():
    rng = np.random.default_rng(3)
    cadences = [crts_cadence(rng) for _ in range(40)]
    for mjd in cadences:
        assert mjd.dtype == np.float64 and np.all(np.diff(mjd) >= 0)
        assert 6.5 * DAYS_PER_YEAR <= np.ptp(mjd) <= 8.5 * DAYS_PER_YEAR  # window minus the off-season ends
        assert DAYS_PER_YEAR - 240 <= _largest_yearly_gap(mjd) <= DAYS_PER_YEAR - 150
        steps = np.diff(mjd)
        within_visit = steps[steps < 0.1]
        assert 0.006 < np.median(within_visit) < 0.0075 and np.all(within_visit < 0.02)  # ~10 min apart
        between_visits = steps[steps >= 0.1]
        assert np.all(between_visits > 0.5) and np.mean(between_visits < 3.0) < 0.1  # not nightly
        assert 2.5 < mjd.size / (steps >= 0.1).sum() < 4.5  # ~4 exposures per visit
    assert 100 <= np.median([m.size for m in cadences]) <= 500


def test_crts_cadence_matches_real_sampling():
    real = _real_crts()
    offsets = real["offsets"]
    real_points = np.diff(offsets)
    real_gaps = np.concatenate([np.diff(np.sort(real["mjd"][a:b])) for a, b in zip(offsets[:-1:10], offsets[1::10])])
    rng = np.random.default_rng(0)
    sim = [crts_cadence(rng) for _ in range(300)]
    sim_gaps = np.concatenate([np.diff(m) for m in sim])
    sim_points = np.array([m.size for m in sim])
    for q in (10, 50, 90):
        assert np.percentile(sim_points, q) == pytest.approx(np.percentile(real_points, q), rel=0.15)
    for gaps in (real_gaps, sim_gaps):
        assert 0.70 < np.mean(gaps < 0.1) < 0.80  # share of within-visit steps
    night_real, night_sim = (np.median(g[(g > 0.5) & (g < 60)]) for g in (real_gaps, sim_gaps))
    assert abs(night_sim - night_real) < 0.3 * night_real


def test_crts_cadence_gives_the_real_dmdt_time_axis():
    """The share of point pairs per dmdt dt bin depends on the cadence only: compare with real curves."""
    from pix2pixai.data.dmdt_images import dmdt

    real = _real_crts()
    offsets = real["offsets"]
    real_times = [real["mjd"][a:b] for a, b in zip(offsets[:-1:40], offsets[1::40])]
    real_times = [t for t in real_times if t.min() > 40000]  # one real curve has a corrupted MJD
    rng = np.random.default_rng(0)
    sim_times = [crts_cadence(rng) for _ in range(150)]

    def pairs_per_dt_bin(times: list[np.ndarray]) -> np.ndarray:
        per_bin = dmdt(times, [np.zeros_like(t) for t in times], preset="crts").sum(axis=1)
        return (per_bin / per_bin.sum(axis=1, keepdims=True)).mean(axis=0)

    total_variation = 0.5 * np.abs(pairs_per_dt_bin(real_times) - pairs_per_dt_bin(sim_times)).sum()
    assert total_variation < 0.06


def test_ztf_cadence_alternates_bands_every_few_days():
    rng = np.random.default_rng(5)
    mjd, band = ztf_cadence(rng)
    steps = np.diff(mjd)
    assert mjd.dtype == np.float64 and np.all(steps >= 1.0)
    assert set(band) == {"g", "r"} and np.all(band[1:] != band[:-1])
    assert 2.0 <= np.median(steps[steps < 60]) <= 3.0
    assert np.ptp(mjd) <= 3.5 * DAYS_PER_YEAR and _largest_yearly_gap(mjd) >= DAYS_PER_YEAR - 240


# --- photometric errors -------------------------------------------------------------------------------


def test_error_model_rises_towards_faint_end():
    mags = np.linspace(12, 21, 50)
    for model in (CRTS_ERRORS, ZTF_ERRORS):
        assert np.all(np.diff(model.sigma(mags)) > 0) and np.all(np.diff(model.scatter(mags)) > 0)
    assert CRTS_ERRORS.sigma(14.0) == pytest.approx(0.055, abs=0.01)
    assert CRTS_ERRORS.sigma(19.5) == pytest.approx(0.22, abs=0.02)


def test_error_model_draws_core_scatter_and_a_few_outliers():
    rng = np.random.default_rng(11)
    for true_mag in (14.0, 17.0, 19.5):
        true = np.full(40000, true_mag)
        observed, magerr = CRTS_ERRORS.observe(rng, true)
        core = CRTS_ERRORS.scatter(true_mag)
        deviation = observed - true
        robust_sigma = 1.4826 * np.median(np.abs(deviation))
        assert np.array_equal(magerr, CRTS_ERRORS.sigma(true))
        assert robust_sigma == pytest.approx(core, rel=0.05)
        assert abs(deviation.mean()) < 0.05 * core
        wide = np.hypot(CRTS_ERRORS.outlier_floor, CRTS_ERRORS.outlier_factor * core)
        f = CRTS_ERRORS.outlier_fraction
        beyond_5_core = f * 2 * norm.sf(5 * core / wide) + (1 - f) * 2 * norm.sf(5.0)  # mixture tail
        assert np.mean(np.abs(deviation) > 5 * core) == pytest.approx(beyond_5_core, rel=0.2)


def _real_exposure_pairs(real: dict) -> tuple[np.ndarray, np.ndarray]:
    """Magnitude differences and magnitudes of consecutive real exposures < 45 min apart, in classes
    that do not change measurably within 45 min (EA outside eclipse mostly, RS CVn, LPV)."""
    steady = np.isin(real["labels"], ["EA", "RS_CVn", "LPV"])
    offsets = real["offsets"]
    diffs, mags = [], []
    for i in np.flatnonzero(steady):
        mjd, mag = real["mjd"][offsets[i]:offsets[i + 1]], real["mag"][offsets[i]:offsets[i + 1]]
        order = np.lexsort((mag, mjd))
        close = np.diff(mjd[order]) < 0.03
        diffs.append(np.diff(mag[order])[close])
        mags.append(mag[order][1:][close])
    return np.concatenate(diffs), np.concatenate(mags)


def test_crts_error_model_matches_real_magerr_and_scatter():
    real = _real_crts()
    diffs, pair_mags = _real_exposure_pairs(real)
    for low in (12.0, 13.0, 14.0, 15.0, 16.0, 17.0, 18.0, 19.0, 19.5):
        in_bin = (real["mag"] >= low) & (real["mag"] < low + 0.5)
        assert CRTS_ERRORS.sigma(low + 0.25) == pytest.approx(np.median(real["magerr"][in_bin]), rel=0.05)
    for low in (13.5, 14.5, 15.5, 16.5, 17.5, 18.5):
        d = diffs[(pair_mags >= low) & (pair_mags < low + 0.5)]
        robust_sigma = 1.4826 * np.median(np.abs(d - np.median(d))) / np.sqrt(2)
        assert CRTS_ERRORS.scatter(low + 0.25) == pytest.approx(robust_sigma, rel=0.15)


# --- class light-curve shapes (noiseless, straight from the class models) ------------------------------


def _one_curve_model(name: str, seed: int, t: np.ndarray) -> tuple[dict, np.ndarray]:
    """Draw one curve's parameters of class ``name`` and evaluate its noiseless delta-mag at ``t``."""
    params = CLASS_MODELS[name].draw(np.random.default_rng(seed), 1)
    per_point = {k: np.repeat(v, t.size, axis=0) for k, v in params.items()}
    return params, CLASS_MODELS[name].delta_mag(t, per_point)


@pytest.mark.parametrize("seed", range(5))
def test_ew_minima_near_equal_and_continuous(seed):
    params, _ = _one_curve_model("EW", seed, np.zeros(1))
    period = params["period"][0]
    t = np.linspace(0.0, period, 4001)
    _, dm = _one_curve_model("EW", seed, t)
    phase = np.mod(t / period + params["phase0"][0], 1.0)
    first = dm[np.abs(phase - 0.5) < 0.25].max()
    second = dm[np.abs(phase - 0.5) >= 0.25].max()
    amplitude = np.ptp(dm)
    assert 0.2 <= amplitude <= 0.95 and 0.25 <= period <= 0.6
    assert abs(first - second) <= 0.15 * amplitude  # near-equal minima
    assert np.mean(dm > dm.min() + 0.1 * amplitude) > 0.6  # varies all the time (no flat maximum)


@pytest.mark.parametrize("seed", range(5))
def test_ea_flat_maxima_narrow_unequal_eclipses(seed):
    params, _ = _one_curve_model("EA", seed, np.zeros(1))
    t = np.linspace(0.0, params["period"][0], 4001)
    _, dm = _one_curve_model("EA", seed, t)
    assert np.mean(np.abs(dm - np.median(dm)) < 0.04) > 0.6  # mostly out of eclipse
    assert 0.3 <= dm.max() <= 1.25


@pytest.mark.parametrize("seed", range(5))
def test_rrab_rises_fast_and_decays_slowly(seed):
    params, _ = _one_curve_model("RRab", seed, np.zeros(1))
    period = params["period"][0]
    t = np.linspace(0.0, 3 * period, 6001)
    _, dm = _one_curve_model("RRab", seed, t)
    brightening = np.mean(np.diff(dm) < 0)
    assert brightening < 0.25  # magnitudes fall (star brightens) during < 1/4 of the cycle
    assert 0.6 <= np.ptp(dm) <= 1.3 and 0.45 <= period <= 0.8


def test_rrd_beats_two_modes_with_period_ratio_0745():
    t = np.arange(0.0, 400.0, 0.01)
    params, dm = _one_curve_model("RRd", 7, t)
    power = np.abs(np.fft.rfft(dm - dm.mean())) ** 2
    freq = np.fft.rfftfreq(t.size, 0.01)
    strongest = freq[np.argsort(power)[::-1]]
    f_overtone = strongest[0]
    f_fundamental = next(f for f in strongest[1:] if abs(f - f_overtone) > 0.2 and f < f_overtone)
    assert f_fundamental / f_overtone == pytest.approx(0.745, abs=0.005)
    assert 1 / f_fundamental == pytest.approx(params["period0"][0], rel=0.01)


def test_rscvn_spot_wave_evolves_between_seasons():
    params, _ = _one_curve_model("RS_CVn", 2, np.zeros(1))
    period = params["period"][0]
    amplitudes = []
    for year in range(6):
        t = year * DAYS_PER_YEAR + np.linspace(0.0, period, 500)
        amplitudes.append(np.ptp(_one_curve_model("RS_CVn", 2, t)[1]))
    assert max(amplitudes) <= 0.3 * 1.3 + 1e-9
    assert max(amplitudes) - min(amplitudes) > 0.1 * max(amplitudes)


# --- simulate_periodic ---------------------------------------------------------------------------------


def test_simulate_is_deterministic_and_seed_dependent():
    a = simulate_periodic(3, seed=4)
    b = simulate_periodic(3, seed=4)
    c = simulate_periodic(3, seed=5)
    assert [x.lcid for x in a] == [x.lcid for x in b]
    assert all(np.array_equal(x.mjd, y.mjd) and np.array_equal(x.mag, y.mag) for x, y in zip(a, b))
    assert not all(x.mag.size == y.mag.size and np.array_equal(x.mag, y.mag) for x, y in zip(a, c))


def test_class_stream_does_not_depend_on_other_classes():
    alone = simulate_periodic({"RRc": 2}, seed=9, classes=("RRc",))
    mixed = [x for x in simulate_periodic(2, seed=9) if x.label == "RRc"]
    assert [np.array_equal(x.mag, y.mag) for x, y in zip(alone, mixed)] == [True, True]


def test_simulate_counts_labels_and_ids():
    curves = simulate_periodic({"EW": 2, "RSCVn": 1}, seed=0, classes=("EW", "EA", "RS_CVn"))
    assert [c.label for c in curves] == ["EW", "EW", "RS_CVn"]
    assert [c.lcid for c in curves] == ["sim-crts-EW-00000", "sim-crts-EW-00001", "sim-crts-RS_CVn-00000"]
    for c in curves:
        assert c.band is None and np.all(np.diff(c.mjd) >= 0) and np.all(c.magerr > 0)
        assert np.mean(np.isclose(c.magerr, CRTS_ERRORS.sigma(c.mag), rtol=0.15)) > 0.95  # reported at the true mag


def test_ztf_bands_carry_the_class_colour():
    curves = simulate_periodic(20, seed=1, classes=("LPV", "RRc"), survey="ztf")
    for name, (low, high) in (("LPV", (1.0, 2.0)), ("RRc", (0.1, 0.3))):
        colours = [np.median(c.mag[c.band == "g"]) - np.median(c.mag[c.band == "r"]) for c in curves if c.label == name]
        assert low - 0.3 < np.median(colours) < high + 0.3


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"n_per_class": -1, "seed": 0}, "non-negative integer"),
        ({"n_per_class": 1.5, "seed": 0}, "non-negative integer"),
        ({"n_per_class": {"Cepheid": 1}, "seed": 0}, "unknown CRTS class"),
        ({"n_per_class": {"EW": 1}, "seed": 0, "classes": ("EA",)}, "not in classes"),
        ({"n_per_class": 1, "seed": -3}, "seed"),
        ({"n_per_class": 1, "seed": 0, "classes": ("RSCVn", "RS_CVn")}, "only once"),
        ({"n_per_class": 1, "seed": 0, "survey": "lsst"}, "expected one of crts, ztf"),
    ],
)
def test_bad_input_raises_input_error(kwargs, message):
    with pytest.raises(InputError, match=message):
        simulate_periodic(**kwargs)


def test_periods_recovered_by_lomb_scargle():
    from astropy.timeseries import LombScargle

    ranges = {"RRab": (0.45, 0.8), "RRc": (0.25, 0.42), "LPV": (100.0, 600.0)}
    curves = simulate_periodic({name: 5 for name in ranges}, seed=2, classes=tuple(ranges))
    hits = []
    for c in curves:
        low, high = ranges[c.label]
        freq = np.linspace(1 / (2 * high), 2 / low, 50000 if c.label != "LPV" else 4000)
        power = LombScargle(c.mjd, c.mag, c.magerr).power(freq)
        hits.append(low <= 1 / freq[np.argmax(power)] <= high)
    assert np.mean(hits) >= 0.8


# --- realism: the real CRTS CNN recognises our classes -------------------------------------------------


def test_real_crts_cnn_recognises_simulated_classes():
    from pix2pixai.data.dmdt_images import dmdt_from_lightcurves
    from pix2pixai.trainers.legacy import load_legacy_model

    model = load_legacy_model(shared_path("reproducibility_periodic_cnn", "model.h5"), "crts_cnn")
    curves = simulate_periodic(40, seed=0, classes=REALISM_CLASSES)
    images = dmdt_from_lightcurves(curves, preset="crts")[..., None]
    predicted = np.asarray(model.predict(images, verbose=0)).argmax(axis=1)
    truth = np.array([CRTS_CLASSES.index(c.label) for c in curves])
    assert np.mean(predicted == truth) >= 0.6
