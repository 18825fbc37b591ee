"""Does a generator learn a known input -> map function? Held-out SSIM on synthetic dmdt-sized pairs.

Inputs: smooth random 22x24 fields (white noise blurred with sigma 1.5 px, standardised per image).
Target: the mask of the bright pixels (> 0.8 sd) blurred with sigma 1 px, an unsigned map in [0, 1]
that is a local, deterministic function of the input, so a U-Net can learn it exactly.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter

from pix2pixai.metrics import similarity
from pix2pixai.trainers.pix2pix import GeneratorConfig, train_generator


def _pairs(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    field = gaussian_filter(rng.normal(size=(n, 22, 24)), (0, 1.5, 1.5))
    field = (field - field.mean(axis=(1, 2), keepdims=True)) / field.std(axis=(1, 2), keepdims=True)
    target = gaussian_filter((field > 0.8).astype(np.float64), (0, 1, 1))
    return field[..., None].astype(np.float32), target[..., None].astype(np.float32)


def _heldout_ssim(tmp_path, n_train: int, epochs: int, config: GeneratorConfig) -> tuple[float, float]:
    """(mean held-out SSIM of the generator, of the constant mean training map), data_range 1."""
    x, y = _pairs(n_train, seed=0)
    x_test, y_test = _pairs(64, seed=1)
    bundle = train_generator(x, y, signed=False, out_dir=tmp_path, epochs=epochs, batch_size=16, seed=0,
                             config=config)
    truth = bundle.scale.to_unit(y_test)[..., 0]
    generated = bundle.predict_unit(x_test)[..., 0]
    mean_map = np.broadcast_to(bundle.scale.to_unit(y).mean(axis=0)[..., 0], truth.shape)
    r = bundle.scale.data_range
    return float(similarity.ssim(generated, truth, r).mean()), float(similarity.ssim(mean_map, truth, r).mean())


def test_generator_learns_the_map_better_than_the_mean_map(tmp_path):
    ssim, baseline = _heldout_ssim(tmp_path, 256, 8, GeneratorConfig(ngf=8, ndf=8, depth=3, g_learning_rate=1e-3))
    print(f"held-out SSIM {ssim:.3f} vs mean map {baseline:.3f}")
    assert ssim > baseline + 0.3


@pytest.mark.slow
def test_generator_reaches_heldout_ssim_0_9(tmp_path):
    ssim, _ = _heldout_ssim(tmp_path, 512, 15, GeneratorConfig(ngf=16, ndf=16, g_learning_rate=1e-3))
    print(f"held-out SSIM {ssim:.3f}")
    assert ssim >= 0.9
