"""The out-of-fold export: every skill number of a run recomputed from ``oof_<method>.npz`` alone, and
the same seed giving identical files."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from pix2pixai import metrics
from pix2pixai.metrics.skill import knn_maps, l1_per_input, out_of_fold_means, skill_interval
from pix2pixai.pipeline.runner import run_chain
from pix2pixai.rundir.config import load_config
from pix2pixai.rundir.layout import SurveyDir
from tests.pix2pixai.conftest import SURVEY, write_tiny_config

METHODS = ("gradcam", "saliency")


@pytest.fixture(scope="module")
def twin_runs(tmp_path_factory):
    """The tiny chain up to explain, copied, then generators and class maps run in both copies."""
    folder = tmp_path_factory.mktemp("oof")
    config = load_config(write_tiny_config(folder))
    quiet = {"render": False, "echo": lambda _: None}
    run_chain([config], folder / "a", steps=("data", "classifier", "explain"), **quiet)
    shutil.copytree(folder / "a", folder / "b")
    for name in ("a", "b"):
        run_chain([config], folder / name, steps=("generators", "classmaps"), **quiet)
    return config, SurveyDir(folder / "a" / SURVEY), SurveyDir(folder / "b" / SURVEY)


def test_every_skill_number_is_recomputed_from_the_export(twin_runs):
    config, sdir, _ = twin_runs
    entries = json.loads(sdir.classmap_index.read_text())
    assert {(e["group"], e["method"]) for e in entries} == {(g, m) for g in ("EW", "LPV") for m in METHODS}
    for method in METHODS:
        with np.load(sdir.out_of_fold(method)) as oof:
            x, targets, generated = oof["inputs"], oof["targets"], oof["generated"]
            group, fold, prob = oof["group"], oof["fold"], oof["prob"]
        assert x.dtype == np.float32 and x.ndim == 4 and targets.shape == generated.shape == x.shape[:3]
        assert group.dtype.kind == "U" and fold.dtype.kind == "i" and prob.shape == group.shape
        assert np.all((prob >= 0) & (prob <= 1))
        reference = out_of_fold_means(targets, group, fold)
        knn = knn_maps(x, targets, group, fold, k=5)
        for entry in (e for e in entries if e["method"] == method):
            members = group == entry["group"]
            assert entry["members"] == int(members.sum())
            ref_err = l1_per_input(reference[members], targets[members])
            skill = skill_interval(l1_per_input(generated[members], targets[members]), ref_err, seed=config.seed)
            knn_skill = skill_interval(l1_per_input(knn[members], targets[members]), ref_err, seed=config.seed)
            assert entry["skill"] == pytest.approx(skill[0], abs=0.02)
            assert entry["skill_ci"] == pytest.approx(list(skill[1:]), abs=0.02)
            assert entry["knn_skill"] == pytest.approx(knn_skill[0], abs=0.02)
            assert entry["knn_skill_ci"] == pytest.approx(list(knn_skill[1:]), abs=0.02)
            assert entry["skill_positive"] == (entry["skill_ci"][0] > 0)
            ssim = metrics.ssim(generated[members], targets[members], data_range=1.0, border="same")
            assert entry["heldout_ssim"] == pytest.approx(float(np.mean(ssim)), abs=0.02)


def test_class_map_inputs_are_confident_correct_out_of_fold_inputs(twin_runs):
    config, sdir, _ = twin_runs
    for entry in json.loads(sdir.classmap_index.read_text()):
        assert entry["reason"] is None and entry["threshold_used"] >= config.classmaps.classmap_threshold
        stored = np.load(sdir.classmap_file(entry["group"], entry["method"]))
        selection, evaluation = stored["selection_index"], stored["evaluation_index"]
        assert (selection.size, evaluation.size) == (entry["n_selection"], entry["n_evaluation"])
        assert selection.size + evaluation.size == entry["n_inputs"] >= config.classmaps.min_inputs
        assert not set(selection) & set(evaluation)
        assert stored["fidelity_scores"].shape == (selection.size,)


def test_the_same_seed_gives_identical_exports(twin_runs):
    _, first, second = twin_runs
    for method in METHODS:
        with np.load(first.out_of_fold(method)) as a, np.load(second.out_of_fold(method)) as b:
            assert sorted(a.files) == sorted(b.files)
            for name in a.files:
                np.testing.assert_array_equal(a[name], b[name], err_msg=f"oof_{method}.npz:{name}")
    assert first.classmap_index.read_text() == second.classmap_index.read_text()
