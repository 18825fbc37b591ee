"""ZTF alert -> braai triplet: the data-layer contract.

Checked against independent references: a plain per-cutout implementation (``np.linalg.norm``,
``keras.utils.normalize``, ``np.pad``), FITS written by astropy, fastavro's own writer (snappy codec),
the fink raw-cutout arrays vs the original Avro packets, and the real braai models, whose scores must
reproduce IPAC's ``drb``, braai's published scores and BTSbot's ``new_drb``.
"""

from __future__ import annotations

import base64
import csv
import gzip
import io
import json

import fastavro
import numpy as np
import pytest
from astropy.io import fits

from pix2pixai.data.alerts import (
    CUTOUT_FIELDS,
    cutouts_from_packet,
    normalise_cutout,
    read_alert_packets,
    read_braai_training_set,
    triplet_from_alert,
    triplets_from_raw_cutouts,
)
from pix2pixai.errors import InputError
from tests.conftest import shared_path

FLT_MAX = float(np.finfo(np.float32).max)
BRAAI_PAD = np.float32(1e-9)  # braai pads with this literal; independent of the module constant
RNG_SEED = 20190423


def _fits_gz(image: np.ndarray) -> bytes:
    """Gzipped FITS bytes as ZTF stores a cutout (written by astropy, independent of the reader)."""
    buffer = io.BytesIO()
    fits.PrimaryHDU(np.asarray(image, dtype=np.float32)).writeto(buffer)
    return gzip.compress(buffer.getvalue())


def _packet(science: np.ndarray, reference: np.ndarray, difference: np.ndarray) -> dict:
    stamps = (_fits_gz(science), _fits_gz(reference), _fits_gz(difference))
    return {"candid": 1, **{field: {"stampData": stamp} for field, stamp in zip(CUTOUT_FIELDS, stamps)}}


def _reference_triplet(cutouts: list[np.ndarray], normalisation: str) -> np.ndarray:
    """Plain braai recipe, one cutout at a time: NaN -> 0, normalise, pad with 1e-9, stack."""
    channels = []
    for cutout in cutouts:
        pixels = np.nan_to_num(np.asarray(cutout, dtype=np.float32), nan=0.0)
        if normalisation == "row":
            import keras

            pixels = keras.utils.normalize(pixels)
        else:
            pixels = pixels / np.linalg.norm(pixels)
        height, width = pixels.shape
        channels.append(np.pad(pixels, [(0, 63 - height), (0, 63 - width)], constant_values=BRAAI_PAD))
    return np.stack(channels, axis=-1)


def _random_cutouts(rng: np.random.Generator, shapes: list[tuple[int, int]]) -> list[np.ndarray]:
    cutouts = [rng.normal(100.0, 15.0, size=shape).astype(np.float32) for shape in shapes]
    for cutout in cutouts:
        cutout[rng.random(cutout.shape) < 0.1] = np.nan
    return cutouts


def _good_packet() -> dict:
    return _packet(*_random_cutouts(np.random.default_rng(RNG_SEED), [(63, 63)] * 3))


def _with_stamp(field: str, stamp: bytes | None) -> dict:
    packet = _good_packet()
    packet[field] = {"stampData": stamp}
    return packet


def _avro_bytes(*packets: dict, codec: str = "null") -> bytes:
    """Avro container written by fastavro; cutouts with nullable stampData, absent fields left out."""
    cutout = {"type": "record", "name": "cutout", "fields": [{"name": "stampData", "type": ["null", "bytes"]}]}
    present = [field for field in CUTOUT_FIELDS if field in packets[0]]
    fields = [{"name": "candid", "type": "long"}] + [
        {"name": field, "type": cutout if i == 0 else "cutout"} for i, field in enumerate(present)
    ]
    buffer = io.BytesIO()
    schema = fastavro.parse_schema({"type": "record", "name": "alert", "fields": fields})
    fastavro.writer(buffer, schema, list(packets), codec=codec)
    return buffer.getvalue()


def _json_bytes(packet: dict) -> bytes:
    """Kowalski-style JSON: stampData as MongoDB extended JSON ``{"$binary": base64}``."""
    encoded = {
        field: {"stampData": {"$binary": base64.b64encode(packet[field]["stampData"]).decode(), "$type": "00"}}
        for field in CUTOUT_FIELDS
    }
    return json.dumps({"candid": packet["candid"], **encoded}).encode()


