"""The malformed-input catalogue: every way a user's input can be wrong, in one place.

Each case builds one malformed input in a temporary folder, passes it to the public entry point a
user would call, and asserts an :class:`~pix2pixai.errors.InputError` whose message names the thing
that is wrong (the file, and the field / row / key / shape where there is one). Cases scattered in
the module tests may stay; this file is the list that is counted (issue #7: at least 25).
"""

from __future__ import annotations

import base64
import errno
import gzip
import io
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from pix2pixai.errors import InputError


@dataclass(frozen=True)
class Case:
    """``run(folder)`` must raise an InputError containing every fragment (``{dir}`` = the folder)."""

    run: Callable[[Path], object]
    fragments: tuple[str, ...]


def _write(folder: Path, name: str, content: str | bytes) -> Path:
    path = folder / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def _csv(folder: Path, rows: list[str], header: str = "mjd,mag,magerr", name: str = "curve.csv") -> Path:
    return _write(folder, name, "\n".join([header, *rows]) + "\n")


def _read_curves(path: Path) -> object:
    from pix2pixai.data.lightcurves import read_lightcurves

    return read_lightcurves(path)


def _fits(image: np.ndarray) -> bytes:
    from astropy.io import fits

    buffer = io.BytesIO()
    fits.PrimaryHDU(np.asarray(image, np.float32)).writeto(buffer)
    return buffer.getvalue()


def _packet(**stamps: bytes) -> dict:
    """An alert packet of 5 x 5 cutouts, with the named cutouts' stamp bytes replaced."""
    good = gzip.compress(_fits(np.ones((5, 5))))
    return {"candid": 1, **{f: {"stampData": stamps.get(f, good)} for f in
                            ("cutoutScience", "cutoutTemplate", "cutoutDifference")}}


def _alert_file(folder: Path, packet: dict) -> Path:
    """Kowalski-style JSON alert (stamps as extended-JSON base64)."""
    encoded = {k: ({"stampData": {"$binary": base64.b64encode(v["stampData"]).decode()}} if isinstance(v, dict)
                   else v) for k, v in packet.items()}
    return _write(folder, "alert.json", json.dumps(encoded))


def _triplet(folder: Path, packet: dict) -> object:
    from pix2pixai.data.alerts import triplet_from_alert

    return triplet_from_alert(_alert_file(folder, packet))


def _braai_set(folder: Path, triplets: np.ndarray, labels: list[str]) -> object:
    from pix2pixai.data.alerts import read_braai_training_set

    np.save(folder / "triplets.npy", triplets)
    _write(folder, "candidates.csv", "candid,label\n" + "".join(f"{i},{v}\n" for i, v in enumerate(labels)))
    return read_braai_training_set(folder / "triplets.npy", folder / "candidates.csv")


def _dense_model():
    import keras

    inputs = keras.Input((6, 6, 1))
    outputs = keras.layers.Dense(2, activation="softmax")(keras.layers.Flatten()(inputs))
    return keras.Model(inputs, outputs, name="dense_only")


def _gradcam(model, **params) -> object:
    from pix2pixai.producers import explain

    return explain("gradcam", model, np.zeros((2, 6, 6, 1), np.float32), targets=[0, 1], **params)


def _conv_model():
    import keras

    inputs = keras.Input((6, 6, 1))
    h = keras.layers.Conv2D(2, 3, name="conv")(inputs)
    outputs = keras.layers.Dense(2, activation="softmax")(keras.layers.Flatten()(h))
    return keras.Model(inputs, outputs, name="small_cnn")


def _corrupt_model(folder: Path, name: str) -> object:
    """The first 200 bytes of a saved model, as left by a killed copy."""
    from pix2pixai.trainers.model_files import load_model_file

    path = folder / name
    if name.endswith(".keras"):
        _conv_model().save(path)
    else:
        _conv_model().save_weights(folder / "w.weights.h5")
        path.write_bytes((folder / "w.weights.h5").read_bytes())
    path.write_bytes(path.read_bytes()[:200])
    return load_model_file(path)


