"""Compiled (numba) dmdt pair counting: one pass over the pairs of each curve, no temporaries.

The numpy path in :mod:`pix2pixai.data.dmdt_images` must materialise every pair's dt, dm and bin index
(~10 array passes of 8 bytes per pair); a per-pair loop compiled by numba touches each pair once and
keeps one curve's count image in L1 cache, which is what makes it several times faster than a
per-curve :func:`numpy.histogram2d`. Results are identical to the numpy path (and to histogram2d):

- ``dt`` bin: the curve is sorted by time, so for a fixed earlier point ``i`` the lags ``t_j - t_i``
  never decrease with ``j`` (IEEE subtraction is monotone). The bin is found by walking a pointer
  forward over the true bounds (amortised O(1) per pair, exact), and once it passes the last edge
  every later ``j`` is out of range too, so the row stops there.
- ``dm`` bin: the same uniform lookup table and binary-search fallback as ``_EdgeBinner`` (exact by
  its construction, see there); the row's table cells are computed first in a branch-free loop.

This module imports numba at import time; :mod:`pix2pixai.data.dmdt_images` imports it lazily and falls
back to its numpy path when numba is missing. The kernels are module-level functions so that
numba's on-disk cache (``cache=True``) is reused across processes (compiling takes ~5 s).
"""

from __future__ import annotations

import numba
import numpy as np


def pair_counts(times: np.ndarray, mags: np.ndarray, offsets: np.ndarray, dt_bounds: np.ndarray,
                dm_bounds: np.ndarray, dm_table: np.ndarray, dm_low: float, dm_scale: float,
                dm_last_cell: float) -> np.ndarray:
    """int64 (N, n_dm, n_dt) pair counts of N curves stored back to back.

    Parameters
    ----------
    times, mags : float64 (sum of lengths,)
        Curves concatenated, each sorted by (time, mag); curve ``c`` is ``offsets[c]:offsets[c + 1]``.
    offsets : int64 (N + 1,)
    dt_bounds, dm_bounds : float64 (n + 3,)
        Extended-bin lower bounds ``[-inf, e_0, ..., e_{n-1}, nextafter(e_n, inf), inf]``: extended bin
        b holds ``bounds[b] <= x < bounds[b + 1]``; 0 and n + 1 are out of range.
    dm_table, dm_low, dm_scale, dm_last_cell
        ``_EdgeBinner``'s lookup table (extended bin or -1 near an edge) and its cell geometry.
    """
    n_dt, n_dm = dt_bounds.size - 3, dm_bounds.size - 3
    out = np.zeros((offsets.size - 1, n_dm, n_dt), np.int64)
    _count_pairs(np.ascontiguousarray(times, np.float64), np.ascontiguousarray(mags, np.float64),
                 np.ascontiguousarray(offsets, np.int64), np.ascontiguousarray(dt_bounds, np.float64),
                 np.ascontiguousarray(dm_bounds, np.float64), np.ascontiguousarray(dm_table, np.int32),
                 float(dm_low), float(dm_scale), float(dm_last_cell), out)
    return out


@numba.njit(cache=True, nogil=True, boundscheck=False)
def _extended_bin(bounds, x):  # pragma: no cover - compiled
    """Last b with ``bounds[b] <= x`` (``bounds[0] = -inf``, ``bounds[-1] = inf``): numpy's
    ``searchsorted(bounds, x, side="right") - 1``."""
    lo, hi = 0, bounds.size - 1
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if bounds[mid] <= x:
            lo = mid
        else:
            hi = mid
    return lo


