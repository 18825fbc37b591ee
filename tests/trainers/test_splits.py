"""Stratified splits: a partition, per-class proportions, deterministic per seed."""

from __future__ import annotations

import numpy as np
import pytest

from pix2pixai.trainers.splits import stratified_split


def test_partition_with_per_class_proportions():
    labels = np.repeat(np.array(["EW", "EA", "LPV", "RRd"]), [500, 120, 37, 2])
    train, test = stratified_split(labels, 0.2, seed=0)
    assert np.intersect1d(train, test).size == 0
    np.testing.assert_array_equal(np.sort(np.concatenate([train, test])), np.arange(labels.size))
    for name, n in (("EW", 500), ("EA", 120), ("LPV", 37), ("RRd", 2)):
        n_test = int((labels[test] == name).sum())
        assert n_test == min(max(round(0.2 * n), 1), n - 1), name


def test_same_seed_same_split_other_seed_differs():
    labels = np.random.default_rng(0).integers(0, 3, 200)
    a, b = stratified_split(labels, 0.25, 7), stratified_split(labels, 0.25, 7)
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[1], stratified_split(labels, 0.25, 8)[1])


def test_singleton_class_stays_in_training():
    train, test = stratified_split(np.array([0, 0, 0, 0, 1]), 0.5, 0)
    assert 4 in train and 4 not in test


@pytest.mark.parametrize("labels, fraction, match", [
    (np.zeros((3, 2)), 0.2, "1-D"), (np.array([]), 0.2, "non-empty"), (np.arange(4), 1.0, r"in \(0, 1\)"),
])
def test_bad_input(labels, fraction, match):
    with pytest.raises(ValueError, match=match):
        stratified_split(labels, fraction, 0)
