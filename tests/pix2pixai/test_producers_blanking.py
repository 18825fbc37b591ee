"""Blanking: equal to a naive one-window-at-a-time loop (real CRTS CNN and braai VGG6, small models, crops)."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from pix2pixai.errors import InputError
from pix2pixai.producers import explain
from pix2pixai.producers.base import score_model
from pix2pixai.producers.blanking import _prefix
from tests.pix2pixai.test_producers_base import braai, crts_cnn, crts_dmdts, tiny_cnn


def naive_blanking(model, x, targets, patch, stride, baseline, per_channel):
    """Reference: every window (every channel) occluded one at a time, no skipping, no batching tricks."""
    sm = score_model(model)
    _, h, w, c = x.shape
    clean = sm.target_scores(x, {}, targets)
    total = np.zeros(x.shape, np.float64)
    count = np.zeros((h, w), np.float64)
    rows = sorted(set(range(0, h - patch + 1, stride)) | {h - patch})
    cols = sorted(set(range(0, w - patch + 1, stride)) | {w - patch})
    for r in rows:
        for q in cols:
            count[r:r + patch, q:q + patch] += 1
            for ch in (range(c) if per_channel else [None]):
                occ = x.copy()
                if ch is None:
                    occ[:, r:r + patch, q:q + patch, :] = baseline
                else:
                    occ[:, r:r + patch, q:q + patch, ch] = baseline
                delta = clean - sm.target_scores(occ, {}, targets)
                if ch is None:
                    total[:, r:r + patch, q:q + patch, :] += delta[:, None, None, None] / c
                else:
                    total[:, r:r + patch, q:q + patch, ch] += delta[:, None, None]
    return total / count[None, :, :, None]


def _close(ours, ref):
    np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=1e-5 * np.abs(ref).max())


def test_equals_naive_loop_on_real_crts_cnn_with_sparsity_skipping():
    model, x = crts_cnn(), crts_dmdts()[:6]
    targets = model.predict(x, verbose=0).argmax(1).astype(np.int32)
    ours = explain("blanking", model, x, memory_bytes=40 * x[0].nbytes)  # several model calls
    _close(ours, naive_blanking(model, x, targets, 1, 1, 0.0, False))
    assert np.all(ours[x == 0] == 0)  # empty bins cannot change the score


@pytest.mark.parametrize("patch,stride,per_channel", [(1, 1, True), (3, 2, False), (4, 4, True)])
def test_equals_naive_loop_for_patches_strides_and_channels(patch, stride, per_channel):
    model = tiny_cnn()
    rng = np.random.default_rng(0)
    x = rng.random((3, 10, 12, 3), np.float32) * (rng.random((3, 10, 12, 3)) < 0.5)
    targets = np.array([0, 1, 3], np.int32)
    ours = explain("blanking", model, x, targets=targets, patch=patch, stride=stride, per_channel=per_channel,
                   batch_size=2, memory_bytes=7 * x[0].nbytes)
    _close(ours, naive_blanking(model, x, targets, patch, stride, 0.0, per_channel))


def test_non_zero_baseline_and_additivity_of_single_pixel_deltas():
    model = tiny_cnn()
    x = np.random.default_rng(1).random((2, 10, 12, 3), np.float32)
    targets = np.array([2, 2], np.int32)
    ours = explain("blanking", model, x, targets=targets, baseline=0.5)
    _close(ours, naive_blanking(model, x, targets, 1, 1, 0.5, False))


def test_bad_parameters_raise():
    model = tiny_cnn()
    x = np.zeros((1, 10, 12, 3), np.float32)
    with pytest.raises(InputError, match="patch"):
        explain("blanking", model, x, patch=11)
    with pytest.raises(InputError, match="memory_bytes"):
        explain("blanking", model, x, memory_bytes=10)
    with pytest.raises(InputError, match="baseline"):
        explain("blanking", model, x, baseline=np.zeros(4))


# ------------------------------------------------------------- crops through the layers below the first pooling
def pooled_cnn(shape=(13, 14, 3), pool="max", features: int = 0):
    """Two valid convolutions, a pooling that drops the last odd row/column, dropout, then more layers."""
    keras.utils.set_random_seed(4)
    image = keras.Input(shape, name="image")
    h = keras.layers.Conv2D(5, 3, activation="relu")(image)
    h = keras.layers.Conv2D(6, (2, 3), activation="tanh")(h)
    h = (keras.layers.MaxPooling2D if pool == "max" else keras.layers.AveragePooling2D)(2)(h)
    h = keras.layers.Dropout(0.3)(h)
    h = keras.layers.Flatten()(keras.layers.Conv2D(4, 3, activation="relu")(h))
    inputs = [image]
    if features:
        inputs.append(keras.Input((features,), name="features"))
        h = keras.layers.Concatenate()([h, inputs[1]])
    return keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(h))


@pytest.mark.parametrize("patch,stride,per_channel,baseline,pool", [
    (1, 1, False, 0.0, "max"), (2, 1, True, 0.0, "max"), (3, 2, False, 0.5, "avg"), (5, 3, True, 0.2, "max"),
])
def test_crops_below_the_first_pooling_equal_the_naive_loop(patch, stride, per_channel, baseline, pool):
    model = pooled_cnn((17, 18, 3), pool=pool)
    prefix = _prefix(score_model(model))
    assert prefix is not None and prefix.useful(patch) and prefix.stride == (2, 2) and prefix.field == (4 + 1, 4 + 2)
    rng = np.random.default_rng(2)
    x = rng.random((3, 17, 18, 3), np.float32) * (rng.random((3, 17, 18, 3)) < 0.6)
    targets = np.array([0, 2, 1], np.int32)
    ours = explain("blanking", model, x, targets=targets, patch=patch, stride=stride, per_channel=per_channel,
                   baseline=baseline, memory_bytes=9 * x[0].nbytes)
    _close(ours, naive_blanking(model, x, targets, patch, stride, baseline, per_channel))


def test_crops_through_batch_norm_and_activation_layers():
    keras.utils.set_random_seed(6)
    inp = keras.Input((16, 15, 2))
    h = keras.layers.Conv2D(4, 3, use_bias=False)(inp)
    h = keras.layers.BatchNormalization()(h)
    h = keras.layers.LeakyReLU(0.1)(h)
    h = keras.layers.MaxPooling2D(2)(h)
    model = keras.Model(inp, keras.layers.Dense(2, activation="softmax")(keras.layers.Flatten()(h)))
    bn = model.layers[2]
    rng = np.random.default_rng(7)
    bn.moving_mean.assign(rng.normal(size=4).astype(np.float32))
    bn.moving_variance.assign(rng.uniform(0.5, 2.0, size=4).astype(np.float32))
    assert len(_prefix(score_model(model)).layers) == 4
    x = rng.random((2, 16, 15, 2), np.float32)
    targets = np.array([0, 1], np.int32)
    _close(explain("blanking", model, x, targets=targets), naive_blanking(model, x, targets, 1, 1, 0.0, False))


def test_crops_with_other_inputs_joining_above():
    model = pooled_cnn(features=4)
    rng = np.random.default_rng(3)
    x, f = rng.random((2, 13, 14, 3), np.float32), rng.random((2, 4), np.float32)
    sm = score_model(model, image_input="image")
    ours = explain("blanking", model, {"image": x, "features": f}, targets=1, image_input="image", patch=2)
    clean = sm.target_scores(x, {"features": f}, np.ones(2, np.int32))
    ref = np.zeros(x.shape, np.float64)
    for r in range(0, 13, 2):
        for q in range(0, 14, 2):
            r0, q0 = min(r, 11), min(q, 12)
            occ = x.copy()
            occ[:, r0:r0 + 2, q0:q0 + 2] = 0
            ref[:, r0:r0 + 2, q0:q0 + 2] += (clean - sm.target_scores(occ, {"features": f}, np.ones(2, np.int32)))[:, None, None, None] / 3
    coverage = np.zeros((13, 14))
    for r in range(0, 13, 2):
        for q in range(0, 14, 2):
            coverage[min(r, 11):min(r, 11) + 2, min(q, 12):min(q, 12) + 2] += 1
    _close(ours, ref / coverage[None, :, :, None])


def test_real_braai_vgg6_crops_equal_the_naive_loop():
    model, x = braai()
    prefix = _prefix(score_model(model))
    assert [type(layer).__name__ for layer in prefix.layers] == ["Conv2D", "Conv2D", "MaxPooling2D"]
    assert prefix.cells(3) == (4, 4) and prefix.crop_size(3) == (12, 12)
    x = x[:2]
    targets = np.array([1, 0], np.int32)
    _close(explain("blanking", model, x, targets=targets, patch=3), naive_blanking(model, x, targets, 3, 3, 0.0, False))


def test_prefix_stops_where_the_crop_would_not_be_exact():
    """A "same" convolution pads with zeros that a crop would not see: no prefix, the whole-input path."""
    keras.utils.set_random_seed(5)
    inp = keras.Input((8, 8, 1))
    h = keras.layers.MaxPooling2D(2)(keras.layers.Conv2D(3, 3, padding="same", activation="relu")(inp))
    model = keras.Model(inp, keras.layers.Dense(2, activation="softmax")(keras.layers.Flatten()(h)))
    assert _prefix(score_model(model)) is None
    assert _prefix(score_model(tiny_cnn())) is None  # no pooling at all
