"""Blanking: equal to a naive one-window-at-a-time loop (real CRTS CNN and a 3-channel model)."""

from __future__ import annotations

import numpy as np
import pytest

from pix2pixai.errors import InputError
from pix2pixai.producers import explain
from pix2pixai.producers.base import score_model
from tests.pix2pixai.test_producers_base import crts_cnn, crts_dmdts, tiny_cnn


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
