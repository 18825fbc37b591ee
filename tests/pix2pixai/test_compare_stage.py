"""The compare step on a tiny run: scores on the evaluation half, stability generators retrained with
another seed (class-conditional and per group), cascades per layer."""

from __future__ import annotations

import json

import numpy as np
import pytest

from pix2pixai import compare
from pix2pixai.figures.comparison import plot_comparison
from pix2pixai.pipeline.runner import run_chain
from pix2pixai.pipeline.stages import compare as compare_stage
from pix2pixai.rundir.config import load_config
from pix2pixai.rundir.layout import SurveyDir
from tests.pix2pixai.conftest import SURVEY, write_tiny_config


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
    rows = compare_stage.compare_survey(config, sdir)
    assert [(r["group"], r["method"]) for r in rows] == [("EW", "gradcam"), ("LPV", "gradcam")]
    model = keras.models.load_model(sdir.classifier / "model.keras", compile=False)
    layers = [layer.name for layer in reversed(model.layers) if layer.trainable_weights]
    for row in rows:
        cascade = row["cascading"]
        assert cascade["layers"] == layers and cascade["n_inputs"] == 2
        for name, scores in row["scores"].items():
            assert len(cascade["ssim"][name]) == len(layers)
            assert scores["sanity_ssim_to_randomised"] == cascade["ssim"][name][-1]
        # scored on the evaluation half only: the inputs the ranking never saw
        ours = np.load(sdir.classmap_file(row["group"], "gradcam"))
        assert row["n_inputs"] == ours["evaluation_index"].size
        assert not set(ours["evaluation_index"]) & set(ours["selection_index"])
    # One class-conditional generator serves every group: each gets stability from the kept
    # generator (seed 0's files) and its retraining with seed + 1.
    assert (sdir.stability_generator_dir(1, "gradcam") / "generator.keras").exists()
    for row in rows:
        assert row["stability"]["seeds"] == [config.seed, config.seed + 1]
        for name, scores in row["scores"].items():
            has = name in compare.GENERATED_CANDIDATES
            assert ("stability_ssim_mean" in scores) == has and ("stability_ssim_min" in scores) == has
    assert rows[0]["scores"]["fidelity_top1"]["stability_ssim_mean"] < 1.0  # another seed, another generator
    stored = np.load(sdir.compare / "stability" / "seed_1" / "EW__gradcam.npz")
    ours = np.load(sdir.classmap_file("EW", "gradcam"))
    for key in ("selection_index", "evaluation_index"):  # the same class-map inputs
        np.testing.assert_array_equal(stored[key], ours[key])
    json.dumps(rows)  # the comparison JSON is plain data
    assert plot_comparison(rows, tmp_path / "comparison")[0].exists()

    # The same seed again gives the kept generator, hence identical class maps: stability exactly 1.
    monkeypatch.setattr(compare_stage, "stability_seed", lambda cfg, k: cfg.seed)
    with pytest.warns(UserWarning, match="other settings or data; starting over"):  # not seed + 1's checkpoints
        same = compare_stage.compare_survey(config, sdir)[0]
    again = np.load(sdir.compare / "stability" / "seed_1" / "EW__gradcam.npz")
    kept = np.load(sdir.compare / "stability" / "seed_0" / "EW__gradcam.npz")
    np.testing.assert_array_equal(again["class_map"], kept["class_map"])
    for name in compare.GENERATED_CANDIDATES:
        if name != "random":  # the random map's shuffle is seeded by the seed index, not the generator
            assert same["scores"][name]["stability_ssim_mean"] == pytest.approx(1.0, abs=1e-12)


def test_per_group_generators_and_their_stability_for_the_first_group(tmp_path):
    config = load_config(write_tiny_config(tmp_path, explain={"methods": ["gradcam"]},
                                           generator={"mode": "per_group", "folds": 2}))
    run_chain([config], tmp_path / "run", steps=("data", "classifier", "explain", "generators", "classmaps"),
              render=False, echo=lambda _: None)
    sdir = SurveyDir(tmp_path / "run" / SURVEY)
    for group in ("EW", "LPV"):
        assert (sdir.generator_dir("gradcam", group) / "generator.keras").exists()
        for fold in range(2):
            assert (sdir.fold_generator_dir(fold, "gradcam", group) / "generator.keras").exists()
    ew, lpv = compare_stage.compare_survey(config, sdir)
    assert ew["stability"]["seeds"] == [config.seed, config.seed + 1]
    assert "stability" not in lpv and "stability_ssim_mean" not in lpv["scores"]["fidelity_top1"]
    assert (sdir.stability_generator_dir(1, "gradcam", "EW") / "generator.keras").exists()
