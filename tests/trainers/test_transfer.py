"""Weight transfer between surveys: copied where shapes match, channel-adapted convolutions
respond to a channel-replicated input exactly as the source does."""

from __future__ import annotations

import keras
import numpy as np

from pix2pixai.trainers.transfer import transfer_weights


def _net(shape, n_out):
    inp = keras.Input(shape)
    h = keras.layers.Conv2D(4, 3, activation="relu", name="conv")(inp)
    h = keras.layers.Flatten(name="flat")(h)
    return keras.Model(inp, keras.layers.Dense(n_out, name="head")(h))


def test_same_shape_layers_are_copied_and_head_of_other_size_kept():
    keras.utils.set_random_seed(0)
    src, dst = _net((8, 8, 1), 3), _net((10, 10, 1), 3)
    head_before = dst.get_layer("head").get_weights()[0].copy()
    report = transfer_weights(src, dst)
    assert report["conv"] == "copied"
    np.testing.assert_array_equal(dst.get_layer("conv").get_weights()[0], src.get_layer("conv").get_weights()[0])
    assert report["head"].startswith("kept")
    np.testing.assert_array_equal(dst.get_layer("head").get_weights()[0], head_before)


def test_channel_adapted_conv_matches_source_on_replicated_input():
    keras.utils.set_random_seed(1)
    src, dst = _net((8, 8, 1), 3), _net((8, 8, 2), 3)
    report = transfer_weights(src, dst)
    assert report["conv"].startswith("adapted")
    x = np.random.default_rng(0).random((4, 8, 8, 1)).astype("float32")
    src_conv = keras.Model(src.input, src.get_layer("conv").output)
    dst_conv = keras.Model(dst.input, dst.get_layer("conv").output)
    np.testing.assert_allclose(dst_conv(np.concatenate([x, x], axis=-1)), src_conv(x), rtol=1e-5, atol=1e-6)
