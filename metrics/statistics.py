"""Paired inference for per-input scores: bootstrap intervals, paired tests, Holm's adjustment.

A claim about a class map is a claim about the inputs it is scored on: every comparison here takes
one score per evaluation input and candidate, so that two candidates are compared *on the same
inputs* (a paired design), and reports an interval and a p-value instead of a bare difference of
means.

* :func:`bootstrap_interval`: percentile bootstrap interval of any statistic of one or more
  per-input arrays resampled together (inputs drawn with replacement, the same draw for every array).
* :func:`paired_comparison`: ``delta = mean(a - b)``, its bootstrap interval and the two-sided
  Wilcoxon signed-rank p-value (Wilcoxon 1945; zero differences dropped, as in Wilcoxon's method);
  identical scores give ``delta = 0`` and ``p = 1``.
* :func:`holm`: Holm's step-down adjustment of a family of p-values (Holm 1979), controlling the
  family-wise error rate without assuming independence.

"Significant" means ``p_holm < SIGNIFICANCE`` everywhere in the toolkit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import stats

#: The level below which an adjusted p-value is called significant.
SIGNIFICANCE = 0.05


def bootstrap_interval(statistic: Callable[..., np.ndarray], *samples: np.ndarray, level: float = 0.95,
                       n_boot: int = 2000, seed: int = 0) -> tuple[float, float, float]:
    """(estimate, low, high): ``statistic`` of the samples and its percentile bootstrap interval.

    Parameters
    ----------
    statistic : callable
        ``statistic(*resampled)`` where each resampled array has shape [B, N, ...] (B bootstrap
        draws of N inputs); it must reduce over axis 1 and return [B]. It is also called once on
        the original samples with B = 1.
    samples : arrays [N, ...]
        Per-input values, resampled together (row i of every array stays together: paired).
    level : float
        Coverage of the interval (0.95: the 2.5th and 97.5th percentiles).
    n_boot, seed : number of bootstrap draws and the generator's seed (same seed, same interval).
    """
    if not samples:
        raise ValueError("bootstrap_interval needs at least one sample")
    n = len(samples[0])
    if n < 1 or any(len(s) != n for s in samples):
        raise ValueError(f"samples must be non-empty and of equal length; got {[len(s) for s in samples]}")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1); got {level}")
    arrays = [np.asarray(s, dtype=np.float64) for s in samples]
    estimate = float(statistic(*(a[None] for a in arrays))[0])
    draws = np.random.default_rng(seed).integers(0, n, size=(n_boot, n))
    values = np.asarray(statistic(*(a[draws] for a in arrays)), dtype=np.float64)
    tail = (1 - level) / 2
    low, high = np.quantile(values, [tail, 1 - tail])
    return estimate, float(low), float(high)


def mean_interval(values: np.ndarray, *, level: float = 0.95, n_boot: int = 2000,
                  seed: int = 0) -> tuple[float, float, float]:
    """(mean, low, high) of per-input ``values`` [N] with a percentile bootstrap interval."""
    return bootstrap_interval(lambda v: v.mean(axis=1), values, level=level, n_boot=n_boot, seed=seed)


@dataclass(frozen=True)
class PairedComparison:
    """Candidate a against reference b on the same inputs.

    ``delta``: mean(a - b) in the score's units; ``ci``: its bootstrap interval; ``p``: two-sided
    Wilcoxon signed-rank p-value (1 when every difference is zero); ``n``: number of inputs.
    """

    delta: float
    ci: tuple[float, float]
    p: float
    n: int


def paired_comparison(a: np.ndarray, b: np.ndarray, *, level: float = 0.95, n_boot: int = 2000,
                      seed: int = 0) -> PairedComparison:
    """Paired difference of two candidates' per-input scores ``a``, ``b`` [N] (see :class:`PairedComparison`)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"paired scores need equal 1-D shapes; got {a.shape} and {b.shape}")
    diff = a - b
    delta, low, high = mean_interval(diff, level=level, n_boot=n_boot, seed=seed)
    if np.all(diff == 0):
        p = 1.0
    else:
        p = float(stats.wilcoxon(diff, zero_method="wilcox", alternative="two-sided").pvalue)
    return PairedComparison(delta=delta, ci=(low, high), p=p, n=int(diff.size))


def holm(p_values: np.ndarray) -> np.ndarray:
    """Holm-adjusted p-values, in the order given: ``p_(i) * (m - i + 1)``, made monotone, capped at 1."""
    p = np.asarray(p_values, dtype=np.float64)
    if p.ndim != 1:
        raise ValueError(f"p_values must be 1-D; got shape {p.shape}")
    m = p.size
    order = np.argsort(p, kind="stable")
    stepped = np.maximum.accumulate(p[order] * (m - np.arange(m)))
    adjusted = np.empty(m)
    adjusted[order] = np.minimum(stepped, 1.0)
    return adjusted
