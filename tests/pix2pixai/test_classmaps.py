"""Class maps: disjoint seeded splits with thresholds, skip reasons, and ranking into class maps."""

from __future__ import annotations

import numpy as np
import pytest

from pix2pixai.classmaps import build_class_map, split_group


def _split(seed=0, n=60, **kw):
    rng = np.random.default_rng(1)
    members = np.arange(0, 2 * n, 2)  # every other test input belongs to the group
    correct = np.zeros(2 * n, bool)
    correct[members] = rng.random(n) > 0.1
    confidence = np.zeros(2 * n)
    confidence[members] = rng.uniform(0.5, 1.0, n)
    params = dict(seed=seed, heldout_fraction=0.4, train_threshold=0.8, classmap_threshold=0.95,
                  min_train_pairs=5, min_heldout=2)
    params.update(kw)
    return split_group("EW", members, correct, confidence, **params), members, correct, confidence


def test_split_is_disjoint_thresholded_and_seeded():
    split, members, correct, confidence = _split()
    assert not set(split.train) & set(split.heldout)
    assert set(split.train) | set(split.heldout) <= set(members)
    assert set(split.classmap) <= set(split.heldout)
    assert np.all(correct[split.train]) and np.all(confidence[split.train] >= 0.8)
    assert np.all(confidence[split.classmap] >= 0.95)
    assert split.heldout.size == 24
    again, *_ = _split()
    np.testing.assert_array_equal(again.train, split.train)
    other, *_ = _split(seed=5)
    assert not np.array_equal(other.heldout, split.heldout)


def test_group_with_too_few_pairs_is_skipped_with_reason():
    split, *_ = _split(min_train_pairs=1000)
    assert "generator-training pairs < 1000" in split.skipped
    assert split.counts()["skipped"] == split.skipped
    ok, *_ = _split(min_heldout=0)
    assert ok.skipped == ""


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