@numba.njit(cache=True, nogil=True, boundscheck=False)
def _count_rows(times, mags, first_row, last_row, dt_bounds, dm_bounds, dm_table, dm_low, dm_scale, dm_last_cell,
                image, dm_cells):  # pragma: no cover - compiled; covered through pair_counts
    """Add to ``image`` (extended bins, row-major) the pairs (i, j > i) of one sorted curve
    ``times, mags`` whose first point i lies in ``[first_row, last_row)``."""
    n_dt = dt_bounds.size - 3
    above_dt = n_dt + 1
    width = n_dt + 2
    stop = times.size
    for i in range(first_row, min(last_row, stop - 1)):
        t_i = times[i]
        m_i = mags[i]
        first = i + 1
        # lookup cells of the row's dm first: a branch-free loop the compiler vectorises
        for k in range(stop - first):
            position = (mags[first + k] - m_i - dm_low) * dm_scale
            dm_cells[k] = int(min(max(position, 0.0), dm_last_cell))
        b_dt = 0
        for k in range(stop - first):
            dt = times[first + k] - t_i
            while dt >= dt_bounds[b_dt + 1]:
                b_dt += 1
            if b_dt == above_dt:
                break  # later points have dt at least as large: all out of range
            b_dm = dm_table[dm_cells[k]]
            if b_dm < 0:
                b_dm = _extended_bin(dm_bounds, mags[first + k] - m_i)
            image[b_dm * width + b_dt] += 1


@numba.njit(cache=True, nogil=True, boundscheck=False)
def _count_pairs(times, mags, offsets, dt_bounds, dm_bounds, dm_table, dm_low, dm_scale, dm_last_cell,
                 out):  # pragma: no cover - compiled; covered through pair_counts
    n_dt = dt_bounds.size - 3
    n_dm = dm_bounds.size - 3
    width = n_dt + 2
    image = np.zeros((n_dm + 2) * width, np.int64)  # one curve's counts over extended bins
    longest = 1
    for c in range(offsets.size - 1):
        longest = max(longest, offsets[c + 1] - offsets[c])
    dm_cells = np.empty(longest, np.int64)
    for c in range(offsets.size - 1):
        image[:] = 0
        start, stop = offsets[c], offsets[c + 1]
        _count_rows(times[start:stop], mags[start:stop], 0, stop - start, dt_bounds, dm_bounds, dm_table, dm_low,
                    dm_scale, dm_last_cell, image, dm_cells)
        _copy_in_range(image, n_dm, n_dt, out[c])


@numba.njit(cache=True, nogil=True, boundscheck=False)
def _copy_in_range(image, n_dm, n_dt, target):  # pragma: no cover - compiled; covered through pair_counts
    """The in-range bins of an extended-bin ``image`` into ``target`` (n_dm, n_dt)."""
    width = n_dt + 2
    for row in range(n_dm):
        for col in range(n_dt):
            target[row, col] = image[(row + 1) * width + col + 1]


def long_curve_counts(times: np.ndarray, mags: np.ndarray, dt_bounds: np.ndarray, dm_bounds: np.ndarray,
                      dm_table: np.ndarray, dm_low: float, dm_scale: float, dm_last_cell: float, *,
                      blocks: int, progress) -> np.ndarray:
    """int64 (n_dm, n_dt) pair counts of one sorted curve, counted in ``blocks`` blocks of first points
    of about equal pair counts, ``progress(done_pairs, total_pairs)`` called after each: the same counts
    as :func:`pair_counts`, for a curve long enough that a person wants to see it move."""
    t = np.ascontiguousarray(times, np.float64)
    m = np.ascontiguousarray(mags, np.float64)
    n_dt, n_dm = dt_bounds.size - 3, dm_bounds.size - 3
    image = np.zeros((n_dm + 2) * (n_dt + 2), np.int64)
    dm_cells = np.empty(max(t.size, 1), np.int64)
    later = np.arange(t.size - 1, 0, -1, dtype=np.float64)  # pairs whose first point is row i
    total = float(later.sum())
    edges = np.searchsorted(np.cumsum(later), np.linspace(0, total, blocks + 1)[1:-1])
    rows = [0, *sorted(set(int(e) + 1 for e in edges)), t.size]
    done = 0.0
    for first_row, last_row in zip(rows[:-1], rows[1:]):
        _count_rows(t, m, first_row, last_row, np.ascontiguousarray(dt_bounds, np.float64),
                    np.ascontiguousarray(dm_bounds, np.float64), np.ascontiguousarray(dm_table, np.int32),
                    float(dm_low), float(dm_scale), float(dm_last_cell), image, dm_cells)
        done += float(later[first_row:min(last_row, later.size)].sum())
        progress(done, total)
    out = np.zeros((n_dm, n_dt), np.int64)
    _copy_in_range(image, n_dm, n_dt, out)
    return out
