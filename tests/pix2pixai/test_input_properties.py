"""Property-based tests: any bytes or any array given to the alert reader, the config loader or the
map store gives a valid result or an InputError naming the file or field; never another exception,
a hang, or a half-written output file.

Bugs these found (fixed): a config whose ``profile`` or ``survey.kind`` was a table or list raised
TypeError (unhashable); a damaged HDF5 store raised OSError/KeyError from h5py; maps of strings,
complex numbers or objects, 0-d/1-d maps, float64 maps beyond float32's range, method names such as
``""``, ``"a/b"``, ``"."`` or ``"bin_edges"`` and non-integer targets raised ValueError, TypeError,
IndexError or RuntimeError (or were silently stored as inf / wrapped integers).
"""

from __future__ import annotations

import contextlib
import functools
import gzip
import io
import json
import os
import signal
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from pix2pixai.data.alerts import (
    CUTOUT_FIELDS, TRIPLET_SIZE, cutouts_from_packet, read_alert_packets, triplet_from_alert,
    triplets_from_raw_cutouts,
)
from pix2pixai.errors import InputError
from pix2pixai.rundir.config import RunConfig, config_from_dict, load_config
from pix2pixai.stores.maps import MapStore, partial_path

#: A generous per-example guard against hangs (not a timing assertion: nothing here should take a second).
HANG_SECONDS = 60

#: Examples per property: 60 in CI; raise it for a deeper search (e.g. ``PIX2PIXAI_PROPERTY_EXAMPLES=2000``).
EXAMPLES = int(os.environ.get("PIX2PIXAI_PROPERTY_EXAMPLES", "60"))

PROPERTY = settings(max_examples=EXAMPLES, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@contextlib.contextmanager
def _no_hang(seconds: int = HANG_SECONDS) -> Iterator[None]:
    """Fail instead of hanging when the body runs for ``seconds`` (SIGALRM, main thread only)."""
    def fail(signum: int, frame: object) -> None:
        raise AssertionError(f"no result after {seconds} s: hang")

    previous = signal.signal(signal.SIGALRM, fail)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def _fits_gz(image: np.ndarray) -> bytes:
    from astropy.io import fits

    buffer = io.BytesIO()
    fits.PrimaryHDU(np.asarray(image, np.float32)).writeto(buffer)
    return gzip.compress(buffer.getvalue())


def _avro_alert() -> bytes:
    """A small valid Avro alert (3 cutouts of 5 x 7) written by fastavro."""
    import fastavro

    cutout = {"type": "record", "name": "cutout", "fields": [{"name": "stampData", "type": "bytes"}]}
    fields = [{"name": "candid", "type": "long"}] + [
        {"name": f, "type": cutout if i == 0 else "cutout"} for i, f in enumerate(CUTOUT_FIELDS)]
    image = np.arange(35, dtype=np.float32).reshape(5, 7)
    packet = {"candid": 1, **{f: {"stampData": _fits_gz(image + i)} for i, f in enumerate(CUTOUT_FIELDS)}}
    buffer = io.BytesIO()
    fastavro.writer(buffer, fastavro.parse_schema({"type": "record", "name": "alert", "fields": fields}), [packet])
    return buffer.getvalue()


AVRO = _avro_alert()


def _damaged(original: bytes) -> st.SearchStrategy[bytes]:
    """Truncations, byte overwrites and deleted spans of ``original``."""
    n = len(original)
    cut = st.integers(0, n - 1).map(lambda i: original[:i])
    flip = st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, 255)), min_size=1, max_size=12).map(
        lambda edits: bytes(_edit(bytearray(original), edits)))
    hole = st.tuples(st.integers(0, n - 1), st.integers(1, 400)).map(lambda t: original[:t[0]] + original[t[0] + t[1]:])
    return st.one_of(cut, flip, hole)


def _edit(data: bytearray, edits: list[tuple[int, int]]) -> bytearray:
    for position, value in edits:
        data[position] = value
    return data


def _triplet_or_input_error(path: Path) -> None:
    """The property of an alert file: a finite (63, 63, 3) triplet, or an InputError naming the file."""
    with _no_hang():
        try:
            triplet = triplet_from_alert(path)
        except InputError as error:
            assert str(path) in str(error)
            return
    assert triplet.shape == (TRIPLET_SIZE, TRIPLET_SIZE, 3) and triplet.dtype == np.float32
    assert np.isfinite(triplet).all()


