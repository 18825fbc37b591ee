"""Light curves: one object's photometric time series, read from tables (CSV, ECSV, FITS, Parquet, an
astropy Table or a pandas DataFrame: :mod:`pix2pixai.data.lightcurve_tables`), arrays or the offsets
``.npz``.

Every reader funnels through :func:`_validated_curve`, so all curves obey one contract: float64
``mjd``/``mag``/``magerr`` (a float32 MJD near 5e4 resolves only ~5.6 minutes, which would merge the
~10-minute CRTS exposure groups into dt = 0), only finite rows (non-finite rows are dropped, counted in
``dropped`` and logged), non-negative errors, at least two points (one pair is the least a dmdt needs)
at two or more distinct times (pairs at dt = 0 alone carry no variability), magnitudes within
``MAG_LIMIT`` (beyond it the column holds fluxes or missing-value sentinels such as 99 / -99, which
would silently fill the dmdt's edge bins or leave it empty), sorted by time with ties broken by
magnitude (the ``(mjd, mag)`` order reproduces the reference dmdts).
"""

from __future__ import annotations

import logging
import os
import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from pix2pixai.data.lightcurve_tables import TABLE_SUFFIXES, Columns, band_names, columns_of_file, columns_of_table
from pix2pixai.errors import InputError, where

logger = logging.getLogger(__name__)

#: Largest |magnitude| accepted: the brightest stars are near -1.5 and the deepest surveys reach ~30.
MAG_LIMIT = 50.0

#: Longest plausible time span of one curve in days (~270 years). A longer one almost always mixes time
#: systems or holds a zero-date sentinel (three real CRTS curves carry a point at MJD -2409998.5); it is
#: kept, since reference dmdts include such pairs (they fall outside the dt bins), but logged.
MAX_SPAN_DAYS = 1e5

_NPZ_KEYS = ("ids", "offsets", "mjd", "mag", "magerr")


@dataclass
class LightCurve:
    """One object's light curve.

    Attributes
    ----------
    lcid : str
        Object identifier.
    mjd, mag, magerr : np.ndarray
        float64 arrays of shape (n,): time in days (MJD), magnitude, 1-sigma magnitude error.
    label : str or None
        Class name, when known (mutable: label tables may be joined after reading).
    band : np.ndarray or None
        Per-point filter name (str array of shape (n,), e.g. "g"/"r" for ZTF); None for one band.
    dropped : int
        Number of non-finite rows the reader removed from this curve.
    source : str or None
        Where the curve was read from (a file path, or the in-memory table's type), when known.
    """

    lcid: str
    mjd: np.ndarray
    mag: np.ndarray
    magerr: np.ndarray
    label: str | None = None
    band: np.ndarray | None = None
    dropped: int = 0
    source: str | None = None

    def __post_init__(self) -> None:
        self.lcid = str(self.lcid)
        self.mjd = np.asarray(self.mjd, dtype=np.float64)
        self.mag = np.asarray(self.mag, dtype=np.float64)
        self.magerr = np.asarray(self.magerr, dtype=np.float64)
        if self.band is not None:
            self.band = np.asarray(self.band, dtype=str)
        shapes = {"mjd": self.mjd.shape, "mag": self.mag.shape, "magerr": self.magerr.shape}
        if self.band is not None:
            shapes["band"] = self.band.shape
        if self.mjd.ndim != 1 or len(set(shapes.values())) != 1:
            raise InputError(f"light curve {self.lcid!r}: fields need equal 1-D shapes (n,); got {shapes}")

    def __len__(self) -> int:
        return int(self.mjd.size)


def lightcurves_from_arrays(
    mjd: np.ndarray,
    mag: np.ndarray,
    magerr: np.ndarray,
    lcid: str = "curve",
    label: str | None = None,
    band: np.ndarray | None = None,
) -> LightCurve:
    """Validate in-memory arrays of shape (n,) into one :class:`LightCurve` (dropped/sorted as above)."""
    curve = LightCurve(lcid, mjd, mag, magerr, label=label, band=band)
    return _validated_curve(curve, source=f"arrays for {lcid!r}", rows=np.arange(1, len(curve) + 1))


