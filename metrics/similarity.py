"""Similarity between explanation maps: exact batched SSIM, all-pairs SSIM, and simple map scores.

SSIM convention (Wang et al. 2004, as in ``skimage.metrics.structural_similarity`` with
``gaussian_weights=True, sigma=1.5, use_sample_covariance=False``):

* local statistics are weighted by a separable Gaussian window of ``win_size`` taps
  (``w_k = exp(-k^2 / (2 sigma^2))``, ``k = -r..r``, ``r = (win_size - 1) // 2``, normalised to sum 1);
  11 taps at sigma 1.5 is skimage's ``truncate=3.5`` window;
* population (weighted) moments: ``var_x = G*(x^2) - (G*x)^2``, ``cov = G*(xy) - (G*x)(G*y)``;
* ``C1 = (K1 R)^2``, ``C2 = (K2 R)^2`` with a *fixed* ``data_range`` R given by the caller (never
  estimated per pair, which would make scores of different pairs incomparable);
* ``S = (2 mu_x mu_y + C1)(2 cov + C2) / ((mu_x^2 + mu_y^2 + C1)(var_x + var_y + C2))`` averaged over
  the pixels kept by the border policy.

Border policy ``border``:

* ``"valid"`` (default): only pixels whose window lies inside the image, i.e. skimage's crop of
  ``r`` pixels from each side. Identical to ``keras.ops.image.ssim`` (float64 in, float64 out) and to
  ``tf.image.ssim`` up to its float32 arithmetic (it casts to float32, so agreement is ~1e-6 for unit
  range maps, not 1e-12). Those two only support "valid", need a trailing channel axis, and average
  over channels.
* ``"same"``: every pixel, the window mirrored at the border (``scipy.ndimage`` mode ``reflect``,
  ``d c b a | a b c d``); equals the mean of skimage's uncropped ``full=True`` SSIM image.

Filtering is a pair of banded matrix products ``G_h x G_w^T`` in float64 (``G_h`` [H', H],
``G_w`` [W', W]), which is what makes :func:`ssim_all_pairs` possible without N^2 filterings.
"""

from __future__ import annotations

import functools
from typing import Literal

import numpy as np
from scipy import ndimage, stats

Border = Literal["valid", "same"]
K1 = 0.01
K2 = 0.03
_CHUNK_BYTES = 64 * 2**20


def gaussian_window(win_size: int = 11, sigma: float = 1.5) -> np.ndarray:
    """The normalised 1-D Gaussian taps [win_size] (float64) of the SSIM window.

    ``w_k = exp(-k^2 / (2 sigma^2)) / sum_k exp(-k^2 / (2 sigma^2))`` for ``k = -r..r``; with 11 taps and
    sigma 1.5 this is exactly ``scipy.ndimage.gaussian_filter(..., sigma=1.5, truncate=3.5)``.
    """
    if win_size < 3 or win_size % 2 == 0:
        raise ValueError(f"win_size must be an odd integer >= 3; got {win_size}")
    if not sigma > 0:
        raise ValueError(f"sigma must be > 0; got {sigma}")
    k = np.arange(win_size, dtype=np.float64) - (win_size - 1) // 2
    taps = np.exp(-0.5 * (k / sigma) ** 2)
    return taps / taps.sum()


def filter_matrix(size: int, taps: np.ndarray, border: Border = "valid") -> np.ndarray:
    """Matrix G [size', size] with ``G @ x`` = the 1-D Gaussian filtering of x along one axis.

    Built by filtering the identity with ``scipy.ndimage.correlate1d`` (mode ``reflect``), so the
    border handling is scipy's by construction; ``"valid"`` keeps the ``size - win + 1`` rows whose
    window does not touch the border (those rows do not depend on the mode).
    """
    if border not in ("valid", "same"):
        raise ValueError(f"border must be 'valid' or 'same'; got {border!r}")
    g = ndimage.correlate1d(np.eye(size), taps, axis=0, mode="reflect")
    if border == "same":
        return g
    r = (taps.size - 1) // 2
    return g[r : size - r]


