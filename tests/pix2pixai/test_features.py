"""Per-curve features: the compiled periodogram equals astropy's, known periods and shapes are recovered."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats
from astropy.timeseries import LombScargle

from pix2pixai.data.features import (
    FEATURE_NAMES,
    _harmonic_bic,
    curve_features,
    frequency_grid,
    gls_power,
    lightcurve_features,
)
from pix2pixai.data.lightcurves import LightCurve, read_lightcurves_npz
from pix2pixai.errors import InputError
from tests.conftest import shared_path


def _crts_like_times(n: int, rng: np.random.Generator) -> np.ndarray:
    """Nights over ~8 years, 4 exposures ~10 minutes apart each night (the CRTS visit pattern)."""
    nights = np.sort(rng.choice(np.arange(53_500, 56_500), size=n // 4, replace=False)) + rng.uniform(0.1, 0.4, n // 4)
    return np.sort((nights[:, None] + np.arange(4) * 0.007).ravel())


def _feature(row: np.ndarray, name: str) -> float:
    return float(row[FEATURE_NAMES.index(name)])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_power_equals_astropy_generalised_lomb_scargle(seed):
    """Floating mean, 1 / magerr^2 weights, standard normalisation; 1,500 frequencies cross several
    exact recomputations of the rotated cos / sin."""
    rng = np.random.default_rng(seed)
    t = np.sort(rng.uniform(53_000, 56_000, 250))
    y = 16 + 0.3 * np.sin(2 * np.pi * t / 0.61) + rng.normal(0, 0.2, t.size)
    dy = rng.uniform(0.05, 0.25, t.size)
    f_min, df, n = 0.01, 0.0067, 1500
    expected = LombScargle(t, y, dy, fit_mean=True, center_data=True, normalization="standard").power(
        f_min + df * np.arange(n))
    np.testing.assert_allclose(gls_power(t, y, dy, f_min, df, n), expected, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("period", [0.137, 0.5123, 3.71, 250.0])
def test_the_period_of_a_noisy_sinusoid_is_recovered(period):
    rng = np.random.default_rng(3)
    t = _crts_like_times(300, rng)
    y = 15 + 0.25 * np.sin(2 * np.pi * t / period + 1.0) + rng.normal(0, 0.05, t.size)
    row = curve_features(t, y, np.full(t.size, 0.05))
    assert _feature(row, "log10_period") == pytest.approx(np.log10(period), abs=2e-4 / period if period < 10 else 0.01)
    assert _feature(row, "ls_power") > 0.8


def test_fourier_shape_and_moments_match_their_definitions():
    """y = a1 cos(2 pi f t') + a2 cos(4 pi f t' + d2) + a3 cos(6 pi f t' + d3), t' = t - mean(t):
    R21 = a2 / a1, phi21 = d2, phi31 = d3; moments and amplitude as scipy / numpy define them."""
    rng = np.random.default_rng(4)
    t = _crts_like_times(320, rng)
    f, (a1, a2, a3), (d2, d3) = 1 / 0.57, (0.4, 0.14, 0.06), (2.1, -0.8)
    tc = t - t.mean()
    y = 15 + sum(a * np.cos(2 * np.pi * h * f * tc + d) for h, a, d in ((1, a1, 0.0), (2, a2, d2), (3, a3, d3)))
    row = curve_features(t, y, np.full(t.size, 0.02))
    assert _feature(row, "log10_period") == pytest.approx(np.log10(0.57), abs=1e-4)
    assert _feature(row, "fourier_a1") == pytest.approx(a1, rel=0.01)
    assert _feature(row, "fourier_r21") == pytest.approx(a2 / a1, rel=0.02)
    assert _feature(row, "fourier_r31") == pytest.approx(a3 / a1, rel=0.03)
    phi21 = np.arctan2(_feature(row, "fourier_sin_phi21"), _feature(row, "fourier_cos_phi21"))
    phi31 = np.arctan2(_feature(row, "fourier_sin_phi31"), _feature(row, "fourier_cos_phi31"))
    assert phi21 == pytest.approx(d2, abs=0.03) and phi31 == pytest.approx(d3, abs=0.05)
    assert _feature(row, "fourier_r2_p") == pytest.approx(1.0, abs=1e-3)  # the period is exact to the fine grid
    assert _feature(row, "fold_scatter_p") < 0.05
    assert _feature(row, "skewness") == pytest.approx(scipy.stats.skew(y), rel=1e-6)
    assert _feature(row, "excess_kurtosis") == pytest.approx(scipy.stats.kurtosis(y), rel=1e-6)
    assert _feature(row, "amplitude") == pytest.approx(np.percentile(y, 95) - np.percentile(y, 5))
    assert _feature(row, "median_mag") == pytest.approx(np.median(y))


def test_unequal_minima_show_at_twice_the_periodogram_period():
    """An EW-like curve (two minima per orbit, one deeper): the periodogram peaks at half the orbit,
    and only the fold at 2P separates the two minima (lower scatter, more variance explained)."""
    rng = np.random.default_rng(5)
    t = _crts_like_times(320, rng)
    orbit = 0.36
    phase = (t / orbit) % 1.0
    y = 14 + 0.3 * (1 - np.cos(4 * np.pi * phase)) / 2 + 0.1 * (phase < 0.5) * np.sin(2 * np.pi * phase) ** 2
    y += rng.normal(0, 0.02, t.size)
    row = curve_features(t, y, np.full(t.size, 0.02))
    assert _feature(row, "log10_period") == pytest.approx(np.log10(orbit / 2), abs=1e-3)
    assert _feature(row, "fold_scatter_2p") < 0.5 * _feature(row, "fold_scatter_p")
    assert _feature(row, "fourier_r2_2p") > _feature(row, "fourier_r2_p") + 0.03


_RRAB_PERIOD = 0.5731


def _rrab_like(t: np.ndarray, noise: float, rng: np.random.Generator) -> np.ndarray:
    """A sawtooth-like RR Lyrae ab curve (R21 0.45, R31 0.3) plus Gaussian noise of ``noise`` mag."""
    angle = 2 * np.pi * t / _RRAB_PERIOD
    y = 15 + 0.3 * np.cos(angle) + 0.135 * np.cos(2 * angle + 4.0) + 0.09 * np.cos(3 * angle + 2.0)
    return y + rng.normal(0, noise, t.size)


def _raw_peak(t: np.ndarray, y: np.ndarray, dy: np.ndarray) -> float:
    """Frequency of the highest grid point of the periodogram (no alias selection), cycles / day."""
    f_min, df, n = frequency_grid(float(np.percentile(t, 99) - np.percentile(t, 1)))
    return f_min + int(np.argmax(gls_power(t, y, dy, f_min, df, n))) * df


def test_a_one_day_alias_above_the_true_peak_is_corrected():
    """Nightly sampling: noise lifts the f - 1 c/d alias above the true peak, on the grid and at its
    exact maximum (astropy's periodogram agrees); the harmonics of the folded curve pick the truth."""
    rng = np.random.default_rng(7)
    t = _crts_like_times(120, rng)
    y = _rrab_like(t, 0.3, rng)
    dy = np.full(t.size, 0.3)
    f_true = 1 / _RRAB_PERIOD
    f_raw = _raw_peak(t, y, dy)
    assert f_raw == pytest.approx(f_true - 1.0, abs=0.01)
    periodogram = LombScargle(t, y, dy)
    near = np.linspace(-3e-4, 3e-4, 121)  # +- a fifth of a peak width
    alias_power, true_power = periodogram.power(f_raw + near).max(), periodogram.power(f_true + near).max()
    assert alias_power > 1.05 * true_power
    row = curve_features(t, y, dy)
    assert 10 ** _feature(row, "log10_period") == pytest.approx(_RRAB_PERIOD, rel=2e-4)
    assert _feature(row, "ls_power") == pytest.approx(true_power, abs=0.005)


def test_alias_selection_recovers_more_periods_than_the_raw_peak():
    """40 noisy nightly-sampled RRab curves of 120 points: the raw peak is right for half (20), the
    selection for 29, and it never loses one that the raw peak had right."""
    f_true = 1 / _RRAB_PERIOD
    raw_right, selected_right = [], []
    for seed in range(40):
        rng = np.random.default_rng(seed)
        t = _crts_like_times(120, rng)
        y = _rrab_like(t, 0.3, rng)
        dy = np.full(t.size, 0.3)
        raw_right.append(abs(_raw_peak(t, y, dy) - f_true) < 2e-3)
        selected_right.append(abs(10 ** -_feature(curve_features(t, y, dy), "log10_period") - f_true) < 2e-3)
    raw_right, selected_right = np.array(raw_right), np.array(selected_right)
    assert selected_right.sum() >= raw_right.sum() + 6
    assert not np.any(raw_right & ~selected_right)


@pytest.mark.parametrize("freq", [1 / _RRAB_PERIOD, 1 / _RRAB_PERIOD - 1.0])
def test_alias_criterion_is_the_bic_of_astropys_multi_harmonic_fits(freq):
    """chi2 of an h-harmonic fit = chi2 about the weighted mean x (1 - astropy's nterms=h power)."""
    rng = np.random.default_rng(6)
    t = _crts_like_times(200, rng)
    y = _rrab_like(t, 0.2, rng)
    dy = rng.uniform(0.1, 0.3, t.size)
    w = 1 / dy**2
    chi2_mean = np.sum(w * (y - np.sum(w * y) / w.sum()) ** 2)
    n = t.size
    chi2 = [chi2_mean * (1 - LombScargle(t, y, dy, nterms=h).power(freq)) for h in (1, 2, 3)]
    expected = min(n * np.log(c / n) + (2 * h + 1) * np.log(n) for h, c in zip((1, 2, 3), chi2))
    assert _harmonic_bic(t - t.mean(), y, np.sqrt(w), freq, 3) == pytest.approx(expected, rel=1e-9)


def test_frequency_grid_steps_a_fraction_of_a_peak_width():
    f_min, df, n = frequency_grid(3000.0, min_period=0.1, max_period=1000.0, oversampling=5)
    assert f_min == pytest.approx(1e-3) and df == pytest.approx(1 / 15_000)
    assert f_min + (n - 1) * df <= 10.0 < f_min + n * df


def test_bad_input_is_an_input_error_naming_the_curve():
    t = np.linspace(0, 100, 20)
    with pytest.raises(InputError, match="magerr must be > 0"):
        gls_power(t, np.sin(t), np.zeros(20), 0.01, 0.01, 10)
    with pytest.raises(InputError, match="shapes"):
        curve_features(t, np.sin(t)[:10], np.full(20, 0.1))
    with pytest.raises(InputError, match="at least 3 points"):
        curve_features(t[:2], t[:2], np.full(2, 0.1))
    with pytest.raises(InputError, match="baseline"):
        frequency_grid(0.0)
    bad = LightCurve(lcid="obj-7", mjd=t, mag=np.sin(t), magerr=np.r_[np.full(19, 0.1), 0.0])
    with pytest.raises(InputError, match="curve obj-7: .*magerr"):
        lightcurve_features([bad])


def test_real_rrab_curves_get_rr_lyrae_periods():
    """RRab pulsate with periods of ~0.4-1 d; 16 of the first 20 real CRTS RRab curves get one with
    the alias selection (13 on the raw periodogram peak, the rest mostly one-day aliases)."""
    curves = [c for c in read_lightcurves_npz(shared_path("crts-lightcurves-kvmu", "lightcurves.npz"))
              if c.label == "RRab"][:20]
    features = lightcurve_features(curves)
    assert features.shape == (20, len(FEATURE_NAMES)) and np.isfinite(features).all()
    periods = 10 ** features[:, FEATURE_NAMES.index("log10_period")]
    assert np.mean((periods > 0.4) & (periods < 1.0)) >= 0.75
    assert 0.45 < np.median(periods) < 0.75