def _science_stamp() -> bytes:
    return _good_packet()["cutoutScience"]["stampData"]


def _fits_bytes(image: np.ndarray) -> bytes:
    return gzip.decompress(_fits_gz(image))


#: case -> (file content builder, text the InputError must hold besides the file name)
MALFORMED = {
    "empty_file": (lambda: b"", "empty file"),
    "not_avro_nor_json": (lambda: b"SIMPLE  = T not an alert at all", "neither an Avro"),
    "json_array": (lambda: b"[1, 2]", "expected one alert packet"),
    "truncated_avro": (lambda: _avro_bytes(_good_packet())[:-3000], "unreadable Avro"),
    "missing_field": (
        lambda: _avro_bytes({k: v for k, v in _good_packet().items() if k != "cutoutTemplate"}),
        "field 'cutoutTemplate': missing",
    ),
    "null_stamp": (lambda: _avro_bytes(_with_stamp("cutoutDifference", None)), "field 'cutoutDifference': missing"),
    "truncated_gzip": (
        lambda: _avro_bytes(_with_stamp("cutoutScience", _science_stamp()[:600])),
        "field 'cutoutScience': corrupt or truncated gzip",
    ),
    "corrupt_gzip": (
        lambda: _avro_bytes(_with_stamp("cutoutScience", _science_stamp()[:10] + b"\x00" * 50)),
        "field 'cutoutScience': corrupt or truncated gzip",
    ),
    "truncated_fits": (
        lambda: _avro_bytes(_with_stamp("cutoutTemplate", gzip.compress(_fits_bytes(np.ones((63, 63)))[:4000]))),
        "field 'cutoutTemplate': invalid or truncated FITS",
    ),
    "not_fits": (
        lambda: _avro_bytes(_with_stamp("cutoutScience", gzip.compress(b"hello" * 600))),
        "field 'cutoutScience': invalid or truncated FITS",
    ),
    "cube_not_2d": (
        lambda: _avro_bytes(_with_stamp("cutoutScience", _fits_gz(np.ones((2, 63, 63))))),
        "shape (2, 63, 63); expected a 2-D image",
    ),
    "too_large": (
        lambda: _avro_bytes(_with_stamp("cutoutDifference", _fits_gz(np.ones((64, 63))))),
        "field 'cutoutDifference': cutout has shape (64, 63); expected at most (63, 63)",
    ),
    "bad_base64": (
        lambda: _json_bytes(_good_packet()).replace(b'"$binary": "H4sI', b'"$binary": "@@@@', 1),
        "field 'cutoutScience': stampData is not valid base64",
    ),
}


# --- normalisation and padding --------------------------------------------------------------------


@pytest.mark.parametrize("normalisation", ["image", "row"])
def test_normalise_cutout_matches_plain_reference(normalisation):
    rng = np.random.default_rng(RNG_SEED)
    (cutout,) = _random_cutouts(rng, [(45, 63)])
    expected = _reference_triplet([cutout, cutout, cutout], normalisation)[:45, :, 0]
    np.testing.assert_allclose(normalise_cutout(cutout, normalisation), expected, rtol=2e-6, atol=1e-12)


def test_zero_image_and_rows_stay_zero_not_nan():
    cutout = np.zeros((5, 4), dtype=np.float32)
    cutout[2] = [3.0, 4.0, 0.0, 0.0]
    np.testing.assert_array_equal(normalise_cutout(np.zeros((5, 4)), "image"), 0.0)
    rows = normalise_cutout(cutout, "row")
    np.testing.assert_array_equal(rows[[0, 1, 3, 4]], 0.0)
    np.testing.assert_allclose(rows[2], [0.6, 0.8, 0.0, 0.0])


def test_flt_max_sentinel_zeroes_its_row_as_keras_does():
    """ZTF marks reference pixels without coverage with -FLT_MAX; braai's float32 norm overflows."""
    import keras

    cutout = np.full((4, 6), 10.0, dtype=np.float32)
    cutout[1, :3] = -FLT_MAX
    rows = normalise_cutout(cutout, "row")
    with np.errstate(over="ignore"):
        np.testing.assert_array_equal(rows, keras.utils.normalize(cutout))
    np.testing.assert_array_equal(rows[1], 0.0)
    assert np.all(rows[[0, 2, 3]] > 0.0)
    np.testing.assert_array_equal(normalise_cutout(cutout, "image"), 0.0)