# ----------------------------------------------------------------------------------------- alerts
@PROPERTY
@given(data=st.binary(max_size=2000) | _damaged(AVRO) | st.binary(max_size=300).map(lambda b: b"Obj\x01" + b))
def test_any_alert_bytes_give_a_triplet_or_input_error(data, tmp_path):
    path = tmp_path / "alert.avro"
    path.write_bytes(data)
    _triplet_or_input_error(path)


_JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
                     lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
                     max_leaves=8)
_STAMP = st.one_of(
    _JSON, st.binary(max_size=200), _damaged(_fits_gz(np.ones((4, 4)))),
    st.builds(lambda b: {"$binary": b}, st.text(max_size=40)),
    st.builds(lambda b: {"$binary": {"base64": b}}, st.text(alphabet="AZaz09+/=", max_size=40)),
)


@PROPERTY
@given(packet=st.dictionaries(st.sampled_from([*CUTOUT_FIELDS, "candid"]), st.one_of(
    _JSON, st.builds(lambda s: {"stampData": s}, _STAMP)), max_size=4))
def test_any_packet_gives_cutouts_or_input_error_naming_the_field(packet, tmp_path):
    path = tmp_path / "alert.json"
    with _no_hang():
        try:
            cutouts = cutouts_from_packet(packet, source=path)
        except InputError as error:
            assert str(path) in str(error) and any(field in str(error) for field in CUTOUT_FIELDS)
            return
    assert all(c.ndim == 2 and c.dtype == np.float32 for c in cutouts)


@PROPERTY
@given(text=_JSON.map(json.dumps))
def test_any_json_alert_file_gives_a_triplet_or_input_error(text, tmp_path):
    path = tmp_path / "alert.json"
    path.write_text(text)
    _triplet_or_input_error(path)


@PROPERTY
@given(cutouts=hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=5, max_side=5),
                          elements=st.floats(allow_nan=True, allow_infinity=True, width=32)),
       shapes=hnp.arrays(st.sampled_from([np.int64, np.float64]), hnp.array_shapes(min_dims=1, max_dims=4, max_side=4),
                         elements=st.integers(-2, 6)),
       normalisation=st.sampled_from(["image", "row", "rows"]))
def test_any_raw_cutout_arrays_give_triplets_or_input_error(cutouts, shapes, normalisation):
    try:
        triplets = triplets_from_raw_cutouts(cutouts, shapes, normalisation, source="cutouts_raw.npz")
    except InputError as error:
        assert any(name in str(error) for name in ("cutouts", "shapes", "normalisation"))
        return
    assert triplets.shape == (len(cutouts), TRIPLET_SIZE, TRIPLET_SIZE, 3) and np.isfinite(triplets).all()


# ----------------------------------------------------------------------------------------- config
_SECTIONS = ["survey", "classifier", "explain", "generator", "classmaps", "compare"]
_VALUES = st.one_of(_JSON, st.sampled_from(["dmdt", "triplet", "demo", "full", "gradcam", "serial", "local:2"]),
                    st.floats(), st.integers(-2, 500))
_SECTION = st.dictionaries(st.sampled_from(["kind", "source", "n_per_group", "groups", "epochs", "methods", "mode",
                                            "classmap_threshold", "scheduler", "ngf", "norm", "typo"]), _VALUES, max_size=4)
_CONFIG = st.dictionaries(st.sampled_from(["seed", "profile", "unknown", *_SECTIONS]), _VALUES | _SECTION, max_size=5)


@PROPERTY
@given(data=_CONFIG)
def test_any_config_dict_gives_a_config_or_input_error_naming_the_file(data):
    with _no_hang():
        try:
            config = config_from_dict(data, origin="run.toml")
        except InputError as error:
            assert str(error).startswith("run.toml: ")
            return
    assert isinstance(config, RunConfig)


def _toml_lines() -> st.SearchStrategy[str]:
    key = st.sampled_from(["seed", "profile", "kind", "epochs", "methods", "x", "[survey]", "[generator]", "[[a]]"])
    value = st.sampled_from(["1", "-3", "1.5", "nan", "inf", '"demo"', '"dmdt"', "[1, 2]", '["gradcam"]', "{a = 1}",
                             "true", '"', "1979-05-27", ""])
    return st.lists(st.tuples(key, value).map(lambda kv: kv[0] if kv[0].startswith("[") else f"{kv[0]} = {kv[1]}"),
                    max_size=8).map("\n".join)


