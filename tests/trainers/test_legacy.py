"""Legacy Keras-2 loaders: the rebuilt models reproduce the real models' published outputs, and an
independent numpy forward pass (sliding-window convolutions) on the same HDF5 weights agrees."""

from __future__ import annotations

import base64
import csv
import gzip
import io
import json

import h5py
import numpy as np
import pytest

from tests.conftest import shared_path
from pix2pixai.trainers.legacy import load_legacy_model

pytestmark = pytest.mark.real_data


# ------------------------------------------------------------------ independent numpy reference
def _h5_weights(path) -> dict[str, list[np.ndarray]]:
    """{layer: [kernel, bias]} straight from the HDF5 groups, without Keras."""
    with h5py.File(path, "r") as f:
        root = f["model_weights"] if "model_weights" in f else f
        return {name: [np.asarray(root[name][w.decode()], np.float64) for w in root[name].attrs["weight_names"]]
                for name in root if len(root[name].attrs["weight_names"])}


def _conv_relu(x: np.ndarray, kernel: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """Valid 2-D cross-correlation [N,H,W,Cin] * [kh,kw,Cin,Cout] -> relu([N,H-kh+1,W-kw+1,Cout])."""
    kh, kw = kernel.shape[:2]
    windows = np.lib.stride_tricks.sliding_window_view(x, (kh, kw), axis=(1, 2))  # [N,H',W',Cin,kh,kw]
    return np.maximum(np.einsum("nhwcij,ijco->nhwo", windows, kernel) + bias, 0.0)


def _maxpool(x: np.ndarray, k: int) -> np.ndarray:
    n, h, w, c = x.shape
    h2, w2 = h // k, w // k
    return x[:, : h2 * k, : w2 * k].reshape(n, h2, k, w2, k, c).max(axis=(2, 4))


def _numpy_crts_cnn(w, x: np.ndarray) -> np.ndarray:
    h = _maxpool(_conv_relu(x, *w["conv2d1"]), 2)
    h = _conv_relu(h, *w["conv2d2"]).reshape(len(x), -1)
    z = h @ w["preds"][0] + w["preds"][1]
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _numpy_vgg6(w, x: np.ndarray) -> np.ndarray:
    h = _maxpool(_conv_relu(_conv_relu(x, *w["conv1"]), *w["conv2"]), 2)
    h = _maxpool(_conv_relu(_conv_relu(h, *w["conv3"]), *w["conv4"]), 4).reshape(len(x), -1)
    h = np.maximum(h @ w["fc_1"][0] + w["fc_1"][1], 0.0)
    return 1.0 / (1.0 + np.exp(-(h @ w["fc_out"][0] + w["fc_out"][1])))[:, 0]


# ----------------------------------------------------------------------------------- CRTS CNN
def test_crts_cnn_reproduces_real_probabilities_and_numpy_forward():
    path = shared_path("reproducibility_periodic_cnn", "model.h5")
    ref = np.load(shared_path("crts-lightcurves-kvmu", "dmdt_reference_subset.npz"))
    assert list(ref["repro_classes"]) == ["EW", "EA", "RRab", "RRc", "RRd", "RS_CVn", "LPV"]
    x = ref["dmdt"][..., None].astype(np.float32)
    model = load_legacy_model(path, "crts_cnn")
    assert model.count_params() == 39527
    probs = model.predict(x, batch_size=256, verbose=0)
    np.testing.assert_allclose(probs, ref["repro_probs"], atol=1e-5)
    subset = slice(0, 64)
    np.testing.assert_allclose(_numpy_crts_cnn(_h5_weights(path), x[subset].astype(np.float64)),
                               ref["repro_probs"][subset], atol=1e-5)


# -------------------------------------------------------------------------------------- braai
def _btsbot():
    triplets = np.load(shared_path("btsbot", "usage_triplets.npy"))
    with open(shared_path("btsbot", "usage_candidates.csv"), newline="") as fh:
        rows = list(csv.DictReader(fh))
    return triplets, np.array([float(r["drb"]) for r in rows]), np.array([float(r["new_drb"]) for r in rows])


def test_braai_d6_m9_reproduces_new_drb_and_numpy_forward():
    path = shared_path("braai", "models", "braai_d6_m9.h5")
    triplets, _, new_drb = _btsbot()
    model = load_legacy_model(path, "braai")
    scores = model.predict(triplets.astype(np.float32), verbose=0)[:, 0]
    np.testing.assert_allclose(scores, new_drb, atol=1e-5)
    np.testing.assert_allclose(_numpy_vgg6(_h5_weights(path), triplets[:8]), new_drb[:8], atol=1e-5)


def test_braai_d6_m7_from_legacy_weights_file_reproduces_drb():
    """The ``*.weights.h5`` (weights only, layer groups at the root) loads too; d6_m7 wants each
    cutout L2-normalised row by row (scale-free, so the stored whole-image normalisation is undone)."""
    triplets, drb, _ = _btsbot()
    rows = triplets / np.linalg.norm(triplets, axis=2, keepdims=True)
    model = load_legacy_model(shared_path("braai", "models", "d6_m7.weights.h5"), "braai")
    np.testing.assert_allclose(model.predict(rows.astype(np.float32), verbose=0)[:, 0], drb, atol=1e-5)


def _alert_triplet_rowl2(path) -> np.ndarray:
    """The braai d6_m7 recipe: NaN -> 0, each cutout L2-normalised per row, pad to 63x63 with 1e-9."""
    from astropy.io import fits

    alert = json.loads(path.read_text())
    cutouts = []
    for key in ("cutoutScience", "cutoutTemplate", "cutoutDifference"):
        raw = gzip.decompress(base64.b64decode(alert[key]["stampData"]["$binary"]))
        with fits.open(io.BytesIO(raw)) as hdul:
            img = np.nan_to_num(np.asarray(hdul[0].data, np.float64))
        norm = np.linalg.norm(img, axis=1, keepdims=True)
        img = img / np.where(norm == 0, 1.0, norm)
        out = np.full((63, 63), 1e-9)
        out[: img.shape[0], : img.shape[1]] = img
        cutouts.append(out)
    return np.stack(cutouts, axis=-1)[None].astype(np.float32)


@pytest.mark.filterwarnings("ignore")
def test_braai_d6_m7_reproduces_published_alert_scores():
    pytest.importorskip("astropy")
    model = load_legacy_model(shared_path("braai", "models", "d6_m7.h5"), "braai")
    with open(shared_path("braai", "reference_scores.csv"), newline="") as fh:
        published = {r["file"]: r for r in csv.DictReader(fh)}
    expected = {"714287740515015072.json": 0.9999416, "893215910715010007.json": 1.752814e-10}
    for name, value in expected.items():
        x = _alert_triplet_rowl2(shared_path("braai", "alerts", name))
        score = float(model.predict(x, verbose=0)[0, 0])
        assert score == pytest.approx(value, rel=1e-3, abs=1e-6), name
        assert score == pytest.approx(float(published[name]["ours_d6_m7_oldnorm"]), rel=1e-3, abs=1e-6)


# ------------------------------------------------------------------------------------- errors
def test_unknown_kind_and_missing_file(tmp_path):
    with pytest.raises(ValueError, match="unknown legacy model kind 'resnet'"):
        load_legacy_model(tmp_path / "x.h5", "resnet")
    with pytest.raises(ValueError, match="not found"):
        load_legacy_model(tmp_path / "missing.h5", "crts_cnn")
    (tmp_path / "text.h5").write_text("not hdf5")
    with pytest.raises(ValueError, match="not a readable HDF5"):
        load_legacy_model(tmp_path / "text.h5", "crts_cnn")


def _write_legacy(path, layers: dict[str, dict[str, tuple[int, ...]]]) -> None:
    with h5py.File(path, "w") as f:
        for layer, weights in layers.items():
            group = f.create_group(layer)
            group.attrs["weight_names"] = [f"{layer}/{w}".encode() for w in weights]
            for w, shape in weights.items():
                group.create_dataset(f"{layer}/{w}", data=np.zeros(shape, np.float32))


def test_missing_layer_group_and_shape_mismatch_are_named(tmp_path):
    good = {"conv2d1": {"kernel:0": (5, 5, 1, 16), "bias:0": (16,)},
            "conv2d2": {"kernel:0": (5, 5, 16, 64), "bias:0": (64,)}}
    _write_legacy(tmp_path / "no_preds.h5", good)
    with pytest.raises(ValueError, match="no weight group for layer 'preds'"):
        load_legacy_model(tmp_path / "no_preds.h5", "crts_cnn")
    _write_legacy(tmp_path / "bad_shape.h5", {**good, "preds": {"kernel:0": (1920, 5), "bias:0": (5,)}})
    with pytest.raises(ValueError, match=r"layer 'preds' weight 'preds/kernel:0' has shape \(1920, 5\), "
                                         r"expected \(1920, 7\)"):
        load_legacy_model(tmp_path / "bad_shape.h5", "crts_cnn")
