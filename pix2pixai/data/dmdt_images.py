"""dmdt images: 2-D histograms of all pairwise (magnitude change, time lag) of a light curve.

Recipe (Mahabal et al. 2017): sort the curve by time (ties by magnitude), take every pair i < j,
``dt = t_j - t_i`` (days, >= 0) and ``dm = m_j - m_i`` (mag, later minus earlier), and count pairs on
fixed, non-uniform bin edges with :func:`numpy.histogram2d` semantics (bins left-closed, the last bin
also closed on the right, pairs outside the edges dropped). Rows are dm bins in ascending dm, columns
dt bins. Two normalisations: ``pairs255`` = ``255 * count / C(n, 2)`` with ``n`` the number of points
(C(n, 2) counts *all* pairs, in range or not), as the CRTS CNN was trained; ``l2`` = count divided by
the histogram's L2 norm (all zeros when no pair is in range), as ZTF SCoPe does.

Speed: with numba installed (a dependency), pairs are counted by the compiled kernel of
:mod:`pix2pixai.data.dmdt_compiled` (one pass per pair, ~7x a per-curve ``histogram2d`` on 10,000
CRTS-like curves of 300 points, ``scripts/bench_dmdt.py``). Without it, the numpy path below is used
(~1.8x); both give identical counts. Numpy path: a chunk of curves is sorted by length and cut into blocks
padded to a (curves, points) matrix; for each lag ``k`` the pairs ``(i, i + k)`` of every curve in the
block are two contiguous slices, so dt/dm need no index arrays. Bins come from a lookup table
(:class:`_EdgeBinner`) instead of a binary search, and one :func:`numpy.bincount` over
``(curve, dm bin, dt bin)`` counts everything; results equal a per-curve ``histogram2d`` exactly.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from typing import Any, Iterable, Iterator, Literal, Sequence

import numpy as np

from pix2pixai.data.lightcurves import LightCurve, lightcurves_from_arrays
from pix2pixai.errors import InputError

logger = logging.getLogger(__name__)

#: Points above which a curve is announced before its pairs are counted: the work grows as n^2 / 2
#: (50,000 points = 1.25e9 pairs, seconds; 10^6 points = 5e11 pairs, many minutes).
LONG_CURVE_POINTS = 50_000

Normalisation = Literal["pairs255", "l2"]
_NORMALISATIONS = ("pairs255", "l2")

#: Elements per lag slab (curves x points); small enough for the slabs and lookup tables to stay in
#: the CPU cache, where the table binning is ~2x faster than numpy's binary search.
_SLAB_ELEMENTS = 16_384
#: Buffered bin indices before one bincount: bounds memory to ~8 MB of indices per block.
_FLUSH_ELEMENTS = 1 << 20
#: Lookup-table cells per edge set: fine enough that few values fall in cells next to an edge (those
#: take a binary search), small enough (128 kB) to stay in cache.
_TABLE_CELLS = 1 << 16


def _checked_edges(edges: Sequence[float], name: str) -> np.ndarray:
    array = np.array(edges, dtype=np.float64)
    if array.ndim != 1 or array.size < 2 or not np.all(np.isfinite(array)) or np.any(np.diff(array) <= 0):
        raise InputError(f"{name}: expected >= 2 finite, strictly increasing bin edges; got {array.tolist()}")
    array.flags.writeable = False
    return array


@dataclass(frozen=True, eq=False)
class DmdtPreset:
    """Bin edges and normalisation of one dmdt recipe; ``dm, dt = preset`` unpacks the edges.

    Attributes
    ----------
    name : str
        Preset name (``crts``, ``scope`` or a custom label).
    dm_edges, dt_edges : np.ndarray
        Strictly increasing, finite float64 edges: (n_dm + 1,) in mag, (n_dt + 1,) in days.
    normalisation : {"pairs255", "l2"}
        How counts become pixel values (see the module docstring).
    """

    name: str
    dm_edges: np.ndarray
    dt_edges: np.ndarray
    normalisation: Normalisation = "pairs255"

    def __post_init__(self) -> None:
        for field in ("dm_edges", "dt_edges"):
            object.__setattr__(self, field, _checked_edges(getattr(self, field), f"{self.name}.{field}"))
        if self.normalisation not in _NORMALISATIONS:
            raise InputError(f"dmdt preset {self.name!r}: normalisation {self.normalisation!r}; "
                             f"expected one of {_NORMALISATIONS}")

    def __iter__(self) -> Iterator[np.ndarray]:
        return iter((self.dm_edges, self.dt_edges))

    @property
    def shape(self) -> tuple[int, int]:
        """Image shape (n_dm, n_dt)."""
        return self.dm_edges.size - 1, self.dt_edges.size - 1

    def normalise(self, counts: np.ndarray, n_points: np.ndarray) -> np.ndarray:
        """Pair counts (N, n_dm, n_dt) of curves with ``n_points`` (N,) points -> float32 images."""
        counts = np.asarray(counts, dtype=np.float64)
        if self.normalisation == "pairs255":
            n = np.asarray(n_points, dtype=np.float64)
            return (255.0 * counts / (n * (n - 1) / 2.0)[:, None, None]).astype(np.float32)
        return self.renormalise(counts)

    def renormalise(self, images: np.ndarray) -> np.ndarray:
        """Re-apply the normalisation after bins of dmdt images ([H, W] or [N, H, W]) were emptied.

        ``l2``: divide each image by its L2 norm again (an emptied image stays all zeros), so the
        image is again what the preset produces for the remaining counts. ``pairs255``: values are
        ``255 * count / C(n, 2)`` and C(n, 2) depends only on the number of points, which deleting bins
        does not change, so the remaining values are already correctly normalised: returned as they are.
        """
        images = np.asarray(images, dtype=np.float64)
        if self.normalisation == "pairs255":
            return images.astype(np.float32)
        norm = np.sqrt(np.sum(images * images, axis=(-2, -1), keepdims=True))
        return np.divide(images, norm, out=np.zeros_like(images), where=norm > 0).astype(np.float32)

    def with_overrides(self, dm_edges: Sequence[float] | None = None, dt_edges: Sequence[float] | None = None,
                       normalisation: Normalisation | None = None) -> DmdtPreset:
        """A copy with custom edges and/or normalisation (name suffixed ``+custom`` when changed)."""
        if dm_edges is None and dt_edges is None and normalisation is None:
            return self
        return DmdtPreset(
            f"{self.name}+custom",
            self.dm_edges if dm_edges is None else np.asarray(dm_edges, dtype=np.float64),
            self.dt_edges if dt_edges is None else np.asarray(dt_edges, dtype=np.float64),
            self.normalisation if normalisation is None else normalisation,
        )


DMDT_PRESETS: dict[str, DmdtPreset] = {
    "crts": DmdtPreset(
        "crts",
        np.array([-8, -5, -3, -2.5, -2, -1.5, -1, -0.5, -0.3, -0.2, -0.1, 0, 0.1, 0.2, 0.3, 0.5, 1, 1.5, 2, 2.5,
                  3, 5, 8]),
        np.array([0, 1 / 145, 2 / 145, 3 / 145, 4 / 145, 1 / 25, 2 / 25, 3 / 25, 1.5, 2.5, 3.5, 4.5, 5.5, 7, 10,
                  20, 30, 60, 90, 120, 240, 600, 960, 2000, 4000]),
        "pairs255",
    ),
    "scope": DmdtPreset(
        "scope",
        np.array([-8, -4.5, -3, -2.5, -2, -1.5, -1.25, -0.75, -0.5, -0.3, -0.2, -0.1, -0.05, 0, 0.05, 0.1, 0.2,
                  0.3, 0.5, 0.75, 1.25, 1.5, 2, 2.5, 3, 4.5, 8]),
        np.array([0, 4 / 145, 0.04, 0.08, 0.12, 0.3, 0.75, 1, 1.5, 2.5, 3.5, 4.5, 5.5, 7, 10, 20, 30, 45, 60, 90,
                  120, 180, 240, 360, 500, 650, 2000]),
        "l2",
    ),
}


def get_preset(preset: str | DmdtPreset, *, dm_edges: Sequence[float] | None = None,
               dt_edges: Sequence[float] | None = None, normalisation: Normalisation | None = None) -> DmdtPreset:
    """Resolve a preset name (or instance) and apply optional custom edges / normalisation."""
    if not isinstance(preset, DmdtPreset):
        if preset not in DMDT_PRESETS:
            raise InputError(f"dmdt preset {preset!r} unknown; expected one of {', '.join(DMDT_PRESETS)}")
        preset = DMDT_PRESETS[preset]
    return preset.with_overrides(dm_edges, dt_edges, normalisation)


def dmdt(mjd: np.ndarray | Sequence[np.ndarray], mag: np.ndarray | Sequence[np.ndarray],
         preset: str | DmdtPreset = "crts", *, dm_edges: Sequence[float] | None = None,
         dt_edges: Sequence[float] | None = None, normalisation: Normalisation | None = None) -> np.ndarray:
    """dmdt image(s) of one curve or of many.

    Parameters
    ----------
    mjd, mag : array (n,) or sequence of arrays
        One curve (times in days, magnitudes), or one array per curve (lengths may differ). Any order:
        points are sorted by (mjd, mag) here.
    preset : str or DmdtPreset
        ``"crts"``, ``"scope"`` or a preset; ``dm_edges``/``dt_edges``/``normalisation`` override it.

    Returns
    -------
    np.ndarray
        float32 (n_dm, n_dt) for one curve, (N, n_dm, n_dt) for a sequence.
    """
    resolved = get_preset(preset, dm_edges=dm_edges, dt_edges=dt_edges, normalisation=normalisation)
    single = np.ndim(mjd[0]) == 0 if len(mjd) else False
    times, mags = ([mjd], [mag]) if single else (list(mjd), list(mag))
    images = resolved.normalise(dmdt_counts(times, mags, resolved), np.array([np.size(t) for t in times]))
    return images[0] if single else images


def dmdt_counts(mjd: Sequence[np.ndarray], mag: Sequence[np.ndarray],
                preset: str | DmdtPreset = "crts") -> np.ndarray:
    """int64 (N, n_dm, n_dt) raw pair counts of N curves (one mjd and one mag array each), before
    normalisation; histogram2d semantics as in :func:`dmdt`."""
    resolved = get_preset(preset)
    if len(mjd) != len(mag):
        raise InputError(f"dmdt: {len(mjd)} mjd arrays but {len(mag)} mag arrays; expected one per curve")
    return _pair_counts([_checked_curve(t, m, k) for k, (t, m) in enumerate(zip(mjd, mag))], resolved)


def dmdt_from_lightcurves(curves: Sequence[LightCurve], preset: str | DmdtPreset = "crts", *,
                          chunk: int = 4096) -> np.ndarray:
    """float32 (N, n_dm, n_dt) dmdts of light curves, computed ``chunk`` curves at a time."""
    resolved = get_preset(preset)
    parts = list(iter_dmdt_chunks(curves, resolved, chunk=chunk))
    return np.concatenate(parts) if parts else np.zeros((0, *resolved.shape), np.float32)


def iter_dmdt_chunks(curves: Iterable[LightCurve], preset: str | DmdtPreset = "crts", *,
                     chunk: int = 4096) -> Iterator[np.ndarray]:
    """Stream dmdts: yield float32 (<= chunk, n_dm, n_dt) arrays in input order.

    Only one chunk's curves and pair bins are in memory at a time, so ``curves`` may be a generator
    over millions of curves.
    """
    if chunk < 1:
        raise InputError(f"chunk={chunk}; expected a positive number of curves per chunk")
    resolved = get_preset(preset)
    batch: list[tuple[np.ndarray, np.ndarray]] = []
    for curve in curves:
        batch.append(_checked_curve(curve.mjd, curve.mag, curve.lcid))
        if len(batch) == chunk:
            yield _dmdt_of_arrays(batch, resolved)
            batch = []
    if batch:
        yield _dmdt_of_arrays(batch, resolved)


def dmdt_multiband(curve: LightCurve, bands: Sequence[str] = ("g", "r"),
                   preset: str | DmdtPreset = "scope") -> np.ndarray:
    """float32 (n_dm, n_dt, n_bands): one dmdt per band of a multi-band curve, stacked on the last axis.

    Pairs are taken within a band only (a g-r pair mixes colour into dm). A band with fewer than 2
    points has no pair: its channel is all zeros.
    """
    resolved = get_preset(preset)
    if curve.band is None:
        raise InputError(f"light curve {curve.lcid!r}: no per-point band; dmdt_multiband needs a band column "
                         f"with values in {tuple(bands)}")
    channels = np.zeros((*resolved.shape, len(bands)), np.float32)
    for c, band in enumerate(bands):
        in_band = curve.band == band
        if np.count_nonzero(in_band) >= 2:
            channels[..., c] = _dmdt_of_arrays([_checked_curve(curve.mjd[in_band], curve.mag[in_band],
                                                               f"{curve.lcid} band {band}")], resolved)[0]
    return channels


def augment_noise(mag: np.ndarray, magerr: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``mag + N(0, magerr / 3)``: a new noisy realisation of a curve, deterministic for the generator.

    A third of the error keeps each copy well inside the measurement errors: pair bins change a
    little, class signatures do not. ``mag``/``magerr`` (n,); returns float64 (n,).
    """
    errors = np.asarray(magerr, np.float64)
    if not np.all(np.isfinite(errors)):
        raise InputError("noise augmentation needs each point's magnitude error; this curve has none (no magerr "
                         "column in its table?)")
    return np.asarray(mag, np.float64) + rng.normal(0.0, errors / 3.0)


