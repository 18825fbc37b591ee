"""Units of trainers.pix2pix: padding, MapScale, architectures, losses, health monitor."""

from __future__ import annotations

import json
import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

from pix2pixai.trainers.pix2pix import (
    FlooredOutput, GanHealthMonitor, GanHealthWarning, GeneratorBundle, GeneratorConfig, MapScale, ReflectPad,
    adversarial_loss, build_discriminator, build_generator, crop, pad_to_pow2, patch_receptive_field, pow2_side,
)

TINY = GeneratorConfig(ngf=4, ndf=4)


@pytest.mark.parametrize("hw, side", [((22, 24), 32), ((26, 26), 32), ((63, 63), 64), ((32, 32), 32), ((1, 1), 1)])
def test_pow2_side(hw, side):
    assert pow2_side(hw) == side


def test_pad_is_zero_outside_and_crop_inverts():
    x = np.random.default_rng(0).random((3, 22, 24, 2)).astype(np.float32) + 1.0
    padded, hw = pad_to_pow2(x)
    assert padded.shape == (3, 32, 32, 2) and hw == (22, 24)
    assert np.array_equal(padded[:, :22, :24], x)
    assert np.count_nonzero(padded) == x.size
    assert np.array_equal(crop(padded, hw), x)


def test_pad_and_crop_reject_bad_shapes():
    with pytest.raises(ValueError, match=r"\[N, H, W, C\]"):
        pad_to_pow2(np.zeros((22, 24)))
    with pytest.raises(ValueError, match="cannot crop"):
        crop(np.zeros((1, 16, 16, 1)), (22, 24))


def test_mapscale_fit_matches_numpy_percentile_and_round_trips():
    maps = np.random.default_rng(1).normal(size=(50, 8, 8))
    scale = MapScale.fit(maps, signed=True, percentile=90.0)
    assert scale.scale == pytest.approx(np.percentile(np.abs(maps), 90.0))
    inside = maps[np.abs(maps) <= scale.scale]
    np.testing.assert_allclose(scale.from_unit(scale.to_unit(inside)), inside, rtol=1e-6, atol=1e-6)
    unit = scale.to_unit(maps)
    assert unit.min() == -1.0 and unit.max() == 1.0 and scale.data_range == 2.0
    assert MapScale.from_dict(json.loads(json.dumps(scale.to_dict()))) == scale


def test_mapscale_unsigned_clips_to_unit_interval_and_rejects_negatives():
    maps = np.abs(np.random.default_rng(2).normal(size=(20, 5, 5)))
    scale = MapScale.fit(maps, signed=False)
    unit = scale.to_unit(maps)
    assert unit.min() >= 0.0 and unit.max() == 1.0 and scale.data_range == 1.0
    with pytest.raises(ValueError, match="negative"):
        MapScale.fit(-maps, signed=False)


def test_mapscale_sparse_maps_fall_back_to_max_and_zero_maps_fail():
    sparse = np.zeros((10, 20, 20))
    sparse[0, 0, 0] = 3.0
    assert MapScale.fit(sparse, signed=False).scale == 3.0
    with pytest.raises(ValueError, match="zero"):
        MapScale.fit(np.zeros((2, 4, 4)), signed=True)
    with pytest.raises(ValueError, match="non-finite"):
        MapScale.fit(np.full((2, 4, 4), np.nan), signed=True)


def test_mapscale_is_not_per_map_minmax():
    """A weak map stays weak: its unit values are proportional to the raw ones, not stretched to 1."""
    maps = np.stack([np.full((4, 4), 1.0), np.full((4, 4), 0.1)])
    unit = MapScale.fit(maps, signed=False, percentile=100).to_unit(maps)
    np.testing.assert_allclose(unit[1], 0.1, rtol=1e-6)


@pytest.mark.parametrize("side, in_ch, depth", [(32, 1, 5), (32, 2, 5), (64, 3, 6)])
def test_generator_shapes_and_1x1_bottleneck(side, in_ch, depth):
    g = build_generator(side, in_ch, signed=False, config=TINY)
    assert g.output_shape == (None, side, side, 1)
    assert g.get_layer(f"enc{depth - 1}_conv").output.shape[1:3] == (1, 1)
    assert not any(isinstance(layer, (keras.layers.Dropout, keras.layers.Conv2DTranspose)) for layer in g.layers)
    with_dropout = build_generator(side, in_ch, signed=False, config=GeneratorConfig(ngf=4, dropout=0.5))
    assert sum(isinstance(layer, keras.layers.Dropout) for layer in with_dropout.layers) == 3


