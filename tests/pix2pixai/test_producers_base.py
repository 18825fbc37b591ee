"""Shared producer machinery: inputs, targets, the logit/probability score, registry, reduction.

Also home of the models the other producer tests share (real CRTS CNN, real braai VGG6, tiny models).
"""

from __future__ import annotations

import functools

import keras
import numpy as np
import pytest

from pix2pixai.errors import InputError
from pix2pixai.producers import explain, explain_class, reduce_maps
from pix2pixai.producers.base import score_model
from tests.conftest import shared_path


# ------------------------------------------------------------------------------ shared models
@functools.cache
def _crts() -> tuple[keras.Model, np.ndarray]:
    from pix2pixai.trainers import load_legacy_model

    model = load_legacy_model(shared_path("reproducibility_periodic_cnn", "model.h5"), "crts_cnn")
    with np.load(shared_path("crts-lightcurves-kvmu", "dmdt_reference_subset.npz")) as data:
        dmdts = data["dmdt"][..., None].astype(np.float32)
    return model, dmdts


def crts_cnn() -> keras.Model:
    """The real CRTS dmdt CNN (Flatten -> Dense(7, softmax) head); skips without the real data."""
    return _crts()[0]


def crts_dmdts() -> np.ndarray:
    """The 844 real CRTS dmdts ``[844, 22, 24, 1]``."""
    return _crts()[1]


@functools.cache
def braai() -> tuple[keras.Model, np.ndarray]:
    """The real braai d6_m7 VGG6 (single sigmoid) and 39 real normalised ZTF triplets."""
    from pix2pixai.trainers import load_legacy_model

    model = load_legacy_model(shared_path("braai", "models", "d6_m7.h5"), "braai")
    triplets = np.load(shared_path("btsbot", "usage_triplets.npy")).astype(np.float32)
    return model, triplets


def tiny_cnn(shape=(10, 12, 3), n_classes: int = 4, head: str = "flatten", seed: int = 0) -> keras.Model:
    """A small random conv net (softmax head) for fast exact checks."""
    keras.utils.set_random_seed(seed)
    inp = keras.Input(shape)
    h = keras.layers.Conv2D(6, 3, activation="relu", name="conv_a")(inp)
    h = keras.layers.Conv2D(8, 3, activation="relu", name="conv_b")(h)
    h = keras.layers.Flatten()(h) if head == "flatten" else keras.layers.GlobalAveragePooling2D()(h)
    out = keras.layers.Dense(n_classes, activation="softmax", name="head")(h)
    return keras.Model(inp, out)