def read_lightcurves(source: str | Path | Iterable[str | Path] | Any) -> list[LightCurve]:
    """Read light curves from table file(s), folder(s) or an in-memory table.

    ``source``: a path or paths (``.csv``, ``.ecsv``, ``.fits``/``.fit``/``.fts`` binary tables,
    ``.parquet``; a folder: every such file in sorted order), or an astropy ``Table`` /
    ``TimeSeries`` or pandas ``DataFrame``. Columns are found by name, case-insensitively
    (:data:`~pix2pixai.data.lightcurve_tables.FIELD_ALIASES`, ZTF's included): time (``mjd``/``hjd``
    ...), magnitude (``mag``/``magpsf``), optional error (``magerr``/``sigmapsf``: a dmdt does not use
    it; without it ``magerr`` is NaN, and features or noise augmentation that need it say so),
    optional id (``lcid``/``ID``/``oid``...), band (``band``/``filter``/``filtercode``/``fid``: ZTF ids
    and codes become g/r/i), ``label``/``class``, and ``catflags`` (ZTF quality flags: rows with a
    non-zero flag are dropped and counted). Other columns are ignored. A table may hold one object or
    many ids (curves keep the order of first appearance); without an id column the file stem (or
    ``"curve"``) is the id. Empty or masked cells count as missing measurements (dropped like NaN).

    Raises
    ------
    InputError
        Missing file or column, empty file, non-numeric value, negative error, fewer than 2 points,
        conflicting labels for one id: the message names the file, 1-based data row and field.
    """
    if not isinstance(source, (str, Path)) and (hasattr(source, "colnames") or hasattr(source, "columns")):
        return _curves_from_columns(columns_of_table(source, origin=type(source).__name__), default_id="curve")
    paths = [source] if isinstance(source, (str, Path)) else list(source)
    curves: list[LightCurve] = []
    for path in map(Path, paths):
        if path.is_dir():
            files = sorted(f for f in path.iterdir() if f.suffix.lower() in TABLE_SUFFIXES)
            if not files:
                raise InputError(f"{path}: folder holds no light-curve tables ({', '.join(TABLE_SUFFIXES)})")
            for file in files:
                checked = regular_file(file, "a light-curve table")
                curves.extend(_curves_from_columns(columns_of_file(checked), default_id=file.stem))
        else:
            checked = regular_file(path, "a light-curve table or a folder of them")
            curves.extend(_curves_from_columns(columns_of_file(checked), default_id=path.stem))
    return curves


def regular_file(path: Path, expected: str) -> Path:
    """``path`` when it is a regular file (or a link to one); else an InputError saying what it is.

    Checked before opening, because opening a FIFO blocks until a writer appears (a command would hang
    forever) and a symlink loop or a device is never a light curve.
    """
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        if path.is_symlink():
            raise InputError(f"{path}: a broken symbolic link or a link loop ({exc.strerror}); expected {expected}") from None
        raise InputError(f"{path}: no such file or folder; expected {expected}") from None
    if not stat.S_ISREG(mode):
        kind = "a FIFO" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode) else "a device or special file"
        raise InputError(f"{path}: {kind}, not a regular file; expected {expected}")
    return path