@pytest.mark.parametrize("normalisation", ["image", "row"])
def test_raw_cutouts_vectorised_equal_per_cutout_reference(normalisation):
    rng = np.random.default_rng(RNG_SEED)
    sizes = [[(63, 63)] * 3, [(41, 63)] * 3, [(63, 53)] * 3, [(12, 7), (63, 63), (1, 1)]]
    raw = np.full((len(sizes), 3, 63, 63), -7.0, dtype=np.float32)  # filler must be ignored
    expected = []
    for index, triplet_sizes in enumerate(sizes):
        cutouts = _random_cutouts(rng, triplet_sizes)
        for channel, cutout in enumerate(cutouts):
            raw[index, channel, : cutout.shape[0], : cutout.shape[1]] = cutout
        expected.append(_reference_triplet(cutouts, normalisation))
    triplets = triplets_from_raw_cutouts(raw, np.array(sizes), normalisation)
    assert triplets.shape == (4, 63, 63, 3) and triplets.dtype == np.float32
    np.testing.assert_allclose(triplets, np.stack(expected), rtol=2e-6, atol=1e-12)
    assert np.all(triplets[1, 41:] == BRAAI_PAD)
    assert np.all(triplets[2, :, 53:] == BRAAI_PAD)


def test_triplet_from_packet_orders_channels_and_pads_bottom_right():
    rng = np.random.default_rng(RNG_SEED)
    cutouts = _random_cutouts(rng, [(41, 63), (41, 63), (41, 63)])
    cutouts[1] *= 3.0  # make the channels distinguishable
    triplet = triplet_from_alert(_packet(*cutouts), normalisation="row")
    np.testing.assert_allclose(triplet, _reference_triplet(cutouts, "row"), rtol=2e-6, atol=1e-12)
    raw = cutouts_from_packet(_packet(*cutouts))
    for decoded, original in zip(raw, cutouts):
        np.testing.assert_array_equal(decoded, original)


def test_json_extended_binary_and_snappy_multi_record_avro(tmp_path):
    rng = np.random.default_rng(RNG_SEED)
    packet = _packet(*_random_cutouts(rng, [(63, 63)] * 3))
    json_path = tmp_path / "alert.json"
    json_path.write_bytes(_json_bytes(packet))
    expected = triplet_from_alert(packet)
    np.testing.assert_array_equal(triplet_from_alert(json_path), expected)

    avro_path = tmp_path / "two.avro"
    avro_path.write_bytes(_avro_bytes(packet, {**packet, "candid": 2}, codec="snappy"))
    packets = read_alert_packets(avro_path)
    assert [p["candid"] for p in packets] == [1, 2]
    np.testing.assert_array_equal(triplet_from_alert(packets[1]), expected)
    with pytest.raises(InputError, match=r"two\.avro.*2 alert packets; expected exactly one"):
        triplet_from_alert(avro_path)


# --- malformed input --------------------------------------------------------------------------------


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_alert_raises_input_error_naming_file_and_field(case, tmp_path):
    build, message = MALFORMED[case]
    path = tmp_path / f"{case}.alert"
    path.write_bytes(build())
    with pytest.raises(InputError) as info:
        triplet_from_alert(path)
    assert str(path) in str(info.value)
    assert message in str(info.value)


def test_missing_file_and_bad_normalisation(tmp_path):
    with pytest.raises(InputError, match="alert file not found"):
        triplet_from_alert(tmp_path / "nope.avro")
    with pytest.raises(InputError, match="normalisation 'l2'; expected one of"):
        triplet_from_alert(_good_packet(), normalisation="l2")
    with pytest.raises(InputError, match="expected a dict with fields"):
        cutouts_from_packet([1, 2, 3], source="list.json")