def _as_maps(name: str, x: np.ndarray) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim not in (2, 3):
        raise ValueError(f"{name} must be [H, W] or [N, H, W]; got shape {x.shape}")
    if not np.issubdtype(x.dtype, np.number) or np.iscomplexobj(x):
        raise ValueError(f"{name} must be real numbers; got dtype {x.dtype}")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{name} has non-finite values (NaN/inf); SSIM is undefined there")
    return x


def _check_pair(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a, b = _as_maps("a", a), _as_maps("b", b)
    if a.shape != b.shape:
        raise ValueError(f"a and b must have the same shape; got {a.shape} and {b.shape}")
    return a, b


def _check_range(data_range: float) -> float:
    r = float(data_range)
    if not np.isfinite(r) or r <= 0:
        raise ValueError(f"data_range must be a finite number > 0 (1 for [0,1] maps, 2 for [-1,1]); got {data_range}")
    return r


def _window(shape: tuple[int, int], win_size: int, sigma: float, border: Border) -> tuple[np.ndarray, np.ndarray]:
    """Filter matrices (G_h [H', H], G_w [W', W]) for maps of ``shape``."""
    if border == "valid" and min(shape) < win_size:
        raise ValueError(f"maps of shape {shape} are smaller than win_size={win_size} (border='valid' needs H, W >= win_size)")
    taps = gaussian_window(win_size, sigma)
    return filter_matrix(shape[0], taps, border), filter_matrix(shape[1], taps, border)


def _filter(gh: np.ndarray, gw: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Separable filtering of [..., H, W] -> [..., H', W'] as ``G_h x G_w^T`` (float64)."""
    return gh @ x @ gw.T


def _ssim_map(mu_x, mu_y, var_x, var_y, cov, c1: float, c2: float) -> np.ndarray:
    return ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2))


def ssim(
    a: np.ndarray,
    b: np.ndarray,
    data_range: float,
    *,
    win_size: int = 11,
    sigma: float = 1.5,
    border: Border = "valid",
) -> np.ndarray | np.float64:
    """Mean SSIM of each pair (a[n], b[n]).

    Parameters
    ----------
    a, b : [N, H, W] or [H, W]
        Maps in the same fixed range; any real dtype (computed in float64).
    data_range : float
        R in ``C1 = (0.01 R)^2``, ``C2 = (0.03 R)^2``: 1 for [0, 1] maps, 2 for [-1, 1] maps.
    win_size, sigma : Gaussian window (taps, standard deviation in pixels).
    border : ``"valid"`` (skimage's crop) or ``"same"`` (mirrored window, every pixel).

    Returns
    -------
    float64 [N], or a float64 scalar for a single [H, W] pair; 1 for identical maps.
    """
    a, b = _check_pair(a, b)
    r = _check_range(data_range)
    single = a.ndim == 2
    x = (a[None] if single else a).astype(np.float64, copy=False)
    y = (b[None] if single else b).astype(np.float64, copy=False)
    gh, gw = _window(x.shape[1:], win_size, sigma, border)
    c1, c2 = (K1 * r) ** 2, (K2 * r) ** 2
    chunk = max(1, _CHUNK_BYTES // (5 * 8 * x.shape[1] * x.shape[2]))
    out = np.empty(x.shape[0], dtype=np.float64)
    for start in range(0, x.shape[0], chunk):
        xs, ys = x[start : start + chunk], y[start : start + chunk]
        mu_x, mu_y, xx, yy, xy = _filter(gh, gw, np.stack([xs, ys, xs * xs, ys * ys, xs * ys]))
        s = _ssim_map(mu_x, mu_y, xx - mu_x**2, yy - mu_y**2, xy - mu_x * mu_y, c1, c2)
        out[start : start + chunk] = s.mean(axis=(1, 2))
    return out[0] if single else out


def ssim_all_pairs(
    maps: np.ndarray,
    data_range: float,
    *,
    win_size: int = 11,
    sigma: float = 1.5,
    border: Border = "valid",
    memory_budget_bytes: int = 192 * 2**20,
) -> np.ndarray:
    """SSIM of every pair of maps, float64 [N, N] (symmetric), without N^2 separate filterings.

    The per-map terms (``mu_i = G x_i``, ``var_i = G x_i^2 - mu_i^2``) are filtered once. Only the
    cross term needs every pair: ``G(x_i * x_j) = G_h (x_i o x_j) G_w^T``. For a block of rows I and
    columns J it is two batched matrix products,

    ``T[h, (i, q), j] = sum_w (x_i[h, w] G_w[q, w]) x_j[h, w]`` (a GEMM per image row h), then
    ``C[p, (i, q, j)] = sum_h G_h[p, h] T[h, (i, q, j)]`` (one GEMM),

    i.e. ``2 H W W' + 2 H' H W'`` flops per pair (~76 k at 32x32), followed by the SSIM formula and
    the pixel mean fused into one pass (XLA-compiled TensorFlow, float64). Only blocks with ``J >= I``
    are computed (symmetry). A block holds about ``(H W' + H' W') * 8`` bytes per pair, which bounds
    its side by ``memory_budget_bytes``; within that bound the side is chosen by
    :func:`_block_side`, and the maps are zero-padded to a whole number of blocks so that one
    compiled kernel serves every block. The maps go to TensorFlow once and are sliced per block.

    Parameters
    ----------
    maps : [N, H, W]
    data_range, win_size, sigma, border : as in :func:`ssim`.
    memory_budget_bytes : working memory of one block (default 192 MiB).

    Returns
    -------
    float64 [N, N]; ``S[i, j] == ssim(maps[i], maps[j])`` to float64 round-off (~1e-12).
    """
    x = _as_maps("maps", maps)
    if x.ndim != 3:
        raise ValueError(f"maps must be [N, H, W]; got shape {x.shape}")
    r = _check_range(data_range)
    x = x.astype(np.float64, copy=False)
    n, h, w = x.shape
    gh, gw = _window((h, w), win_size, sigma, border)
    p, q = gh.shape[0], gw.shape[0]
    c1, c2 = (K1 * r) ** 2, (K2 * r) ** 2
    mu = _filter(gh, gw, x)
    var = _filter(gh, gw, x * x) - mu**2
    largest = max(1, int(np.sqrt(max(1, memory_budget_bytes) / ((h * q + p * q) * 8))))
    block = _block_side(n, largest)
    n_pad = -(-n // block) * block
    # Zero-padded maps keep the formula finite (denominators >= C1 C2 > 0); their rows are dropped.
    per_map = [np.concatenate([v, np.zeros((n_pad - n,) + v.shape[1:])]) for v in (x, mu, mu**2 + c1 / 2, var + c2 / 2)]
    kernel, as_tensor = _pair_block_kernel()
    per_map = [as_tensor(v) for v in per_map]
    consts = [as_tensor(v) for v in (np.float64(c1), np.float64(c2), gh, gw)]
    out = np.empty((n_pad, n_pad), dtype=np.float64)
    for i0 in range(0, n_pad, block):
        rows = slice(i0, i0 + block)
        row_args = [v[rows] for v in per_map]
        for j0 in range(i0, n_pad, block):
            cols = slice(j0, j0 + block)
            s = kernel(*row_args, *[v[cols] for v in per_map], *consts).numpy()
            if i0 == j0:
                s = (s + s.T) / 2
            out[rows, cols] = s
            out[cols, rows] = s.T
    return out[:n, :n]


#: Cost of one kernel call beyond its pairs (dispatch, slicing, copying the result back), in
#: pair-equivalents; measured ~5 ms per call against ~4 us per pair at 32x32 on the 2-core test machine.
_BLOCK_OVERHEAD_PAIRS = 2048


def _block_side(n: int, largest: int) -> int:
    """Block side for N maps: a multiple of 16 (so that groups of similar size share one compiled
    kernel) up to ``largest`` (the memory bound), minimising the work actually done,
    ``blocks * (side^2 + overhead)`` with ``blocks = nb (nb + 1) / 2`` upper-triangle blocks of a
    padded ``nb * side`` square. Padding and the full diagonal blocks are wasted pairs; too small a
    block pays the per-call overhead and smaller matrix products. Ties go to the larger side.
    """
    sides = range(16, max(16, largest - largest % 16) + 1, 16)

    def cost(side: int) -> float:
        nb = -(-n // side)
        return nb * (nb + 1) / 2 * (side * side + _BLOCK_OVERHEAD_PAIRS)

    return min(sides, key=lambda side: (cost(side), -side)) if largest >= 16 else largest


@functools.cache
def _pair_block_kernel():
    """XLA-compiled SSIM of one block of pairs, and TensorFlow's ``convert_to_tensor`` (TensorFlow
    is imported on first use only).

    Inputs per side of the block (rows i, columns j): maps [b, H, W], ``mu`` [b, H', W'],
    ``lum = mu^2 + C1/2``, ``con = var + C2/2``; then C1, C2, G_h [H', H], G_w [W', W]. Returns the
    mean SSIM [bi, bj]. Only the block's shape is compiled in, never N, so one compiled kernel
    serves every N with the same block side. The cross term is laid out [H', bi, W', bj] (column
    index innermost) so that both products are plain GEMMs; denominators are ``lum_i + lum_j`` and
    ``con_i + con_j``.
    """
    import tensorflow as tf

    @tf.function(jit_compile=True)
    def kernel(x_i, mu_i, lum_i, con_i, x_j, mu_j, lum_j, con_j, c1, c2, gh, gw):
        (bi, h, w), bj = x_i.shape, x_j.shape[0]
        p, q = gh.shape[0], gw.shape[0]
        weighted = tf.transpose(x_i[:, :, None, :] * gw[None, None], (1, 0, 2, 3))  # [H, bi, Q, W]
        t = tf.matmul(tf.reshape(weighted, (h, -1, w)), tf.transpose(x_j, (1, 2, 0)))  # [H, bi*Q, bj]
        cross = tf.reshape(tf.matmul(gh, tf.reshape(t, (h, -1))), (p, bi, q, bj))

        def rows(v):  # [bi, P, Q] -> [P, bi, Q, 1]
            return tf.transpose(v, (1, 0, 2))[:, :, :, None]

        def cols(v):  # [bj, P, Q] -> [P, 1, Q, bj]
            return tf.transpose(v, (1, 2, 0))[:, None]

        mumu = rows(mu_i) * cols(mu_j)
        num = (2 * mumu + c1) * (2 * (cross - mumu) + c2)
        den = (rows(lum_i) + cols(lum_j)) * (rows(con_i) + cols(con_j))
        return tf.reduce_mean(num / den, axis=(0, 2))

    return kernel, tf.convert_to_tensor


def _flat_pair(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Validated [N, H*W] float64 views of two equal-shape map batches ([H, W] -> N = 1)."""
    a, b = _check_pair(a, b)
    a3, b3 = (a[None], b[None]) if a.ndim == 2 else (a, b)
    return a3.reshape(a3.shape[0], -1).astype(np.float64), b3.reshape(b3.shape[0], -1).astype(np.float64)


def _unwrap(values: np.ndarray, like: np.ndarray):
    return values[0] if np.ndim(like) == 2 else values


def mse(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Mean squared difference per pair, ``mean_p (a_p - b_p)^2``, float64 [N] (scalar for [H, W])."""
    fa, fb = _flat_pair(a, b)
    return _unwrap(np.mean((fa - fb) ** 2, axis=1), a)


def pearson(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson correlation of the pixel values per pair, float64 [N] in [-1, 1].

    ``r = sum (a - mean a)(b - mean b) / sqrt(sum (a - mean a)^2 sum (b - mean b)^2)``; NaN when a map
    is constant (the correlation is undefined, as in scipy).
    """
    fa, fb = _flat_pair(a, b)
    return _unwrap(_pearson_rows(fa, fb), a)


def _pearson_rows(fa: np.ndarray, fb: np.ndarray) -> np.ndarray:
    da = fa - fa.mean(axis=1, keepdims=True)
    db = fb - fb.mean(axis=1, keepdims=True)
    denom = np.sqrt(np.sum(da * da, axis=1) * np.sum(db * db, axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denom > 0, np.sum(da * db, axis=1) / np.where(denom > 0, denom, 1), np.nan)


def spearman(a: np.ndarray, b: np.ndarray, *, mask: np.ndarray | None = None) -> np.ndarray:
    """Spearman rank correlation per pair (Pearson of average ranks, ties averaged), float64 [N].

    ``mask`` (bool, shaped like ``a``, or one [H, W] for every pair) restricts each pair to its
    selected pixels, e.g. the occupied bins of a dmdt: empty bins all tie at the bottom of both
    rankings and would otherwise inflate the correlation of any two maps. NaN where fewer than two
    pixels are selected or a selection is constant.
    """
    fa, fb = _flat_pair(a, b)
    if mask is None:
        return _unwrap(_pearson_rows(stats.rankdata(fa, axis=1), stats.rankdata(fb, axis=1)), a)
    selected = np.broadcast_to(np.asarray(mask, dtype=bool), np.shape(a)).reshape(fa.shape)
    out = np.full(fa.shape[0], np.nan)
    for i in range(fa.shape[0]):
        keep = selected[i]
        if keep.sum() >= 2:
            out[i] = _pearson_rows(stats.rankdata(fa[i, keep])[None], stats.rankdata(fb[i, keep])[None])[0]
    return _unwrap(out, a)


def cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cosine similarity ``a.b / (|a| |b|)`` of the flattened maps per pair, float64 [N]; NaN for a zero map."""
    fa, fb = _flat_pair(a, b)
    denom = np.linalg.norm(fa, axis=1) * np.linalg.norm(fb, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return _unwrap(np.where(denom > 0, np.sum(fa * fb, axis=1) / np.where(denom > 0, denom, 1), np.nan), a)


def top_k_count(n_pixels: int, k_fraction: float) -> int:
    """Number of pixels in a top-``k_fraction`` set: ``max(1, round(k_fraction * n_pixels))``."""
    if not 0 < k_fraction <= 1:
        raise ValueError(f"k_fraction must be in (0, 1]; got {k_fraction}")
    return max(1, int(round(k_fraction * n_pixels)))


def top_k_mask(maps: np.ndarray, k_fraction: float) -> np.ndarray:
    """Boolean [N, H*W] mask of each map's ``k`` highest pixels (ties broken by lower flat index)."""
    flat = maps.reshape(maps.shape[0], -1)
    k = top_k_count(flat.shape[1], k_fraction)
    order = np.argsort(-flat, axis=1, kind="stable")[:, :k]
    mask = np.zeros(flat.shape, dtype=bool)
    np.put_along_axis(mask, order, True, axis=1)
    return mask


def topk_overlap(a: np.ndarray, b: np.ndarray, k_fraction: float) -> np.ndarray:
    """Fraction of shared pixels between the top-k sets of a and b, ``|T_k(a) & T_k(b)| / k``, float64 [N].

    ``k = max(1, round(k_fraction * H * W))``; ranking by value (signed maps: the most positive).
    """
    fa, fb = _flat_pair(a, b)
    ma, mb = top_k_mask(fa, k_fraction), top_k_mask(fb, k_fraction)
    return _unwrap(np.sum(ma & mb, axis=1) / ma.sum(axis=1), a)
