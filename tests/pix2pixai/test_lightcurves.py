"""Light-curve readers: real CRTS CSVs as they are, long tables, npz offsets, validation messages."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from pix2pixai.data.lightcurves import LightCurve, lightcurves_from_arrays, read_lightcurves, read_lightcurves_npz
from pix2pixai.errors import InputError
from tests.conftest import shared_path


def write(tmp_path, name: str, text: str):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_real_crts_csv_examples_read_as_they_are():
    folder = shared_path("crts-lightcurves-kvmu", "csv_examples")
    curves = read_lightcurves(folder)
    files = sorted(folder.glob("*.csv"))
    assert [c.lcid for c in curves] == [f.stem.split("-")[0] for f in files]
    first_rows = np.loadtxt(files[0], delimiter=",", skiprows=1, usecols=(1, 2, 3))
    order = np.lexsort((first_rows[:, 1], first_rows[:, 0]))
    np.testing.assert_array_equal(curves[0].mjd, first_rows[order, 0])
    np.testing.assert_array_equal(curves[0].magerr, first_rows[order, 2])
    assert all(c.mjd.dtype == np.float64 and np.all(np.diff(c.mjd) >= 0) for c in curves)


def test_long_table_case_insensitive_with_extra_band_and_label_columns(tmp_path):
    path = write(tmp_path, "table.csv",
                 "RA,LCID,Filter,MJD,Mag,MagErr,Class\n"
                 "1,b,g,50002.0,15.0,0.1,RRab\n"
                 "1,a,r,50001.0,14.0,0.2,EW\n"
                 "1,b,r,50001.0,15.5,0.1,RRab\n"
                 "1,a,g,50000.0,14.1,0.2,EW\n")
    b, a = read_lightcurves(path)
    assert (b.lcid, a.lcid) == ("b", "a") and (b.label, a.label) == ("RRab", "EW")
    np.testing.assert_array_equal(b.mjd, [50001.0, 50002.0])
    np.testing.assert_array_equal(b.band, ["r", "g"])
    np.testing.assert_array_equal(a.mag, [14.1, 14.0])


def test_file_without_id_uses_the_stem_and_ties_sort_by_magnitude(tmp_path):
    path = write(tmp_path, "star42.csv", "mjd,mag,magerr\n5.0,2.0,0.1\n5.0,1.0,0.1\n4.0,3.0,0.1\n")
    (curve,) = read_lightcurves(path)
    assert curve.lcid == "star42" and curve.label is None
    np.testing.assert_array_equal(curve.mag, [3.0, 1.0, 2.0])


def test_folder_reads_csvs_in_sorted_order(tmp_path):
    for name in ("b", "a", "c"):
        write(tmp_path, f"{name}.csv", "mjd,mag,magerr\n1,1,0.1\n2,1,0.1\n")
    write(tmp_path, "notes.txt", "ignored")
    assert [c.lcid for c in read_lightcurves(tmp_path)] == ["a", "b", "c"]


def test_non_finite_rows_are_dropped_counted_and_logged(tmp_path, caplog):
    path = write(tmp_path, "gaps.csv", "mjd,mag,magerr\n1,1,0.1\n2,nan,0.1\n3,,0.1\n4,inf,0.1\n5,2,0.1\n")
    with caplog.at_level(logging.WARNING):
        (curve,) = read_lightcurves(path)
    assert len(curve) == 2 and curve.dropped == 3
    assert "gaps.csv" in caplog.text and "3 row" in caplog.text


@pytest.mark.parametrize(
    "content, fragments",
    [
        ("", ["empty"]),
        ("mjd,mag,magerr\n", ["empty", "header only"]),
        ("mjd,magerr\n1,0.1\n3,0.1\n", ["['mag']", "missing column"]),
        ("mjd,mag,magerr\n1,2,0.1\n2,x7,0.1\n", ["row 2", "'mag'", "x7"]),
        ("mjd,mag,magerr\n1,2,0.1\n2,3,-0.1\n", ["row 2", "'magerr'", "negative"]),
        ("mjd,mag,magerr\n1,2,0.1\n2,nan,0.1\n", ["1 usable point", "at least 2"]),
        ("mjd,mag,magerr\n1,2,0.1\n2,3\n", ["row 2", "at least 3 fields"]),
        ("id,mjd,mag,magerr,label\na,1,2,0.1,EW\na,2,3,0.1,EA\n", ["row 1", "'label'", "several labels"]),
    ],
    ids=["empty", "header-only", "missing-column", "non-numeric", "negative-error", "one-point",
         "short-row", "two-labels"],
)
def test_bad_files_name_file_row_and_field(tmp_path, content, fragments):
    path = write(tmp_path, "bad.csv", content)
    with pytest.raises(InputError) as error:
        read_lightcurves(path)
    message = str(error.value)
    assert "bad.csv" in message
    for fragment in fragments:
        assert fragment in message


def test_missing_path_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        read_lightcurves(tmp_path / "absent.csv")


def test_arrays_are_validated_and_sorted():
    curve = lightcurves_from_arrays(np.array([3.0, 1.0, 2.0, np.nan]), np.array([1, 2, 3, 4]),
                                    np.array([0.1, 0.1, 0.1, 0.1]), lcid="x", label="EW")
    np.testing.assert_array_equal(curve.mjd, [1.0, 2.0, 3.0])
    assert curve.mag.dtype == np.float64 and curve.dropped == 1 and curve.label == "EW"
    with pytest.raises(InputError, match="equal 1-D shapes"):
        LightCurve("y", np.arange(3.0), np.arange(2.0), np.arange(3.0))


def test_npz_offsets_format_round_trips(tmp_path):
    path = tmp_path / "curves.npz"
    np.savez(path, ids=np.array([7, 8]), labels=np.array(["EW", "LPV"]), offsets=np.array([0, 3, 5]),
             mjd=np.array([3.0, 1.0, 2.0, 10.0, 11.0]), mag=np.arange(5.0), magerr=np.full(5, 0.1))
    first, second = read_lightcurves_npz(path)
    assert (first.lcid, first.label, second.label) == ("7", "EW", "LPV")
    np.testing.assert_array_equal(first.mjd, [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(second.mag, [3.0, 4.0])


def test_npz_with_bad_offsets_is_refused(tmp_path):
    path = tmp_path / "bad.npz"
    np.savez(path, ids=np.array([1]), offsets=np.array([0, 9]), mjd=np.zeros(3), mag=np.zeros(3),
             magerr=np.zeros(3))
    with pytest.raises(InputError, match="offsets"):
        read_lightcurves_npz(path)


def test_real_npz_reads_every_curve():
    path = shared_path("crts-lightcurves-kvmu", "lightcurves.npz")
    curves = read_lightcurves_npz(path)
    with np.load(path) as data:
        assert len(curves) == data["ids"].size
        assert sum(len(c) for c in curves) == data["mjd"].size
    assert 60 <= min(map(len, curves)) and max(map(len, curves)) <= 546


def test_curve_spanning_centuries_is_kept_but_logged(caplog):
    """A zero-date sentinel (as in three real CRTS curves) or a JD/MJD mix is named, not silently binned."""
    mjd = np.array([-2409998.5, 53500.0, 53501.0, 53502.5])
    with caplog.at_level(logging.WARNING):
        curve = lightcurves_from_arrays(mjd, np.full(4, 15.0), np.full(4, 0.05), lcid="sentinel")
    assert curve.mjd.size == 4
    assert "sentinel" in caplog.text and "JD/MJD" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        lightcurves_from_arrays(mjd[1:], np.full(3, 15.0), np.full(3, 0.05), lcid="fine")
    assert "JD/MJD" not in caplog.text


def _ztf_table():
    """A ZTF-style table: two objects, both bands, ZTF's column names, one flagged row."""
    from astropy.table import Table

    rng = np.random.default_rng(0)
    n = 12
    return Table({
        "oid": np.repeat(["ZTF1", "ZTF2"], n // 2), "hjd": np.arange(n, dtype=float) + 58000.4,
        "mjd": np.arange(n, dtype=float) + 58000.0, "magpsf": 18 + rng.normal(0, 0.1, n),
        "sigmapsf": np.full(n, 0.05), "fid": np.tile([1, 2], n // 2), "catflags": np.eye(1, n, 3, dtype=int)[0],
        "ra": np.full(n, 10.0),
    })


def _check_ztf(curves):
    assert [c.lcid for c in curves] == ["ZTF1", "ZTF2"]
    assert len(curves[0]) == 5 and len(curves[1]) == 6  # catflags != 0 dropped (row 4 of ZTF1)
    np.testing.assert_array_equal(curves[1].mjd, np.arange(6, 12) + 58000.0)  # mjd preferred over hjd
    assert set(curves[0].band) == {"g", "r"} and np.all(curves[0].magerr == 0.05)


@pytest.mark.parametrize("suffix, fmt", [(".ecsv", "ascii.ecsv"), (".fits", "fits"), (".parquet", "parquet"),
                                         (".csv", "ascii.csv")])
def test_table_files_with_ztf_column_names(tmp_path, suffix, fmt, caplog):
    path = tmp_path / f"ztf{suffix}"
    _ztf_table().write(path, format=fmt)
    with caplog.at_level(logging.WARNING):
        curves = read_lightcurves(path)
    _check_ztf(curves)
    assert "1 of 12 row(s) with catflags != 0" in caplog.text


def test_astropy_table_and_pandas_dataframe_in_memory():
    table = _ztf_table()
    _check_ztf(read_lightcurves(table))
    _check_ztf(read_lightcurves(table.to_pandas()))


def test_timeseries_time_column_gives_mjd():
    from astropy.time import Time
    from astropy.timeseries import TimeSeries

    series = TimeSeries(time=Time(58000.0 + np.arange(5.0), format="mjd"), data={"mag": 15 + 0.1 * np.arange(5.0)})
    (curve,) = read_lightcurves(series)
    np.testing.assert_allclose(curve.mjd, 58000.0 + np.arange(5.0))
    assert np.all(np.isnan(curve.magerr))  # no error column: errors are unknown, not invented


def test_magerr_is_optional_for_a_dmdt_but_augmentation_says_it_needs_it(tmp_path):
    from pix2pixai.data.dmdt_images import augment_lightcurves, dmdt_from_lightcurves

    curves = read_lightcurves(write(tmp_path, "noerr.csv", "mjd,mag\n1,15\n2,15.5\n4,15.2\n"))
    assert dmdt_from_lightcurves(curves).shape == (1, 22, 24)
    with pytest.raises(InputError, match="magnitude error"):
        augment_lightcurves(curves, 1, seed=0)


def test_a_folder_reads_every_table_format_in_sorted_order(tmp_path):
    _ztf_table()[:6].write(tmp_path / "a.fits")
    write(tmp_path, "b.csv", "mjd,mag,magerr\n1,15,0.1\n2,15.5,0.1\n")
    write(tmp_path, "notes.txt", "not a light curve")
    assert [c.lcid for c in read_lightcurves(tmp_path)] == ["ZTF1", "b"]