@pytest.mark.parametrize(
    ("cutouts_shape", "shapes", "message"),
    [
        ((2, 2, 63, 63), np.full((2, 3, 2), 63), r"field 'cutouts'.*expected \(N, 3, H, W\)"),
        ((2, 3, 64, 63), np.full((2, 3, 2), 63), r"H, W <= 63"),
        ((2, 3, 63, 63), np.full((2, 3), 63), r"field 'shapes'.*expected integers of shape \(2, 3, 2\)"),
        ((2, 3, 63, 63), np.full((2, 3, 2), 63.0), r"expected integers"),
        ((2, 3, 63, 63), np.array([[[63, 63]] * 3, [[63, 63], [0, 63], [63, 63]]]), r"entry \(1, 1\)"),
    ],
)
def test_raw_layout_errors(cutouts_shape, shapes, message):
    with pytest.raises(InputError, match=message):
        triplets_from_raw_cutouts(np.zeros(cutouts_shape, np.float32), shapes, "row", source="raw.npz")


def test_infinite_pixels_rejected():
    raw = np.ones((1, 3, 63, 63), np.float32)
    raw[0, 2, 5, 5] = np.inf
    with pytest.raises(InputError, match="infinite pixels"):
        triplets_from_raw_cutouts(raw, np.full((1, 3, 2), 63), "image")


# --- braai training-set reader ----------------------------------------------------------------------


def test_training_set_reader_and_its_errors(tmp_path):
    triplets = np.random.default_rng(RNG_SEED).random((3, 63, 63, 3))
    npy = tmp_path / "triplets.npy"
    np.save(npy, triplets)
    candidates = tmp_path / "candidates.csv"
    candidates.write_text("candid,label\n1895578115815010050,1\n2,0\n3,1.0\n")
    read, labels, rows = read_braai_training_set(npy, candidates)
    assert read.dtype == np.float32 and read.shape == (3, 63, 63, 3)
    np.testing.assert_array_equal(labels, [1, 0, 1])
    assert rows[0]["candid"] == "1895578115815010050"  # kept exact, never rounded through float

    candidates.write_text("candid,label\n1,1\n2,2\n3,0\n")
    with pytest.raises(InputError, match=r"row 3, field 'label': '2'; expected 0 \(bogus\) or 1"):
        read_braai_training_set(npy, candidates)
    with pytest.raises(InputError, match="no column 'real'"):
        read_braai_training_set(npy, candidates, label_column="real")
    candidates.write_text("candid,label\n1,1\n")
    with pytest.raises(InputError, match="1 candidate rows; expected 3"):
        read_braai_training_set(npy, candidates)
    np.save(npy, triplets[..., :2])
    with pytest.raises(InputError, match=r"shape \(3, 63, 63, 2\); expected floats of shape \(N, 63, 63, 3\)"):
        read_braai_training_set(npy, candidates)
    npy.write_bytes(b"not numpy")
    with pytest.raises(InputError, match="not a readable .npy"):
        read_braai_training_set(npy, candidates)


def test_btsbot_usage_set_without_labels():
    triplets, labels, candidates = read_braai_training_set(
        shared_path("btsbot", "usage_triplets.npy"), shared_path("btsbot", "usage_candidates.csv"), label_column=None
    )
    assert triplets.shape == (39, 63, 63, 3) and triplets.dtype == np.float32
    assert labels is None and len(candidates) == 39 and "new_drb" in candidates[0]
    norms = np.linalg.norm(triplets, axis=(1, 2))
    np.testing.assert_allclose(norms, 1.0, atol=1e-5)  # whole-image L2 normalised, channel by channel


# --- real alerts -------------------------------------------------------------------------------------


def _reference_rows(*parts: str) -> dict[str, dict[str, str]]:
    with open(shared_path(*parts), newline="") as handle:
        return {row["file"]: row for row in csv.DictReader(handle)}


def test_every_ztf_avro_packet_parses_with_its_cutout_shape():
    rows = _reference_rows("ztf-avro-alert", "reference_scores.csv")
    for name, row in rows.items():
        path = shared_path("ztf-avro-alert", name)
        science, reference, difference = cutouts_from_packet(read_alert_packets(path)[0], path)
        height, width = science.shape
        assert f"({height}, {width})" == row["cutout_shape"], name
        assert int(np.isnan(science).sum()) == int(row["n_nan_science"]), name
        triplet = triplet_from_alert(path, "image")
        assert triplet.shape == (63, 63, 3) and triplet.dtype == np.float32 and np.isfinite(triplet).all()
        assert np.all(triplet[height:] == BRAAI_PAD) and np.all(triplet[:, width:] == BRAAI_PAD)


