"""Synthetic ZTF triplets: shapes, determinism, normalisation, physics, and realism under the real braai models."""

from __future__ import annotations

import numpy as np
import pytest

from pix2pixai.data.classes import SUBCATEGORY_IS_REAL, ZTF_SUBCATEGORIES
from pix2pixai.data.synthetic.triplets import (
    TripletSet,
    moffat,
    normalise_triplets,
    simulate_triplets,
)
from pix2pixai.errors import InputError
from tests.conftest import shared_path


@pytest.fixture(scope="module")
def sim() -> TripletSet:
    return simulate_triplets(12, seed=3)


def test_shapes_dtypes_and_labels(sim):
    assert sim.images.shape == (60, 63, 63, 3) and sim.images.dtype == np.float32
    assert sim.masks.shape == (60, 63, 63) and sim.masks.dtype == bool
    assert sim.raw.shape == (60, 63, 63, 3)
    assert list(dict.fromkeys(sim.subcategory)) == list(ZTF_SUBCATEGORIES)
    assert np.array_equal(sim.label, [SUBCATEGORY_IS_REAL[s] for s in sim.subcategory])
    assert np.isfinite(sim.images).all()
    assert sim.masks.any(axis=(1, 2)).all(), "every triplet needs a non-empty ground-truth mask"


def test_same_seed_identical_other_seed_differs_and_streams_are_independent(sim):
    again = simulate_triplets(12, seed=3)
    assert np.array_equal(again.images, sim.images) and np.array_equal(again.masks, sim.masks)
    assert not np.allclose(simulate_triplets(12, seed=4).images, sim.images)
    only_blanked = simulate_triplets({"bogus_blanked": 12}, seed=3)
    assert np.array_equal(only_blanked.images, sim.images[sim.subcategory == "bogus_blanked"])


def test_dict_counts_and_bad_input():
    sub = simulate_triplets({"real_central": 2, "bogus_non_blanked": 3}, seed=0, keep_raw=False)
    assert list(sub.subcategory) == ["real_central"] * 2 + ["bogus_non_blanked"] * 3 and sub.raw is None
    with pytest.raises(InputError, match="unknown subcategories"):
        simulate_triplets({"real_centre": 2}, seed=0)
    with pytest.raises(InputError, match="non-negative integer"):
        simulate_triplets(-1, seed=0)
    with pytest.raises(InputError, match="'image' or 'row'"):
        simulate_triplets(1, seed=0, normalisation="pixel")


def test_normalisation_matches_independent_references(sim):
    """'image' = sklearn L2 of each flattened channel; 'row' = keras.utils.normalize of each 2-D channel."""
    sklearn_pre = pytest.importorskip("sklearn.preprocessing")
    keras = pytest.importorskip("keras")
    raw = np.nan_to_num(sim.raw[:6].astype(np.float64))
    image = normalise_triplets(sim.raw[:6], "image")
    flat = np.moveaxis(raw, -1, 1).reshape(6 * 3, -1)
    expected = np.moveaxis(sklearn_pre.normalize(flat).reshape(6, 3, 63, 63), 1, -1)
    np.testing.assert_allclose(image, expected, rtol=1e-5, atol=1e-7)
    row = normalise_triplets(sim.raw[:6], "row")
    for c in range(3):
        np.testing.assert_allclose(row[..., c], keras.utils.normalize(raw[..., c], axis=-1), rtol=1e-5, atol=1e-7)


def test_moffat_fwhm_and_unit_flux():
    fwhm, beta = np.array(2.6), np.array(3.2)
    peak = moffat(np.array(0.0), np.array(0.0), fwhm, beta)
    np.testing.assert_allclose(moffat(np.array(0.0), fwhm / 2, fwhm, beta), peak / 2, rtol=1e-12)
    y, x = np.mgrid[-400:400.01:0.25, -400:400.01:0.25]
    total = moffat(y, x, fwhm, beta).sum() * 0.25**2
    np.testing.assert_allclose(total, 1.0, rtol=2e-3)


def test_blanking_is_nan_raw_and_exact_zero_only_for_blanked(sim):
    blanked = sim.subcategory == "bogus_blanked"
    nan = np.isnan(sim.raw)
    assert nan[blanked].any(axis=(1, 2, 3)).all() and not nan[~blanked].any()
    assert np.array_equal(nan[..., 0], nan[..., 2]), "pipelines blank all channels alike"
    assert np.all(sim.images[nan] == 0.0)
    assert not nan[blanked][:, 27:36, 27:36].any(), "alert centres are never blanked"


def test_real_masks_hold_the_centre_and_transient_has_psf_width(sim):
    real = sim.label == 1
    assert sim.masks[real, 31, 31].mean() > 0.9
    central = sim.raw[sim.subcategory == "real_central"]
    diff = central[..., 2] - np.median(central[..., 2], axis=(1, 2), keepdims=True)
    core = diff[:, 26:37, 26:37]
    above_half = (core >= core.max(axis=(1, 2), keepdims=True) / 2).sum(axis=(1, 2))
    fwhm = 2.0 * np.sqrt(above_half / np.pi)
    assert np.all((fwhm > 1.0) & (fwhm < 4.5)), fwhm


def test_reference_is_deeper_than_science(sim):
    def robust_sigma(img):
        return 1.4826 * np.median(np.abs(img - np.median(img, axis=(1, 2), keepdims=True)), axis=(1, 2))

    raw = sim.raw[sim.subcategory == "real_modulo_noise"]
    assert np.all(robust_sigma(raw[..., 1]) < 0.6 * robust_sigma(raw[..., 0]))
    assert np.nanmax(sim.raw[..., :2]) <= 50000.0


def test_braai_models_score_simulated_triplets_like_real_ones():
    """Real braai models, never trained on our data, must see our reals as real and bogus as bogus."""
    models = shared_path("braai", "models")
    legacy = pytest.importorskip("pix2pixai.trainers.legacy")
    sim = simulate_triplets(40, seed=11)
    m9 = legacy.load_legacy_model(models / "braai_d6_m9.h5", "braai")
    score = np.asarray(m9.predict(sim.images, verbose=0)).reshape(-1)
    real = sim.label == 1
    assert np.mean(score[real] >= 0.5) >= 0.75
    assert np.mean(score[~real] < 0.5) >= 0.75
