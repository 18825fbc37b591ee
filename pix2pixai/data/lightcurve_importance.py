"""Explanations on the light curve itself: a dmdt attribution map shared back to the observations.

A dmdt attribution says which (dm, dt) bins mattered to the classifier; an astronomer thinks in
observations. Every bin of a dmdt is filled by pairs of observations, so a bin's attribution can be
handed back to the points that made it:

* each occupied bin's attribution ``A[b]`` is shared equally among the ``n_b`` pairs that fell in it,
* each pair's share ``A[b] / n_b`` is split equally between its two points.

The importances therefore sum to the attribution summed over the occupied bins (conservation: what
the map says about the curve is neither lost nor invented), an empty bin gives nothing to anyone, and
a pair outside the bin edges (dt beyond the last edge, |dm| beyond the outer edges) carries none.
Pairs are formed exactly as :func:`pix2pixai.data.dmdt` forms them (sorted by (mjd, mag), every
i < j, ``dt = t_j - t_i``, ``dm = m_j - m_i``, histogram2d bins), so the pairs counted here are the
pairs counted in the image.
"""

from __future__ import annotations

import numpy as np

from pix2pixai.data.dmdt_images import DmdtPreset, get_preset
from pix2pixai.errors import InputError

#: Pairs binned at a time: bounds memory to a few hundred MB for long curves.
_PAIR_CHUNK = 4_000_000


def observation_importance(mjd: np.ndarray, mag: np.ndarray, attribution: np.ndarray,
                           preset: str | DmdtPreset = "crts") -> np.ndarray:
    """Importance of every observation of one curve under a dmdt attribution map.

    Parameters
    ----------
    mjd, mag : array (n,)
        The curve's times (days) and magnitudes, in any order.
    attribution : array [n_dm, n_dt] or [n_dm, n_dt, 1]
        Any producer's map (or a class map) of this curve's dmdt, on ``preset``'s bins; its units
        and sign are kept (a signed map gives signed importances).
    preset : str or DmdtPreset
        The bins the dmdt was made with.

    Returns
    -------
    float64 (n,), in the order the points were given; sums to ``attribution`` summed over the bins
    that hold at least one pair.
    """
    resolved = get_preset(preset)
    t, m = np.asarray(mjd, np.float64), np.asarray(mag, np.float64)
    if t.ndim != 1 or t.shape != m.shape or t.size < 2:
        raise InputError(f"observation_importance: mjd {t.shape} and mag {m.shape}; expected equal 1-D shapes "
                         "with at least 2 points")
    if not (np.all(np.isfinite(t)) and np.all(np.isfinite(m))):
        raise InputError("observation_importance: mjd and mag must be finite (drop NaN/inf rows first)")
    a = np.asarray(attribution, np.float64)
    if a.ndim == 3 and a.shape[-1] == 1:
        a = a[..., 0]
    if a.shape != resolved.shape:
        raise InputError(f"observation_importance: attribution of shape {np.shape(attribution)}; expected "
                         f"{resolved.shape} (or {(*resolved.shape, 1)}) for preset {resolved.name!r}")
    order = np.lexsort((m, t))
    ts, ms = t[order], m[order]
    first, second, cell = _binned_pairs(ts, ms, resolved)
    pairs_per_bin = np.bincount(cell, minlength=a.size)
    share = a.ravel()[cell] / pairs_per_bin[cell] / 2.0
    sorted_importance = (np.bincount(first, weights=share, minlength=ts.size)
                         + np.bincount(second, weights=share, minlength=ts.size))
    importance = np.empty(ts.size)
    importance[order] = sorted_importance
    return importance


def _bin_index(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """histogram2d bin of each value (left-closed bins, the last also right-closed); -1 outside."""
    index = np.searchsorted(edges, values, side="right") - 1
    index[values == edges[-1]] = edges.size - 2
    index[(values < edges[0]) | (values > edges[-1])] = -1
    return index


def _binned_pairs(t: np.ndarray, m: np.ndarray, preset: DmdtPreset) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(first point, second point, flat bin) of every in-range pair i < j of a sorted curve, built
    a block of first points at a time (at most about ``_PAIR_CHUNK`` pairs in memory)."""
    n = t.size
    firsts, seconds, cells = [], [], []
    start = 0
    while start < n - 1:
        later = n - 1 - np.arange(start, n - 1)  # pairs starting at each first point
        stop = start + max(1, int(np.searchsorted(np.cumsum(later), _PAIR_CHUNK)))
        lengths = later[: stop - start]
        i = np.repeat(np.arange(start, stop), lengths)
        j = i + 1 + np.arange(i.size) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        dm_bin = _bin_index(m[j] - m[i], preset.dm_edges)
        dt_bin = _bin_index(t[j] - t[i], preset.dt_edges)
        inside = (dm_bin >= 0) & (dt_bin >= 0)
        firsts.append(i[inside])
        seconds.append(j[inside])
        cells.append(dm_bin[inside] * preset.shape[1] + dt_bin[inside])
        start = stop
    return np.concatenate(firsts), np.concatenate(seconds), np.concatenate(cells)
