"""Seeded simulator of CRTS-like periodic variables: the toolkit's embedded, offline default data.

Why: the toolkit must run end to end without any download, so it ships its own labelled light
curves. They are drawn to be physically plausible per class (period, amplitude, light-curve shape,
colour), sampled with a real survey cadence and magnitude-dependent noise
(:mod:`pix2pixai.data.synthetic.cadences`), so that a CNN trained on real CRTS dmdts recognises
them (checked in ``tests/pix2pixai/test_synthetic_periodic.py`` and ``scripts/realism_periodic.py``).

Magnitudes grow fainter upwards: a model's ``delta_mag > 0`` means fainter than the curve's
reference magnitude. Phases are in cycles, ``phi = (t / P + phi0) mod 1``; periods and times in days.

=======  =====================  ====================  ===============================================
class    period P (d)           amplitude (mag)       shape
=======  =====================  ====================  ===============================================
EW       0.25-0.6, log-normal   0.2-0.8, log-uniform  contact binary: flux ``1 - d (1 + cos 4 pi phi)/2``,
         around 0.37                                  near-equal minima (primary 0-10 % deeper),
                                                      O'Connell maxima asymmetry up to 3 %
EA       0.5-10, log-uniform    primary 0.3-1.2,      detached: flat maxima, semi-elliptic eclipses of
                                secondary 10-80 % of  phase half-width ``0.1 (P / 0.5 d)^(-2/3)`` (Kepler:
                                primary               ``(R1+R2)/a ~ P^(-2/3)``), secondary at 0.5 +- 0.01,
                                                      weak ellipsoidal term
RRab     0.45-0.8, normal       0.6-1.3               sawtooth: rise over 10-20 % of the cycle, decline
         0.58 +- 0.07                                 ``((1 - phi)/(1 - r))^gamma``, gamma 1.5-2.5
RRc      0.25-0.42              0.3-0.6               near-sinusoidal, mildly faster rise (rise 35-45 %)
RRd      P0 0.45-0.6,           first overtone        double mode, ``P1 / P0`` 0.742-0.748; fundamental
         P1 = 0.745 P0          0.25-0.5              amplitude 30-90 % of the overtone's
RS_CVn   1-30, log-uniform      0.09-0.3: maximum     spotted binary: sinusoid whose amplitude
                                0.15-0.3 times a      (yearly factor), spot phase (random walk, 0.15
                                yearly factor 0.6-1   cycle/yr) and mean level (0.05 mag/yr) evolve
                                                      smoothly between yearly knots
LPV      100-600, log-uniform   1 + Exp(0.7), at      Mira / semi-regular: asymmetric cycle (rise
                                most 5 (median 1.5;   35-45 %), cycle-to-cycle amplitude and phase
                                real CRTS LPVs are    jitter (irregularity 5-30 %), slow mean drift
                                mostly semi-regular)  (0.1 mag/yr random walk)
=======  =====================  ====================  ===============================================

Reference (mean) magnitudes are drawn uniformly from the 10-90 % range of the real CRTS medians per
class (EW 13.5-17.8, EA 13.5-17.6, RRab 14.8-19.2, RRc 14.3-18.2, RRd 13.5-17.0, RS_CVn 13.5-16.6,
LPV 11.5-15.7 V). For ``survey="ztf"`` these are r magnitudes and g = r + (g - r) with a per-class
colour (EW 0.2-0.6, EA 0.0-0.6, RR 0.1-0.4, RS_CVn 0.5-1.0, LPV 1.0-2.0 mag).

Measured realism (``scripts/realism_periodic.py``, n=200 per class, seed 0): the real CRTS CNN
recalls our EW 0.88, EA 0.75, RRab 0.89, RRc 0.79, RRd 0.10, RS_CVn 0.24, LPV 0.98, close to its
recall on real CRTS curves (0.92, 0.73, 0.66, 0.74, 0.13, 0.27, 0.96); like real RRd and RS CVn,
ours are mostly taken for RRc and EW.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping

import numpy as np

from pix2pixai.data.classes import CRTS_CLASSES, canonical_class
from pix2pixai.data.lightcurves import LightCurve
from pix2pixai.data.synthetic.cadences import CRTS_ERRORS, DAYS_PER_YEAR, ZTF_ERRORS, crts_cadence, ztf_cadence
from pix2pixai.errors import InputError

SURVEYS: tuple[str, ...] = ("crts", "ztf")
#: Yearly knots of slowly evolving quantities (RS CVn spots, LPV mean level); covers any baseline < 14 yr.
_N_YEAR_KNOTS = 16
#: Per-cycle knots of LPV jitter; with P >= 100 d covers any baseline < 13 yr.
_N_CYCLE_KNOTS = 48

Params = dict[str, np.ndarray]


@dataclass(frozen=True)
class ClassModel:
    """One class of variable star: how to draw its per-curve parameters and evaluate its light curve.

    Attributes
    ----------
    mean_mag : (low, high) uniform range of the reference magnitude (CRTS V, or ZTF r)
    colour_gr : (low, high) uniform range of g - r, mag (ZTF only)
    draw : ``draw(rng, n) -> params``; each value has a leading axis of length n (one row per curve)
    delta_mag : ``delta_mag(t, params) -> dm``; ``t`` (m,) days since the curve's first point, params
        already gathered per point (leading axis m); returns the magnitude offset, shape (m,)
    """

    mean_mag: tuple[float, float]
    colour_gr: tuple[float, float]
    draw: Callable[[np.random.Generator, int], Params]
    delta_mag: Callable[[np.ndarray, Params], np.ndarray]


def simulate_periodic(
    n_per_class: int | Mapping[str, int],
    seed: int,
    classes: tuple[str, ...] | list[str] = CRTS_CLASSES,
    survey: str = "crts",
) -> list[LightCurve]:
    """Simulate labelled periodic-variable light curves.

    Parameters
    ----------
    n_per_class : int, or mapping class name -> count (classes missing from it get 0)
    seed : non-negative int; each class draws from its own stream ``default_rng([seed, class id])``,
        so a class's curves do not change when other classes are added or dropped
    classes : class names (any spelling :func:`canonical_class` accepts), in output order
    survey : ``"crts"`` (one band, ``band=None``) or ``"ztf"`` (per-point ``band`` g/r)

    Returns
    -------
    list of LightCurve, grouped by class in ``classes`` order, ids ``sim-<survey>-<class>-<nnnnn>``.
    """
    names = tuple(canonical_class(c) for c in classes)
    if len(set(names)) != len(names):
        raise InputError(f"classes {list(classes)}: each class may appear only once")
    counts = _counts(n_per_class, names)
    if survey not in SURVEYS:
        raise InputError(f"survey {survey!r}: expected one of {', '.join(SURVEYS)}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise InputError(f"seed {seed!r}: expected a non-negative integer")
    curves: list[LightCurve] = []
    for name in names:
        rng = np.random.default_rng([int(seed), CRTS_CLASSES.index(name)])
        curves.extend(_simulate_class(rng, name, counts[name], survey))
    return curves


def _counts(n_per_class: int | Mapping[str, int], names: tuple[str, ...]) -> dict[str, int]:
    if isinstance(n_per_class, Mapping):
        given = {canonical_class(k): v for k, v in n_per_class.items()}
        unknown = sorted(set(given) - set(names))
        if unknown:
            raise InputError(f"n_per_class names {unknown} that are not in classes {list(names)}")
        counts = {name: given.get(name, 0) for name in names}
    else:
        counts = dict.fromkeys(names, n_per_class)
    for name, count in counts.items():
        if isinstance(count, bool) or not isinstance(count, (int, np.integer)) or count < 0:
            raise InputError(f"n_per_class[{name!r}] = {count!r}: expected a non-negative integer")
    return counts


def _simulate_class(rng: np.random.Generator, name: str, n: int, survey: str) -> list[LightCurve]:
    """All n curves of one class: cadences one by one, light curves evaluated in one flat batch."""
    if n == 0:
        return []
    model = CLASS_MODELS[name]
    if survey == "crts":
        cadences = [(crts_cadence(rng), None) for _ in range(n)]
        errors = CRTS_ERRORS
    else:
        cadences = [ztf_cadence(rng) for _ in range(n)]
        errors = ZTF_ERRORS
    params = model.draw(rng, n)
    mean_mag = rng.uniform(*model.mean_mag, n)
    colour = rng.uniform(*model.colour_gr, n)
    lengths = np.array([mjd.size for mjd, _ in cadences])
    curve_of_point = np.repeat(np.arange(n), lengths)
    mjd = np.concatenate([m for m, _ in cadences])
    t_since_first = mjd - np.repeat([m[0] for m, _ in cadences], lengths)
    true_mag = mean_mag[curve_of_point] + model.delta_mag(t_since_first, {k: v[curve_of_point] for k, v in params.items()})
    band = np.concatenate([b for _, b in cadences]) if survey == "ztf" else None
    if band is not None:
        true_mag = true_mag + np.where(band == "g", colour[curve_of_point], 0.0)
    mag, magerr = errors.observe(rng, true_mag)
    bounds = np.concatenate([[0], np.cumsum(lengths)])
    return [
        LightCurve(
            lcid=f"sim-{survey}-{name}-{i:05d}",
            mjd=mjd[a:b], mag=mag[a:b], magerr=magerr[a:b], label=name,
            band=None if band is None else band[a:b],
        )
        for i, (a, b) in enumerate(zip(bounds[:-1], bounds[1:]))
    ]


# --- shared shape helpers ---------------------------------------------------------------------------


def _phase(t: np.ndarray, period: np.ndarray, phase0: np.ndarray) -> np.ndarray:
    """Phase in cycles, ``(t / P + phi0) mod 1`` in [0, 1)."""
    return np.mod(t / period + phase0, 1.0)


def _warped_cosine(phase: np.ndarray, rise: np.ndarray | float) -> np.ndarray:
    """Asymmetric pulsation profile in [-1, 1] (+1 = faintest), maximum light at phase 0.

    The fading half-cycle (max -> min) is stretched over ``1 - rise`` of the period and the
    brightening half over ``rise``, so ``rise < 0.5`` gives the fast rise of pulsating stars.
    """
    fading = phase < 1.0 - rise
    warped = np.where(fading, 0.5 * phase / (1.0 - rise), 0.5 + 0.5 * (phase - (1.0 - rise)) / rise)
    return -np.cos(2.0 * np.pi * warped)


def _knots_at(knots: np.ndarray, position: np.ndarray) -> np.ndarray:
    """Linear interpolation of per-point knot rows ``knots`` (m, K) at fractional index ``position`` (m,)."""
    k = np.clip(np.floor(position).astype(np.int64), 0, knots.shape[1] - 2)
    frac = np.clip(position - k, 0.0, 1.0)
    rows = np.arange(knots.shape[0])
    return (1.0 - frac) * knots[rows, k] + frac * knots[rows, k + 1]


def _log_uniform(rng: np.random.Generator, low: float, high: float, n: int) -> np.ndarray:
    return np.exp(rng.uniform(np.log(low), np.log(high), n))


def _mag_from_flux(flux: np.ndarray) -> np.ndarray:
    """Magnitude offset of a relative flux: ``-2.5 log10(flux)`` (flux 1 -> 0 mag)."""
    return -2.5 * np.log10(flux)


def _depth_from_mag(amplitude: np.ndarray) -> np.ndarray:
    """Fractional flux loss giving a dimming of ``amplitude`` mag: ``1 - 10**(-0.4 A)``."""
    return 1.0 - 10.0 ** (-0.4 * amplitude)


# --- EW: contact binaries -----------------------------------------------------------------------------


def _draw_ew(rng: np.random.Generator, n: int) -> Params:
    depth = _depth_from_mag(_log_uniform(rng, 0.2, 0.8, n))
    return {
        "period": np.clip(np.exp(rng.normal(np.log(0.37), 0.2, n)), 0.25, 0.6),
        "phase0": rng.uniform(0.0, 1.0, n),
        "depth": depth,
        "unequal": depth * rng.uniform(0.0, 0.1, n),
        "oconnell": depth * rng.uniform(-0.03, 0.03, n),
    }


def _ew_delta_mag(t: np.ndarray, p: Params) -> np.ndarray:
    """``flux = 1 - d (1 + cos 4 pi phi)/2 - u (1 + cos 2 pi phi)/2 + o sin 2 pi phi``: minima at
    phi = 0 (deeper by u) and 0.5, maxima differing by 2o (O'Connell effect)."""
    phi = _phase(t, p["period"], p["phase0"])
    flux = (1.0 - p["depth"] * 0.5 * (1.0 + np.cos(4.0 * np.pi * phi))
            - p["unequal"] * 0.5 * (1.0 + np.cos(2.0 * np.pi * phi))
            + p["oconnell"] * np.sin(2.0 * np.pi * phi))
    return _mag_from_flux(flux)


# --- EA: detached eclipsing binaries ------------------------------------------------------------------


def _draw_ea(rng: np.random.Generator, n: int) -> Params:
    period = _log_uniform(rng, 0.5, 10.0, n)
    primary = rng.uniform(0.3, 1.2, n)
    return {
        "period": period,
        "phase0": rng.uniform(0.0, 1.0, n),
        "depth1": _depth_from_mag(primary),
        "depth2": _depth_from_mag(primary * rng.uniform(0.1, 0.8, n)),
        "half_width": 0.1 * (period / 0.5) ** (-2.0 / 3.0) * rng.uniform(0.7, 1.3, n),
        "phase2": 0.5 + rng.normal(0.0, 0.01, n),
        "ellipsoidal": rng.uniform(0.0, 0.03, n) * (period < 2.0),
    }


def _eclipse(phi: np.ndarray, centre: np.ndarray, half_width: np.ndarray) -> np.ndarray:
    """Semi-elliptic eclipse profile in [0, 1]: ``sqrt(1 - (x / w)^2)`` for |x| < w, x the phase
    distance to the eclipse centre (wrapped to [-0.5, 0.5))."""
    x = np.mod(phi - centre + 0.5, 1.0) - 0.5
    return np.sqrt(np.clip(1.0 - (x / half_width) ** 2, 0.0, None))


def _ea_delta_mag(t: np.ndarray, p: Params) -> np.ndarray:
    """Flat maxima, primary eclipse at phi = 0, secondary at ``phase2``, weak ellipsoidal term."""
    phi = _phase(t, p["period"], p["phase0"])
    flux = (1.0 - p["depth1"] * _eclipse(phi, 0.0, p["half_width"])
            - p["depth2"] * _eclipse(phi, p["phase2"], p["half_width"])
            - p["ellipsoidal"] * 0.5 * (1.0 + np.cos(4.0 * np.pi * phi)))
    return _mag_from_flux(np.clip(flux, 1e-3, None))


# --- RR Lyrae -------------------------------------------------------------------------------------------


def _draw_rrab(rng: np.random.Generator, n: int) -> Params:
    return {
        "period": np.clip(rng.normal(0.58, 0.07, n), 0.45, 0.8),
        "phase0": rng.uniform(0.0, 1.0, n),
        "amplitude": rng.uniform(0.6, 1.3, n),
        "rise": rng.uniform(0.1, 0.2, n),
        "gamma": rng.uniform(1.5, 2.5, n),
    }


def _rrab_delta_mag(t: np.ndarray, p: Params) -> np.ndarray:
    """Sawtooth: brightness b rises ``sin^2(pi phi / 2r)`` over phi < r, then fades as
    ``((1 - phi)/(1 - r))^gamma`` (steep just after maximum, slow near minimum); dm = A (1/2 - b)."""
    phi = _phase(t, p["period"], p["phase0"])
    rise = p["rise"]
    rising = np.sin(0.5 * np.pi * np.minimum(phi / rise, 1.0)) ** 2
    fading = (np.clip(1.0 - phi, 0.0, None) / (1.0 - rise)) ** p["gamma"]
    brightness = np.where(phi < rise, rising, fading)
    return p["amplitude"] * (0.5 - brightness)


def _draw_rrc(rng: np.random.Generator, n: int) -> Params:
    return {
        "period": rng.uniform(0.25, 0.42, n),
        "phase0": rng.uniform(0.0, 1.0, n),
        "amplitude": rng.uniform(0.3, 0.6, n),
        "rise": rng.uniform(0.35, 0.45, n),
    }


def _rrc_delta_mag(t: np.ndarray, p: Params) -> np.ndarray:
    """Near-sinusoid with a mildly faster rise: ``dm = A/2 * warped_cosine(phi, rise)``."""
    return 0.5 * p["amplitude"] * _warped_cosine(_phase(t, p["period"], p["phase0"]), p["rise"])


def _draw_rrd(rng: np.random.Generator, n: int) -> Params:
    period0 = rng.uniform(0.45, 0.6, n)
    amplitude1 = rng.uniform(0.25, 0.5, n)
    return {
        "period0": period0,
        "period1": period0 * rng.uniform(0.742, 0.748, n),
        "phase0": rng.uniform(0.0, 1.0, n),
        "phase1": rng.uniform(0.0, 1.0, n),
        "amplitude0": amplitude1 * rng.uniform(0.3, 0.9, n),
        "amplitude1": amplitude1,
    }


def _rrd_delta_mag(t: np.ndarray, p: Params) -> np.ndarray:
    """Sum of the fundamental (rise 30 %) and first-overtone (rise 42 %) pulsations."""
    fundamental = _warped_cosine(_phase(t, p["period0"], p["phase0"]), 0.3)
    overtone = _warped_cosine(_phase(t, p["period1"], p["phase1"]), 0.42)
    return 0.5 * (p["amplitude0"] * fundamental + p["amplitude1"] * overtone)


# --- RS CVn: spotted binaries ---------------------------------------------------------------------------


def _draw_rscvn(rng: np.random.Generator, n: int) -> Params:
    knots = (n, _N_YEAR_KNOTS)
    return {
        "period": _log_uniform(rng, 1.0, 30.0, n),
        "amplitude": rng.uniform(0.15, 0.3, n),
        "amplitude_knots": rng.uniform(0.6, 1.0, knots),
        "spot_phase_knots": rng.uniform(0.0, 1.0, (n, 1)) + np.cumsum(rng.normal(0.0, 0.15, knots), axis=1),
        "mean_knots": np.cumsum(rng.normal(0.0, 0.05, knots), axis=1),
    }


def _rscvn_delta_mag(t: np.ndarray, p: Params) -> np.ndarray:
    """``dm = mean(t) - A a(t)/2 cos 2 pi (t / P + psi(t))``: rotational modulation by a spot group
    whose amplitude factor a, phase psi and the mean level drift between yearly knots."""
    year = t / DAYS_PER_YEAR
    amplitude = p["amplitude"] * _knots_at(p["amplitude_knots"], year)
    spot_phase = _knots_at(p["spot_phase_knots"], year)
    return _knots_at(p["mean_knots"], year) - 0.5 * amplitude * np.cos(2.0 * np.pi * (t / p["period"] + spot_phase))


# --- LPV: Miras and semi-regulars -----------------------------------------------------------------------


def _draw_lpv(rng: np.random.Generator, n: int) -> Params:
    irregularity = rng.uniform(0.05, 0.3, n)[:, None]
    cycles = (n, _N_CYCLE_KNOTS)
    return {
        "period": _log_uniform(rng, 100.0, 600.0, n),
        "phase0": rng.uniform(0.0, 1.0, n),
        "amplitude": np.minimum(1.0 + rng.exponential(0.7, n), 5.0),
        "rise": rng.uniform(0.35, 0.45, n),
        "amplitude_knots": np.clip(1.0 + irregularity * rng.normal(0.0, 1.0, cycles), 0.3, None),
        "phase_knots": np.cumsum(0.3 * irregularity * rng.normal(0.0, 1.0, cycles), axis=1),
        "mean_knots": np.cumsum(rng.normal(0.0, 0.1, (n, _N_YEAR_KNOTS)), axis=1),
    }


def _lpv_delta_mag(t: np.ndarray, p: Params) -> np.ndarray:
    """Asymmetric pulsation whose amplitude and phase jitter from cycle to cycle (knots per cycle)
    on top of a slowly drifting mean (knots per year)."""
    cycle = t / p["period"]
    phi = np.mod(cycle + p["phase0"] + _knots_at(p["phase_knots"], cycle), 1.0)
    amplitude = p["amplitude"] * _knots_at(p["amplitude_knots"], cycle)
    return _knots_at(p["mean_knots"], t / DAYS_PER_YEAR) + 0.5 * amplitude * _warped_cosine(phi, p["rise"])


CLASS_MODELS: dict[str, ClassModel] = {
    "EW": ClassModel((13.5, 17.8), (0.2, 0.6), _draw_ew, _ew_delta_mag),
    "EA": ClassModel((13.5, 17.6), (0.0, 0.6), _draw_ea, _ea_delta_mag),
    "RRab": ClassModel((14.8, 19.2), (0.1, 0.4), _draw_rrab, _rrab_delta_mag),
    "RRc": ClassModel((14.3, 18.2), (0.1, 0.3), _draw_rrc, _rrc_delta_mag),
    "RRd": ClassModel((13.5, 17.0), (0.1, 0.3), _draw_rrd, _rrd_delta_mag),
    "RS_CVn": ClassModel((13.5, 16.6), (0.5, 1.0), _draw_rscvn, _rscvn_delta_mag),
    "LPV": ClassModel((11.5, 15.7), (1.0, 2.0), _draw_lpv, _lpv_delta_mag),
}
