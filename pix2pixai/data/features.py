"""Per-curve features that a dmdt cannot encode well: the period, its aliases and the folded shape.

A dmdt histogram keeps the magnitude changes over each time lag but not their phase coherence, so
the period (RRc at 0.3 d vs EW at 0.35 d) and the light-curve shape at that period (RRab's steep
rise, EA's narrow eclipses) are only implicit. Classifiers of periodic variables (e.g. ZTF SCoPe)
therefore feed such features beside the dmdt; :func:`lightcurve_features` computes them for a list of
curves, one row per curve, columns named by :data:`FEATURE_NAMES`.

The period comes from a generalised Lomb-Scargle periodogram (Zechmeister & Kuerster 2009: a
sinusoid plus a floating mean, weighted by 1 / magerr^2), scanned on a uniform frequency grid by a
compiled kernel: each point's cos / sin is advanced from one frequency to the next by a rotation
(6 flops instead of two transcendental calls) and recomputed exactly every ``_REFRESH`` frequencies,
so rounding never accumulates; the per-frequency sums may be reassociated, which lets the compiler
vectorise them (timings against astropy: ``docs/benchmarks.md``). Its power equals
:class:`astropy.timeseries.LombScargle`'s (``fit_mean=True, center_data=True,
normalization='standard'``) to ~1e-12.

Aliases matter twice. A survey that observes once per night sees f and f +- 1, 2 c/d almost alike,
and noise often lifts such an alias above the true peak: P is therefore the best of the highest peaks
and their daily aliases by the BIC of a 1-3-harmonic Fourier fit of the folded curve
(:func:`_select_alias`, which says why). On the 4,889 real CRTS curves this puts 84% of the RRab in
0.4-1 d instead of 73% on the raw peak (73% -> 74% choosing among the same candidates by periodogram
power alone; RRc in 0.2-0.45 d 97% either way, EW in 0.1-0.5 d 96%).
And an eclipsing contact binary (EW) has two near-equal minima per orbit, so the highest peak is at
*half* the true period. The features therefore describe the curve folded at both P and 2P
(phase-sorted scatter, variance explained by a Fourier series); the classifier learns which to trust.
"""

from __future__ import annotations

from typing import Sequence

import numba
import numpy as np

from pix2pixai.data.lightcurves import LightCurve
from pix2pixai.errors import InputError

#: Column names of :func:`lightcurve_features`' output, in order.
FEATURE_NAMES: tuple[str, ...] = (
    "log10_period",          # period P, days: a generalised Lomb-Scargle peak or daily alias (_select_alias)
    "ls_power",              # its power (0..1, fraction of weighted variance explained by one sinusoid)
    "ls_power_at_2p",        # power at frequency f / 2 (period 2P): high for EW / ELL aliases
    "ls_power_at_half_p",    # power at 2 f (period P / 2)
    "fold_scatter_p",        # phase-sorted successive-difference scatter folded at P (~1 noise, ~0 smooth)
    "fold_scatter_2p",       # the same at 2P (lower than at P when the two halves differ: unequal minima)
    "fourier_r2_p",          # variance explained by a 3-harmonic Fourier series at P
    "fourier_r2_2p",         # ... by a 6-harmonic series at 2P (its even harmonics repeat the fit at P)
    "fourier_a1",            # first-harmonic amplitude at P, mag
    "fourier_r21",           # A2 / A1 at P (RRab high, RRc and EW low)
    "fourier_r31",           # A3 / A1 at P
    "fourier_cos_phi21",     # phi21 = phi2 - 2 phi1 at P, as cos and sin (it is an angle)
    "fourier_sin_phi21",
    "fourier_cos_phi31",     # phi31 = phi3 - 3 phi1
    "fourier_sin_phi31",
    "amplitude",             # 95th - 5th percentile of mag (robust to outliers)
    "log10_std_over_err",    # log10(std(mag) / median(magerr)): how far above the noise the variability is
    "skewness",              # of mag: > 0 when brief faint dips dominate (eclipses), < 0 for RRab-like
    "excess_kurtosis",       # of mag
    "median_mag",            # brightness (photometric errors and class mixes depend on it)
)

