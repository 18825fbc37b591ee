"""Survey cadences and photometric error models for simulated light curves.

Why: a dmdt image is a histogram of all pairwise (dt, dm); its dt axis is set entirely by *when* a
survey looks, so simulated curves only resemble real ones if the sampling does. Both cadences are
built from the same three ingredients, each calibrated on the 4,889 real CRTS curves in
``../shared/data/crts-lightcurves-kvmu`` (CRTS) or on the ZTF public-survey design (ZTF):

============================  ==============================  ===============================
ingredient                    CRTS (``crts_cadence``)         ZTF (``ztf_cadence``)
============================  ==============================  ===============================
baseline window (span)        7.5-8.5 yr (real span 7.9-8.5)  2.5-3.5 yr
observable season per year    170-240 d (real: 171-236 d)     180-240 d
gap between visits (nights)   3 d + Gamma(2, s), s per curve  1 d + Gamma(3, 0.5 d)
                              in 4-14 d (real median 15 d)    (one visit every ~2-3 nights)
exposures per visit           4 (89 %), 3 (7 %), 2, 1, 5-8    1, band alternating g, r
spacing within a visit        ~9.4 min (real 0.0065 d)        --
points per curve              ~100-500 (real 60-546)          ~150-350
============================  ==============================  ===============================

Photometric errors follow the usual CCD form ``sigma(m) = hypot(sigma_floor, s * 10**(0.2 * (m - m_ref)))``
(a calibration floor plus a term that grows by sqrt(flux ratio) towards the faint end). Fitted on the
real CRTS ``magerr`` medians in 0.5-mag bins (within 5 % from V=12 to 20): 0.055 at V=14.25, 0.09 at
17.25, 0.19 at 19.25, 0.24 at 19.75.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Day length in the units of MJD; all times here are days.
DAYS_PER_YEAR = 365.25
#: First CRTS (Catalina Sky Survey) epoch in the real data, MJD (2005 April).
CRTS_START_MJD = 53466.0
#: ZTF public-survey start, MJD (2018 March).
ZTF_START_MJD = 58194.0

_CRTS_EXPOSURES = np.array([1, 2, 3, 4, 5, 8])
_CRTS_EXPOSURE_PROBS = np.array([0.015, 0.011, 0.067, 0.889, 0.012, 0.006])
_CRTS_EXPOSURE_SPACING_D = 0.0065


@dataclass(frozen=True)
class PhotometricErrors:
    """Magnitude-dependent Gaussian photometric errors.

    ``sigma(m) = sqrt(floor**2 + (scale * 10**(0.2 * (m - ref_mag)))**2)`` in magnitudes: the floor
    is the calibration limit of bright stars; the second term is the Poisson noise of a source whose
    flux falls by 10**(-0.4 dm), so its relative error grows by 10**(0.2 dm).
    """

    floor: float
    scale: float
    ref_mag: float

    def sigma(self, mag: np.ndarray) -> np.ndarray:
        """1-sigma magnitude error at true magnitude(s) ``mag`` (same shape)."""
        return np.hypot(self.floor, self.scale * 10.0 ** (0.2 * (np.asarray(mag, dtype=np.float64) - self.ref_mag)))

    def observe(self, rng: np.random.Generator, mag: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Draw observed magnitudes ``mag + N(0, sigma(mag))`` and return them with ``sigma``."""
        sigma = self.sigma(mag)
        return mag + rng.normal(0.0, 1.0, size=sigma.shape) * sigma, sigma


#: CRTS (unfiltered, V-calibrated) errors fitted on the real curves' ``magerr``.
CRTS_ERRORS = PhotometricErrors(floor=0.0513, scale=0.167, ref_mag=19.0)
#: ZTF g/r PSF-photometry errors: ~0.015 mag at 16, ~0.1 at 20, ~0.2 near the 20.8 limit.
ZTF_ERRORS = PhotometricErrors(floor=0.012, scale=0.1, ref_mag=20.0)


