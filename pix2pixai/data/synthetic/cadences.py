"""Survey cadences and photometric error models for simulated light curves.

Why: a dmdt image is a histogram of all pairwise (dt, dm); its dt axis is set entirely by *when* a
survey looks, so simulated curves only resemble real ones if the sampling does. Both cadences are
built from the same three ingredients, each calibrated on the 4,889 real CRTS curves in
``../shared/data/crts-lightcurves-kvmu`` (CRTS) or on the ZTF public-survey design (ZTF):

============================  ==============================  ===============================
ingredient                    CRTS (``crts_cadence``)         ZTF (``ztf_cadence``)
============================  ==============================  ===============================
baseline window (span)        8.0-8.6 yr (real span 7.9-8.5)  2.5-3.5 yr
observable season per year    170-240 d (real: 171-236 d)     180-240 d
gap between visits (nights)   3 d + Gamma(2, s), s per curve  1 d + Gamma(3, 0.5 d)
                              in 6.5-30 d, 1/s uniform (real  (one visit every ~2-3 nights)
                              median 15 d within seasons);
                              3 % next night(s): 0.8-3 d
                              (real: 2 % under 3 d)
exposures per visit           4 (89 %), 3 (7 %), 2, 1, 5-8    1, band alternating g, r
spacing within a visit        log-normal, median 9.5 min,     --
                              sigma 0.2 (real median 0.0066 d,
                              quartiles 0.0054-0.0078 d)
points per curve              10/50/90 %: 146/278/411         ~150-350
                              (real 146/301/397)
============================  ==============================  ===============================

Photometric errors follow the usual CCD form ``sigma(m) = hypot(floor, s * 10**(slope * (m - m_ref)))``
(a calibration floor plus photon noise growing towards the faint end), once for the error a survey
reports and once for the scatter its photometry really has (:class:`PhotometricErrors`). CRTS reported
``magerr`` (fitted on the real medians in 0.5-mag bins, within 5 % from V=12 to 20): 0.055 at V=14.25,
0.09 at 17.25, 0.19 at 19.25, 0.24 at 19.75; real scatter: 0.009 at V=14, 0.06 at 17, 0.2 at 19, plus
~2.5 % outliers.
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
_CRTS_EXPOSURE_SPACING_D = 0.0066
_CRTS_MIN_GAP_D = 3.0
_CRTS_NEXT_NIGHTS_PROB = 0.03


@dataclass(frozen=True)
class ErrorCurve:
    """A magnitude error that rises towards the faint end.

    ``sigma(m) = sqrt(floor**2 + (scale * 10**(slope * (m - ref_mag)))**2)`` in magnitudes: the
    floor is the calibration limit of bright stars; the second term is the photon noise of a
    fainter source, ``slope = 0.2`` when the source's own photons dominate (relative error
    ~ flux**-1/2) and up to 0.4 when the sky background does (~ flux**-1).
    """

    floor: float
    scale: float
    slope: float
    ref_mag: float

    def __call__(self, mag: np.ndarray) -> np.ndarray:
        """1-sigma error (mag) at magnitude(s) ``mag``, same shape."""
        return np.hypot(self.floor, self.scale * 10.0 ** (self.slope * (np.asarray(mag, dtype=np.float64) - self.ref_mag)))


@dataclass(frozen=True)
class PhotometricErrors:
    """A survey's photometric noise: the error it reports and the scatter its photometry really has.

    The two differ for CRTS: its catalogue ``magerr`` never drops below ~0.05 mag, while repeated
    exposures of bright stars within one visit scatter by only ~0.01 mag (robust sigma); on the other
    hand ~2 % of real points lie far outside the Gaussian core (blends, cosmic rays, bad frames).
    Observed magnitudes are therefore ``m + N(0, scatter(m))``, except for a fraction
    ``outlier_fraction`` drawn from the wider ``N(0, hypot(outlier_floor, outlier_factor * scatter(m)))``.
    """

    reported: ErrorCurve
    scatter: ErrorCurve
    outlier_fraction: float
    outlier_floor: float
    outlier_factor: float

    def sigma(self, mag: np.ndarray) -> np.ndarray:
        """The error the survey reports (``magerr``) at true magnitude(s) ``mag``."""
        return self.reported(mag)

    def observe(self, rng: np.random.Generator, mag: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Draw observed magnitudes for true magnitudes ``mag`` (shape (n,)); return them and ``magerr``."""
        mag = np.asarray(mag, dtype=np.float64)
        core = self.scatter(mag)
        wide = np.hypot(self.outlier_floor, self.outlier_factor * core)
        sigma = np.where(rng.uniform(size=mag.shape) < self.outlier_fraction, wide, core)
        return mag + rng.normal(0.0, 1.0, size=mag.shape) * sigma, self.reported(mag)