def test_fink_avro_packets_match_fink_raw_cutouts():
    """Two independent copies of the same alerts: original Avro packets and fink's decoded arrays."""
    raw = np.load(shared_path("fink-broker-ztf-alerts", "cutouts_raw.npz"))
    index = {int(candid): i for i, candid in enumerate(raw["candid"])}
    paths = sorted(shared_path("fink-broker-ztf-alerts", "avro_examples").glob("*.avro"))
    assert len(paths) == 14
    rows = [index[int(path.stem)] for path in paths]
    expected = triplets_from_raw_cutouts(raw["cutouts"][rows], raw["shapes"][rows], "row")
    for path, triplet in zip(paths, expected):
        np.testing.assert_array_equal(triplet_from_alert(path, "row"), triplet, err_msg=path.name)


# --- real models: the braai score contract ---------------------------------------------------------


@pytest.fixture(scope="module")
def braai_models():
    trainers = pytest.importorskip("pix2pixai.trainers")
    models = shared_path("braai", "models")
    return {name: trainers.load_legacy_model(models / f"{name}.h5", "braai") for name in ("d6_m7", "braai_d6_m9")}


def _scores(model, triplets: np.ndarray) -> np.ndarray:
    return np.asarray(model.predict(np.asarray(triplets, np.float32), batch_size=128, verbose=0))[:, 0]


def test_d6_m7_row_normalisation_reproduces_ipac_drb_of_400_fink_alerts(braai_models):
    raw = np.load(shared_path("fink-broker-ztf-alerts", "cutouts_raw.npz"))
    with open(shared_path("fink-broker-ztf-alerts", "alerts.csv"), newline="") as handle:
        alerts = list(csv.DictReader(handle))
    assert [int(a["candid"]) for a in alerts] == raw["candid"].tolist()
    drb = np.array([float(a["drb"]) for a in alerts])
    scores = _scores(braai_models["d6_m7"], triplets_from_raw_cutouts(raw["cutouts"], raw["shapes"], "row"))
    np.testing.assert_allclose(scores, drb, atol=1e-5)
    # Included above: the two alerts whose references mark >1,000 uncovered pixels with -FLT_MAX,
    # which only braai's float32 arithmetic reproduces (their science/difference NaNs are elsewhere 0).
    sentinel = [i for i, a in enumerate(alerts) if a["candid"] in ("2481428581115010002", "2481169255715015001")]
    assert np.all((raw["cutouts"][sentinel, 1] == -FLT_MAX).sum(axis=(1, 2)) > 1000)
    # The wrong normalisation must not reproduce drb: the test can fail.
    wrong = _scores(braai_models["d6_m7"], triplets_from_raw_cutouts(raw["cutouts"], raw["shapes"], "image"))
    assert np.abs(wrong - drb).max() > 0.1


def test_braai_json_alerts_reproduce_published_scores(braai_models):
    alerts = shared_path("braai", "alerts")
    published = {"714287740515015072": 0.9999416, "893215910715010007": 1.752814421385196e-10}
    for candid, score in published.items():
        triplet = triplet_from_alert(alerts / f"{candid}.json", "row")
        np.testing.assert_allclose(_scores(braai_models["d6_m7"], triplet[None]), [score], rtol=1e-4, atol=1e-7)


def test_ztf_avro_genuine_drb_reproduced(braai_models):
    rows = _reference_rows("ztf-avro-alert", "reference_scores.csv")
    genuine = {name: row for name, row in rows.items() if row["drb"] and not name.startswith("472263571115115000")}
    assert len(genuine) == 2
    triplets = np.stack([triplet_from_alert(shared_path("ztf-avro-alert", name), "row") for name in genuine])
    drb = [float(row["drb"]) for row in genuine.values()]
    np.testing.assert_allclose(_scores(braai_models["d6_m7"], triplets), drb, atol=1e-5)


def test_d6_m9_reproduces_btsbot_new_drb(braai_models):
    triplets, _, candidates = read_braai_training_set(
        shared_path("btsbot", "usage_triplets.npy"), shared_path("btsbot", "usage_candidates.csv"), label_column=None
    )
    new_drb = np.array([float(c["new_drb"]) for c in candidates])
    np.testing.assert_allclose(_scores(braai_models["braai_d6_m9"], triplets), new_drb, atol=1e-5)