# ------------------------------------------------------------------------------------- tests
def test_logit_score_is_the_dense_pre_activation_and_model_is_untouched():
    model = tiny_cnn()
    x = np.random.default_rng(0).random((5, 10, 12, 3), np.float32)
    feats = keras.Model(model.inputs, model.layers[-1].input).predict(x, verbose=0)
    kernel, bias = model.layers[-1].get_weights()
    logits = feats @ kernel + bias
    sm = score_model(model, "logit")
    np.testing.assert_allclose(sm.predict(sm.inputs(x)), logits, rtol=1e-5, atol=1e-5)
    probs = score_model(model, "probability").predict(sm.inputs(x))
    np.testing.assert_allclose(probs, model.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    assert model.layers[-1].activation.__name__ == "softmax"


def test_single_sigmoid_scores_are_minus_and_plus_logit():
    keras.utils.set_random_seed(1)
    inp = keras.Input((4, 4, 1))
    z = keras.layers.Dense(1, activation="sigmoid")(keras.layers.Flatten()(inp))
    model = keras.Model(inp, z)
    x = np.random.default_rng(1).normal(size=(6, 4, 4, 1)).astype(np.float32)
    p = model.predict(x, verbose=0)[:, 0]
    logit = np.log(p / (1 - p))
    sm = score_model(model, "logit")
    np.testing.assert_allclose(sm.predict(sm.inputs(x)), np.stack([-logit, logit], 1), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(score_model(model, "probability").predict(sm.inputs(x)), np.stack([1 - p, p], 1),
                               rtol=1e-5, atol=1e-6)


def test_targets_default_to_predicted_class_and_are_validated():
    model = tiny_cnn()
    x = np.random.default_rng(2).random((7, 10, 12, 3), np.float32)
    sm = score_model(model)
    inputs = sm.inputs(x)
    np.testing.assert_array_equal(sm.targets(inputs, None, batch_size=3), model.predict(x, verbose=0).argmax(1))
    np.testing.assert_array_equal(sm.targets(inputs, 2), np.full(7, 2))
    with pytest.raises(InputError, match="0..3"):
        sm.targets(inputs, 4)
    with pytest.raises(InputError, match="7 ints"):
        sm.targets(inputs, np.zeros(3, int))


def test_bad_inputs_raise_input_error_naming_shape():
    model = tiny_cnn()
    with pytest.raises(InputError, match=r"\[N, 10, 12, 3\]"):
        explain("saliency", model, np.zeros((2, 10, 11, 3)))
    with pytest.raises(InputError, match="add a leading axis"):
        explain("saliency", model, np.zeros((10, 12, 3)))
    with pytest.raises(InputError, match="non-finite"):
        explain("saliency", model, np.full((1, 10, 12, 3), np.nan))
    with pytest.raises(InputError, match="score="):
        explain("saliency", model, np.zeros((1, 10, 12, 3)), score="softmax")
    with pytest.raises(InputError, match="explain_class"):
        explain("lighting", model, np.zeros((1, 10, 12, 3)))
    with pytest.raises(InputError, match="through explain"):
        explain_class("shap", model)


def test_one_channel_models_accept_nhw_batches():
    keras.utils.set_random_seed(3)
    inp = keras.Input((5, 6, 1))
    model = keras.Model(inp, keras.layers.Dense(3, activation="softmax")(keras.layers.Flatten()(inp)))
    x = np.random.default_rng(3).random((4, 5, 6), np.float32)
    np.testing.assert_array_equal(explain("saliency", model, x), explain("saliency", model, x[..., None]))


def test_multi_input_model_attributes_the_named_input_only():
    keras.utils.set_random_seed(4)
    image = keras.Input((6, 6, 2), name="image")
    meta = keras.Input((3,), name="meta")
    h = keras.layers.Concatenate()([keras.layers.Flatten()(keras.layers.Conv2D(4, 3, activation="relu")(image)), meta])
    model = keras.Model([image, meta], keras.layers.Dense(3, activation="softmax")(h))
    rng = np.random.default_rng(4)
    x, m = rng.random((5, 6, 6, 2), np.float32), rng.random((5, 3), np.float32)
    by_dict = explain("saliency", model, {"image": x, "meta": m}, image_input="image")
    by_list = explain("saliency", model, [x, m], image_input="image")
    np.testing.assert_array_equal(by_dict, by_list)
    assert by_dict.shape == x.shape
    # changing the held-fixed input changes the map, so it was really fed to the model
    assert not np.allclose(by_dict, explain("saliency", model, [x, m * 5], image_input="image"))
    with pytest.raises(InputError, match="image_input"):
        explain("saliency", model, [x, m])


def test_reduce_maps_documented_reductions():
    maps = np.arange(2 * 2 * 3 * 3, dtype=np.float32).reshape(2, 2, 3, 3) - 10
    np.testing.assert_array_equal(reduce_maps(maps, "shap"), maps[..., 0] + maps[..., 1] + maps[..., 2])
    np.testing.assert_array_equal(reduce_maps(maps, "saliency"), maps[..., 2])
    np.testing.assert_allclose(reduce_maps(maps, "gradcam"), maps[..., 1])
    np.testing.assert_array_equal(reduce_maps(maps[..., :1]), maps[..., 0])
    with pytest.raises(InputError, match="name the method"):
        reduce_maps(maps)


@pytest.mark.parametrize("method", ["gradcam", "gradcam++", "saliency", "integrated-gradients", "blanking", "shap"])
def test_every_method_is_deterministic_and_float32(method):
    model = tiny_cnn()
    rng = np.random.default_rng(5)
    x = rng.random((3, 10, 12, 3), np.float32)
    params = {"background": rng.random((4, 10, 12, 3), np.float32), "n_samples": 8} if method == "shap" else {}
    first = explain(method, model, x, **params)
    assert first.dtype == np.float32 and first.shape == x.shape
    np.testing.assert_array_equal(first, explain(method, model, x, **params))
    np.testing.assert_allclose(first, explain(method, model, x, batch_size=2, **params), rtol=1e-5, atol=1e-6)


def test_default_call_size_fits_the_largest_activation_and_never_changes_maps():
    """Calls are sized so the largest layer output stays under the budget; results do not depend on it."""
    from pix2pixai.producers.base import ACTIVATION_BUDGET_BYTES

    keras.utils.set_random_seed(3)
    model = keras.Sequential([keras.Input((63, 63, 3)), keras.layers.Conv2D(16, 3, activation="relu"),
                              keras.layers.Flatten(), keras.layers.Dense(2, activation="softmax")])
    sm = score_model(model)
    assert sm.rows_per_call == ACTIVATION_BUDGET_BYTES // (61 * 61 * 16 * 4)  # 35, as on the braai VGG6
    x = np.random.default_rng(0).random((80, 63, 63, 3), dtype=np.float32)  # 3 default calls
    background = x[:5]
    for method, params in (("saliency", {}), ("shap", {"background": background, "n_samples": 6}),
                           ("blanking", {"patch": 21})):
        default = explain(method, model, x, targets=1, **params)
        one_call = explain(method, model, x, targets=1, batch_size=1000, **params)
        np.testing.assert_allclose(default, one_call, rtol=1e-5, atol=1e-6 * np.abs(one_call).max())


def test_request_resolves_targets_once_for_every_producer():
    """The shared request: predicted class by default, a given int broadcast, bad targets refused."""
    from pix2pixai.producers.base import request

    model = tiny_cnn()
    x = np.random.default_rng(1).random((7, 10, 12, 3), dtype=np.float32)
    req = request(model, x, batch_size=3)
    np.testing.assert_array_equal(req.targets, model.predict(x, verbose=0).argmax(axis=1))
    assert [rows for rows, _, _ in req.batches()] == [slice(0, 3), slice(3, 6), slice(6, 7)]
    np.testing.assert_array_equal(request(model, x, 2).targets, np.full(7, 2))
    with pytest.raises(InputError, match="targets"):
        request(model, x, 9)