#: Frequencies between two exact recomputations of each point's cos / sin in the scan.
_REFRESH = 256
#: Daily alias offsets (cycles / day) tried around each periodogram peak by :func:`_select_alias`.
_ALIAS_STEPS = (1.0, 2.0)
#: Distinct periodogram peaks whose aliases are tried, and their minimum separation (cycles / day).
_N_PEAKS = 3
_PEAK_SEPARATION = 0.02
#: Half-width (cycles / day) of the search for an alias's own peak around f +- k.
_ALIAS_WINDOW = 0.01
#: Most harmonics in :func:`_select_alias`'s Fourier fits (real RRab in 0.4-1 d: 83 / 84 / 85% with 2 / 3 / 4).
_MAX_HARMONICS = 3


def frequency_grid(baseline: float, *, min_period: float = 0.1, max_period: float = 1000.0,
                   oversampling: float = 5.0) -> tuple[float, float, int]:
    """Uniform grid ``(f_min, df, n_freq)`` in cycles / day for a curve spanning ``baseline`` days.

    The step ``df = 1 / (oversampling * baseline)`` is a fraction of a periodogram peak's width
    (~1 / baseline), so no peak falls between grid points; the defaults (0.1 d to 1000 d) cover CRTS's
    periodic variables, from short RRc / EW aliases to long-period variables.
    """
    if not (np.isfinite(baseline) and baseline > 0):
        raise InputError(f"frequency_grid: baseline must be a positive number of days, got {baseline}")
    if not 0 < min_period < max_period or not oversampling > 0:
        raise InputError(f"frequency_grid: need 0 < min_period < max_period and oversampling > 0, got "
                         f"{min_period}, {max_period}, {oversampling}")
    f_min, f_max = 1.0 / max_period, 1.0 / min_period
    df = 1.0 / (oversampling * baseline)
    return f_min, df, int(np.floor((f_max - f_min) / df)) + 1


@numba.njit(cache=True, fastmath={"reassoc", "contract"})
def _gls_scan(t: np.ndarray, y: np.ndarray, w: np.ndarray, f_min: float, df: float, n_freq: int) -> np.ndarray:
    """Generalised Lomb-Scargle power at f_min + k df, k < n_freq; ``w`` sums to 1, ``t`` is centred."""
    n = t.size
    power = np.empty(n_freq)
    c = np.empty(n)
    s = np.empty(n)
    dc = np.empty(n)
    ds = np.empty(n)
    wy = np.empty(n)
    y_mean = 0.0
    for j in range(n):
        y_mean += w[j] * y[j]
    yy = 0.0
    for j in range(n):
        wy[j] = w[j] * (y[j] - y_mean)
        yy += wy[j] * (y[j] - y_mean)
    for j in range(n):
        dc[j] = np.cos(2.0 * np.pi * df * t[j])
        ds[j] = np.sin(2.0 * np.pi * df * t[j])
    for k in range(n_freq):
        if k % _REFRESH == 0:
            omega = 2.0 * np.pi * (f_min + k * df)
            for j in range(n):
                c[j] = np.cos(omega * t[j])
                s[j] = np.sin(omega * t[j])
        sc = 0.0
        ss = 0.0
        ycs = 0.0
        yss = 0.0
        ccs = 0.0
        css = 0.0
        for j in range(n):
            cj = c[j]
            sj = s[j]
            wc = w[j] * cj
            sc += wc
            ss += w[j] * sj
            ycs += wy[j] * cj
            yss += wy[j] * sj
            ccs += wc * cj
            css += wc * sj
            c[j] = cj * dc[j] - sj * ds[j]
            s[j] = sj * dc[j] + cj * ds[j]
        # y is centred by the weighted mean, so sum w y = 0 and YC = ycs, YS = yss (Zechmeister & Kuerster eq. 10-15)
        cc = ccs - sc * sc
        s2 = (1.0 - ccs) - ss * ss
        cs = css - sc * ss
        d = cc * s2 - cs * cs
        if d <= 0.0 or yy <= 0.0:
            power[k] = 0.0
        else:
            power[k] = (s2 * ycs * ycs + cc * yss * yss - 2.0 * cs * ycs * yss) / (yy * d)
    return power


