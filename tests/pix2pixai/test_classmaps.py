"""Class maps: stratified seeded folds, class-map inputs with their fallback, selection / evaluation
halves, out-of-fold skill, and ranking into class maps."""

from __future__ import annotations

import numpy as np
import pytest

from pix2pixai.classmaps import OutOfFold, assign_folds, build_class_map, class_map_inputs, cross_fit
from pix2pixai.metrics.skill import l1_per_input


def test_folds_are_stratified_by_group_and_seeded():
    groups = np.array(["EW"] * 10 + ["LPV"] * 7 + ["RRc"] * 2)
    folds = assign_folds(groups, 3, seed=4)
    for group, sizes in (("EW", [4, 3, 3]), ("LPV", [3, 2, 2]), ("RRc", [1, 1, 0])):
        assert np.bincount(folds[groups == group], minlength=3).tolist() == sizes
    np.testing.assert_array_equal(folds, assign_folds(groups, 3, seed=4))
    assert not np.array_equal(folds, assign_folds(groups, 3, seed=5))


def test_cross_fit_leaves_out_groups_too_small_for_skill():
    group_of = np.array([0] * 6 + [1] * 3)
    fit = cross_fit(["EW", "RRd"], group_of, np.linspace(0, 1, 9), np.ones(9, bool), n_folds=3, min_inputs=5, seed=0)
    assert fit.groups.tolist() == ["EW"] * 6 and fit.positions.tolist() == list(range(6))
    assert fit.skipped == {"RRd": "3 explained inputs < 5"}
    assert fit.counts()["EW"] == {"members": 6, "per_fold": [2, 2, 2], "skipped": ""}
    for fold in range(3):  # a fold's generator never trains on the inputs it predicts
        assert not set(fit.train(fold)) & set(fit.predict(fold))


def test_class_map_inputs_fall_back_to_the_most_confident_correct_ones():
    prob = np.array([0.99, 0.97, 0.96, 0.5, 0.9, 0.8, 0.7, 0.6, 0.99, 0.3])
    correct = np.array([True] * 8 + [False, True])
    members = np.arange(10)
    enough = class_map_inputs("EW", members, correct, prob, threshold=0.5, min_inputs=5, seed=0)
    assert enough.threshold_used == 0.5 and enough.n_inputs == 8 and enough.reason == ""
    assert not set(enough.selection) & set(enough.evaluation)
    assert (enough.selection.size, enough.evaluation.size) == (4, 4)
    few = class_map_inputs("EW", members, correct, prob, threshold=0.95, min_inputs=5, seed=0)
    assert sorted([*few.selection, *few.evaluation]) == [0, 1, 2, 4, 5]  # the 5 most confident correct
    assert few.threshold_used == 0.8 and (few.selection.size, few.evaluation.size) == (3, 2)
    none = class_map_inputs("EW", members[:4], correct, prob, threshold=0.95, min_inputs=5, seed=0)
    assert none.reason == "4 correctly classified test inputs < 5" and none.n_inputs == 0
    again = class_map_inputs("EW", members, correct, prob, threshold=0.5, min_inputs=5, seed=0)
    np.testing.assert_array_equal(again.selection, enough.selection)


def test_skill_is_one_for_exact_maps_zero_for_the_mean_and_null_for_tiny_groups():
    rng = np.random.default_rng(0)
    n = 30
    targets = rng.random((n, 6, 6))
    groups = np.array(["EW"] * 27 + ["RRd"] * 3)
    folds = assign_folds(groups, 3, seed=0)
    oof = OutOfFold(inputs=targets[..., None].astype(np.float32), targets=targets, generated=targets.copy(),
                    group=groups, fold=folds, prob=np.ones(n), scale=1.0)
    exact = oof.skill("EW", min_inputs=5, seed=0)
    assert exact["skill"] == pytest.approx(1.0) and exact["skill_ci"] == pytest.approx([1.0, 1.0])
    assert exact["skill_positive"] and exact["knn_skill"] < 1.0
    assert exact["knn_skill_ci"][0] <= exact["knn_skill"] <= exact["knn_skill_ci"][1]
    members = groups == "EW"
    mean_of_others = np.stack([targets[members & (folds != folds[i])].mean(axis=0) for i in range(n)])
    floor = OutOfFold(**{**oof.__dict__, "generated": mean_of_others})
    assert floor.skill("EW", min_inputs=5, seed=0)["skill"] == pytest.approx(0.0, abs=1e-12)
    worse = OutOfFold(**{**oof.__dict__, "generated": np.zeros_like(targets)})
    expected = 1 - l1_per_input(worse.generated[members], targets[members]).sum() / l1_per_input(
        mean_of_others[members], targets[members]).sum()
    assert worse.skill("EW", min_inputs=5, seed=0)["skill"] == pytest.approx(expected)
    tiny = oof.skill("RRd", min_inputs=5, seed=0)
    assert tiny["skill"] is None and tiny["skill_reason"] == "3 explained inputs < 5"


def test_class_map_is_the_fidelity_top_map():
    pytest.importorskip("pix2pixai.metrics.ranking")
    rng = np.random.default_rng(0)
    targets = rng.random((6, 16, 16))
    generated = targets + rng.normal(0, 1, (6, 1, 1)) * rng.random((6, 16, 16))
    generated[3] = targets[3]  # perfect reproduction: the fidelity winner
    cmap = build_class_map(generated, targets, data_range=1.0, top_k=3)
    np.testing.assert_array_equal(cmap.class_map, generated[3])
    assert cmap.order[0] == 3 and cmap.top_k.shape == (3, 16, 16)
    np.testing.assert_allclose(cmap.baselines["mean_input"], targets.mean(axis=0))
    medoid = build_class_map(generated, targets, data_range=1.0, ranking="medoid")
    np.testing.assert_array_equal(medoid.alternative_map, generated[3])
    with pytest.raises(ValueError, match="no class-map inputs"):
        build_class_map(generated[:0], targets[:0], data_range=1.0)