def augment_lightcurves(curves: Sequence[LightCurve], n_copies: int, seed: int) -> list[LightCurve]:
    """``n_copies`` noisy copies of every curve (curve-major order, ids ``<lcid>#aug<k>``), seeded.

    The originals are not included; the copies are re-validated (re-sorted by (mjd, mag)).
    """
    rng = np.random.default_rng(seed)
    return [lightcurves_from_arrays(c.mjd, augment_noise(c.mag, c.magerr, rng), c.magerr,
                                    lcid=f"{c.lcid}#aug{k}", label=c.label, band=c.band)
            for c in curves for k in range(n_copies)]


def _checked_curve(mjd: np.ndarray, mag: np.ndarray, name: object) -> tuple[np.ndarray, np.ndarray]:
    """float64 (n,) times and magnitudes sorted by (mjd, mag); refuses bad shapes, NaN/inf, n < 2."""
    t, m = np.asarray(mjd, np.float64), np.asarray(mag, np.float64)
    if t.ndim != 1 or t.shape != m.shape:
        raise InputError(f"dmdt curve {name}: mjd {t.shape} and mag {m.shape}; expected equal 1-D shapes (n,)")
    if t.size < 2:
        raise InputError(f"dmdt curve {name}: {t.size} point(s); need at least 2 for a pair")
    if t.size > LONG_CURVE_POINTS:
        logger.warning("dmdt curve %s: %d points, %.3g pairs to count (the work grows as n^2); this may take "
                       "a while", name, t.size, t.size * (t.size - 1) / 2)
    for field, values in (("mjd", t), ("mag", m)):
        if not np.all(np.isfinite(values)):
            raise InputError(f"dmdt curve {name}, field {field!r}: NaN/inf values; expected finite "
                             "(read curves with read_lightcurves, which drops such rows)")
    if np.all(t[1:] > t[:-1]):
        return t, m  # strictly increasing times: the (mjd, mag) sort is the identity, skip it
    order = np.lexsort((m, t))
    return t[order], m[order]