def read_lightcurves_npz(path: str | Path) -> list[LightCurve]:
    """Read the offsets format: ``ids`` (n,), ``offsets`` (n+1,), concatenated ``mjd``/``mag``/``magerr``,
    optional ``labels`` (n,); curve i is ``[offsets[i]:offsets[i+1]]``."""
    path = regular_file(Path(path), "a light-curve .npz (ids, offsets, mjd, mag, magerr)")
    with open(path, "rb") as fh:
        if fh.read(4) != b"PK\x03\x04":
            raise InputError(f"{path}: not an .npz (zip) archive; expected arrays {list(_NPZ_KEYS)} saved with "
                             "numpy.savez")
    try:
        with np.load(path, allow_pickle=False) as data:
            missing = [key for key in _NPZ_KEYS if key not in data.files]
            if missing:
                raise InputError(f"{path}: missing array(s) {missing}; expected {list(_NPZ_KEYS)} (+ optional labels)")
            arrays = {key: data[key] for key in (*_NPZ_KEYS, *(["labels"] if "labels" in data.files else []))}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, zipfile.LargeZipFile) as exc:
        raise InputError(f"{path}: not a readable .npz archive of plain arrays ({type(exc).__name__}: {exc}); "
                         f"expected arrays {list(_NPZ_KEYS)} saved with numpy.savez") from None
    for key in ("ids", "offsets", *(["labels"] if "labels" in arrays else [])):
        if arrays[key].ndim != 1:
            raise InputError(f"{path}, field {key!r}: shape {arrays[key].shape}, expected one dimension")
    kinds = {"offsets": ("iu", "integers"), "mjd": ("iuf", "real numbers"), "mag": ("iuf", "real numbers"),
             "magerr": ("iuf", "real numbers")}
    for key, (accepted, words) in kinds.items():
        if arrays[key].dtype.kind not in accepted:
            raise InputError(f"{path}, field {key!r}: dtype {arrays[key].dtype}, expected {words}")
    ids, offsets = arrays["ids"], arrays["offsets"].astype(np.int64)
    n_points = arrays["mjd"].shape[0]
    if (offsets.shape != (ids.shape[0] + 1,) or offsets[0] != 0 or offsets[-1] != n_points
            or np.any(np.diff(offsets) < 0)):
        raise InputError(f"{path}, field 'offsets': expected {ids.shape[0] + 1} non-decreasing values from 0 "
                         f"to {n_points}; got shape {offsets.shape}")
    for key in ("mag", "magerr"):
        if arrays[key].shape != (n_points,):
            raise InputError(f"{path}, field {key!r}: shape {arrays[key].shape}, expected ({n_points},) like mjd")
    labels = arrays.get("labels")
    curves = []
    for k, (start, stop) in enumerate(zip(offsets[:-1], offsets[1:])):
        curve = LightCurve(ids[k], arrays["mjd"][start:stop], arrays["mag"][start:stop],
                           arrays["magerr"][start:stop], label=None if labels is None else str(labels[k]),
                           source=str(path))
        curves.append(_validated_curve(curve, source=f"{path}, curve {curve.lcid}", rows=np.arange(start, stop) + 1))
    return curves


def _curves_from_columns(columns: Columns, default_id: str) -> list[LightCurve]:
    """One validated curve per id of a table's columns (see :func:`read_lightcurves`)."""
    origin, n = columns.origin, columns.n_rows

    def numbers(field: str) -> np.ndarray:
        raw = columns.values[field]
        return _parse_numbers(raw, origin, field) if columns.text else raw

    values = {field: numbers(field) for field in ("mjd", "mag")}
    values["magerr"] = numbers("magerr") if "magerr" in columns.values else np.full(n, np.nan)
    keep = np.ones(n, dtype=bool)
    if "catflags" in columns.values:
        flags = numbers("catflags")
        keep = ~(np.isfinite(flags) & (flags != 0))
        if not keep.all():
            logger.warning("%s: dropped %d of %d row(s) with catflags != 0 (ZTF quality flags)", origin,
                           int((~keep).sum()), n)
    ids = columns.values.get("lcid", np.full(n, default_id))
    bands = band_names(columns.values["band"]) if "band" in columns.values else None
    unique_ids, first_row, curve_of_row = np.unique(ids, return_index=True, return_inverse=True)
    curves = []
    for k in np.argsort(first_row):
        rows_k = np.flatnonzero((curve_of_row == k) & keep)
        if rows_k.size == 0:
            raise InputError(f"{origin}: curve {unique_ids[k]!r} has no row left after dropping catflags != 0")
        curve = LightCurve(unique_ids[k], values["mjd"][rows_k], values["mag"][rows_k], values["magerr"][rows_k],
                           label=_one_label(columns.values.get("label"), rows_k, origin),
                           band=None if bands is None else bands[rows_k], source=origin)
        curves.append(_validated_curve(curve, source=origin, rows=rows_k + 1,
                                       has_errors="magerr" in columns.values))
    return curves