def _config(folder: Path, text: str) -> object:
    from pix2pixai.rundir.config import load_config

    return load_config(_write(folder, "run.toml", text))


def _store(folder: Path) -> Path:
    from pix2pixai.stores import MapStore

    path = folder / "maps.h5"
    with MapStore.create(path, {"survey": "x"}) as store:
        store.write("gradcam", np.ones((4, 3, 3, 1), np.float32))
    return path


def _read_store(path: Path, method: str = "gradcam") -> object:
    from pix2pixai.stores import MapStore

    with MapStore.open(path) as store:
        return store.read(method)


def _disk_full(folder: Path) -> object:
    from pix2pixai import atomic

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    original, np.save = np.save, full
    try:
        return atomic.save_npy(folder / "dmdt.npy", np.zeros(3))
    finally:
        np.save = original


def _class_map_without_inputs(folder: Path) -> object:
    from pix2pixai.classmaps import build_class_map

    return build_class_map(np.zeros((0, 4, 4)), np.zeros((0, 4, 4)), data_range=1.0)


def _dmdt(mjd: list[float], mag: list[float], preset: str = "crts") -> object:
    from pix2pixai.data.dmdt_images import dmdt

    return dmdt(np.array(mjd), np.array(mag), preset=preset)


def _raw_cutouts(shapes: np.ndarray) -> object:
    from pix2pixai.data.alerts import triplets_from_raw_cutouts

    return triplets_from_raw_cutouts(np.zeros((1, 3, 63, 63)), shapes, "image", source="cutouts_raw.npz")


def _npz_curves(folder: Path, **arrays: np.ndarray) -> object:
    from pix2pixai.data.lightcurves import read_lightcurves_npz

    np.savez(folder / "curves.npz", **arrays)
    return read_lightcurves_npz(folder / "curves.npz")


def _cadence_bins(n_bins: int) -> object:
    from pix2pixai.data.cadence import cadence_report
    from pix2pixai.data.lightcurves import lightcurves_from_arrays

    curve = lightcurves_from_arrays(np.arange(5.0), np.full(5, 15.0), np.full(5, 0.1))
    return cadence_report([curve], n_bins=n_bins)


def _read_npz_file(path: Path) -> object:
    from pix2pixai.data.lightcurves import read_lightcurves_npz

    return read_lightcurves_npz(path)


def _corrupt_member(folder: Path) -> Path:
    """A stored (uncompressed) .npz whose last data byte is flipped: the zip CRC no longer matches."""
    path = folder / "curves.npz"
    np.savez(path, ids=np.array(["a"]), offsets=np.array([0, 2]), mjd=np.arange(2.0), mag=np.arange(2.0),
             magerr=np.full(2, 0.1))
    raw = bytearray(path.read_bytes())
    member_end = raw.find(b"PK\x01\x02")  # the central directory follows the last member's data
    raw[member_end - 1] ^= 0xFF
    path.write_bytes(bytes(raw))
    return path


def _curves_folder_with_link_loop(folder: Path) -> object:
    (folder / "curves").mkdir()
    (folder / "curves" / "loop.csv").symlink_to("loop.csv")
    return _read_curves(folder / "curves")


def _curves_folder_with_fifo(folder: Path) -> object:
    (folder / "curves").mkdir()
    os.mkfifo(folder / "curves" / "pipe.csv")
    return _read_curves(folder / "curves")


ROWS = [f"{50000 + i},{15 + 0.1 * i},0.05" for i in range(5)]
GOOD_FITS_GZ = gzip.compress(_fits(np.ones((5, 5))))

