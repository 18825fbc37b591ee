"""Ranking generated maps into a class map, plain pixel-wise aggregates, and agreement between rankings.

Two rankings of the generated maps G(x_i) of one class (Kaushik et al., pix2piXAI):

* fidelity: ``score_i = SSIM(G(x_i), e_i)`` -- how well the generator reproduced input i's own map;
* medoid: ``score_i = mean_{j != i} SSIM(G(x_i), G(x_j))`` -- how typical G(x_i) is of the class.

Orders are best first; ties are broken by the lower index (stable sort on ``-score``), and NaN scores
go last, so the same scores always give the same order.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from pix2pixai.metrics.similarity import ssim, ssim_all_pairs


def rank_order(scores: np.ndarray) -> np.ndarray:
    """Indices of ``scores`` [N] best (highest) first; ties by lower index, NaN last. int64 [N]."""
    s = np.asarray(scores, dtype=np.float64)
    if s.ndim != 1:
        raise ValueError(f"scores must be 1-D [N]; got shape {s.shape}")
    return np.argsort(-s, kind="stable").astype(np.int64)


def fidelity_ranking(generated: np.ndarray, targets: np.ndarray, data_range: float) -> tuple[np.ndarray, np.ndarray]:
    """Rank by ``SSIM(G(x_i), e_i)``: generated [N, H, W] against the true maps targets [N, H, W].

    Returns ``(order, scores)``: int64 [N] best first, float64 [N].
    """
    generated, targets = np.asarray(generated), np.asarray(targets)
    if generated.ndim != 3:
        raise ValueError(f"generated must be [N, H, W]; got shape {generated.shape}")
    scores = ssim(generated, targets, data_range)
    return rank_order(scores), scores


def medoid_ranking(
    generated: np.ndarray, data_range: float, *, memory_budget_bytes: int = 128 * 2**20
) -> tuple[np.ndarray, np.ndarray]:
    """Rank by mean SSIM to every *other* generated map: ``score_i = (sum_j S_ij - S_ii) / (N - 1)``.

    Uses :func:`pix2pixai.metrics.similarity.ssim_all_pairs` (one filtering per map). With a single map the
    mean over no other maps is NaN, as ``np.mean([])``.

    Returns ``(order, scores)``: int64 [N] best first, float64 [N].
    """
    pairs = ssim_all_pairs(generated, data_range, memory_budget_bytes=memory_budget_bytes)
    n = pairs.shape[0]
    scores = (pairs.sum(axis=1) - np.diag(pairs)) / (n - 1) if n > 1 else np.full(n, np.nan)
    return rank_order(scores), scores


def _stack(maps: np.ndarray) -> np.ndarray:
    m = np.asarray(maps, dtype=np.float64)
    if m.ndim < 2 or m.shape[0] == 0:
        raise ValueError(f"maps must be a non-empty stack [N, H, W]; got shape {m.shape}")
    return m


def pixel_mean(maps: np.ndarray) -> np.ndarray:
    """Pixel-wise mean of [N, H, W] -> float64 [H, W] (the plain-averaging baseline)."""
    return _stack(maps).mean(axis=0)


def pixel_median(maps: np.ndarray) -> np.ndarray:
    """Pixel-wise median of [N, H, W] -> float64 [H, W] (robust to a few odd maps)."""
    return np.median(_stack(maps), axis=0)


def trimmed_mean(maps: np.ndarray, proportion: float = 0.1) -> np.ndarray:
    """Pixel-wise mean after dropping the ``floor(proportion * N)`` lowest and highest values per pixel.

    Same convention as ``scipy.stats.trim_mean``; ``proportion`` in [0, 0.5). float64 [H, W].
    """
    m = _stack(maps)
    if not 0 <= proportion < 0.5:
        raise ValueError(f"proportion must be in [0, 0.5); got {proportion}")
    cut = int(proportion * m.shape[0])
    return np.sort(m, axis=0)[cut : m.shape[0] - cut].mean(axis=0)


def kendall_tau(scores_a: np.ndarray, scores_b: np.ndarray) -> float:
    """Kendall's tau-b between two score vectors [N] of the same items (ties handled, O(N log N)).

    ``tau_b = (concordant - discordant) / sqrt((n0 - ties_a)(n0 - ties_b))``, ``n0 = N(N-1)/2``;
    1 = same ranking, -1 = reversed, NaN when one vector is constant.
    """
    a, b = np.asarray(scores_a, dtype=np.float64), np.asarray(scores_b, dtype=np.float64)
    if a.ndim != 1 or a.shape != b.shape or a.size < 2:
        raise ValueError(f"scores_a and scores_b must be 1-D of equal length >= 2; got {a.shape} and {b.shape}")
    return float(stats.kendalltau(a, b, variant="b").statistic)


def topk_agreement(order_a: np.ndarray, order_b: np.ndarray, k: int) -> float:
    """Fraction of items shared by the first ``k`` of two orders: ``|A_k & B_k| / k`` in [0, 1]."""
    a, b = np.asarray(order_a), np.asarray(order_b)
    if a.ndim != 1 or b.ndim != 1:
        raise ValueError(f"orders must be 1-D index arrays; got shapes {a.shape} and {b.shape}")
    if not 1 <= k <= min(a.size, b.size):
        raise ValueError(f"k must be in [1, {min(a.size, b.size)}] for orders of length {a.size}, {b.size}; got {k}")
    return np.intersect1d(a[:k], b[:k]).size / k