def _checked(mjd: np.ndarray, mag: np.ndarray, magerr: np.ndarray, name: str) -> tuple[np.ndarray, ...]:
    t, y, dy = (np.asarray(a, dtype=np.float64) for a in (mjd, mag, magerr))
    if t.ndim != 1 or y.shape != t.shape or dy.shape != t.shape:
        raise InputError(f"{name}: mjd, mag, magerr must be 1-D arrays of one length, got shapes "
                         f"{t.shape}, {y.shape}, {dy.shape}")
    if t.size < 3:
        raise InputError(f"{name}: a periodogram needs at least 3 points, got {t.size}")
    if not (np.isfinite(t).all() and np.isfinite(y).all() and np.isfinite(dy).all()):
        raise InputError(f"{name}: mjd, mag and magerr must be finite")
    if np.any(dy <= 0):
        raise InputError(f"{name}: magerr must be > 0 (points are weighted by 1 / magerr^2), "
                         f"got min {dy.min()}")
    return t, y, dy


def gls_power(mjd: np.ndarray, mag: np.ndarray, magerr: np.ndarray, f_min: float, df: float,
              n_freq: int) -> np.ndarray:
    """Generalised Lomb-Scargle power [n_freq] at frequencies ``f_min + k df`` (cycles / day).

    The fraction of the weighted (1 / magerr^2) variance about the weighted mean that the best sinusoid
    plus constant explains; equals astropy's ``LombScargle(mjd, mag, magerr).power(f)`` (floating
    mean, standard normalisation).

    Raises
    ------
    InputError
        on arrays of different shapes, fewer than 3 points, non-finite values or magerr <= 0.
    """
    t, y, dy = _checked(mjd, mag, magerr, "gls_power")
    if not (df > 0 and f_min >= 0 and int(n_freq) >= 1):
        raise InputError(f"gls_power: need df > 0, f_min >= 0, n_freq >= 1, got {df}, {f_min}, {n_freq}")
    w = 1.0 / dy**2
    return _gls_scan(t - t.mean(), y, w / w.sum(), float(f_min), float(df), int(n_freq))


def _distinct_peaks(power: np.ndarray, separation: int, n_peaks: int) -> list[int]:
    """Indices of the ``n_peaks`` highest local maxima of ``power`` at least ``separation`` bins apart."""
    interior = np.flatnonzero((power[1:-1] >= power[:-2]) & (power[1:-1] > power[2:])) + 1
    candidates = np.r_[0, interior, power.size - 1] if power.size > 1 else np.array([0])
    chosen: list[int] = []
    for i in candidates[np.argsort(power[candidates], kind="stable")[::-1]]:
        if all(abs(int(i) - j) >= separation for j in chosen):
            chosen.append(int(i))
            if len(chosen) == n_peaks:
                break
    return chosen


def _harmonic_bic(tc: np.ndarray, y: np.ndarray, sw: np.ndarray, freq: float, max_harmonics: int) -> float:
    """Lowest BIC of 1..max_harmonics-harmonic Fourier series at ``freq``, error scale unknown.

    ``N ln(chi2 / N) + n_params ln N``: the Gaussian log-likelihood with the noise level fitted, so a
    catalogue's mis-scaled magerr (CRTS over-states bright stars' errors ~5x) only sets relative
    weights; each extra harmonic costs 2 ln N, so a noisy curve is not credited for fitting its noise.
    One QR of the weighted design gives every nested fit's chi2 (the harmonics are added in order).
    """
    n = tc.size
    angle = 2.0 * np.pi * freq * tc
    columns = [np.ones_like(tc)]
    for h in range(1, max_harmonics + 1):
        columns += [np.cos(h * angle), np.sin(h * angle)]
    q, _ = np.linalg.qr(np.stack(columns, axis=1) * sw[:, None])
    yw = y * sw
    explained = np.cumsum((q.T @ yw) ** 2)
    total = float(yw @ yw)
    best = np.inf
    for h in range(1, max_harmonics + 1):
        chi2 = max(total - explained[2 * h], total * 1e-12)
        best = min(best, n * np.log(chi2 / n) + (2 * h + 1) * np.log(n))
    return float(best)