def _floored_bundle(hw, channels, n_groups, *, signed=False, config=TINY):
    """An untrained generator with random floors in the unit range of each of ``n_groups`` groups."""
    rng = np.random.default_rng(0)
    low = -1.0 if signed else 0.0
    floors = rng.uniform(low, 1.0, (n_groups, *hw, 1)).astype(np.float32)
    generator = build_generator(pow2_side(hw), channels, signed=signed, config=config, n_groups=n_groups)
    return GeneratorBundle(generator=generator, scale=MapScale(scale=1.0, signed=signed), config=config,
                           original_hw=hw, seed=0, floors=floors, group_ids=np.arange(n_groups) * 3)


@pytest.mark.parametrize("hw, channels, n_groups, signed", [((22, 24), 1, 1, False), ((63, 63), 3, 1, True),
                                                            ((22, 24), 1, 2, False), ((63, 63), 3, 3, False)])
def test_untrained_generator_equals_the_floor_of_each_inputs_group(hw, channels, n_groups, signed):
    """The residual's last convolution starts at zero: G(x) is the group's floor, bit for bit."""
    bundle = _floored_bundle(hw, channels, n_groups, signed=signed)
    x = np.random.default_rng(1).normal(size=(5, *hw, channels)).astype(np.float32)
    groups = None if n_groups == 1 else bundle.group_ids[np.arange(5) % n_groups]
    out = bundle.predict_unit(x, groups)
    np.testing.assert_array_equal(out, bundle.unit_floors(5, groups))
    assert n_groups == 1 or not np.array_equal(out[0], out[1])


def test_bundle_rejects_unknown_or_missing_groups():
    bundle = _floored_bundle((22, 24), 1, 2)
    x = np.zeros((2, 22, 24, 1), np.float32)
    with pytest.raises(ValueError, match="class-conditional"):
        bundle.predict_unit(x)
    with pytest.raises(ValueError, match=r"\[1\] have no floor"):
        bundle.predict_unit(x, np.array([0, 1]))


def test_generator_inputs_carry_coordinates_floor_and_group_planes():
    """The first encoder convolution sees C image channels + floor + 2 coordinates + G group planes."""
    g = build_generator(32, 3, signed=False, config=TINY, n_groups=4)
    assert g.get_layer("enc0_conv").kernel.shape == (4, 4, 3 + 1 + 2 + 4, 4)
    assert g.get_layer("output").get_config()["low"] == 0.0
    assert build_generator(32, 1, signed=True, config=TINY).get_layer("output").get_config()["low"] == -1.0


def test_floored_output_clips_forward_and_passes_gradients_through():
    floor = tf.constant([[0.5, 0.9, 0.1]])
    residual = tf.Variable([[0.2, 0.3, -0.4]])
    with tf.GradientTape() as tape:
        out = FlooredOutput(0.0, 1.0)([floor, residual])
        loss = tf.reduce_sum(out * tf.constant([[1.0, 2.0, 3.0]]))
    np.testing.assert_allclose(out.numpy(), [[0.7, 1.0, 0.0]], atol=1e-7)
    assert out.numpy().max() == 1.0 and out.numpy().min() == 0.0
    np.testing.assert_array_equal(tape.gradient(loss, residual).numpy(), [[1.0, 2.0, 3.0]])


def test_reflect_pad_mirrors_without_repeating_the_edge():
    x = np.arange(6, dtype=np.float32).reshape(1, 2, 3, 1)
    padded = ReflectPad(1)(x).numpy()[0, :, :, 0]
    np.testing.assert_array_equal(padded[1], [1, 0, 1, 2, 1])
    np.testing.assert_array_equal(padded[0], padded[2])