def _parse_numbers(cells: np.ndarray, path: str | Path, field: str) -> np.ndarray:
    """Parse one column of text cells to float64; empty cells become NaN (dropped later)."""
    filled = np.where(cells == "", "nan", cells)
    try:
        return filled.astype(np.float64)
    except ValueError:
        for row_number, cell in enumerate(filled, start=1):
            try:
                float(cell)
            except ValueError:
                raise InputError(f"{where(path, row_number, field)}{str(cell)!r} is not a number") from None
        raise


def _one_label(labels: np.ndarray | None, rows: np.ndarray, path: str | Path) -> str | None:
    if labels is None:
        return None
    found = sorted(set(labels[rows]) - {""})
    if len(found) > 1:
        raise InputError(f"{where(path, int(rows[0]) + 1, 'label')}one id has several labels {found}; expected one")
    return found[0] if found else None


def _validated_curve(curve: LightCurve, source: str, rows: np.ndarray, *, has_errors: bool = True) -> LightCurve:
    """Drop non-finite rows, refuse negative errors and < 2 points, sort by (mjd, mag).

    ``rows`` gives each point's 1-based data row in ``source``, for error messages; ``has_errors``
    False: the source has no error column (``magerr`` all NaN), so errors decide no row's fate.
    """
    finite = np.isfinite(curve.mjd) & np.isfinite(curve.mag)
    if has_errors:
        finite &= np.isfinite(curve.magerr)
    dropped = int(finite.size - np.count_nonzero(finite))
    if dropped:
        logger.warning("%s: dropped %d row(s) with NaN/inf in mjd, mag or magerr (curve %s)",
                       source, dropped, curve.lcid)
    negative = np.flatnonzero(finite & (curve.magerr < 0))
    if negative.size:
        row = int(rows[negative[0]])
        raise InputError(f"{where(source, row, 'magerr')}negative error {curve.magerr[negative[0]]}; "
                         "expected magerr >= 0")
    huge = np.flatnonzero(finite & (np.abs(curve.mag) > MAG_LIMIT))
    if huge.size:
        raise InputError(f"{where(source, int(rows[huge[0]]), 'mag')}{curve.mag[huge[0]]} (and {huge.size - 1} more) "
                         f"beyond +-{MAG_LIMIT:g}; expected magnitudes (not fluxes or 99 / -99 missing-value markers)")
    kept = np.flatnonzero(finite)
    if kept.size < 2:
        raise InputError(f"{source}: curve {curve.lcid!r} has {kept.size} usable point(s); need at least 2 "
                         "(a dmdt needs one pair)")
    if np.unique(curve.mjd[kept]).size < 2:
        raise InputError(f"{where(source, field='mjd')}curve {curve.lcid!r}: all {kept.size} points share the time "
                         f"{curve.mjd[kept[0]]}; need at least 2 distinct times (a dmdt needs a pair with dt > 0)")
    order = kept[np.lexsort((curve.mag[kept], curve.mjd[kept]))]
    span = curve.mjd[order[-1]] - curve.mjd[order[0]]
    if span > MAX_SPAN_DAYS:
        logger.warning("%s: curve %s spans %.3g days (mjd %.10g to %.10g); a mix of JD/MJD or a zero-date "
                       "sentinel? Pairs beyond the last dt edge are not binned", source, curve.lcid, span,
                       curve.mjd[order[0]], curve.mjd[order[-1]])
    return LightCurve(curve.lcid, curve.mjd[order], curve.mag[order], curve.magerr[order], label=curve.label,
                      band=None if curve.band is None else curve.band[order], dropped=dropped,
                      source=curve.source)