@PROPERTY
@given(content=st.binary(max_size=400) | _toml_lines().map(str.encode))
def test_any_config_file_gives_a_config_or_input_error_naming_the_file(content, tmp_path):
    path = tmp_path / "run.toml"
    path.write_bytes(content)
    with _no_hang():
        try:
            config = load_config(path)
        except InputError as error:
            assert str(path) in str(error)
            return
    assert isinstance(config, RunConfig)


# ----------------------------------------------------------------------------------------- stores
@functools.cache
def _store_bytes() -> bytes:
    """The bytes of a small finished store (one method, two chunks, bin edges)."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "maps.h5"
        with MapStore.create(path, {"survey": "x"}, bin_edges={"dm": np.arange(3.0)}) as store:
            store.write("gradcam", np.arange(48, dtype=np.float32).reshape(3, 4, 4, 1), targets=[0, 1, 0], chunk=2)
        return path.read_bytes()


def _read_everything(path: Path) -> None:
    with MapStore.open(path) as store:
        for method in store.methods():
            store.read(method), store.targets(method), store.index(method), store.info(method)
            store.read(method, np.array([0, 0]))
        store.provenance, store.bin_edges


@PROPERTY
@given(data=st.data())
def test_any_store_bytes_read_fully_or_input_error_naming_the_file(data, tmp_path):
    content = data.draw(st.binary(max_size=600) | _damaged(_store_bytes()))
    path = tmp_path / "maps.h5"
    path.write_bytes(content)
    with _no_hang():
        try:
            _read_everything(path)
        except InputError as error:
            assert str(path) in str(error)


_DTYPES = st.one_of(hnp.floating_dtypes(), hnp.integer_dtypes(), hnp.boolean_dtypes(), hnp.complex_number_dtypes(),
                    st.just(np.dtype("U3")), st.just(np.dtype(object)))
_ARRAYS = hnp.arrays(_DTYPES, hnp.array_shapes(min_dims=0, max_dims=5, min_side=0, max_side=4))
_METHODS = st.one_of(st.sampled_from(["gradcam", "integrated-gradients", "a/b", ".", "..", "", "bin_edges", "x\x00"]),
                     st.text(max_size=6))


@PROPERTY
@given(method=_METHODS, maps=_ARRAYS, targets=st.none() | _ARRAYS, chunk=st.integers(-1, 5))
def test_any_maps_are_stored_exactly_or_input_error_and_no_finished_file(method, maps, targets, chunk, tmp_path):
    path = tmp_path / "maps.h5"
    for stale in (path, partial_path(path)):
        stale.unlink(missing_ok=True)
    with _no_hang():
        try:
            with MapStore.create(path, {"survey": "x"}) as store:
                store.write(method, maps, targets=targets, chunk=chunk)
        except InputError as error:
            assert str(path) in str(error) or repr(method) in str(error) or "chunk" in str(error)
            assert not path.exists()  # the finished file appears only after a complete write
            return
    with MapStore.open(path) as store:
        stored = store.read(method)
        assert stored.shape == maps.shape and stored.dtype == np.float32
        np.testing.assert_array_equal(stored, maps.astype(np.float32))
        if targets is not None:
            np.testing.assert_array_equal(store.targets(method), targets)


@PROPERTY
@given(values=hnp.arrays(np.int64, hnp.array_shapes(min_dims=0, max_dims=2, max_side=4), elements=st.integers(-5, 5)),
       dtype=st.sampled_from([np.int64, np.float64, np.dtype("U2")]))
def test_any_read_indices_give_rows_or_input_error(values, dtype, tmp_path):
    indices = values.astype(dtype)
    path = tmp_path / "maps.h5"
    path.write_bytes(_store_bytes())
    with MapStore.open(path) as store:
        all_rows = store.read("gradcam")
        try:
            rows = store.read("gradcam", indices)
        except InputError as error:
            assert str(path) in str(error) or "gradcam" in str(error)
            return
    np.testing.assert_array_equal(rows, all_rows[indices.astype(np.int64)])
