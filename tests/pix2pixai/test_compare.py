"""The aggregation comparison's scores: stability across generator seeds and cascading randomisation."""

from __future__ import annotations

import numpy as np
import pytest
from skimage.metrics import structural_similarity

from pix2pixai import compare

H, W = 16, 18


def _ref_ssim(a, b, data_range):
    return structural_similarity(a, b, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                 data_range=data_range)


def _stored(rng, ranking="fidelity"):
    maps = {k: rng.uniform(0, 1, (H, W)) for k in ("class_map", "alternative_map", "baseline_mean_input",
                                                  "baseline_median_input", "baseline_mean_generated")}
    return {**maps, "ranking": np.str_(ranking), "data_range": np.float64(1.0)}


def test_stability_of_identical_seeds_is_one_and_of_random_generators_below():
    rng = np.random.default_rng(0)
    stored = _stored(rng)
    same = compare.stability_scores([compare.candidate_maps(stored, 5)] * 3, 1.0)
    assert set(same) == set(compare.GENERATED_CANDIDATES)  # input aggregates use no generator
    for name, values in same.items():
        assert values["mean"] == pytest.approx(1.0, abs=1e-12) and values["min"] == pytest.approx(1.0, abs=1e-12)
        assert len(values["pairs"]) == 3
    # A "generator" that draws a new random map per seed is not stable.
    seeds = [compare.candidate_maps(_stored(rng), seed) for seed in range(3)]
    random_gen = compare.stability_scores(seeds, 1.0)
    fid = np.stack([s["fidelity_top1"] for s in seeds])
    ref = [_ref_ssim(fid[i], fid[j], 1.0) for i in range(3) for j in range(i + 1, 3)]
    assert random_gen["fidelity_top1"]["pairs"] == pytest.approx(ref, abs=1e-6)
    assert random_gen["fidelity_top1"]["min"] == pytest.approx(min(ref), abs=1e-6)
    assert all(v["mean"] < 0.5 for v in random_gen.values())
    with pytest.raises(ValueError, match=">= 2 generator seeds"):
        compare.stability_scores(seeds[:1], 1.0)


def test_cascading_scores_one_entry_per_layer():
    rng = np.random.default_rng(1)
    candidates = compare.candidate_maps(_stored(rng), 0)
    original = candidates["mean_input"]
    stages = [("dense", original + 0.1 * rng.normal(size=(H, W))), ("conv", rng.uniform(0, 1, (H, W)))]
    out = compare.cascading_scores(candidates, original, stages, 1.0)
    assert out["layers"] == ["dense", "conv"]
    assert out["ssim_intact"]["mean_input"] == pytest.approx(1.0, abs=1e-12)
    for name, curve in out["ssim"].items():
        assert len(curve) == 2
        assert curve == pytest.approx([_ref_ssim(candidates[name], m, 1.0) for _, m in stages], abs=1e-6)
    assert out["ssim"]["mean_input"][1] < out["ssim"]["mean_input"][0] < 1.0
