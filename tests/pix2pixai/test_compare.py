"""The aggregation comparison: stability across generator seeds and cascading randomisation."""

from __future__ import annotations

import json

import numpy as np
import pytest
from skimage.metrics import structural_similarity

from pix2pixai import compare
from pix2pixai.figures.comparison import plot_comparison
from pix2pixai.pipeline.config import load_config
from pix2pixai.pipeline.rundir import SurveyDir
from pix2pixai.pipeline.runner import run_chain
from tests.pix2pixai.conftest import SURVEY, write_tiny_config

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


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """The tiny chain (Grad-CAM only; stability for the first group with one extra seed, cascades on
    two inputs per group) up to the class maps; compare is run by the test."""
    folder = tmp_path_factory.mktemp("compare")
    config = load_config(write_tiny_config(folder, explain={"methods": ["gradcam"]}))
    run_chain([config], folder / "run", steps=("data", "classifier", "explain", "generators", "classmaps"),
              render=False, echo=lambda _: None)
    return config, SurveyDir(folder / "run" / SURVEY)


def test_compare_reports_stability_and_cascade(tiny_run, tmp_path, monkeypatch):
    import keras

    config, sdir = tiny_run
    rows = compare.compare_survey(config, sdir)
    assert [(r["group"], r["method"]) for r in rows] == [("EW", "gradcam"), ("LPV", "gradcam")]
    model = keras.models.load_model(sdir.classifier / "model.keras", compile=False)
    layers = [layer.name for layer in reversed(model.layers) if layer.trainable_weights]
    for row in rows:
        cascade = row["cascading"]
        assert cascade["layers"] == layers and cascade["n_inputs"] == 2
        for name, scores in row["scores"].items():
            assert len(cascade["ssim"][name]) == len(layers)
            assert scores["sanity_ssim_to_randomised"] == cascade["ssim"][name][-1]
    # Stability only for the first group (stability_groups = 1), from a generator trained with seed + 1.
    ew, lpv = rows
    assert "stability" not in lpv and "stability_ssim_mean" not in lpv["scores"]["fidelity_top1"]
    assert ew["stability"]["seeds"] == [config.seed, config.seed + 1]
    assert (sdir.generators / "stability" / "seed_1" / "EW" / "gradcam" / "generator.keras").exists()
    for name, scores in ew["scores"].items():
        has = name in compare.GENERATED_CANDIDATES
        assert ("stability_ssim_mean" in scores) == has and ("stability_ssim_min" in scores) == has
    assert ew["scores"]["fidelity_top1"]["stability_ssim_mean"] < 1.0  # another seed, another generator
    stored = np.load(sdir.compare / "stability" / "seed_1" / "EW__gradcam.npz")
    ours = np.load(sdir.classmap_file("EW", "gradcam"))
    np.testing.assert_array_equal(stored["inputs_index"], ours["inputs_index"])  # same held-out inputs
    json.dumps(rows)  # the comparison JSON is plain data
    assert plot_comparison(rows, tmp_path / "comparison")[0].exists()

    # The same seed again gives the same generator, hence identical class maps: stability exactly 1.
    monkeypatch.setattr(compare, "stability_seed", lambda cfg, k: cfg.seed)
    with pytest.warns(UserWarning, match="other settings or data; starting over"):  # not seed + 1's checkpoints
        same = compare.compare_survey(config, sdir)[0]
    again = np.load(sdir.compare / "stability" / "seed_1" / "EW__gradcam.npz")
    np.testing.assert_array_equal(again["class_map"], ours["class_map"])
    for name in compare.GENERATED_CANDIDATES:
        if name != "random":  # the random map's shuffle is seeded by the seed index, not the generator
            assert same["scores"][name]["stability_ssim_mean"] == pytest.approx(1.0, abs=1e-12)
