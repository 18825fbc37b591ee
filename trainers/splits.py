"""Deterministic stratified train/test splits."""

from __future__ import annotations

import numpy as np


def stratified_split(labels: np.ndarray, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Split indices so that every class is represented in proportion in both parts.

    Each class with ``n`` members is shuffled with a generator seeded by ``seed`` and its first
    ``round(test_fraction * n)`` members go to the test part, clipped to ``[1, n - 1]`` when
    ``n >= 2`` so that no class of two or more members is missing from either part (a singleton
    class stays in training). Same labels and seed -> same split.

    Parameters
    ----------
    labels : [N] class labels (any hashable numpy dtype: ints or strings).
    test_fraction : fraction in (0, 1) of each class held out.
    seed : random seed.

    Returns
    -------
    (train_idx, test_idx) : sorted int64 index arrays, disjoint, together covering ``range(N)``.
    """
    labels = np.asarray(labels)
    if labels.ndim != 1 or labels.size == 0:
        raise ValueError(f"stratified_split: labels must be a non-empty 1-D array, got shape {labels.shape}")
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"stratified_split: test_fraction must be in (0, 1), got {test_fraction}")
    rng = np.random.default_rng(seed)
    classes, inverse = np.unique(labels, return_inverse=True)
    test_parts = []
    for c in range(classes.size):
        members = rng.permutation(np.flatnonzero(inverse == c))
        n_test = int(round(test_fraction * members.size))
        if members.size >= 2:
            n_test = min(max(n_test, 1), members.size - 1)
        test_parts.append(members[:n_test])
    test_idx = np.sort(np.concatenate(test_parts)).astype(np.int64)
    train_mask = np.ones(labels.size, dtype=bool)
    train_mask[test_idx] = False
    return np.flatnonzero(train_mask).astype(np.int64), test_idx
