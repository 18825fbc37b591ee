"""MapStore: round trip, atomic finalisation, resume after a crash, deterministic bytes, streaming."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

import pix2pixai.producers
from pix2pixai.errors import InputError
from pix2pixai.producers import explain
from pix2pixai.stores import MapStore, model_hash, partial_path, produce_to_store
from tests.pix2pixai.test_producers_base import tiny_cnn


def _maps(n=10, seed=0):
    return np.random.default_rng(seed).normal(size=(n, 5, 4, 2)).astype(np.float32)


def test_round_trip_with_provenance_edges_and_indexed_reads(tmp_path):
    path = tmp_path / "maps.h5"
    maps = _maps()
    with MapStore.create(path, {"survey": "crts"}, bin_edges={"dm": np.arange(6.0)}) as store:
        store.write("shap", maps, targets=np.arange(10) % 3, index=np.arange(100, 110), params={"n": 4}, seed=7, chunk=4)
        assert not path.exists() and partial_path(path).exists()  # nothing final before close
    assert path.exists() and not partial_path(path).exists()
    with MapStore.open(path) as store:
        assert store.methods() == ["shap"]
        np.testing.assert_array_equal(store.read("shap"), maps)
        np.testing.assert_array_equal(store.read("shap", indices=np.array([7, 2, 7])), maps[[7, 2, 7]])
        np.testing.assert_array_equal(store.targets("shap"), np.arange(10) % 3)
        np.testing.assert_array_equal(store.index("shap", np.array([0])), [100])
        assert store.info("shap") == {"params": {"n": 4}, "seed": 7, "chunk": 4, "n": 10, "complete": True}
        assert store.provenance == {"survey": "crts"}
        np.testing.assert_array_equal(store.bin_edges["dm"], np.arange(6.0))
        with pytest.raises(InputError, match="no maps for method"):
            store.read("gradcam")
        with pytest.raises(InputError, match="read-only"):
            store.write("gradcam", maps)


def test_crash_leaves_partial_that_resumes_only_missing_chunks(tmp_path):
    path = tmp_path / "maps.h5"
    maps = _maps(9)
    with pytest.raises(RuntimeError), MapStore.create(path, {"run": 1}) as store:
        store.begin("saliency", maps.shape[1:], chunk=4)
        store.write_chunk("saliency", 0, maps[:4])
        store.write_chunk("saliency", 2, maps[8:])
        raise RuntimeError("killed")
    assert not path.exists()
    with pytest.raises(InputError, match="unfinished"):
        MapStore.open(path)
    with pytest.raises(InputError, match="other provenance"):
        MapStore.create(path, {"run": 2})
    with MapStore.create(path, {"run": 1}) as store:
        np.testing.assert_array_equal(store.done_chunks("saliency"), [True, False, True])
        with pytest.raises(InputError, match=r"missing"):
            store.end("saliency")
        corrupt = maps.copy()
        corrupt[[0, 8]] = 99  # rows of done chunks must not be rewritten
        store.write("saliency", corrupt, chunk=4)
    with MapStore.open(path) as store:
        expected = maps.copy()
        expected[4:8] = corrupt[4:8]
        np.testing.assert_array_equal(store.read("saliency"), expected)


def test_same_content_gives_identical_bytes(tmp_path):
    digests = []
    for name in ("a.h5", "b.h5"):
        with MapStore.create(tmp_path / name, {"x": 1}, bin_edges={"dt": np.ones(3)}) as store:
            store.write("gradcam", _maps(), params={"layer": "c"}, seed=0, chunk=3)
        digests.append(hashlib.sha256((tmp_path / name).read_bytes()).hexdigest())
    assert digests[0] == digests[1]


def test_model_hash_follows_weights_not_names():
    a, b = tiny_cnn(seed=0), tiny_cnn(seed=0)
    assert model_hash(a) == model_hash(b)
    weights = b.layers[-1].get_weights()
    weights[1] = weights[1] + 1e-3
    b.layers[-1].set_weights(weights)
    assert model_hash(a) != model_hash(b)


def test_produce_to_store_streams_and_resumes(tmp_path, monkeypatch):
    model = tiny_cnn()
    x = np.random.default_rng(1).random((11, 10, 12, 3), np.float32)
    reference = explain("shap", model, x, background=x[:4], n_samples=8, seed=3)
    blocks = (x[s:s + 3] for s in range(0, 11, 3))  # uneven stream, re-blocked into chunks of 4

    def crash_after_two_chunks():
        yield x[:8]
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError):
        produce_to_store("shap", model, crash_after_two_chunks(), tmp_path / "m.h5", chunk=4, background=x[:4],
                         n_samples=8, seed=3, provenance={"k": 1})
    calls = []
    real_explain = pix2pixai.producers.explain
    monkeypatch.setattr(pix2pixai.producers, "explain", lambda *a, **k: calls.append(len(a[2])) or real_explain(*a, **k))
    produce_to_store("shap", model, blocks, tmp_path / "m.h5", chunk=4, background=x[:4], n_samples=8, seed=3,
                     provenance={"k": 1})
    assert calls == [3]  # only the last chunk was produced again
    with MapStore.open(tmp_path / "m.h5") as store:
        np.testing.assert_allclose(store.read("shap"), reference, rtol=1e-5, atol=1e-6)
        np.testing.assert_array_equal(store.targets("shap"), model.predict(x, verbose=0).argmax(1))
        assert store.provenance["model_sha256"] == model_hash(model)
        assert store.info("shap")["params"]["background"].startswith("array[4, 10, 12, 3]")
