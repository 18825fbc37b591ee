"""pix2pixai.metrics.similarity against independent references: scikit-image, Keras 3, tf.image, scipy, plain loops."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage, stats
from skimage.metrics import structural_similarity

from pix2pixai.metrics import similarity
from pix2pixai.metrics.similarity import cosine, mse, pearson, spearman, ssim, ssim_all_pairs, topk_overlap
from tests.conftest import shared_path

SHAPES = [(22, 24), (32, 32), (63, 63)]


def skimage_ssim(a: np.ndarray, b: np.ndarray, data_range: float, full: bool = False):
    """The reference: skimage with the Wang et al. Gaussian window and population covariance."""
    return structural_similarity(a.astype(np.float64), b.astype(np.float64), gaussian_weights=True, sigma=1.5,
                                 use_sample_covariance=False, data_range=data_range, full=full)


def maps_pair(shape, rng, signed=False):
    lo = -1.0 if signed else 0.0
    a = rng.uniform(lo, 1.0, (5,) + shape)
    b = np.clip(a + rng.normal(0, 0.3, a.shape), lo, 1.0)  # correlated, so SSIM is far from 0
    b[1] = rng.uniform(lo, 1.0, shape)  # unrelated pair
    a[2], b[2] = 0.25, 0.75  # both constant
    a[3] = 0.5  # one constant
    b[4] = a[4]  # identical
    return a, b


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("signed", [False, True])
def test_ssim_matches_skimage(shape, signed):
    rng = np.random.default_rng(1)
    a, b = maps_pair(shape, rng, signed)
    data_range = 2.0 if signed else 1.0
    ours = ssim(a, b, data_range)
    ref = np.array([skimage_ssim(x, y, data_range) for x, y in zip(a, b)])
    assert ours.dtype == np.float64 and ours.shape == (5,)
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-6)
    assert ours[4] == pytest.approx(1.0, abs=1e-12)
    assert ours[1] < 0.2 < ours[0]


@pytest.mark.parametrize("shape", SHAPES)
def test_same_border_is_uncropped_skimage_mean(shape):
    rng = np.random.default_rng(2)
    a, b = maps_pair(shape, rng)
    ours = ssim(a, b, 1.0, border="same")
    ref = np.array([skimage_ssim(x, y, 1.0, full=True)[1].mean() for x, y in zip(a, b)])
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-6)
    assert not np.allclose(ours, ssim(a, b, 1.0))  # the border policy matters


def test_single_pair_gives_scalar_and_float32_is_accumulated_in_float64():
    rng = np.random.default_rng(3)
    a, b = maps_pair((32, 32), rng)
    value = ssim(a[0].astype(np.float32), b[0].astype(np.float32), 1.0)
    assert np.ndim(value) == 0
    assert value == pytest.approx(skimage_ssim(a[0].astype(np.float32), b[0].astype(np.float32), 1.0), abs=1e-12)


def test_fixed_data_range_changes_the_score():
    rng = np.random.default_rng(4)
    a, b = maps_pair((32, 32), rng)
    assert not np.allclose(ssim(a, b, 1.0), ssim(a, b, 2.0))
    np.testing.assert_allclose(ssim(a, b, 2.0), [skimage_ssim(x, y, 2.0) for x, y in zip(a, b)], atol=1e-6)


def test_window_is_scipys_truncated_gaussian():
    impulse = np.zeros(41)
    impulse[20] = 1.0
    response = ndimage.gaussian_filter1d(impulse, sigma=1.5, truncate=3.5)
    np.testing.assert_allclose(similarity.gaussian_window(11, 1.5), response[15:26], atol=1e-15)
    assert np.count_nonzero(response) == 11


def test_keras_ssim_coincides_in_float64():
    """keras.ops.image.ssim: same window, population moments, 'valid' border, float64 stays float64."""
    keras = pytest.importorskip("keras")
    rng = np.random.default_rng(5)
    a, b = maps_pair((32, 32), rng)
    ref = np.asarray(keras.ops.image.ssim(a[..., None], b[..., None], max_val=1.0, data_format="channels_last"))
    np.testing.assert_allclose(ssim(a, b, 1.0), ref, rtol=0, atol=1e-10)


def test_tf_image_ssim_coincides_up_to_float32():
    """tf.image.ssim has the same convention but always computes in float32.

    Its ``E[x^2] - E[x]^2`` in float32 loses ~1e-8 to cancellation, which C2 = 9e-4 turns into ~1e-4
    on flat maps, so the constant pair (index 2) is left out.
    """
    tf = pytest.importorskip("tensorflow")
    rng = np.random.default_rng(6)
    a, b = (m[[0, 1, 3, 4]] for m in maps_pair((63, 63), rng))
    ref = tf.image.ssim(tf.constant(a[..., None], tf.float32), tf.constant(b[..., None], tf.float32), max_val=1.0)
    np.testing.assert_allclose(ssim(a, b, 1.0), ref.numpy(), rtol=0, atol=2e-5)


@pytest.mark.parametrize("border", ["valid", "same"])
def test_all_pairs_equals_pair_loop(border):
    rng = np.random.default_rng(7)
    maps = rng.uniform(0, 1, (11, 22, 24))
    maps[3] = 0.4  # a constant map
    maps[5] = np.clip(maps[4] + 0.05 * rng.normal(size=(22, 24)), 0, 1)
    # A budget of a few pairs forces many blocks and a zero-padded last block.
    got = ssim_all_pairs(maps, 1.0, border=border, memory_budget_bytes=4 * 22 * 24 * 8 * 3)
    ref = np.array([[ssim(x, y, 1.0, border=border) for y in maps] for x in maps])
    assert got.shape == (11, 11) and got.dtype == np.float64
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-10)
    np.testing.assert_array_equal(got, got.T)
    np.testing.assert_array_equal(got, ssim_all_pairs(maps, 1.0, border=border, memory_budget_bytes=4 * 22 * 24 * 8 * 3))
    np.testing.assert_allclose(ssim_all_pairs(maps, 1.0, border=border), got, rtol=0, atol=1e-12)  # one padded block
    if border == "valid":
        np.testing.assert_allclose(got[2], [skimage_ssim(maps[2], y, 1.0) for y in maps], atol=1e-6)


def test_all_pairs_block_side_and_padded_blocks():
    # 40 maps of 32x32 with room for 33 maps per block side: two 32-map blocks per side (one padded).
    rng = np.random.default_rng(8)
    maps = ndimage.gaussian_filter(rng.uniform(0, 1, (40, 32, 32)), (0, 1.5, 1.5))
    per_pair = (32 * 22 + 22 * 22) * 8
    assert similarity._block_side(40, 33) == 32
    got = ssim_all_pairs(maps, 1.0, memory_budget_bytes=33 * 33 * per_pair)
    i, j = np.triu_indices(40)
    ref = ssim(maps[i], maps[j], 1.0)
    np.testing.assert_allclose(got[i, j], ref, rtol=0, atol=1e-10)
    np.testing.assert_array_equal(got, got.T)
    for n in (1, 15, 16, 17, 100, 500, 5000):
        for largest in (16, 40, 145, 1000):
            side = similarity._block_side(n, largest)
            assert side % 16 == 0 and 16 <= side <= largest
            assert side <= -(-n // 16) * 16  # never a block larger than all maps rounded up to 16


def test_all_pairs_on_real_dmdts():
    path = shared_path("crts-lightcurves-kvmu", "dmdt_reference_subset.npz")
    with np.load(path) as data:
        dmdts = data["dmdt"][:24].astype(np.float64)
    data_range = float(dmdts.max())
    got = ssim_all_pairs(dmdts, data_range)
    i, j = np.triu_indices(len(dmdts), k=1)
    ref = np.array([skimage_ssim(dmdts[a], dmdts[b], data_range) for a, b in zip(i, j)])
    np.testing.assert_allclose(got[i, j], ref, rtol=0, atol=1e-6)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: ssim(np.zeros((2, 32, 32)), np.zeros((3, 32, 32)), 1.0), "same shape"),
        (lambda: ssim(np.zeros((32, 32)), np.zeros((32, 32)), 0.0), "data_range"),
        (lambda: ssim(np.zeros((8, 8)), np.zeros((8, 8)), 1.0), "win_size"),
        (lambda: ssim(np.full((16, 16), np.nan), np.zeros((16, 16)), 1.0), "non-finite"),
        (lambda: ssim(np.zeros((16, 16)), np.zeros((16, 16)), 1.0, border="wrap"), "border"),
        (lambda: ssim_all_pairs(np.zeros((16, 16)), 1.0), r"\[N, H, W\]"),
        (lambda: similarity.gaussian_window(10), "odd"),
        (lambda: topk_overlap(np.zeros((4, 4)), np.zeros((4, 4)), 0.0), "k_fraction"),
    ],
)
def test_bad_input_is_a_clear_value_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_simple_scores_match_scipy_per_pair():
    rng = np.random.default_rng(8)
    a = rng.normal(size=(4, 22, 24))
    b = a + rng.normal(size=a.shape)
    b[2] = np.round(b[2])  # ties for the rank correlation
    fa, fb = a.reshape(4, -1), b.reshape(4, -1)
    np.testing.assert_allclose(mse(a, b), [np.mean((x - y) ** 2) for x, y in zip(fa, fb)], rtol=1e-12)
    np.testing.assert_allclose(pearson(a, b), [stats.pearsonr(x, y)[0] for x, y in zip(fa, fb)], rtol=1e-12)
    np.testing.assert_allclose(spearman(a, b), [stats.spearmanr(x, y)[0] for x, y in zip(fa, fb)], rtol=1e-12)
    cos = [x @ y / np.linalg.norm(x) / np.linalg.norm(y) for x, y in zip(fa, fb)]
    np.testing.assert_allclose(cosine(a, b), cos, rtol=1e-12)
    assert np.ndim(pearson(a[0], b[0])) == 0 and pearson(a[0], b[0]) == pytest.approx(pearson(a, b)[0])


def test_undefined_correlations_are_nan():
    flat = np.ones((1, 8, 8))
    assert np.isnan(pearson(flat, np.arange(64.0).reshape(1, 8, 8)))[0]
    assert np.isnan(cosine(np.zeros((1, 8, 8)), flat))[0]


def test_topk_overlap_against_sets():
    rng = np.random.default_rng(9)
    a = rng.normal(size=(6, 10, 10))
    b = a + rng.normal(scale=0.7, size=a.shape)
    k = 15
    expected = [len(set(np.argsort(-x.ravel())[:k]) & set(np.argsort(-y.ravel())[:k])) / k for x, y in zip(a, b)]
    np.testing.assert_allclose(topk_overlap(a, b, 0.15), expected)
    assert topk_overlap(a[0], a[0], 0.15) == 1.0
    assert topk_overlap(a[0], -a[0], 0.15) == 0.0


def test_border_aware_ssim_sees_the_outer_columns_that_valid_ssim_ignores():
    """Two 22x24 (dmdt-sized) maps that differ only in their outer two columns on each side."""
    rng = np.random.default_rng(0)
    a = rng.uniform(size=(22, 24))
    b = a.copy()
    b[:, :2] = rng.uniform(size=(22, 2))
    b[:, -2:] = rng.uniform(size=(22, 2))
    assert ssim(a, b, data_range=1.0) > 0.99
    assert ssim(a, b, data_range=1.0, border="same") < 0.95


def test_spearman_on_selected_pixels_equals_scipy_on_those_pixels():
    rng = np.random.default_rng(5)
    a, b = rng.normal(size=(3, 8, 9)), rng.normal(size=(3, 8, 9))
    mask = rng.uniform(size=(3, 8, 9)) < 0.4
    got = spearman(a, b, mask=mask)
    for i in range(3):
        assert got[i] == pytest.approx(stats.spearmanr(a[i][mask[i]], b[i][mask[i]]).statistic, abs=1e-12)
    assert np.isnan(spearman(a, b, mask=np.zeros((8, 9), dtype=bool))).all()
