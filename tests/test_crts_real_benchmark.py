"""The real-CRTS benchmark's paired standard errors, checked against sklearn and a direct bootstrap."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import f1_score

from tests.conftest import load_script


@pytest.fixture(scope="module")
def bench():
    """The benchmark script loaded as a module (scripts/ is not a package)."""
    return load_script("crts_real_benchmark")


def _predictions(rng: np.random.Generator, y: np.ndarray, p_correct: float) -> np.ndarray:
    return np.where(rng.random(y.shape) < p_correct, y, rng.integers(0, 7, y.shape))


def test_batched_macro_f1_is_sklearns_over_the_present_classes(bench):
    rng = np.random.default_rng(0)
    y = rng.integers(0, 7, (6, 120))
    y[0][y[0] == 3] = 4  # a resample without class 3
    pred = _predictions(rng, y, 0.7)
    expected = [f1_score(y[i], pred[i], labels=np.unique(y[i]), average="macro", zero_division=0) for i in range(6)]
    np.testing.assert_allclose(bench._macro_f1_rows(y, pred), expected, rtol=1e-12)


def test_paired_standard_errors(bench):
    rng = np.random.default_rng(1)
    y = rng.integers(0, 7, 400)
    a, b = _predictions(rng, y, 0.8), _predictions(rng, y, 0.75)
    acc_se, f1_se = bench.paired_difference_se(y, a, b, seed=3, n_bootstrap=200)
    gain = (a == y).astype(float) - (b == y)
    assert acc_se == pytest.approx(gain.std(ddof=1) / np.sqrt(400))
    replay = np.random.default_rng(3).integers(0, 400, size=(200, 400))
    diffs = [f1_score(y[k], a[k], labels=np.unique(y[k]), average="macro")
             - f1_score(y[k], b[k], labels=np.unique(y[k]), average="macro") for k in replay]
    assert f1_se == pytest.approx(np.std(diffs, ddof=1), rel=1e-9)
    assert bench.paired_difference_se(y, a, a, seed=0, n_bootstrap=50) == (0.0, 0.0)
