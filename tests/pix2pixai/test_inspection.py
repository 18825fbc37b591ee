"""Inspection: activation maps, filters, receptive fields and patches, feature space, figures."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from pix2pixai.errors import InputError
from pix2pixai.inspection import (
    activation_maps,
    first_layer_filters,
    max_activating_patches,
    nearest_neighbours,
    penultimate_features,
    receptive_field,
    spatial_layers,
    tsne_embedding,
)


@pytest.fixture(scope="module")
def stack() -> keras.Model:
    """Conv5 -> MaxPool2 -> Conv5 (valid) -> Flatten -> Dense: a 14 px receptive field at ``conv_b``."""
    keras.utils.set_random_seed(5)
    inp = keras.Input((20, 18, 2))
    h = keras.layers.Conv2D(4, 5, activation="relu", name="conv_a")(inp)
    h = keras.layers.MaxPooling2D(2, name="pool")(h)
    h = keras.layers.Conv2D(3, 5, activation="relu", name="conv_b")(h)
    out = keras.layers.Dense(3, activation="softmax", name="head")(keras.layers.Flatten(name="flat")(h))
    return keras.Model(inp, out, name="stack")


def test_receptive_field_of_conv5_pool2_conv5_is_14_px(stack):
    assert receptive_field(stack, "conv_a").size == (5, 5)
    assert receptive_field(stack, "pool").size == (6, 6)
    rf = receptive_field(stack, "conv_b")
    assert (rf.size, rf.jump, rf.start) == ((14, 14), (2, 2), (0, 0))
    with pytest.raises(InputError, match="flat"):
        receptive_field(stack, "head")


def test_same_padding_moves_the_field_start_by_the_padding():
    inp = keras.Input((9, 9, 1))
    h = keras.layers.Conv2D(1, 3, padding="same", name="c1")(inp)
    h = keras.layers.Conv2D(1, 3, strides=2, padding="same", name="c2")(h)
    model = keras.Model(inp, h)
    assert receptive_field(model, "c1") == receptive_field(model, "c1").__class__((3, 3), (1, 1), (-1, -1))
    # c2: 9 -> 5 with stride 2: total pad (5-1)*2 + 3 - 9 = 2, 1 before -> start -1 - 1 = -2, size 3 + 2 = 5
    rf = receptive_field(model, "c2")
    assert (rf.size, rf.jump, rf.start) == ((5, 5), (2, 2), (-2, -2))


def test_patch_through_the_same_layers_gives_the_full_image_activation(stack):
    x = np.random.default_rng(0).normal(size=(7, 20, 18, 2)).astype(np.float32)
    patches, scores, positions = max_activating_patches(stack, x, "conv_b", channel=1, k=5)
    assert patches.shape == (5, 14, 14, 2) and np.all(np.diff(scores) <= 0)
    full = keras.Model(stack.inputs, stack.get_layer("conv_b").output).predict(x, verbose=0)[..., 1]
    np.testing.assert_allclose(scores, np.sort(full.max(axis=(1, 2)))[::-1][:5], rtol=1e-6)
    small = keras.Input((14, 14, 2))
    on_patch = keras.Model(small, stack.get_layer("conv_b")(stack.get_layer("pool")(stack.get_layer("conv_a")(small))))
    np.testing.assert_allclose(on_patch.predict(patches, verbose=0)[:, 0, 0, 1], scores, rtol=1e-5, atol=1e-6)
    n, top, left = positions.T
    np.testing.assert_array_equal(patches, np.stack([x[i, t:t + 14, c:c + 14] for i, t, c in zip(n, top, left)]))
    assert len(set(n)) == 5


def test_all_units_mode_ranks_every_position_and_zero_fills_outside():
    inp = keras.Input((6, 6, 1))
    model = keras.Model(inp, keras.layers.Conv2D(1, 3, padding="same", use_bias=False, name="c",
                                                 kernel_initializer="ones")(inp))
    x = np.zeros((1, 6, 6, 1), np.float32)
    x[0, 0, 0] = 5.0
    patches, scores, positions = max_activating_patches(model, x, "c", 0, k=4, distinct_inputs=False)
    np.testing.assert_array_equal(scores, [5.0] * 4)  # the 4 units whose 3x3 field covers pixel (0, 0)
    np.testing.assert_array_equal(positions[0], [0, -1, -1])
    assert patches[0, 1, 1, 0] == 5.0 and patches[0, 0].sum() == 0


def test_activation_maps_equal_layer_by_layer_forward_pass(stack):
    x = np.random.default_rng(1).normal(size=(20, 18, 2)).astype(np.float32)
    maps = activation_maps(stack, x)
    assert list(maps) == spatial_layers(stack) == ["conv_a", "pool", "conv_b"]
    h = x[None]
    for name in ("conv_a", "pool", "conv_b"):
        h = np.asarray(stack.get_layer(name)(h))
        np.testing.assert_allclose(maps[name], h[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(first_layer_filters(stack), stack.get_layer("conv_a").get_weights()[0])
    with pytest.raises(InputError, match="shape"):
        activation_maps(stack, np.zeros((20, 20, 2)))


def test_penultimate_features_are_the_head_input():
    from pix2pixai.trainers import generic_cnn

    keras.utils.set_random_seed(2)
    model = generic_cnn((12, 12, 2), 3, width=4)
    x = np.random.default_rng(2).random((5, 12, 12, 2), np.float32)
    conv = keras.Model(model.inputs, model.get_layer("last_conv").output).predict(x, verbose=0)
    np.testing.assert_allclose(penultimate_features(model, x, batch_size=2), conv.mean(axis=(1, 2)), rtol=1e-5,
                               atol=1e-6)


def test_tsne_is_deterministic_per_seed_and_separates_clusters():
    rng = np.random.default_rng(3)
    features = np.concatenate([rng.normal(0, 1, (20, 8)), rng.normal(12, 1, (20, 8))]).astype(np.float32)
    a = tsne_embedding(features, 0)
    np.testing.assert_array_equal(a, tsne_embedding(features, 0))
    assert a.shape == (40, 2) and a.dtype == np.float32
    within = np.linalg.norm(a[:20] - a[:20].mean(0), axis=1).max()
    assert np.linalg.norm(a[:20].mean(0) - a[20:].mean(0)) > 2 * within


def test_nearest_neighbours_match_brute_force_loop():
    features = np.random.default_rng(4).normal(size=(30, 5)).astype(np.float32)
    for i in (0, 17):
        indices, distances = nearest_neighbours(features, i, 6)
        brute = sorted((float(np.sqrt(sum((features[j, d] - features[i, d]) ** 2 for d in range(5)))), j)
                       for j in range(30) if j != i)[:6]
        np.testing.assert_array_equal(indices, [j for _, j in brute])
        np.testing.assert_allclose(distances, [d for d, _ in brute], rtol=1e-5)
    with pytest.raises(InputError, match="k=30"):
        nearest_neighbours(features, 0, 30)


# --------------------------------------------------------------------------------------- figures
def test_tile_places_each_image_in_its_cell_with_nan_gaps():
    from pix2pixai.figures.inspection import contrast_normalise, tile

    images = np.arange(5 * 2 * 3, dtype=np.float32).reshape(5, 2, 3)
    mosaic = tile(images, columns=3)
    assert mosaic.shape == (2 * 3 - 1, 3 * 4 - 1)
    for i in range(5):
        r, c = divmod(i, 3)
        np.testing.assert_array_equal(mosaic[r * 3:r * 3 + 2, c * 4:c * 4 + 3], images[i])
    assert np.isnan(mosaic[2]).all() and np.isnan(mosaic[3:, 8:]).all()
    scaled = contrast_normalise(np.stack([images[0], np.ones((2, 3), np.float32)]))
    np.testing.assert_allclose(scaled[0], images[0] / 5)
    np.testing.assert_array_equal(scaled[1], 0)


def test_spread_points_keeps_the_point_nearest_each_cell_centre():
    from pix2pixai.figures.inspection import spread_points

    points = np.random.default_rng(5).random((200, 2))
    chosen = spread_points(points, 16)
    scaled = (points - points.min(0)) / (points.max(0) - points.min(0)) * 4
    cells = np.minimum(scaled.astype(int), 3)
    expected = {}
    for i, (p, c) in enumerate(zip(scaled, map(tuple, cells))):
        d = float(np.hypot(*(p - np.array(c) - 0.5)))
        if c not in expected or d < expected[c][0]:
            expected[c] = (d, i)
    assert sorted(chosen.tolist()) == sorted(i for _, i in expected.values())


def test_inspection_figures_are_written(stack, tmp_path):
    from pix2pixai.figures import inspection as figs

    rng = np.random.default_rng(6)
    x = rng.normal(size=(12, 20, 18, 2)).astype(np.float32)
    patches, scores, _ = max_activating_patches(stack, x, "conv_b", 0, k=4)
    features = penultimate_features(stack, x)
    idx, dist = nearest_neighbours(features, 0, 3)
    labels = np.arange(12) % 3
    written = [
        *figs.plot_activation_grid(activation_maps(stack, x[0]), tmp_path / "act"),
        *figs.plot_first_layer_filters(first_layer_filters(stack), tmp_path / "filters"),
        *figs.plot_max_activating_patches(patches, scores, tmp_path / "patches", title="conv_b 0"),
        *figs.plot_tsne(tsne_embedding(features, 0), labels, np.roll(labels, 1), ["a", "b", "c"], x[..., 0],
                        tmp_path / "tsne"),
        *figs.plot_nearest_neighbours(x[0, ..., 0], x[idx, ..., 0], dist, tmp_path / "nn"),
    ]
    assert [p.suffix for p in written] == [".png", ".pdf"] * 5 and all(p.stat().st_size > 0 for p in written)
    with pytest.raises(InputError, match="channel_names"):
        figs.plot_first_layer_filters(first_layer_filters(stack), tmp_path / "bad", channel_names=["only one"])