def _select_alias(mjd: np.ndarray, mag: np.ndarray, magerr: np.ndarray, power: np.ndarray, f_min: float,
                 df: float) -> float:
    """The frequency (cycles / day) among the periodogram's peaks and their daily aliases whose
    folded curve a short Fourier series fits best (lowest BIC, :func:`_harmonic_bic`).

    A survey that observes once per night cannot tell f from f +- 1 c/d by phase coverage alone, so
    noise often lifts an alias above the true peak (about a quarter of the real CRTS RRab curves fall
    outside 0.4-1 d on the raw peak). A single sinusoid (what Lomb-Scargle fits) sees each alias
    nearly as well as the truth; a non-sinusoidal curve's harmonic h f is then met at h f +- h c/d,
    where the window function is weaker (the ~0.35 d spread of visit times within the night blurs
    h c/d more than 1 c/d), so a 1-3-harmonic fit separates them with all of the curve's signal
    (Schwarzenberg-Czerny 1996's multi-harmonic periodogram). The BIC needs no labels, no thresholds
    and no knowledge of the error scale, and compares fits of different harmonic counts fairly.

    Candidates: the ``_N_PEAKS`` highest distinct peaks of ``power`` (on the grid ``f_min + k df``),
    and for each, f + k and |f - k| for k in ``_ALIAS_STEPS``, each moved to the highest ``power``
    within ``_ALIAS_WINDOW`` c/d (night-time visits of a field drift by 4 minutes a day, so the
    aliases lie between 1 and 1.0027 c/d away, with yearly side lobes 0.0027 c/d apart) and refined on
    a 20x finer grid. Inputs as for :func:`gls_power`, already checked; ``f_min > 0``.
    """
    w = 1.0 / magerr**2
    w_norm = w / w.sum()
    tc = mjd - mjd.mean()
    sw = np.sqrt(w)
    n_freq = power.size
    window = max(int(round(_ALIAS_WINDOW / df)), 1)
    starts: list[int] = []
    for peak in _distinct_peaks(power, max(int(round(_PEAK_SEPARATION / df)), 1), _N_PEAKS):
        f = f_min + peak * df
        starts.append(peak)
        for step in _ALIAS_STEPS:
            for alias in (f + step, abs(f - step)):
                centre = int(round((alias - f_min) / df))
                lo, hi = max(centre - window, 0), min(centre + window + 1, n_freq)
                if lo < hi:
                    starts.append(lo + int(np.argmax(power[lo:hi])))
    best_freq, best_bic = f_min, np.inf
    for k in sorted(set(starts)):
        lo = max(f_min + (k - 1) * df, f_min)
        fine = _gls_scan(tc, mag, w_norm, lo, df / 20, 41)
        freq = lo + int(np.argmax(fine)) * df / 20
        bic = _harmonic_bic(tc, mag, sw, freq, _MAX_HARMONICS)
        if bic < best_bic:
            best_freq, best_bic = freq, bic
    return best_freq


def _fourier_fit(phase: np.ndarray, y: np.ndarray, w: np.ndarray, n_harmonics: int) -> tuple[np.ndarray, float]:
    """Weighted least-squares Fourier series of ``y`` at ``phase`` (cycles): ([a_k, b_k], R^2)."""
    columns = [np.ones_like(phase)]
    for h in range(1, n_harmonics + 1):
        columns += [np.cos(2 * np.pi * h * phase), np.sin(2 * np.pi * h * phase)]
    design = np.stack(columns, axis=1)
    sw = np.sqrt(w)
    coef, *_ = np.linalg.lstsq(design * sw[:, None], y * sw, rcond=None)
    residual = y - design @ coef
    total = np.sum(w * (y - np.sum(w * y) / w.sum()) ** 2)
    r2 = 1.0 - np.sum(w * residual**2) / total if total > 0 else 0.0
    return coef[1:].reshape(n_harmonics, 2), float(r2)


