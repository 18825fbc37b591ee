"""Every registered producer runs through the one entry point and reduces to [N, H, W]."""

from __future__ import annotations

import keras
import numpy as np

from pix2pixai.producers import METHODS, explain, reduce_maps
from pix2pixai.producers.registry import CHANNEL_REDUCTIONS, PRODUCERS
from pix2pixai.trainers.classifiers import generic_cnn


def test_registry_is_complete_and_every_method_runs():
    assert set(METHODS) == set(PRODUCERS) and set(PRODUCERS) <= set(CHANNEL_REDUCTIONS)
    keras.utils.set_random_seed(0)
    model = generic_cnn((16, 16, 2), 3, width=4)
    x = np.random.default_rng(0).random((3, 16, 16, 2)).astype("float32")
    params = {"shap": {"background": x, "n_samples": 8}, "integrated-gradients": {"steps": 8}}
    for method in METHODS:
        maps = explain(method, model, x, targets=np.array([0, 1, 2]), **params.get(method, {}))
        assert maps.shape == x.shape and maps.dtype == np.float32, method
        assert np.isfinite(maps).all(), method
        assert reduce_maps(maps, method=method).shape == (3, 16, 16), method