def _dmdt_of_arrays(curves: Sequence[tuple[np.ndarray, np.ndarray]], preset: DmdtPreset) -> np.ndarray:
    """Sorted, checked (t, m) curves -> normalised float32 (N, n_dm, n_dt)."""
    counts = _pair_counts(curves, preset)
    return preset.normalise(counts, np.array([t.size for t, _ in curves]))


def _pair_counts(curves: Sequence[tuple[np.ndarray, np.ndarray]], preset: DmdtPreset) -> np.ndarray:
    """int64 (N, n_dm, n_dt) histogram2d-exact pair counts of sorted, checked curves.

    The compiled kernel (:mod:`pix2pixai.data.dmdt_compiled`) when numba imports, else the numpy
    block path; both give identical counts. A curve over :data:`LONG_CURVE_POINTS` points is counted
    on its own in blocks of first points, with a progress bar.
    """
    if not _use_compiled():
        return _pair_counts_numpy(curves, preset)
    from pix2pixai.data import dmdt_compiled

    dm_binner, dt_bounds = _binner(tuple(preset.dm_edges)), _binner(tuple(preset.dt_edges)).bounds
    binning = (dt_bounds, dm_binner.bounds, dm_binner.table, dm_binner.low, dm_binner.scale, dm_binner.last_cell)
    long = [k for k, (t, _) in enumerate(curves) if t.size > LONG_CURVE_POINTS]
    short = [k for k, (t, _) in enumerate(curves) if t.size <= LONG_CURVE_POINTS]
    out = np.zeros((len(curves), *preset.shape), np.int64)
    if short:
        lengths = np.array([curves[k][0].size for k in short], dtype=np.int64)
        offsets = np.concatenate([[0], np.cumsum(lengths)])
        times = np.concatenate([curves[k][0] for k in short])
        mags = np.concatenate([curves[k][1] for k in short])
        out[short] = dmdt_compiled.pair_counts(times, mags, offsets, *binning)
    for k in long:
        out[k] = _long_curve_counts(dmdt_compiled, curves[k], binning)
    return out


