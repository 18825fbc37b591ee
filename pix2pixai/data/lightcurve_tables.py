"""Light-curve tables in the formats astronomers keep them: columns found by name, whatever the file.

A table (CSV, ECSV, FITS binary table, Parquet, an astropy ``Table`` / ``TimeSeries`` or a pandas
``DataFrame``) becomes a :class:`Columns` record: one 1-D array per field the toolkit knows, found
through :data:`FIELD_ALIASES` (case-insensitive, first alias present wins; ZTF's own names
included), text cells kept as text for CSV so that a bad cell is reported with its row, numbers
kept as numbers otherwise. Turning columns into curves is :mod:`pix2pixai.data.lightcurves`' job.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pix2pixai.errors import InputError, where

#: Field -> accepted column names (lower case), first match wins. ZTF light-curve files carry both
#: ``mjd`` and ``hjd``; ``mjd`` comes first. Numbers in ``band`` are ZTF filter ids (1 g, 2 r, 3 i).
FIELD_ALIASES: dict[str, tuple[str, ...]] = {
    "lcid": ("lcid", "id", "oid", "objectid", "object_id", "sourceid"),
    "mjd": ("mjd", "hjd", "bjd", "time"),
    "mag": ("mag", "magpsf"),
    "magerr": ("magerr", "sigmapsf", "mag_err", "e_mag"),
    "band": ("band", "filter", "filtercode", "fid", "passband"),
    "label": ("label", "class"),
    "catflags": ("catflags",),
}
REQUIRED_FIELDS: tuple[str, ...] = ("mjd", "mag")
TEXT_FIELDS: frozenset[str] = frozenset({"lcid", "band", "label"})

#: ZTF filter ids and filter codes -> band names.
ZTF_BANDS: dict[str, str] = {"1": "g", "2": "r", "3": "i", "zg": "g", "zr": "r", "zi": "i"}

#: File suffixes read through astropy's unified table reader, with their format names.
ASTROPY_FORMATS: dict[str, str] = {".ecsv": "ascii.ecsv", ".fits": "fits", ".fit": "fits", ".fts": "fits",
                                   ".parquet": "parquet"}
TABLE_SUFFIXES: tuple[str, ...] = (".csv", *ASTROPY_FORMATS)


@dataclass(frozen=True)
class Columns:
    """The known fields of one table: ``values[field]`` 1-D arrays of one length ``n_rows``; ``text``
    says whether numeric fields still need parsing (CSV cells); ``header`` the table's column names."""

    values: dict[str, np.ndarray]
    header: list[str]
    text: bool
    origin: str

    @property
    def n_rows(self) -> int:
        return len(next(iter(self.values.values())))


