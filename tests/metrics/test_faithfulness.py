"""pix2pixai.metrics.faithfulness against analytic cases (linear scores, mask-shaped maps) and plain references."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from skimage.metrics import structural_similarity

from pix2pixai.metrics import faithfulness as fa

H, W = 6, 7


def linear_setup(n=3, seed=0):
    """score(x) = sum_p w_p x_p[..., 0] on all-ones inputs: removing pixel p costs exactly w_p."""
    rng = np.random.default_rng(seed)
    weights = rng.permutation(np.arange(1.0, H * W + 1)).reshape(H, W)  # distinct, positive
    inputs = np.ones((n, H, W, 2), dtype=np.float32)

    def score_fn(images):
        return np.einsum("bhw,hw->b", images[..., 0].astype(np.float64), weights)

    return weights, inputs, score_fn


def expected_curves(weights, steps):
    """Independent reference: sort the weights, count pixels per step, cumulative sums."""
    ordered = np.sort(weights.ravel())[::-1]
    counts = np.round(np.linspace(0, 1, steps + 1) * weights.size).astype(int)
    removed = np.array([ordered[:c].sum() for c in counts])
    return weights.sum() - removed, removed


@pytest.mark.parametrize("steps", [1, 6, 42])
def test_linear_score_gives_known_deletion_and_insertion_curves(steps):
    weights, inputs, score_fn = linear_setup()
    deletion_ref, insertion_ref = expected_curves(weights, steps)
    fractions, deletion = fa.deletion_curve(score_fn, inputs, weights, steps=steps, batch_size=5)
    _, insertion = fa.insertion_curve(score_fn, inputs, weights, steps=steps, batch_size=5)
    np.testing.assert_allclose(fractions, np.linspace(0, 1, steps + 1))
    np.testing.assert_allclose(deletion, np.broadcast_to(deletion_ref, deletion.shape))
    np.testing.assert_allclose(insertion, np.broadcast_to(insertion_ref, insertion.shape))
    assert np.all(np.diff(deletion, axis=1) < 0) and np.all(np.diff(insertion, axis=1) > 0)
    np.testing.assert_allclose(fa.curve_auc(fractions, deletion), np.trapezoid(deletion_ref, fractions))


def test_auc_of_known_curves():
    fractions = np.linspace(0, 1, 11)
    assert fa.curve_auc(fractions, 1 - fractions) == pytest.approx(0.5)
    assert fa.curve_auc(fractions, np.ones(11)) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="from 0 to 1"):
        fa.curve_auc(np.linspace(0, 0.5, 11), np.ones(11))


def test_true_map_beats_random_beats_reversed():
    weights, inputs, score_fn = linear_setup(n=1)
    rng = np.random.default_rng(1)

    def deletion_auc(m):
        return fa.curve_auc(*fa.deletion_curve(score_fn, inputs, m, steps=H * W))[0]

    shuffled = np.mean([deletion_auc(fa.random_map_baseline(weights, rng)) for _ in range(20)])
    assert deletion_auc(weights) < shuffled < deletion_auc(-weights)


def test_per_input_maps_batching_and_custom_delete_fn():
    weights, inputs, score_fn = linear_setup(n=4)
    maps = np.stack([weights, -weights, weights, weights.T.reshape(H, W)])
    seen = []

    def fill_with_three(images, mask):
        seen.append((images.shape, mask.shape, mask.dtype))
        return np.where(mask[..., None], 3.0, images)

    _, small = fa.deletion_curve(score_fn, inputs, maps, delete_fn=fill_with_three, steps=4, batch_size=3)
    _, large = fa.deletion_curve(score_fn, inputs, maps, delete_fn=fill_with_three, steps=4, batch_size=1000)
    np.testing.assert_array_equal(small, large)
    assert seen[0] == ((3, H, W, 2), (3, H, W), np.dtype(bool))
    np.testing.assert_allclose(small[:, -1], 3 * weights.sum())  # everything replaced by 3
    assert small[0, 1] > small[0, 0] and small[1, 1] > small[1, 0]  # filling with 3 > 1 adds score
    assert small[0, 1] - small[0, 0] > small[1, 1] - small[1, 0]  # the top map adds the heavy pixels first


def test_bad_curve_input():
    weights, inputs, score_fn = linear_setup()
    with pytest.raises(ValueError, match="one score per image"):
        fa.deletion_curve(lambda im: np.zeros(2), inputs, weights)
    with pytest.raises(ValueError, match=r"\[N, H, W\] or one class map"):
        fa.deletion_curve(score_fn, inputs, weights[:-1])
    with pytest.raises(ValueError, match=r"\[N, H, W, C\]"):
        fa.insertion_curve(score_fn, inputs[..., 0], weights)


def rectangle_masks(n, rng):
    masks = np.zeros((n, 20, 20), dtype=bool)
    for mask, (r, c) in zip(masks, rng.integers(0, 12, (n, 2))):
        mask[r : r + 8, c : c + 6] = True
    return masks


def test_energy_in_mask_and_its_random_baseline():
    rng = np.random.default_rng(2)
    masks = rectangle_masks(30, rng)
    mask_shaped = masks * rng.uniform(0.5, 1.0, masks.shape)
    score, baseline = fa.versus_random(fa.energy_in_mask, mask_shaped, masks, rng=rng, n_draws=16)
    np.testing.assert_allclose(score, 1.0)
    area = 48 / 400
    assert np.mean(baseline) == pytest.approx(area, abs=0.02)
    noise = rng.normal(size=masks.shape)
    np.testing.assert_allclose(fa.energy_in_mask(noise, masks), [np.abs(m[k]).sum() / np.abs(m).sum() for m, k in zip(noise, masks)])
    assert np.isnan(fa.energy_in_mask(np.zeros((1, 20, 20)), masks[:1]))[0]
    with pytest.raises(ValueError, match="boolean"):
        fa.energy_in_mask(noise, masks.astype(int))


def test_pointing_game_and_its_random_baseline():
    rng = np.random.default_rng(3)
    masks = rectangle_masks(200, rng)
    peaked = rng.uniform(0, 1, masks.shape) + 2 * masks
    hits, baseline = fa.versus_random(fa.pointing_game, peaked, masks, rng=rng, n_draws=4)
    assert hits.dtype == bool and hits.all()
    assert np.mean(baseline) == pytest.approx(48 / 400, abs=0.03)
    assert not fa.pointing_game(-peaked, masks).any()


def test_random_map_baseline_is_a_seeded_permutation():
    m = np.arange(20.0).reshape(4, 5)
    a = fa.random_map_baseline(m, np.random.default_rng(5))
    np.testing.assert_array_equal(np.sort(a.ravel()), m.ravel())
    np.testing.assert_array_equal(a, fa.random_map_baseline(m, np.random.default_rng(5)))
    assert not np.array_equal(a, m)


def test_method_agreement_against_skimage_and_scipy():
    rng = np.random.default_rng(6)
    base = rng.uniform(0, 1, (22, 24))
    maps = {"saliency": base, "gradcam": np.clip(base + 0.2 * rng.normal(size=base.shape), 0, 1), "flipped": 1 - base}
    out = fa.method_agreement(maps, data_range=1.0)
    assert out["methods"] == ["saliency", "gradcam", "flipped"]
    for a, name_a in enumerate(out["methods"]):
        for b, name_b in enumerate(out["methods"]):
            ref_ssim = structural_similarity(maps[name_a], maps[name_b], gaussian_weights=True, sigma=1.5,
                                             use_sample_covariance=False, data_range=1.0)
            assert out["ssim"][a, b] == pytest.approx(ref_ssim, abs=1e-6)
            ref_rho = stats.spearmanr(maps[name_a].ravel(), maps[name_b].ravel())[0]
            assert out["spearman"][a, b] == pytest.approx(ref_rho, abs=1e-12)
    assert out["spearman"][0, 2] == pytest.approx(-1.0)


def test_stability_is_mean_pairwise_ssim():
    rng = np.random.default_rng(7)
    maps = np.clip(rng.uniform(0, 1, (16, 16))[None] + 0.1 * rng.normal(size=(4, 16, 16)), 0, 1)
    ref = np.mean([structural_similarity(maps[i], maps[j], gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                         data_range=1.0) for i in range(4) for j in range(i + 1, 4)])
    assert fa.stability(maps, 1.0) == pytest.approx(ref, abs=1e-6)
    assert fa.stability(np.repeat(maps[:1], 3, axis=0), 1.0) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="S >= 2"):
        fa.stability(maps[:1], 1.0)


@pytest.fixture(scope="module")
def tiny_model():
    keras = pytest.importorskip("keras")
    keras.utils.set_random_seed(0)
    return keras.Sequential([
        keras.Input((16, 16, 1)),
        keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv"),
        keras.layers.Flatten(),
        keras.layers.Dense(8, activation="relu", name="hidden"),
        keras.layers.Dense(2, name="logits"),
    ])


def gradient_times_input(model, x):
    import tensorflow as tf

    images = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(images)
        score = model(images)[:, 1]
    return (tape.gradient(score, images) * images).numpy()[..., 0]


def test_cascading_randomisation_changes_faithful_maps_only(tiny_model):
    x = np.random.default_rng(8).uniform(0, 1, (3, 16, 16, 1)).astype(np.float32)
    before = [w.copy() for w in tiny_model.get_weights()]
    report = fa.cascading_randomisation(tiny_model, gradient_times_input, x, seed=1)
    assert [name for name, _ in report] == ["logits", "hidden", "conv"]
    assert report[-1][1] < 0.5  # the fully randomised model explains differently
    for old, new in zip(before, tiny_model.get_weights()):
        np.testing.assert_array_equal(old, new)  # the user's model is untouched
    assert fa.cascading_randomisation(tiny_model, gradient_times_input, x, seed=1) == report
    # A "map" that ignores the model (the input itself) fails the test: it never changes.
    ignores_model = fa.cascading_randomisation(tiny_model, lambda m, v: v[..., 0], x, seed=1, layers=["conv"])
    assert ignores_model == [("conv", pytest.approx(1.0))]
    with pytest.raises(ValueError, match="not layers with trainable weights"):
        fa.cascading_randomisation(tiny_model, gradient_times_input, x, seed=1, layers=["flatten"])


def test_stability_pairs_lists_every_seed_pair():
    rng = np.random.default_rng(9)
    maps = rng.uniform(0, 1, (4, 16, 16))
    pairs = fa.stability_pairs(maps, 1.0)
    ref = [structural_similarity(maps[i], maps[j], gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                 data_range=1.0) for i in range(4) for j in range(i + 1, 4)]
    np.testing.assert_allclose(pairs, ref, atol=1e-6)
    assert pairs.max() < 0.5  # independent random maps are not stable
    assert np.all(np.abs(fa.stability_pairs(np.repeat(maps[:1], 3, axis=0), 1.0) - 1.0) < 1e-12)


def test_cascading_randomised_maps_one_stage_per_layer(tiny_model):
    x = np.random.default_rng(10).uniform(0, 1, (2, 16, 16, 1)).astype(np.float32)
    original, stages = fa.cascading_randomised_maps(tiny_model, gradient_times_input, x, seed=4)
    assert [name for name, _ in stages] == ["logits", "hidden", "conv"]
    np.testing.assert_allclose(original, gradient_times_input(tiny_model, x), rtol=1e-5, atol=1e-7)
    assert all(maps.shape == original.shape for _, maps in stages)
    # Each stage randomises one more layer, so every stage's maps differ from the previous ones.
    for (_, before), (_, after) in zip([("intact", original), *stages], stages):
        assert not np.allclose(before, after)
    report = fa.cascading_randomisation(tiny_model, gradient_times_input, x, seed=4)
    norm = fa._unit_signed
    expected = [float(np.mean(fa.ssim(norm(original), norm(maps), 2.0))) for _, maps in stages]
    assert [v for _, v in report] == pytest.approx(expected, abs=1e-12)


def test_deletion_over_occupied_bins_removes_one_bin_per_step():
    """Sparse inputs (a dmdt has ~130 of 528 bins occupied): with the occupied bins eligible and
    steps = their number, step s removes exactly the s highest-ranked occupied bins (loop reference)."""
    rng = np.random.default_rng(3)
    weights = rng.uniform(1, 2, size=(H, W))
    inputs = np.where(rng.uniform(size=(2, H, W, 1)) < 0.3, 1.0, 0.0)
    occupied = inputs[..., 0] > 0
    maps = rng.normal(size=(2, H, W))

    def score_fn(images):
        return np.einsum("bhw,hw->b", images[..., 0], weights)

    steps = int(occupied.sum(axis=(1, 2)).max())
    _, deletion = fa.deletion_curve(score_fn, inputs, maps, eligible=occupied, steps=steps)
    _, insertion = fa.insertion_curve(score_fn, inputs, maps, eligible=occupied, steps=steps)
    for i in range(2):
        cells = np.flatnonzero(occupied[i])
        order = cells[np.argsort(-maps[i].ravel()[cells], kind="stable")]
        counts = np.round(np.linspace(0, 1, steps + 1) * cells.size).astype(int)
        kept_after = [weights.ravel()[order[c:]].sum() for c in counts]
        inserted = [weights.ravel()[order[:c]].sum() for c in counts]
        np.testing.assert_allclose(deletion[i], kept_after)
        np.testing.assert_allclose(insertion[i], inserted)


def test_noisy_linear_imputation_fills_a_linear_field_exactly_and_keeps_other_pixels():
    impute = fa.noisy_linear_imputation(noise_std=0.0)
    ramp = (0.5 * np.arange(H)[:, None] + 0.2 * np.arange(W)[None])[None, ..., None].repeat(2, axis=-1)
    mask = np.zeros((1, H, W), dtype=bool)
    mask[0, 2:4, 2:5] = True
    filled = impute(ramp, mask)
    np.testing.assert_allclose(filled, ramp, atol=1e-4)  # a linear field is its neighbours' weighted mean
    noisy = fa.noisy_linear_imputation(noise_std=0.1, seed=1)(ramp, mask)
    np.testing.assert_array_equal(noisy[~mask], ramp[~mask])
    assert 0.02 < np.std(noisy[mask] - ramp[mask]) < 0.3


def test_noisy_linear_imputation_of_a_whole_image_uses_no_removed_value():
    impute = fa.noisy_linear_imputation(noise_std=0.0)
    images = np.random.default_rng(0).uniform(1, 2, size=(1, H, W, 1))
    np.testing.assert_allclose(impute(images, np.ones((1, H, W), dtype=bool)), 0.0, atol=1e-9)
