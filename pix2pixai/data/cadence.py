"""Cadence diagnostics: how a survey's time sampling fills dmdt time-lag bins, and better dt edges.

Before binning a new survey with edges designed for another (CRTS edges on ZTF, say), check its
time lags: the distribution of all-pairs lags (what a dmdt histograms) and of consecutive gaps, how
far each is from a uniform and from a log-uniform distribution over the observed range (KL divergence,
nats; 0 means exactly that shape), how many pairs each preset dt bin receives (empty bins waste image
area, overfull ones hide structure) and edges with about equal pairs per bin (all-pairs quantiles).
KL is estimated from histograms of about sqrt(n) bins (linear bins against uniform, log bins against
log-uniform), which keeps the estimator's upward bias small.

All-pairs lags are never materialised: they are counted on a fine log-spaced grid with the exact,
chunked pair binning of :mod:`pix2pixai.data.dmdt_images`, so memory stays bounded for any number of curves.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Sequence

import numpy as np

from pix2pixai.data.dmdt_images import DmdtPreset, dmdt_counts, get_preset
from pix2pixai.data.lightcurves import LightCurve
from pix2pixai.errors import InputError

#: Log-spaced bins of the fine lag grid between the smallest positive lag and the longest span.
_FINE_BINS = 2048
#: Curves per chunk when counting pairs (bounds memory to chunk x fine bins counts).
_CHUNK = 512


@dataclass(frozen=True)
class CadenceReport:
    """Time-sampling summary of a set of light curves (times in days, KL in nats).

    ``fine_pair_edges`` = ``[0, dt_min, ...]``, then log-spaced up to ``dt_max`` (the longest span);
    ``fine_gap_edges`` likewise up to the longest consecutive gap: each distribution is judged over its
    own observed range. ``fine_pair_counts``/``fine_gap_counts`` histogram all-pairs lags / consecutive
    gaps on them (bin 0 holds the zero lags). KL divergences use positive lags only (a log-uniform law
    has no mass at 0).
    """

    n_curves: int
    n_points: int
    n_pairs: int
    n_zero_lag_pairs: int
    dt_min: float
    dt_max: float
    median_gap: float
    kl_pairs_uniform: float
    kl_pairs_log_uniform: float
    kl_gaps_uniform: float
    kl_gaps_log_uniform: float
    preset: str
    dt_edges: np.ndarray
    pairs_per_dt_bin: np.ndarray
    pairs_out_of_range: int
    suggested_dt_edges: np.ndarray
    fine_pair_edges: np.ndarray
    fine_pair_counts: np.ndarray
    fine_gap_edges: np.ndarray
    fine_gap_counts: np.ndarray

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields (arrays as lists; float64 values survive a JSON round trip exactly), so a
        run's data step can keep the diagnostics of its curves without keeping the curves."""
        return {f.name: (getattr(self, f.name).tolist() if isinstance(getattr(self, f.name), np.ndarray)
                         else getattr(self, f.name)) for f in fields(self)}

    @classmethod
    def from_dict(cls, record: dict[str, Any]) -> "CadenceReport":
        """Inverse of :meth:`to_dict` (counts back to int64, edges to float64)."""
        missing = [f.name for f in fields(cls) if f.name not in record]
        if missing:
            raise InputError(f"cadence record lacks field(s) {', '.join(missing)}; expected a CadenceReport.to_dict()")
        values = {}
        for f in fields(cls):
            value = record[f.name]
            if isinstance(value, list):
                value = np.asarray(value, np.int64 if "count" in f.name or f.name == "pairs_per_dt_bin" else np.float64)
            values[f.name] = value
        return cls(**values)

    def to_table(self) -> str:
        """Plain-text report: summary lines, then one row per preset dt bin and the suggested edges."""
        lines = [
            f"curves {self.n_curves}, points {self.n_points}, pairs {self.n_pairs} "
            f"({self.n_zero_lag_pairs} with dt = 0)",
            f"lags: smallest positive {self.dt_min:.6g} d, longest {self.dt_max:.6g} d, "
            f"median consecutive gap {self.median_gap:.6g} d",
            "KL divergence (nats)    uniform  log-uniform",
            f"  all-pair lags       {self.kl_pairs_uniform:9.4f}  {self.kl_pairs_log_uniform:11.4f}",
            f"  consecutive gaps    {self.kl_gaps_uniform:9.4f}  {self.kl_gaps_log_uniform:11.4f}",
            f"preset {self.preset!r} dt bins (days)      pairs   share",
        ]
        total = max(self.n_pairs, 1)
        for lo, hi, count in zip(self.dt_edges[:-1], self.dt_edges[1:], self.pairs_per_dt_bin):
            lines.append(f"  [{lo:10.5g}, {hi:10.5g})  {count:12d}  {100 * count / total:5.1f}%")
        lines.append(f"  out of range            {self.pairs_out_of_range:12d}  "
                     f"{100 * self.pairs_out_of_range / total:5.1f}%")
        lines.append("suggested dt edges (equal pairs per bin): "
                     + ", ".join(f"{e:.5g}" for e in self.suggested_dt_edges))
        return "\n".join(lines)