def columns_of_file(path: Path) -> Columns:
    """The known columns of a light-curve file, by suffix (``.csv`` or an astropy table format)."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return _csv_columns(path)
    if suffix in ASTROPY_FORMATS:
        return columns_of_table(_read_astropy(path, ASTROPY_FORMATS[suffix]), origin=str(path))
    raise InputError(f"{path}: unknown light-curve file type {path.suffix!r}; expected one of {', '.join(TABLE_SUFFIXES)}")


def columns_of_table(table: Any, origin: str = "table") -> Columns:
    """The known columns of an astropy ``Table`` / ``TimeSeries`` or a pandas ``DataFrame``.

    Masked or missing numbers become NaN (dropped later like any missing measurement); an astropy
    ``Time`` column gives its MJD.
    """
    names = [str(name) for name in (table.colnames if hasattr(table, "colnames") else table.columns)]
    picked = _pick(names, origin)
    values = {}
    for field, name in picked.items():
        values[field] = _plain_column(table[name], field, origin, name)
    return _checked(Columns(values=values, header=names, text=False, origin=origin))


def band_names(values: np.ndarray) -> np.ndarray:
    """Band column as names: ZTF ids (1/2/3) and codes (zg/zr/zi) become g/r/i; other names are kept."""
    text = np.char.strip(np.asarray(values).astype(str))
    text = np.array([v[:-2] if v.endswith(".0") else v for v in text]) if text.size else text  # 1.0 -> 1
    return np.array([ZTF_BANDS.get(v.lower(), v) for v in text], dtype=str)


def _pick(names: list[str], origin: str) -> dict[str, str]:
    """Field -> column name chosen by :data:`FIELD_ALIASES`; refuses repeated or missing columns."""
    lower = [name.strip().lower() for name in names]
    used = {alias for aliases in FIELD_ALIASES.values() for alias in aliases}
    repeated = sorted({name for name in lower if name in used and lower.count(name) > 1})
    if repeated:
        raise InputError(f"{origin}: column(s) {repeated} appear more than once in the header {names}; "
                         "expected each column once")
    picked = {}
    for field, aliases in FIELD_ALIASES.items():
        found = next((alias for alias in aliases if alias in lower), None)
        if found is not None:
            picked[field] = names[lower.index(found)]
    missing = [field for field in REQUIRED_FIELDS if field not in picked]
    if missing:
        raise InputError(f"{origin}: missing column(s) {missing}; header is {names}, expected "
                         f"{' / '.join(FIELD_ALIASES['mjd'])} and {' / '.join(FIELD_ALIASES['mag'])} "
                         "(+ optional magerr, lcid/ID/oid, band/filter/filtercode/fid, label/class, catflags)")
    return picked


def _plain_column(column: Any, field: str, origin: str, name: str) -> np.ndarray:
    """One table column as a plain 1-D array: text for text fields, float64 (NaN for masked) otherwise."""
    if hasattr(column, "mjd") and not isinstance(column, np.ndarray):  # astropy Time
        column = column.mjd
    if hasattr(column, "to_numpy"):  # pandas Series
        column = column.to_numpy()
    if hasattr(column, "filled") and field not in TEXT_FIELDS:  # masked astropy column
        column = np.ma.asarray(column, dtype=np.float64).filled(np.nan)
    array = np.asarray(column)
    if array.ndim != 1:
        raise InputError(f"{origin}, column {name!r}: shape {array.shape}; expected one value per row")
    if field in TEXT_FIELDS:
        return np.char.strip(array.astype(str))
    if array.dtype.kind not in "iuf":
        raise InputError(f"{origin}, column {name!r}: dtype {array.dtype}; expected real numbers for {field}")
    return array.astype(np.float64)


def _checked(columns: Columns) -> Columns:
    if columns.n_rows == 0:
        raise InputError(f"{columns.origin}: no rows; expected at least 2 points per light curve")
    return columns


def _read_astropy(path: Path, fmt: str) -> Any:
    """An astropy table from ``path``; an unreadable file or a missing optional reader is one InputError."""
    from astropy.table import Table

    if fmt == "parquet":
        try:
            import pyarrow  # noqa: F401  (astropy's Parquet reader needs it)
        except ImportError:
            raise InputError(f"{path}: reading Parquet needs the pyarrow package (pip install pyarrow)") from None
    try:
        return Table.read(path, format=fmt)
    except (OSError, ValueError, TypeError, KeyError, IndexError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not a readable {fmt} table ({type(exc).__name__}: {exc})") from None


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


def _csv_columns(path: Path) -> Columns:
    rows = _csv_rows(path)
    if not rows:
        raise InputError(f"{path}: empty file; expected a header with mjd, mag (+ magerr) and at least 2 data rows")
    header = [name.strip() for name in rows[0]]
    picked = _pick(header, str(path))
    data = rows[1:]
    if not data:
        raise InputError(f"{path}: empty file (header only); expected at least 2 data rows")
    index = {field: header.index(name) for field, name in picked.items()}
    width = max(index.values()) + 1
    for row_number, row in enumerate(data, start=1):
        if len(row) < width:
            raise InputError(f"{where(path, row_number)}expected at least {width} fields, got {len(row)}")
    values = {field: np.array([row[i].strip() for row in data]) for field, i in index.items()}
    return Columns(values=values, header=header, text=True, origin=str(path))
