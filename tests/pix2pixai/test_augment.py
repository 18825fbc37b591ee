"""Resampled light curves: each image is the reference dmdt of a noisy, thinned copy; balanced epochs."""

from __future__ import annotations

import numpy as np
import pytest

from pix2pixai.data.augment import BalancedResampledEpochs, resampled_dmdts
from pix2pixai.data.lightcurves import LightCurve
from pix2pixai.errors import InputError
from tests.pix2pixai.test_dmdt import reference_crts


def _curves(n_curves: int, n_points: int, seed: int, magerr: float = 0.05) -> list[LightCurve]:
    rng = np.random.default_rng(seed)
    curves = []
    for k in range(n_curves):
        t = np.sort(rng.uniform(53_000, 55_500, n_points))
        m = 15 + 0.4 * np.sin(2 * np.pi * t / rng.uniform(0.3, 30)) + rng.normal(0, 0.03, n_points)
        curves.append(LightCurve(lcid=f"c{k}", mjd=t, mag=m, magerr=np.full(n_points, magerr), label=None))
    return curves


def test_keep_all_without_noise_is_the_reference_dmdt():
    curves = _curves(3, 60, seed=1, magerr=0.0)
    images = resampled_dmdts(curves, np.random.default_rng(0), keep_fraction=1.0)
    assert images.shape == (3, 22, 24, 1) and images.dtype == np.float32
    for image, c in zip(images, curves):
        np.testing.assert_allclose(image[..., 0], reference_crts(c.mjd, c.mag), rtol=1e-6, atol=1e-5)


def test_each_image_is_the_reference_dmdt_of_the_noisy_thinned_curve():
    """Replay the documented draws (noise N(0, magerr/3), then keep each point with p = 0.5) and
    compare with the plain histogram2d recipe."""
    curves = _curves(4, 80, seed=2)
    images = resampled_dmdts(curves, np.random.default_rng(7), keep_fraction=0.5)
    replay = np.random.default_rng(7)
    for image, c in zip(images, curves):
        mag = c.mag + replay.normal(0.0, c.magerr / 3.0)
        kept = replay.random(c.mjd.size) < 0.5
        assert 10 < kept.sum() < 70
        np.testing.assert_allclose(image[..., 0], reference_crts(c.mjd[kept], mag[kept]), rtol=1e-6, atol=1e-5)


def test_bad_keep_fraction_is_an_input_error():
    with pytest.raises(InputError, match="keep_fraction"):
        resampled_dmdts(_curves(1, 10, seed=0), np.random.default_rng(0), keep_fraction=0.0)


def test_balanced_epochs_redraw_every_epoch_with_a_uniform_class_mix():
    curves = _curves(12, 40, seed=3)
    labels = np.array([0] * 8 + [1] * 3 + [2] * 1)
    data = BalancedResampledEpochs(curves, labels, per_class=5, batch_size=4, seed=0)
    batches = [data[i] for i in range(len(data))]
    assert len(data) == 4 and [len(b[1]) for b in batches] == [4, 4, 4, 3]
    assert np.bincount(np.concatenate([b[1] for b in batches])).tolist() == [5, 5, 5]
    first = np.concatenate([b[0] for b in batches])
    assert first.shape == (15, 22, 24, 1)
    again = BalancedResampledEpochs(curves, labels, per_class=5, batch_size=4, seed=0)
    np.testing.assert_array_equal(np.concatenate([again[i][0] for i in range(len(again))]), first)
    data.on_epoch_end()
    assert not np.array_equal(np.concatenate([data[i][0] for i in range(len(data))]), first)


def test_labels_must_match_the_curves():
    with pytest.raises(InputError, match="labels"):
        BalancedResampledEpochs(_curves(3, 10, seed=0), np.array([0, 1]), per_class=2, batch_size=2, seed=0)


def test_balanced_epochs_pair_each_dmdt_with_its_curves_features():
    curves = _curves(6, 30, seed=4)
    labels = np.array([0, 0, 0, 0, 1, 1])
    features = np.arange(6 * 3, dtype=np.float32).reshape(6, 3)
    plain = BalancedResampledEpochs(curves, labels, per_class=4, batch_size=3, seed=1)
    data = BalancedResampledEpochs(curves, labels, per_class=4, batch_size=3, seed=1, features=features)
    for i in range(len(data)):
        inputs, y = data[i]
        np.testing.assert_array_equal(inputs["dmdt"], plain[i][0])  # same draws with or without features
        np.testing.assert_array_equal(y, plain[i][1])
    # the features row of each drawn copy is its curve's: recover the curve from the unique row values
    drawn = np.concatenate([data[i][0]["features"] for i in range(len(data))])
    curve_of_row = (drawn[:, 0] // 3).astype(int)
    np.testing.assert_array_equal(labels[curve_of_row], np.concatenate([data[i][1] for i in range(len(data))]))
    with pytest.raises(InputError, match="features must be"):
        BalancedResampledEpochs(curves, labels, per_class=4, batch_size=3, seed=1, features=features[:5])