def cadence_report(curves: Sequence[LightCurve], preset: str | DmdtPreset = "crts",
                   n_bins: int | None = None) -> CadenceReport:
    """Diagnose the cadence of ``curves`` against ``preset``'s dt bins.

    ``n_bins``: number of suggested dt bins (default: as many as the preset has), at most the
    :data:`_FINE_BINS` fine lag bins the suggestion is drawn from.
    """
    if n_bins is not None and not 1 <= n_bins <= _FINE_BINS:
        raise InputError(f"n_bins={n_bins}: expected a number of suggested dt bins from 1 to {_FINE_BINS}")
    resolved = get_preset(preset)
    times = _sorted_times(curves)
    gaps, pair_edges = _gaps_and_pair_edges(times)
    gap_edges = _fine_edges(gaps, gaps.max())
    fine_pairs = _pair_lag_histogram(times, pair_edges)
    fine_gaps = np.histogram(gaps, bins=gap_edges)[0].astype(np.int64)
    in_preset = _pair_lag_histogram(times, resolved.dt_edges)
    n_pairs = int(sum(t.size * (t.size - 1) // 2 for t in times))
    pair_bins = _kl_bins(n_pairs - int(fine_pairs[0]))
    pair_linear = np.linspace(pair_edges[1], pair_edges[-1], pair_bins + 1)
    gap_bins = _kl_bins(np.count_nonzero(gaps > 0))
    gap_linear = np.linspace(gap_edges[1], gap_edges[-1], gap_bins + 1)
    return CadenceReport(
        n_curves=len(times), n_points=int(sum(t.size for t in times)), n_pairs=n_pairs,
        n_zero_lag_pairs=int(fine_pairs[0]), dt_min=float(pair_edges[1]), dt_max=float(pair_edges[-1]),
        median_gap=float(np.median(gaps)),
        kl_pairs_uniform=kl_from_uniform(_pair_lag_histogram(times, pair_linear), pair_linear, log=False),
        kl_pairs_log_uniform=kl_from_uniform(*_regrouped(fine_pairs, pair_edges, pair_bins), log=True),
        kl_gaps_uniform=kl_from_uniform(np.histogram(gaps, bins=gap_linear)[0], gap_linear, log=False),
        kl_gaps_log_uniform=kl_from_uniform(*_regrouped(fine_gaps, gap_edges, gap_bins), log=True),
        preset=resolved.name, dt_edges=resolved.dt_edges, pairs_per_dt_bin=in_preset,
        pairs_out_of_range=n_pairs - int(in_preset.sum()),
        suggested_dt_edges=_equal_count_edges(fine_pairs, pair_edges, n_bins or resolved.shape[1]),
        fine_pair_edges=pair_edges, fine_pair_counts=fine_pairs, fine_gap_edges=gap_edges, fine_gap_counts=fine_gaps,
    )


def suggest_dt_edges(curves: Sequence[LightCurve], n_bins: int) -> np.ndarray:
    """float64 (n_bins + 1,) dt edges from 0 to the longest span with about equal all-pairs counts per bin.

    Edges are quantiles of the pooled all-pairs lags, read from the fine lag histogram (linear inside a
    fine bin), so a bin's count is within about one fine bin's pairs of ``n_pairs / n_bins``.
    """
    times = _sorted_times(curves)
    _, edges = _gaps_and_pair_edges(times)
    return _equal_count_edges(_pair_lag_histogram(times, edges), edges, n_bins)


def kl_from_uniform(counts: np.ndarray, edges: np.ndarray, *, log: bool) -> float:
    """KL(P || Q) in nats of the histogram ``counts`` (n,) on ``edges`` (n + 1,) from a (log-)uniform Q.

    ``P_k = counts_k / sum(counts)``; ``Q_k`` = share of ``[edges[0], edges[-1]]`` that bin k covers,
    in dt for uniform, in log(dt) for log-uniform (``edges[0] > 0`` then). ``sum_k P_k log(P_k / Q_k)``
    over bins with ``P_k > 0``; 0 when the histogram has that exact shape.
    """
    counts = np.asarray(counts, np.float64)
    scale = np.log(edges) if log else np.asarray(edges, np.float64)
    q = np.diff(scale) / (scale[-1] - scale[0])
    total = counts.sum()
    if total == 0:
        return 0.0
    p = counts / total
    present = p > 0
    return float(np.sum(p[present] * np.log(p[present] / q[present])))


def _sorted_times(curves: Sequence[LightCurve]) -> list[np.ndarray]:
    times = [np.sort(np.asarray(c.mjd, np.float64)) for c in curves]
    if not times:
        raise InputError("cadence: no light curves given; expected at least one curve with >= 2 points")
    short = [c.lcid for c, t in zip(curves, times) if t.size < 2]
    if short:
        raise InputError(f"cadence: curve {short[0]!r} has fewer than 2 points; every curve needs a time lag")
    return times


def _kl_bins(n_samples: int) -> int:
    """Bins for a KL estimate from n samples: a power of two near sqrt(n), 8..256.

    The plug-in KL of a histogram is biased upwards by about (bins - 1) / (2 n) nats; sqrt(n) bins keep
    that below 1 / (2 sqrt(n)) while resolving the shape. Powers of two divide the fine grid evenly.
    """
    return int(2 ** np.clip(np.round(np.log2(max(n_samples, 1)) / 2), 3, 8))


def _regrouped(fine_counts: np.ndarray, fine_edges: np.ndarray, n_bins: int) -> tuple[np.ndarray, np.ndarray]:
    """The positive-lag part of a fine log histogram summed into ``n_bins`` log bins: (counts, edges)."""
    group = _FINE_BINS // n_bins
    return fine_counts[1:].reshape(n_bins, group).sum(axis=1), fine_edges[1::group]


def _gaps_and_pair_edges(times: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """All consecutive gaps, and the fine grid of all-pairs lags (up to the longest span)."""
    gaps = np.concatenate([np.diff(t) for t in times])
    return gaps, _fine_edges(gaps, max(t[-1] - t[0] for t in times))


def _fine_edges(gaps: np.ndarray, longest: float) -> np.ndarray:
    """``[0, smallest positive gap, ..., longest]``: a zero-lag bin, then log-spaced bins.

    The smallest positive consecutive gap is also the smallest positive lag of any pair.
    """
    positive = gaps[gaps > 0]
    if positive.size == 0:
        raise InputError("cadence: every time lag is 0 (all points of each curve share one time)")
    low = positive.min()
    high = max(longest, low * (1 + 1e-9))
    return np.concatenate([[0.0], np.geomspace(low, high, _FINE_BINS + 1)])


def _pair_lag_histogram(times: list[np.ndarray], dt_edges: np.ndarray) -> np.ndarray:
    """int64 (n,) all-pairs lag counts on ``dt_edges`` (histogram semantics), chunked over curves."""
    lag_only = DmdtPreset("lags", np.array([-1.0, 1.0]), dt_edges)
    total = np.zeros(dt_edges.size - 1, np.int64)
    for start in range(0, len(times), _CHUNK):
        chunk = times[start:start + _CHUNK]
        total += dmdt_counts(chunk, [np.zeros_like(t) for t in chunk], lag_only).sum(axis=(0, 1))
    return total


def _equal_count_edges(counts: np.ndarray, edges: np.ndarray, n_bins: int) -> np.ndarray:
    """Edges at the k / n_bins quantiles of the histogram (linear inside a bin), from 0 to edges[-1]."""
    if n_bins < 1:
        raise InputError(f"n_bins={n_bins}; expected a positive number of dt bins")
    cumulative = np.concatenate([[0], np.cumsum(counts)]).astype(np.float64)
    rising = np.concatenate([[True], np.diff(cumulative) > 0])
    targets = cumulative[-1] * np.arange(1, n_bins) / n_bins
    inner = np.interp(targets, cumulative[rising], edges[rising])
    return np.concatenate([[0.0], inner, [edges[-1]]])