def test_generator_depth_option_and_instance_norm():
    g = build_generator(32, 1, signed=True, config=GeneratorConfig(ngf=4, depth=4, norm="instance"))
    assert g.get_layer("enc3_conv").output.shape[1:3] == (2, 2)
    instance_norms = [layer for layer in g.layers if isinstance(layer, keras.layers.GroupNormalization)]
    assert instance_norms and all(layer.groups == layer.output.shape[-1] for layer in instance_norms)
    assert not any(isinstance(layer, keras.layers.BatchNormalization) for layer in g.layers)
    batch = build_generator(32, 1, signed=False, config=GeneratorConfig(ngf=4, norm="batch"))
    assert any(isinstance(layer, keras.layers.BatchNormalization) for layer in batch.layers)
    with pytest.raises(ValueError, match="depth"):
        GeneratorConfig(depth=6).generator_depth(32)


@pytest.mark.parametrize("n", [1, 2])
def test_patchgan_receptive_field_matches_gradient_support(n):
    """The input pixels that move one interior logit span exactly RF(n) = 9 * 2**n - 2 pixels.

    Batch norm at inference is a per-channel affine map, so it does not widen the support (instance
    norm would: its statistics mix the whole image).
    """
    side = 64
    d = build_discriminator(side, 1, config=GeneratorConfig(ndf=4, d_layers=n, norm="batch"))
    x = tf.random.stateless_normal((1, side, side, 1), seed=(0, 1))
    y = tf.random.stateless_normal((1, side, side, 1), seed=(0, 2))
    with tf.GradientTape() as tape:
        tape.watch(x)
        logits = d([x, y])
        centre = logits.shape[1] // 2
        value = logits[0, centre, centre, 0]
    support = np.flatnonzero(np.abs(tape.gradient(value, x).numpy()[0, :, :, 0]).sum(axis=1) > 0)
    assert support[-1] - support[0] + 1 == patch_receptive_field(n)


def test_default_patchgan_fits_the_image():
    assert GeneratorConfig().discriminator_layers(32) == 1 and patch_receptive_field(1) <= 32
    assert GeneratorConfig().discriminator_layers(64) == 2 and patch_receptive_field(3) > 64
    d = build_discriminator(64, 3, config=TINY)
    assert d.output_shape == (None, 16, 16, 1)


def test_adversarial_losses_match_formulas():
    logits = tf.constant([[-2.0, 0.0, 3.0]])
    sig = 1 / (1 + np.exp(-np.array([-2.0, 0.0, 3.0])))
    assert float(adversarial_loss("vanilla", logits, True)) == pytest.approx(np.mean(-np.log(sig)), rel=1e-5)
    assert float(adversarial_loss("vanilla", logits, False)) == pytest.approx(np.mean(-np.log(1 - sig)), rel=1e-5)
    assert float(adversarial_loss("lsgan", logits, True)) == pytest.approx(np.mean((np.array([-2, 0, 3]) - 1) ** 2))
    assert float(adversarial_loss("lsgan", logits, False)) == pytest.approx(np.mean(np.array([4, 0, 9])))


@pytest.mark.parametrize("kwargs, field", [({"norm": "layer"}, "norm"), ({"loss": "wgan"}, "loss"),
                                           ({"ngf": 0}, "ngf"), ({"dropout": 1.0}, "dropout"),
                                           ({"gan_weight": -1.0}, "gan_weight")])
def test_config_rejects_bad_values(kwargs, field):
    with pytest.raises(ValueError, match=field):
        GeneratorConfig(**kwargs)


def test_config_json_round_trip():
    config = GeneratorConfig(ngf=8, depth=4, loss="lsgan", gan_weight=0.0)
    assert GeneratorConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config


def test_health_monitor_warns_after_patience_epochs_only():
    monitor = GanHealthMonitor(patience=3)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for epoch in range(2):
            monitor.on_epoch_end(epoch, {"d_loss": 0.001, "g_batch_std": 0.0})
        monitor.on_epoch_end(2, {"d_loss": 0.5, "g_batch_std": 0.0})  # a flat output alone is no warning
        assert not caught
        for epoch in range(3, 6):
            monitor.on_epoch_end(epoch, {"d_loss": 0.001, "g_batch_std": 0.2})
    assert [str(w.message).split(":")[1].strip().split()[0] for w in caught] == ["discriminator"]
    assert all(issubclass(w.category, GanHealthWarning) for w in caught)
