"""Light curves: one object's photometric time series, read from CSV, arrays or the offsets ``.npz``.

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

import csv
import logging
import os
import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import numpy as np

from pix2pixai.errors import InputError, where

logger = logging.getLogger(__name__)

#: Largest |magnitude| accepted: the brightest stars are near -1.5 and the deepest surveys reach ~30.
MAG_LIMIT = 50.0

#: Longest plausible time span of one curve in days (~270 years). A longer one almost always mixes time
#: systems or holds a zero-date sentinel (three real CRTS curves carry a point at MJD -2409998.5); it is
#: kept, since reference dmdts include such pairs (they fall outside the dt bins), but logged.
MAX_SPAN_DAYS = 1e5

#: Accepted column names (lower case) for each field, first match wins.
_COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
    "lcid": ("lcid", "id"),
    "mjd": ("mjd",),
    "mag": ("mag",),
    "magerr": ("magerr",),
    "band": ("band", "filter"),
    "label": ("label", "class"),
}
_REQUIRED = ("mjd", "mag", "magerr")
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
    """

    lcid: str
    mjd: np.ndarray
    mag: np.ndarray
    magerr: np.ndarray
    label: str | None = None
    band: np.ndarray | None = None
    dropped: int = 0

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


def read_lightcurves(path_or_paths: str | Path | Iterable[str | Path]) -> list[LightCurve]:
    """Read light curves from CSV file(s) or folder(s) (a folder: all ``*.csv`` in sorted order).

    Columns (case-insensitive): ``lcid``/``ID``, ``mjd``, ``mag``, ``magerr``, optional ``band``/
    ``filter`` and ``label``/``class``; others (RA, Dec, ...) are ignored. A file may hold one object or
    a long table of many ids (curves keep the order of first appearance); without an id column the
    file stem is the id. Empty cells count as missing measurements (dropped like NaN).

    Raises
    ------
    InputError
        Missing file or column, empty file, non-numeric value, negative error, fewer than 2 points,
        conflicting labels for one id: the message names the file, 1-based data row and field.
    """
    paths = [path_or_paths] if isinstance(path_or_paths, (str, Path)) else list(path_or_paths)
    curves: list[LightCurve] = []
    for path in map(Path, paths):
        if path.is_dir():
            files = sorted(path.glob("*.csv"))
            if not files:
                raise InputError(f"{path}: folder holds no *.csv light curves")
            for file in files:
                curves.extend(_read_csv(regular_file(file, "a light-curve CSV")))
        else:
            curves.extend(_read_csv(regular_file(path, "a light-curve CSV or a folder of them")))
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
                           arrays["magerr"][start:stop], label=None if labels is None else str(labels[k]))
        curves.append(_validated_curve(curve, source=f"{path}, curve {curve.lcid}", rows=np.arange(start, stop) + 1))
    return curves


def _csv_rows(path: Path) -> list[list[str]]:
    """The non-empty rows of a UTF-8 CSV; undecodable bytes, NUL bytes and over-long fields are an
    InputError naming the file and line (the csv module's own errors name neither)."""
    with open(path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.reader(fh)
        try:
            return [row for row in reader if row]
        except UnicodeDecodeError as exc:
            raise InputError(f"{path}: not UTF-8 text (undecodable byte 0x{exc.object[exc.start]:02x}); "
                             "expected a UTF-8 CSV (re-save it as UTF-8)") from None
        except csv.Error as exc:
            raise InputError(f"{path}, line {reader.line_num}: unreadable CSV ({exc}); expected a text table "
                             "with one light-curve point per line") from None


def _read_csv(path: Path) -> list[LightCurve]:
    rows = _csv_rows(path)
    if not rows:
        raise InputError(f"{path}: empty file; expected a header with mjd, mag, magerr and at least 2 data rows")
    header = [name.strip().lower() for name in rows[0]]
    used = {alias for aliases in _COLUMN_ALIASES.values() for alias in aliases}
    repeated = sorted({name for name in header if name in used and header.count(name) > 1})
    if repeated:
        raise InputError(f"{path}: column(s) {repeated} appear more than once in the header {rows[0]}; "
                         "expected each column once")
    columns = {field: next((header.index(a) for a in aliases if a in header), None)
               for field, aliases in _COLUMN_ALIASES.items()}
    missing = [field for field in _REQUIRED if columns[field] is None]
    if missing:
        raise InputError(f"{path}: missing column(s) {missing}; header is {rows[0]}, expected "
                         "mjd, mag, magerr (+ optional lcid/ID, band/filter, label/class)")
    data = rows[1:]
    if not data:
        raise InputError(f"{path}: empty file (header only); expected at least 2 data rows")
    width = max(index for index in columns.values() if index is not None) + 1
    for row_number, row in enumerate(data, start=1):
        if len(row) < width:
            raise InputError(f"{where(path, row_number)}expected at least {width} fields, got {len(row)}")
    text = {field: np.array([row[index].strip() for row in data]) for field, index in columns.items()
            if index is not None}
    values = {field: _parse_numbers(text[field], path, field) for field in _REQUIRED}
    ids = text["lcid"] if "lcid" in text else np.full(len(data), path.stem)
    unique_ids, first_row, curve_of_row = np.unique(ids, return_index=True, return_inverse=True)
    curves = []
    for k in np.argsort(first_row):
        rows_k = np.flatnonzero(curve_of_row == k)
        curve = LightCurve(unique_ids[k], values["mjd"][rows_k], values["mag"][rows_k], values["magerr"][rows_k],
                           label=_one_label(text.get("label"), rows_k, path),
                           band=None if "band" not in text else text["band"][rows_k])
        curves.append(_validated_curve(curve, source=str(path), rows=rows_k + 1))
    return curves


def _parse_numbers(cells: np.ndarray, path: Path, field: str) -> np.ndarray:
    """Parse one column of text cells to float64; empty cells become NaN (dropped later)."""
    filled = np.where(cells == "", "nan", cells)
    try:
        return filled.astype(np.float64)
    except ValueError:
        for row_number, cell in enumerate(filled, start=1):
            try:
                float(cell)
            except ValueError:
                raise InputError(f"{where(path, row_number, field)}{cell!r} is not a number") from None
        raise


def _one_label(labels: np.ndarray | None, rows: np.ndarray, path: Path) -> str | None:
    if labels is None:
        return None
    found = sorted(set(labels[rows]) - {""})
    if len(found) > 1:
        raise InputError(f"{where(path, int(rows[0]) + 1, 'label')}one id has several labels {found}; expected one")
    return found[0] if found else None


def _validated_curve(curve: LightCurve, source: str, rows: np.ndarray) -> LightCurve:
    """Drop non-finite rows, refuse negative errors and < 2 points, sort by (mjd, mag).

    ``rows`` gives each point's 1-based data row in ``source``, for error messages.
    """
    finite = np.isfinite(curve.mjd) & np.isfinite(curve.mag) & np.isfinite(curve.magerr)
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
                      band=None if curve.band is None else curve.band[order], dropped=dropped)