def _fold_scatter(phase: np.ndarray, y: np.ndarray) -> float:
    """sum (y_{i+1} - y_i)^2 over phase-sorted points / (2 (n - 1) var(y)): ~1 for noise, ~0 for a smooth fold."""
    order = np.argsort(phase, kind="stable")
    var = y.var()
    if var <= 0:
        return 1.0
    return float(np.mean(np.diff(y[order]) ** 2) / (2.0 * var))


def curve_features(mjd: np.ndarray, mag: np.ndarray, magerr: np.ndarray, *, min_period: float = 0.1,
                   max_period: float = 1000.0, oversampling: float = 5.0) -> np.ndarray:
    """float64 [len(FEATURE_NAMES)] features of one curve (see :data:`FEATURE_NAMES`).

    The grid's baseline is the span of the central 98% of the times, so a single stray date (e.g. the
    MJD -2409998.5 sentinel in three real CRTS curves) does not multiply the grid a thousand-fold. The
    period is :func:`_select_alias`'s choice among the periodogram's peaks and their daily aliases.
    """
    t, y, dy = _checked(mjd, mag, magerr, "curve_features")
    baseline = float(np.percentile(t, 99) - np.percentile(t, 1))
    if baseline <= 0:
        baseline = float(t.max() - t.min())
    f_min, df, n_freq = frequency_grid(baseline, min_period=min_period, max_period=max_period,
                                       oversampling=oversampling)
    w = 1.0 / dy**2
    w_norm = w / w.sum()
    tc = t - t.mean()
    power = _gls_scan(tc, y, w_norm, f_min, df, n_freq)
    freq = _select_alias(t, y, dy, power, f_min, df)

    def power_at(f: float) -> float:
        return float(_gls_scan(tc, y, w_norm, f, 1.0, 1)[0])

    peak = power_at(freq)

    phase_p = (freq * tc) % 1.0
    phase_2p = (0.5 * freq * tc) % 1.0
    coef, r2_p = _fourier_fit(phase_p, y, w, 3)
    _, r2_2p = _fourier_fit(phase_2p, y, w, 6)
    amp = np.hypot(coef[:, 0], coef[:, 1])
    phi = np.arctan2(-coef[:, 1], coef[:, 0])  # y ~ A_h cos(2 pi h phase + phi_h)
    a1 = max(amp[0], 1e-12)
    phi21, phi31 = phi[1] - 2 * phi[0], phi[2] - 3 * phi[0]
    centred = y - y.mean()
    std = centred.std()
    skew = float(np.mean(centred**3) / std**3) if std > 0 else 0.0
    kurt = float(np.mean(centred**4) / std**4 - 3.0) if std > 0 else 0.0
    p5, p95 = np.percentile(y, [5, 95])
    return np.array([
        np.log10(1.0 / freq), peak, power_at(0.5 * freq), power_at(2.0 * freq),
        _fold_scatter(phase_p, y), _fold_scatter(phase_2p, y), r2_p, r2_2p,
        amp[0], amp[1] / a1, amp[2] / a1, np.cos(phi21), np.sin(phi21), np.cos(phi31), np.sin(phi31),
        p95 - p5, np.log10(max(std, 1e-6) / np.median(dy)), skew, kurt, np.median(y),
    ])


def lightcurve_features(curves: Sequence[LightCurve], **grid: float) -> np.ndarray:
    """float32 [N, len(FEATURE_NAMES)] features of ``curves`` (keyword arguments: :func:`curve_features`'s grid).

    Raises
    ------
    InputError
        naming the curve's id when a curve has fewer than 3 points or a magerr <= 0.
    """
    rows = []
    for curve in curves:
        try:
            rows.append(curve_features(curve.mjd, curve.mag, curve.magerr, **grid))
        except InputError as err:
            raise InputError(f"curve {curve.lcid}: {err}") from None
    return np.asarray(rows, dtype=np.float32).reshape(len(rows), len(FEATURE_NAMES))