#: CRTS (unfiltered, V-calibrated). ``reported`` fitted on the real curves' ``magerr`` medians;
#: ``scatter`` on the robust (MAD) scatter of exposure pairs < 45 min apart in real EA, RS CVn and
#: LPV curves (0.009 mag at V=14, 0.06 at 17, 0.2 at 19); outliers: 2.5 % of points (real: 1-4 %
#: beyond 5 robust sigma, typically 0.07-0.4 mag off).
CRTS_ERRORS = PhotometricErrors(
    reported=ErrorCurve(floor=0.0513, scale=0.167, slope=0.2, ref_mag=19.0),
    scatter=ErrorCurve(floor=0.008, scale=0.183, slope=0.3, ref_mag=19.0),
    outlier_fraction=0.025, outlier_floor=0.1, outlier_factor=5.0,
)
#: ZTF g/r PSF photometry, whose errors are honest: ~0.015 mag at 16, ~0.1 at 20, ~0.2 near the
#: 20.8 limit; 1 % outliers.
_ZTF_CURVE = ErrorCurve(floor=0.012, scale=0.1, slope=0.3, ref_mag=20.0)
ZTF_ERRORS = PhotometricErrors(reported=_ZTF_CURVE, scatter=_ZTF_CURVE, outlier_fraction=0.01,
                               outlier_floor=0.1, outlier_factor=5.0)


def crts_cadence(
    rng: np.random.Generator,
    baseline_years: tuple[float, float] = (8.0, 8.6),
    season_days: tuple[float, float] = (170.0, 240.0),
    gap_scale_days: tuple[float, float] = (6.5, 30.0),
) -> np.ndarray:
    """Observation times (MJD, float64, sorted) of one CRTS-like light curve.

    Visits (nights) form a renewal process with gaps ``3 d + Gamma(2, s)``, ``s`` drawn per curve
    from ``gap_scale_days`` (CRTS revisited a field every few weeks, not nightly), except for 3 % of
    revisits on the next night(s) (0.8-3 d); only visits inside the yearly observable season are
    kept. Each visit is a group of ~4 exposures ~9.5 min apart.

    Parameters
    ----------
    rng : numpy Generator (the only source of randomness)
    baseline_years : (low, high) uniform range of the total time span, years
    season_days : (low, high) uniform range of the yearly observable window, days
    gap_scale_days : (low, high) range of the per-curve Gamma scale s of inter-visit gaps, days; 1/s
        (a visit rate) is uniform, which reproduces the left-skewed point counts of real curves
    """
    baseline = rng.uniform(*baseline_years) * DAYS_PER_YEAR
    start = CRTS_START_MJD + rng.uniform(0.0, 200.0)
    n_gaps = int(baseline / 0.8) + 1  # enough even if every gap were the shortest
    gaps = np.where(
        rng.uniform(size=n_gaps) < _CRTS_NEXT_NIGHTS_PROB,
        rng.uniform(0.8, _CRTS_MIN_GAP_D, n_gaps),
        _CRTS_MIN_GAP_D + rng.gamma(2.0, 1.0 / rng.uniform(1.0 / gap_scale_days[1], 1.0 / gap_scale_days[0]), n_gaps),
    )
    nights = _seasonal_visits(rng, start, season_days, gaps[np.cumsum(gaps) <= baseline])
    n_exposures = rng.choice(_CRTS_EXPOSURES, size=nights.size, p=_CRTS_EXPOSURE_PROBS)
    first = np.cumsum(n_exposures) - n_exposures
    steps = np.exp(rng.normal(np.log(_CRTS_EXPOSURE_SPACING_D), 0.2, int(n_exposures.sum())))
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
    gaps = 1.0 + rng.gamma(3.0, 0.5, int(baseline) + 1)
    mjd = _seasonal_visits(rng, start, season_days, gaps[np.cumsum(gaps) <= baseline])
    first_band = rng.integers(0, 2)
    band = np.where((np.arange(mjd.size) + first_band) % 2 == 0, "g", "r")
    return mjd, band


def _seasonal_visits(rng: np.random.Generator, start: float, season_days: tuple[float, float], gaps: np.ndarray) -> np.ndarray:
    """Visit times ``start + cumsum(gaps)`` (days) kept inside the yearly observable season.

    The season is a window of ``season_days`` per year whose centre (the object's opposition) is a
    random day of the year; a visit at time t is kept when its distance in days from that centre,
    modulo one year, is below half the window.
    """
    season = rng.uniform(*season_days)
    opposition = rng.uniform(0.0, DAYS_PER_YEAR)
    times = start + np.cumsum(gaps)
    from_opposition = np.abs((times - opposition + DAYS_PER_YEAR / 2) % DAYS_PER_YEAR - DAYS_PER_YEAR / 2)
    return times[from_opposition < season / 2]
