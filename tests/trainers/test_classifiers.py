"""Architectures match the real models' files; logits models reproduce the outputs before squashing."""

from __future__ import annotations

import json

import h5py
import keras
import numpy as np
import pytest

from tests.conftest import shared_path
from pix2pixai.trainers.classifiers import braai_vgg6, dmdt_cnn, dmdt_features_cnn, generic_cnn, logits_model


def _weighted_layers(model: keras.Model) -> dict[str, list[tuple[int, ...]]]:
    return {layer.name: [tuple(w.shape) for w in layer.weights] for layer in model.layers if layer.weights}


@pytest.mark.real_data
def test_dmdt_cnn_matches_real_model_layers_and_shapes():
    with h5py.File(shared_path("reproducibility_periodic_cnn", "model.h5"), "r") as f:
        root = f["model_weights"]
        stored = {name: [root[name][w.decode()].shape for w in root[name].attrs["weight_names"]]
                  for name in root if len(root[name].attrs["weight_names"])}
    model = dmdt_cnn()
    assert _weighted_layers(model) == stored
    assert model.count_params() == 39527
    assert [layer.name for layer in model.layers[1:]] == ["conv2d1", "maxpool2d1", "conv2d2", "flatten", "preds"]


@pytest.mark.real_data
@pytest.mark.parametrize("name", ["d6_m7", "braai_d6_m9"])
def test_braai_vgg6_sigmoid_matches_architecture_json(name):
    spec = json.loads(shared_path("braai", "models", f"{name}.architecture.json").read_text())
    model = braai_vgg6(output="sigmoid")
    ours = {layer.name: layer.get_config() for layer in model.layers[1:]}
    theirs = spec["config"]["layers"]
    assert [layer["config"]["name"] for layer in theirs] == list(ours)
    for layer in theirs:
        mine = ours[layer["config"]["name"]]
        assert type(model.get_layer(mine["name"])).__name__ == layer["class_name"]
        for key in ("filters", "kernel_size", "padding", "activation", "units", "pool_size", "rate"):
            if key in layer["config"]:
                assert np.all(np.asarray(mine[key]) == np.asarray(layer["config"][key])), (mine["name"], key)


def test_braai_softmax2_has_two_outputs_and_rejects_unknown_head():
    assert braai_vgg6(output="softmax2").output_shape == (None, 2)
    with pytest.raises(ValueError, match="output must be"):
        braai_vgg6(output="tanh")


@pytest.mark.parametrize("shape", [(64, 64, 3), (22, 24, 1), (26, 26, 2)])
def test_generic_cnn_logits_are_gap_features_times_dense(shape):
    """CAM identity: logits = mean over pixels of last_conv's maps, times the Dense kernel, plus bias."""
    keras.utils.set_random_seed(0)
    model = generic_cnn(shape, n_classes=3)
    x = np.random.default_rng(0).random((4, *shape)).astype("float32")
    features = keras.Model(model.input, model.get_layer("last_conv").output)(x).numpy()
    kernel, bias = model.get_layer("preds").get_weights()
    expected = features.mean(axis=(1, 2)) @ kernel + bias
    np.testing.assert_allclose(logits_model(model)(x).numpy(), expected, rtol=1e-5, atol=1e-5)


def test_logits_model_softmax_and_sigmoid_leave_user_model_untouched():
    keras.utils.set_random_seed(1)
    rng = np.random.default_rng(1)
    model = dmdt_cnn(n_classes=7)
    x = rng.random((5, 22, 24, 1)).astype("float32") * 3
    z = logits_model(model)(x).numpy()
    np.testing.assert_allclose(keras.ops.softmax(z).numpy(), model(x).numpy(), rtol=1e-5, atol=1e-7)
    assert model.get_layer("preds").get_config()["activation"] == "softmax"

    binary = braai_vgg6(output="sigmoid")
    t = rng.random((3, 63, 63, 3)).astype("float32")
    p = binary(t).numpy()
    np.testing.assert_allclose(logits_model(binary)(t).numpy(), np.log(p / (1 - p)), rtol=1e-4, atol=1e-4)


def test_logits_model_rejects_model_without_squashing_head():
    inp = keras.Input((4,))
    model = keras.Model(inp, keras.layers.Dense(3, name="linear_head")(inp))
    with pytest.raises(ValueError, match="must end in a Dense layer with softmax or sigmoid"):
        logits_model(model)


def test_builders_reject_bad_class_counts():
    with pytest.raises(ValueError, match="n_classes must be an integer >= 2"):
        dmdt_cnn(n_classes=1)
    with pytest.raises(ValueError, match="input_shape must be"):
        generic_cnn((64, 64), n_classes=3)


def test_dmdt_features_cnn_with_zero_feature_rows_is_the_dmdt_cnn():
    """Copying a dmdt CNN's weights in (feature rows of ``preds`` zero) reproduces it exactly, whatever
    the features: the fine-tuning of the benchmark starts from the original CNN."""
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    plain = dmdt_cnn()
    for layer in plain.layers:
        if layer.weights:
            layer.set_weights([rng.normal(0, 0.1, w.shape).astype(np.float32) for w in layer.get_weights()])
    n_features = 5
    model = dmdt_features_cnn(np.zeros(n_features), np.ones(n_features))
    for name in ("conv2d1", "conv2d2"):
        model.get_layer(name).set_weights(plain.get_layer(name).get_weights())
    kernel, bias = plain.get_layer("preds").get_weights()
    model.get_layer("preds").set_weights([np.concatenate([kernel, np.zeros((64, 7), np.float32)]), bias])
    x = rng.random((4, 22, 24, 1), dtype=np.float32)
    features = rng.normal(0, 3, (4, n_features)).astype(np.float32)
    np.testing.assert_allclose(np.asarray(model({"dmdt": x, "features": features}, training=False)),
                               np.asarray(plain(x, training=False)), rtol=1e-5, atol=1e-7)
    assert np.asarray(model({"dmdt": x, "features": features})).shape == (4, 7)


def test_dmdt_features_cnn_standardises_with_the_given_statistics():
    mean, std = np.array([1.0, -2.0, 10.0]), np.array([2.0, 0.5, 4.0])
    model = dmdt_features_cnn(mean, std)
    scaling = keras.Model(model.get_layer("features").output, model.get_layer("feature_scaling").output)
    features = np.array([[3.0, -1.0, 2.0]], np.float32)
    np.testing.assert_allclose(np.asarray(scaling(features)), (features - mean) / std, rtol=1e-5)
    with pytest.raises(ValueError, match="std > 0"):
        dmdt_features_cnn(np.zeros(3), np.array([1.0, 0.0, 1.0]))
