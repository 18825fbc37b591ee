"""Skill: does a map predictor know more about an input's explanation than the class average does?

For the inputs i of one group, with target maps e_i (the explanations a generator learns), a
predictor's maps p_i and a reference's maps r_i (the out-of-fold mean map of the group)::

    skill = 1 - sum_i L1(p_i, e_i) / sum_i L1(r_i, e_i)        L1 = mean absolute difference

skill > 0: the predictor is closer to the inputs' own maps than the average is, so it carries
information about the input; 0: no better than the average; < 0: worse. It is a ratio of sums, so
inputs weigh by how far they are from the average, and its interval comes from a paired bootstrap
over inputs (:func:`pix2pixai.metrics.statistics.bootstrap_interval`).

Two reference predictors, both out-of-fold (an input's own map never enters its prediction):
:func:`out_of_fold_means` (the floor every predictor must beat) and :func:`knn_maps` (the mean map
of the k nearest inputs in pixel space: a model-free check of whether the inputs carry information
about their maps at all).
"""

from __future__ import annotations

import numpy as np

from pix2pixai.metrics.statistics import bootstrap_interval


def l1_per_input(predicted: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Mean absolute difference of each pair of maps, float64 [N] (maps [N, ...] of equal shape)."""
    predicted, targets = np.asarray(predicted, np.float64), np.asarray(targets, np.float64)
    if predicted.shape != targets.shape:
        raise ValueError(f"predicted {predicted.shape} and targets {targets.shape} must have equal shapes")
    return np.abs(predicted - targets).reshape(len(targets), -1).mean(axis=1)


def skill_from_errors(errors: np.ndarray, reference_errors: np.ndarray) -> float:
    """``1 - sum(errors) / sum(reference_errors)`` of per-input L1 errors [N]; NaN if the reference is exact."""
    total = float(np.sum(reference_errors))
    return float("nan") if total == 0 else 1.0 - float(np.sum(errors)) / total


def skill_interval(errors: np.ndarray, reference_errors: np.ndarray, *, level: float = 0.95, n_boot: int = 2000,
                   seed: int = 0) -> tuple[float, float, float]:
    """(skill, low, high): :func:`skill_from_errors` and its paired percentile bootstrap interval."""

    def statistic(e: np.ndarray, r: np.ndarray) -> np.ndarray:
        total = r.sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(total > 0, 1.0 - e.sum(axis=1) / np.where(total > 0, total, 1.0), np.nan)

    return bootstrap_interval(statistic, errors, reference_errors, level=level, n_boot=n_boot, seed=seed)


def out_of_fold_means(targets: np.ndarray, groups: np.ndarray, folds: np.ndarray) -> np.ndarray:
    """For each input, the unweighted mean target of the inputs of its group in the *other* folds.

    ``targets`` [N, ...], ``groups`` and ``folds`` [N]. An input whose group has no member in another
    fold gets NaN (no out-of-fold reference exists for it).
    """
    targets = np.asarray(targets, np.float64)
    groups, folds = np.asarray(groups), np.asarray(folds)
    out = np.full(targets.shape, np.nan)
    for group in np.unique(groups):
        members = groups == group
        for fold in np.unique(folds[members]):
            others = members & (folds != fold)
            if others.any():
                out[members & (folds == fold)] = targets[others].mean(axis=0)
    return out


def knn_maps(inputs: np.ndarray, targets: np.ndarray, groups: np.ndarray, folds: np.ndarray, k: int = 5) -> np.ndarray:
    """Out-of-fold k-nearest-neighbour maps: for each input, the unweighted mean target of the ``k``
    inputs of its group in the other folds nearest to it (Euclidean distance on the input pixels).

    ``inputs`` [N, ...] (any shape per input), ``targets`` [N, ...]; fewer than ``k`` candidates use
    all of them; none gives NaN.
    """
    if k < 1:
        raise ValueError(f"k must be >= 1; got {k}")
    flat = np.asarray(inputs, np.float64).reshape(len(inputs), -1)
    targets = np.asarray(targets, np.float64)
    groups, folds = np.asarray(groups), np.asarray(folds)
    squared = np.einsum("ij,ij->i", flat, flat)
    out = np.full(targets.shape, np.nan)
    for group in np.unique(groups):
        members = groups == group
        for fold in np.unique(folds[members]):
            queries = np.flatnonzero(members & (folds == fold))
            pool = np.flatnonzero(members & (folds != fold))
            if pool.size == 0:
                continue
            distances = squared[queries, None] - 2 * flat[queries] @ flat[pool].T + squared[None, pool]
            nearest = np.argsort(distances, axis=1, kind="stable")[:, :k]
            out[queries] = targets[pool[nearest]].mean(axis=1)
    return out
