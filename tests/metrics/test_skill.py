"""metrics.skill against plain loops and cases with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from pix2pixai.metrics.skill import knn_maps, l1_per_input, out_of_fold_means, skill_from_errors, skill_interval


def _loop_out_of_fold_means(targets, groups, folds):
    out = np.full(targets.shape, np.nan)
    for i in range(len(targets)):
        others = [j for j in range(len(targets)) if groups[j] == groups[i] and folds[j] != folds[i]]
        if others:
            out[i] = np.mean(targets[others], axis=0)
    return out


def _loop_knn(inputs, targets, groups, folds, k):
    out = np.full(targets.shape, np.nan)
    for i in range(len(inputs)):
        pool = [j for j in range(len(inputs)) if groups[j] == groups[i] and folds[j] != folds[i]]
        distances = [np.sum((inputs[i] - inputs[j]) ** 2) for j in pool]
        nearest = [pool[j] for j in np.argsort(distances, kind="stable")[:k]]
        if nearest:
            out[i] = np.mean(targets[nearest], axis=0)
    return out


@pytest.fixture
def cell():
    rng = np.random.default_rng(0)
    n = 40
    inputs = rng.normal(size=(n, 6, 5, 2))
    targets = rng.uniform(size=(n, 6, 5))
    groups = rng.integers(0, 3, size=n)
    folds = rng.integers(0, 3, size=n)
    return inputs, targets, groups, folds


def test_out_of_fold_means_equal_a_loop(cell):
    _, targets, groups, folds = cell
    np.testing.assert_allclose(out_of_fold_means(targets, groups, folds),
                               _loop_out_of_fold_means(targets, groups, folds))


def test_knn_maps_equal_a_loop(cell):
    inputs, targets, groups, folds = cell
    np.testing.assert_allclose(knn_maps(inputs, targets, groups, folds, k=5),
                               _loop_knn(inputs, targets, groups, folds, 5), atol=1e-12)


def test_an_input_never_enters_its_own_prediction(cell):
    inputs, targets, groups, folds = cell
    folds = np.arange(len(inputs))  # leave-one-out: the nearest input would be itself
    prediction = knn_maps(inputs, targets, groups, folds, k=1)
    assert not np.any(np.all(np.isclose(prediction, targets), axis=(1, 2)))


def test_skill_is_one_for_the_targets_and_zero_for_the_reference(cell):
    _, targets, groups, folds = cell
    reference = out_of_fold_means(targets, groups, folds)
    ok = ~np.isnan(reference).any(axis=(1, 2))
    ref_err = l1_per_input(reference[ok], targets[ok])
    assert skill_from_errors(l1_per_input(targets[ok], targets[ok]), ref_err) == 1.0
    assert skill_from_errors(ref_err, ref_err) == 0.0
    value, low, high = skill_interval(0.5 * ref_err, ref_err)
    assert value == pytest.approx(0.5) and low == pytest.approx(0.5) and high == pytest.approx(0.5)


def test_knn_skill_is_positive_when_the_map_is_a_function_of_the_input():
    rng = np.random.default_rng(1)
    n = 120
    inputs = rng.uniform(size=(n, 8, 8))
    targets = (inputs > 0.7).astype(float)  # the map is the input's bright pixels
    groups, folds = np.zeros(n, int), np.arange(n) % 3
    mean_err = l1_per_input(out_of_fold_means(targets, groups, folds), targets)
    knn_err = l1_per_input(knn_maps(inputs, targets, groups, folds, k=5), targets)
    assert skill_interval(knn_err, mean_err)[0] > 0  # knn beats the mean: skill > 0

    unrelated = rng.uniform(size=(n, 8, 8))  # a map that ignores the input
    mean_err = l1_per_input(out_of_fold_means(unrelated, groups, folds), unrelated)
    knn_err = l1_per_input(knn_maps(inputs, unrelated, groups, folds, k=5), unrelated)
    _, low, high = skill_interval(knn_err, mean_err)
    assert high < 0.05  # no information to find: never meaningfully above 0
