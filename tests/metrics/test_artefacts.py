"""Artefact metrics on constructed maps: checkerboards, smooth errors, framed maps."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter

from pix2pixai.metrics.artefacts import border_ring_excess, border_ring_offset, checkerboard_power_fraction


def _smooth(n: int = 8, shape=(22, 24), seed: int = 0) -> np.ndarray:
    return gaussian_filter(np.random.default_rng(seed).normal(size=(n, *shape)), (0, 2, 2))


def _checkerboard(shape=(22, 24)) -> np.ndarray:
    rows, cols = np.indices(shape)
    return np.where((rows + cols) % 2 == 0, 1.0, -1.0)


def test_a_checkerboard_error_as_strong_as_the_targets_gives_fraction_one():
    targets = np.broadcast_to(_checkerboard() * 0.3, (4, 22, 24))
    assert checkerboard_power_fraction(np.zeros_like(targets), targets) == pytest.approx(1.0)
    smooth = _smooth()
    added = smooth + 0.5 * smooth.std() * _checkerboard()
    assert checkerboard_power_fraction(added, smooth) == pytest.approx(0.25, rel=1e-9)


def test_a_smooth_error_has_almost_no_checkerboard_power():
    targets = _smooth(seed=1)
    generated = targets + _smooth(seed=2)
    assert checkerboard_power_fraction(generated, targets) < 1e-3
    assert checkerboard_power_fraction(targets, targets) == 0.0
    assert np.isnan(checkerboard_power_fraction(targets, np.ones_like(targets)))


def test_a_framed_map_has_a_large_ring_offset_and_a_smooth_one_does_not():
    smooth = _smooth(seed=3)
    ring = np.ones((22, 24), bool)
    ring[1:-1, 1:-1] = False
    framed = smooth + 3 * smooth.std() * ring
    assert border_ring_excess(framed, smooth) == pytest.approx(3.0, rel=1e-9)
    assert abs(border_ring_excess(smooth, smooth)) == 0.0
    assert np.all(np.abs(border_ring_offset(smooth)) < smooth.std())


def test_ring_offset_matches_a_hand_computed_map():
    m = np.zeros((1, 5, 5))
    m[0, 2, 2] = 9.0
    m[0, 0, :] = 1.0
    assert border_ring_offset(m[..., None])[0] == pytest.approx(5 / 16 - 0.0)


@pytest.mark.parametrize("shape", [(4, 2, 5), (4, 5)])
def test_bad_shapes_are_rejected(shape):
    with pytest.raises(ValueError, match=r"\[N, H, W\]"):
        border_ring_offset(np.zeros(shape))