CATALOGUE: dict[str, Case] = {
    # ---------------------------------------------------------------- light curves (CSV / npz)
    "csv_empty_file": Case(lambda d: _read_curves(_write(d, "curve.csv", "")), ("{dir}/curve.csv", "empty file")),
    "csv_header_only": Case(lambda d: _read_curves(_csv(d, [])), ("curve.csv", "header only")),
    "csv_wrong_columns": Case(lambda d: _read_curves(_csv(d, ["1,2,3"], header="time,flux,err")),
                              ("curve.csv", "missing column", "mjd")),
    "csv_not_a_number": Case(lambda d: _read_curves(_csv(d, [*ROWS, "50010,bright,0.05"])),
                             ("curve.csv", "row 6", "'mag'", "'bright'")),
    "csv_short_row": Case(lambda d: _read_curves(_csv(d, [*ROWS, "50010,15"])), ("curve.csv", "row 6", "fields")),
    "csv_nan_everywhere": Case(lambda d: _read_curves(_csv(d, ["nan,nan,nan"] * 5)),
                               ("curve.csv", "0 usable point")),
    "csv_one_point": Case(lambda d: _read_curves(_csv(d, ROWS[:1])), ("curve.csv", "1 usable point")),
    "csv_duplicated_times": Case(lambda d: _read_curves(_csv(d, [f"50000.5,{15 + i},0.05" for i in range(6)])),
                                 ("curve.csv", "'mjd'", "all 6 points share the time", "distinct")),
    "csv_huge_magnitudes": Case(lambda d: _read_curves(_csv(d, [*ROWS, "50010,1e30,0.05"])),
                                ("curve.csv", "row 6", "'mag'", "beyond")),
    "csv_negative_error": Case(lambda d: _read_curves(_csv(d, [*ROWS, "50010,15,-0.1"])),
                               ("curve.csv", "row 6", "'magerr'", "negative")),
    "csv_two_labels_one_id": Case(lambda d: _read_curves(_csv(d, ["a,50000,15,0.1,EW", "a,50001,15,0.1,RRab"],
                                                               header="id,mjd,mag,magerr,label")),
                                  ("curve.csv", "'label'", "several labels")),
    "csv_latin1": Case(lambda d: _read_curves(_write(d, "curve.csv", "mjd,mag,magerr\n1,15,0.1 \xe9\n".encode("latin-1"))),
                       ("curve.csv", "not UTF-8", "0xe9")),
    "csv_utf16": Case(lambda d: _read_curves(_write(d, "curve.csv", "mjd,mag,magerr\n1,15,0.1\n".encode("utf-16"))),
                      ("curve.csv", "not UTF-8")),
    "csv_binary": Case(lambda d: _read_curves(_write(d, "curve.csv", bytes(range(128, 256)) * 8)),
                       ("curve.csv", "not UTF-8")),
    "csv_field_too_long": Case(lambda d: _read_curves(_csv(d, ["1,15," + "9" * 200_000])),
                               ("curve.csv", "line 2", "field larger than field limit")),
    "csv_duplicate_columns": Case(lambda d: _read_curves(_csv(d, ["1,15,15,0.1"], header="mjd,mag,mag,magerr")),
                                  ("curve.csv", "['mag']", "more than once")),
    "curves_folder_symlink_loop": Case(_curves_folder_with_link_loop, ("loop.csv", "link loop")),
    "curves_folder_fifo": Case(_curves_folder_with_fifo, ("pipe.csv", "FIFO", "not a regular file")),
    "curves_path_missing": Case(lambda d: _read_curves(d / "nowhere.csv"), ("nowhere.csv", "no such file")),
    "npz_missing_arrays": Case(lambda d: _npz_curves(d, mjd=np.zeros(3)), ("curves.npz", "missing array", "offsets")),
    "npz_bad_offsets": Case(lambda d: _npz_curves(d, ids=np.array(["a"]), offsets=np.array([0, 5]), mjd=np.zeros(3),
                                                  mag=np.zeros(3), magerr=np.zeros(3)), ("curves.npz", "'offsets'")),
    # ---------------------------------------------------------------------------------- dmdt
    "npz_text_file": Case(lambda d: _read_npz_file(_write(d, "curves.npz", "id,mjd\n")),
                          ("curves.npz", "not an .npz (zip) archive")),
    "npz_object_arrays": Case(lambda d: _npz_curves(d, ids=np.array([{"a": 1}], dtype=object), offsets=np.array([0, 2]),
                                                    mjd=np.zeros(2), mag=np.zeros(2), magerr=np.zeros(2)),
                              ("curves.npz", "not a readable .npz", "Object arrays")),
    "npz_bad_crc": Case(lambda d: _read_npz_file(_corrupt_member(d)), ("curves.npz", "not a readable .npz", "CRC")),
    "npz_two_dimensional_ids": Case(lambda d: _npz_curves(d, ids=np.array([["a"]]), offsets=np.array([0, 2]),
                                                          mjd=np.zeros(2), mag=np.zeros(2), magerr=np.zeros(2)),
                                    ("curves.npz", "'ids'", "(1, 1)", "one dimension")),
    "npz_complex_times": Case(lambda d: _npz_curves(d, ids=np.array(["a"]), offsets=np.array([0, 2]),
                                                    mjd=np.zeros(2) + 1j, mag=np.zeros(2), magerr=np.zeros(2)),
                              ("curves.npz", "'mjd'", "complex128", "real numbers")),
    "cadence_zero_bins": Case(lambda d: _cadence_bins(0), ("n_bins=0", "from 1 to 2048")),
    "cadence_too_many_bins": Case(lambda d: _cadence_bins(100_000_000), ("n_bins=100000000", "from 1 to 2048")),
    "dmdt_unknown_preset": Case(lambda d: _dmdt([1.0, 2.0], [15.0, 16.0], preset="hubble"), ("preset", "'hubble'")),
    "dmdt_mismatched_arrays": Case(lambda d: _dmdt([1.0, 2.0, 3.0], [15.0, 16.0]), ("mjd (3,)", "mag (2,)")),
    "dmdt_nan_times": Case(lambda d: _dmdt([1.0, float("nan")], [15.0, 16.0]), ("'mjd'", "NaN/inf")),
    # ------------------------------------------------------------------------- alerts / cutouts
    "alert_empty_file": Case(lambda d: _triplet_of_file(_write(d, "alert.avro", b"")), ("alert.avro", "empty file")),
    "alert_neither_avro_nor_json": Case(lambda d: _triplet_of_file(_write(d, "alert.avro", b"\x00garbage")),
                                        ("alert.avro", "neither an Avro container")),
    "alert_truncated_avro": Case(lambda d: _triplet_of_file(_write(d, "alert.avro", b"Obj\x01\x04\x14avro")),
                                 ("alert.avro", "unreadable Avro container")),
    "alert_missing_cutout": Case(lambda d: _triplet(d, {k: v for k, v in _packet().items() if k != "cutoutTemplate"}),
                                 ("alert.json", "'cutoutTemplate'", "missing")),
    "alert_truncated_gzip": Case(lambda d: _triplet(d, _packet(cutoutScience=GOOD_FITS_GZ[:30])),
                                 ("alert.json", "'cutoutScience'", "truncated gzip")),
    "alert_truncated_fits": Case(lambda d: _triplet(d, _packet(cutoutDifference=_fits(np.ones((5, 5)))[:2000])),
                                 ("alert.json", "'cutoutDifference'", "truncated FITS")),
    "alert_cutout_too_large": Case(lambda d: _triplet(d, _packet(cutoutScience=gzip.compress(_fits(np.ones((64, 63)))))),
                                   ("alert.json", "'cutoutScience'", "(64, 63)", "at most (63, 63)")),
    "alert_gzip_bomb": Case(lambda d: _triplet(d, _packet(cutoutScience=gzip.compress(bytes(20 * 2**20)))),
                            ("cutoutScience", "inflates beyond 16 MiB")),
    "alert_cutout_not_2d": Case(lambda d: _triplet(d, _packet(cutoutTemplate=gzip.compress(_fits(np.ones((2, 5, 5)))))),
                                ("alert.json", "'cutoutTemplate'", "(2, 5, 5)", "2-D")),
    "alert_invalid_base64": Case(lambda d: _triplet_of_file(_write(d, "alert.json", json.dumps(
        {"cutoutScience": {"stampData": {"$binary": "not base64!"}}}))), ("alert.json", "'cutoutScience'", "base64")),
    "raw_cutout_sizes_out_of_range": Case(lambda d: _raw_cutouts(np.array([[[63, 63], [70, 63], [63, 63]]])),
                                          ("cutouts_raw.npz", "'shapes'", "entry (0, 1)", "(70, 63)")),
    "braai_set_wrong_cutout_size": Case(lambda d: _braai_set(d, np.zeros((2, 64, 64, 3), np.float32), ["0", "1"]),
                                        ("triplets.npy", "(2, 64, 64, 3)", "(N, 63, 63, 3)")),
    "braai_set_label_not_0_or_1": Case(lambda d: _braai_set(d, np.zeros((2, 63, 63, 3), np.float32), ["0", "maybe"]),
                                       ("candidates.csv", "row 3", "'label'", "'maybe'")),
    # ---------------------------------------------------------------------- models, producers
    "gradcam_model_without_conv_layers": Case(lambda d: _gradcam(_dense_model()),
                                              ("'dense_only'", "no 2-D convolution layer")),
    "gradcam_unknown_layer": Case(lambda d: _gradcam(_conv_model(), layer="conv9"), ("layer='conv9'", "not in model")),
    "corrupt_keras_model": Case(lambda d: _corrupt_model(d, "model.keras"), ("model.keras", "not a loadable model")),
    "corrupt_legacy_checkpoint": Case(lambda d: _corrupt_model(d, "model.h5"), ("model.h5", "not a loadable model")),
    "class_with_no_confident_inputs": Case(_class_map_without_inputs, ("no class-map inputs", "classmap_threshold")),
    # ---------------------------------------------------------------------------------- config
    "config_unknown_key": Case(lambda d: _config(d, "[generator]\nepochz = 3\n"),
                               ("run.toml", "unknown key generator.epochz")),
    "config_unknown_section": Case(lambda d: _config(d, "[generators]\nepochs = 3\n"), ("run.toml", "'generators'")),
    "config_wrong_type": Case(lambda d: _config(d, "[classifier]\nepochs = \"ten\"\n"),
                              ("run.toml", "classifier.epochs", "must be int")),
    "config_bad_choice": Case(lambda d: _config(d, "[survey]\nkind = \"spectra\"\n"),
                              ("run.toml", "survey.kind", "'spectra'")),
    "config_profile_a_table": Case(lambda d: _config(d, "[profile]\nname = \"demo\"\n"), ("run.toml", "profile")),
    "config_not_toml": Case(lambda d: _config(d, "seed = = 3\n"), ("run.toml", "not valid TOML")),
    # ---------------------------------------------------------------------------- stores, disk
    "store_truncated": Case(lambda d: _read_store(_write(d, "cut.h5", _store(d).read_bytes()[:300])),
                            ("cut.h5", "unreadable or damaged map store")),
    "store_missing_method": Case(lambda d: _read_store(_store(d), "shap"), ("maps.h5", "no maps for method 'shap'")),
    "store_bad_method_name": Case(lambda d: _store_write(d, "a/b"), ("maps.h5", "method name 'a/b'")),
    "disk_full_during_write": Case(_disk_full, ("{dir}/dmdt.npy", "no space left on the device")),
}


def _triplet_of_file(path: Path) -> object:
    from pix2pixai.data.alerts import triplet_from_alert

    return triplet_from_alert(path)


def _store_write(folder: Path, method: str) -> object:
    from pix2pixai.stores import MapStore

    with MapStore.create(folder / "maps.h5", {"survey": "x"}) as store:
        store.write(method, np.ones((2, 3, 3, 1)))


def test_the_catalogue_counts_at_least_25_cases():
    assert len(CATALOGUE) >= 25


@pytest.mark.parametrize("name", sorted(CATALOGUE))
def test_malformed_input_gives_input_error_naming_it(name, tmp_path):
    case = CATALOGUE[name]
    with pytest.raises(InputError) as caught:
        case.run(tmp_path)
    message = str(caught.value)
    missing = [f for f in (frag.replace("{dir}", str(tmp_path)) for frag in case.fragments) if f not in message]
    assert not missing, f"{name}: {missing} not in {message!r}"
    assert "\n" not in message, "one line, for the CLI"