def _long_curve_counts(kernel: Any, curve: tuple[np.ndarray, np.ndarray], binning: tuple) -> np.ndarray:
    """One long curve's pair counts in blocks, with a progress bar on stderr (its pairs are n^2 / 2)."""
    from tqdm.auto import tqdm

    with tqdm(total=100, desc=f"dmdt of a {curve[0].size:,}-point curve", unit="%", leave=False) as bar:
        def progress(done: float, total: float) -> None:
            bar.n = round(100 * done / total) if total else 100
            bar.refresh()

        return kernel.long_curve_counts(curve[0], curve[1], *binning, blocks=50, progress=progress)


def compiled_kernel_available() -> bool:
    """True when numba imports, so that dmdts are counted by :mod:`pix2pixai.data.dmdt_compiled`."""
    return _compiled_module_imports()


def _use_compiled() -> bool:
    """Whether the numba kernel is used (tests switch it off to check the numpy path)."""
    return _compiled_module_imports()


@functools.lru_cache(maxsize=1)
def _compiled_module_imports() -> bool:
    try:
        import pix2pixai.data.dmdt_compiled  # noqa: F401  (imports numba: lazily, ~0.5 s)
    except ImportError:
        return False
    return True


def _pair_counts_numpy(curves: Sequence[tuple[np.ndarray, np.ndarray]], preset: DmdtPreset) -> np.ndarray:
    """int64 (N, n_dm, n_dt) histogram2d-exact pair counts, by blocks of similar-length curves.

    Rows of a block are padded past each curve's end with times ``t_max + (column + 1) * step``,
    ``step > dt_edges[-1]``: every pair with a padded point then has ``dt > dt_edges[-1]`` and falls in
    the out-of-range bin, without masks or NaN.
    """
    lengths = np.array([t.size for t, _ in curves], dtype=np.int64)
    counts = np.zeros((len(curves), *preset.shape), np.int64)
    step = max(preset.dt_edges[-1], 0.0) + 1.0
    by_length = np.argsort(-lengths, kind="stable")
    start = 0
    while start < by_length.size:
        width = int(lengths[by_length[start]])
        members = by_length[start:start + max(1, _SLAB_ELEMENTS // width)]
        t_max = max(float(curves[k][0][-1]) for k in members)
        times = np.broadcast_to(t_max + step * np.arange(1.0, width + 1.0), (members.size, width)).copy()
        mags = np.zeros((members.size, width))
        for row, k in enumerate(members):
            times[row, :lengths[k]], mags[row, :lengths[k]] = curves[k]
        counts[members] = _block_counts(times, mags, lengths[members], preset)
        start += members.size
    return counts


def _block_counts(times: np.ndarray, mags: np.ndarray, lengths: np.ndarray, preset: DmdtPreset) -> np.ndarray:
    """Pair counts of one block: (C, L) padded times and mags, lengths sorted descending.

    For lag k the pairs (i, i + k) are ``x[:, k:] - x[:, :-k]``; only the first ``active[k]`` rows
    (curves longer than k) take part. Every pair gets the flat cell ``(row, dm bin, dt bin)`` over
    extended bins (one out-of-range bin each side), so nothing needs masking; one bincount per ~1M
    pairs accumulates them.
    """
    n_dm, n_dt = preset.shape
    n_rows, width = times.shape
    dt_binner = _binner(tuple(preset.dt_edges))
    dm_binner = _binner(tuple(preset.dm_edges), n_dt + 2)
    n_cells = (n_dm + 2) * (n_dt + 2)
    row_base = (np.arange(n_rows) * n_cells)[:, None]
    active = np.count_nonzero(lengths[None, :] > np.arange(width)[:, None], axis=1)
    total = np.zeros(n_rows * n_cells, np.int64)
    pending: list[np.ndarray] = []
    n_pending = 0
    for lag in range(1, width):
        rows = active[lag]
        cell = dm_binner(mags[:rows, lag:] - mags[:rows, :-lag])
        cell += dt_binner(times[:rows, lag:] - times[:rows, :-lag])
        cell += row_base[:rows]
        pending.append(cell.ravel())
        n_pending += cell.size
        if n_pending >= _FLUSH_ELEMENTS or lag == width - 1:
            total += np.bincount(np.concatenate(pending), minlength=total.size)
            pending, n_pending = [], 0
    return total.reshape(n_rows, n_dm + 2, n_dt + 2)[:, 1:-1, 1:-1]


class _EdgeBinner:
    """Exact histogram bin lookup for fixed edges, via a uniform table instead of a binary search.

    Extended bins: index 0 = below ``edges[0]``, 1..n = the n real bins, n + 1 = above ``edges[-1]``.
    Real bin b-1 holds ``edges[b-1] <= x < edges[b]``; the last real bin's upper bound is
    ``nextafter(edges[-1], inf)`` so that ``x == edges[-1]`` is included (histogram2d's closed last bin).

    Lookup: the uniform cell ``floor((x - low) / width)`` (clipped to the table) gives the extended bin
    directly whenever the cell, widened by half a cell each side, holds no edge; rounding of the cell
    index is far smaller than half a cell, so such values cannot straddle an edge. Cells near an edge
    hold -1 in the table, and their few values are binned by :func:`numpy.searchsorted` on the true
    bounds. Inputs must be finite (NaN has no cell).
    """

    def __init__(self, edges: tuple[float, ...], scale_of_bin: int = 1) -> None:
        e = np.asarray(edges, dtype=np.float64)
        self.n_bins = e.size - 1
        self.scale_of_bin = scale_of_bin
        self.bounds = np.concatenate([[-np.inf], e[:-1], [np.nextafter(e[-1], np.inf)], [np.inf]])
        span = e[-1] - e[0]
        width = span / _TABLE_CELLS
        self.low = e[0] - 2 * width
        self.scale = 1.0 / width
        n_cells_float = np.ceil((e[-1] + 2 * width - self.low) * self.scale) + 1
        resolvable = width >= 1024 * np.spacing(np.max(np.abs(e)))  # cell index exact to < 1/1000 cell
        if not (np.isfinite(span) and resolvable and width >= np.finfo(np.float64).tiny * _TABLE_CELLS
                and np.isfinite(n_cells_float) and n_cells_float <= _TABLE_CELLS + 8):
            # spans a float64 table cannot resolve (cells narrower than the edges' rounding, subnormal
            # widths, overflow): one "near an edge" cell, so every value takes the exact binary search
            self.low, self.scale, self.last_cell = float(e[0]), 1.0, 0.0
            self.table = np.full(1, -1, np.intp)
            return
        n_cells = int(n_cells_float)
        self.last_cell = float(n_cells - 1)
        starts = self.low + np.arange(n_cells + 1) * width
        below, above = self._search(starts[:-1] - width / 2), self._search(starts[1:] + width / 2)
        self.table = np.where(below == above, below * scale_of_bin, -1)

    def _search(self, x: np.ndarray) -> np.ndarray:
        return np.searchsorted(self.bounds, x, side="right") - 1

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Extended bin index times ``scale_of_bin`` (intp, same shape as the finite array x)."""
        position = x - self.low
        position *= self.scale
        np.clip(position, 0.0, self.last_cell, out=position)
        cell = position.astype(np.intp)
        b = np.take(self.table, cell)
        near = np.flatnonzero(b < 0)
        if near.size:
            b.flat[near] = self._search(x.flat[near]) * self.scale_of_bin
        return b


@functools.lru_cache(maxsize=64)
def _binner(edges: tuple[float, ...], scale_of_bin: int = 1) -> _EdgeBinner:
    return _EdgeBinner(edges, scale_of_bin)