def crts_cadence(
    rng: np.random.Generator,
    baseline_years: tuple[float, float] = (7.5, 8.5),
    season_days: tuple[float, float] = (170.0, 240.0),
    gap_scale_days: tuple[float, float] = (4.0, 14.0),
) -> np.ndarray:
    """Observation times (MJD, float64, sorted) of one CRTS-like light curve.

    Visits (nights) form a renewal process with gaps ``3 d + Gamma(2, s)``, ``s`` drawn per curve
    from ``gap_scale_days`` (CRTS revisited a field every few weeks, not nightly); only visits inside
    the yearly observable season are kept. Each visit is a group of ~4 exposures ~9.4 min apart.

    Parameters
    ----------
    rng : numpy Generator (the only source of randomness)
    baseline_years : (low, high) uniform range of the total time span, years
    season_days : (low, high) uniform range of the yearly observable window, days
    gap_scale_days : (low, high) uniform range of the per-curve Gamma scale of inter-visit gaps, days
    """
    baseline = rng.uniform(*baseline_years) * DAYS_PER_YEAR
    start = CRTS_START_MJD + rng.uniform(0.0, 200.0)
    nights = _seasonal_visits(rng, start, baseline, season_days, min_gap=3.0, gamma_shape=2.0,
                              gamma_scale=rng.uniform(*gap_scale_days))
    n_exposures = rng.choice(_CRTS_EXPOSURES, size=nights.size, p=_CRTS_EXPOSURE_PROBS)
    first = np.cumsum(n_exposures) - n_exposures
    steps = _CRTS_EXPOSURE_SPACING_D * rng.uniform(0.9, 1.1, int(n_exposures.sum()))
    steps[first] = 0.0
    elapsed = np.cumsum(steps)
    since_visit_start = elapsed - np.repeat(elapsed[first], n_exposures)
    return np.sort(np.repeat(nights, n_exposures) + since_visit_start)


def ztf_cadence(
    rng: np.random.Generator,
    baseline_years: tuple[float, float] = (2.5, 3.5),
    season_days: tuple[float, float] = (180.0, 240.0),
) -> tuple[np.ndarray, np.ndarray]:
    """Observation times (MJD, float64, sorted) and bands (``"g"``/``"r"``) of one ZTF-like curve.

    One exposure per visit, a visit every ~2-3 nights (gaps ``1 d + Gamma(3, 0.5 d)``) inside the
    yearly observable season, bands alternating g, r, g, ... as in the ZTF public survey.
    """
    baseline = rng.uniform(*baseline_years) * DAYS_PER_YEAR
    start = ZTF_START_MJD + rng.uniform(0.0, 60.0)
    mjd = _seasonal_visits(rng, start, baseline, season_days, min_gap=1.0, gamma_shape=3.0, gamma_scale=0.5)
    first_band = rng.integers(0, 2)
    band = np.where((np.arange(mjd.size) + first_band) % 2 == 0, "g", "r")
    return mjd, band


def _seasonal_visits(
    rng: np.random.Generator,
    start: float,
    baseline: float,
    season_days: tuple[float, float],
    min_gap: float,
    gamma_shape: float,
    gamma_scale: float,
) -> np.ndarray:
    """Visit times: gaps ``min_gap + Gamma(gamma_shape, gamma_scale)`` cumulated from ``start`` up to
    ``start + baseline`` (days), kept inside the yearly observable season.

    The season is a window of ``season_days`` per year whose centre (the object's opposition) is a
    random day of the year; a visit at time t is kept when its distance in days from that centre,
    modulo one year, is below half the window.
    """
    season = rng.uniform(*season_days)
    opposition = rng.uniform(0.0, DAYS_PER_YEAR)
    n_draw = int(baseline / min_gap) + 1
    times = start + np.cumsum(min_gap + rng.gamma(gamma_shape, gamma_scale, n_draw))
    times = times[times <= start + baseline]
    from_opposition = np.abs((times - opposition + DAYS_PER_YEAR / 2) % DAYS_PER_YEAR - DAYS_PER_YEAR / 2)
    return times[from_opposition < season / 2]
