"""Is a map faithful to the model? Deletion/insertion curves, localisation, randomisation, stability.

Conventions:

* ``score_fn(images [B, H, W, C]) -> [B]`` is the target-class score (probability or logit); the caller
  wraps the model, so these metrics never touch a classifier directly.
* ``delete_fn(images [B, H, W, C], mask [B, H, W] bool) -> images`` says what removing the masked
  pixels means for the domain (default :func:`zero_pixels`; the dmdt layer sets bins empty and
  renormalises). Insertion uses the same callable: "inserted" = every pixel not yet inserted removed.
* Pixels are removed in decreasing map value (signed maps: most positive first); ties by lower flat
  index, so the same map always gives the same curve.
* Every localisation score has a random baseline beside it (:func:`versus_random`): a
  pixel-shuffled copy of the map keeps its value distribution and loses only its placement.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from pix2pixai.metrics.similarity import spearman, ssim, ssim_all_pairs

ScoreFn = Callable[[np.ndarray], np.ndarray]
DeleteFn = Callable[[np.ndarray, np.ndarray], np.ndarray]


def zero_pixels(images: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Default removal: masked pixels set to 0 in every channel ([B, H, W, C], mask [B, H, W])."""
    return np.where(mask[..., None], np.zeros((), dtype=images.dtype), images)


#: ROAD's neighbour weights (Rong et al. 2022): 1/6 for the 4 direct neighbours, 1/12 for the diagonals.
_ROAD_NEIGHBOURS: tuple[tuple[int, int, float], ...] = (
    (-1, 0, 1 / 6), (1, 0, 1 / 6), (0, -1, 1 / 6), (0, 1, 1 / 6),
    (-1, -1, 1 / 12), (-1, 1, 1 / 12), (1, -1, 1 / 12), (1, 1, 1 / 12),
)


def noisy_linear_imputation(noise_std: float = 0.01, seed: int = 0) -> DeleteFn:
    """ROAD's removal (Rong et al. 2022, "A Consistent and Efficient Evaluation Strategy for
    Attribution Methods"): each removed pixel becomes the weighted mean of its 8 neighbours (removed
    neighbours included, so the removed region is filled by solving one sparse linear system per
    image, all channels at once), plus Gaussian noise of ``noise_std``.

    Zeroing pixels makes an input out of distribution, so the classifier's score can move for that
    reason alone (a zeroed ZTF cutout looks *more* bogus); an imputed region keeps the local image
    statistics and leaks little of the removed pixels' placement. A region with no kept pixel around
    it (every pixel removed) is filled with the mean of the image's kept pixels, or 0 when none is
    kept (a weak pull of weight 1e-6 towards that value keeps every system solvable).
    Returns a ``delete_fn``.
    """
    from scipy import sparse
    from scipy.sparse.linalg import spsolve

    rng = np.random.default_rng(seed)

    def impute(images: np.ndarray, mask: np.ndarray) -> np.ndarray:
        out = np.array(images, dtype=np.float64, copy=True)
        _, h, w, c = out.shape
        for b in range(out.shape[0]):
            removed = np.flatnonzero(mask[b])
            if removed.size == 0:
                continue
            flat = out[b].reshape(h * w, c)
            kept = np.ones(h * w, dtype=bool)
            kept[removed] = False
            fill = flat[kept].mean(axis=0) if kept.any() else np.zeros(c)
            unknown = np.full(h * w, -1)
            unknown[removed] = np.arange(removed.size)
            rows, cols = np.divmod(removed, w)
            entries_r, entries_c, values = [np.arange(removed.size)], [np.arange(removed.size)], [np.full(removed.size, 1e-6)]
            rhs = np.tile(1e-6 * fill, (removed.size, 1))
            for dr, dc, weight in _ROAD_NEIGHBOURS:
                r, q = rows + dr, cols + dc
                k = np.flatnonzero((r >= 0) & (r < h) & (q >= 0) & (q < w))
                neighbour = r[k] * w + q[k]
                entries_r.append(k), entries_c.append(k), values.append(np.full(k.size, weight))
                inner = unknown[neighbour] >= 0
                entries_r.append(k[inner]), entries_c.append(unknown[neighbour[inner]])
                values.append(np.full(int(inner.sum()), -weight))
                np.add.at(rhs, k[~inner], weight * flat[neighbour[~inner]])
            system = sparse.csc_matrix((np.concatenate(values), (np.concatenate(entries_r), np.concatenate(entries_c))),
                                       shape=(removed.size, removed.size))
            solved = np.asarray(spsolve(system, rhs)).reshape(removed.size, c)
            flat[removed] = solved + rng.normal(0.0, noise_std, size=solved.shape)
        return out.astype(images.dtype, copy=False)

    return impute


def _inputs_and_maps(inputs: np.ndarray, maps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x, m = np.asarray(inputs), np.asarray(maps)
    if x.ndim != 4:
        raise ValueError(f"inputs must be [N, H, W, C]; got shape {x.shape}")
    if m.ndim == 2:
        m = np.broadcast_to(m, (x.shape[0],) + m.shape)
    if m.ndim != 3 or m.shape != x.shape[:3]:
        raise ValueError(f"maps must be [N, H, W] or one class map [H, W] matching inputs {x.shape}; got {np.shape(maps)}")
    if not np.all(np.isfinite(m)):
        raise ValueError("maps have non-finite values (NaN/inf); the removal order is undefined")
    return x, m


def removal_rank(maps: np.ndarray) -> np.ndarray:
    """Position of every pixel in its map's removal order, int64 [N, H, W] (0 = removed first).

    Order: decreasing value, ties by lower flat index (stable sort of ``-map``).
    """
    flat = maps.reshape(maps.shape[0], -1)
    order = np.argsort(-flat, axis=1, kind="stable")
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.arange(flat.shape[1])[None], axis=1)
    return rank.reshape(maps.shape)


def _eligible_pixels(eligible: np.ndarray | None, shape: tuple[int, int, int]) -> np.ndarray:
    """Boolean [N, H, W] of the pixels a curve may remove (all of them when ``eligible`` is None)."""
    if eligible is None:
        return np.ones(shape, dtype=bool)
    e = np.asarray(eligible, dtype=bool)
    if e.ndim == 2:
        e = np.broadcast_to(e, shape)
    if e.shape != shape:
        raise ValueError(f"eligible must be [N, H, W] or [H, W] matching maps {shape}; got {np.shape(eligible)}")
    return e


def _curve(
    score_fn: ScoreFn, inputs: np.ndarray, maps: np.ndarray, *, delete_fn: DeleteFn, steps: int, batch_size: int,
    insertion: bool, eligible: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Shared body of the deletion (remove the top pixels) and insertion (remove all but the top) curves."""
    if steps < 1:
        raise ValueError(f"steps must be >= 1; got {steps}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1; got {batch_size}")
    x, m = _inputs_and_maps(inputs, maps)
    n, h, w = m.shape
    allowed = _eligible_pixels(eligible, m.shape)
    fractions = np.linspace(0.0, 1.0, steps + 1)
    # counts[i, s]: how many of input i's eligible pixels step s removes
    counts = np.round(fractions[None] * allowed.reshape(n, -1).sum(axis=1)[:, None]).astype(np.int64)
    rank = removal_rank(np.where(allowed, m, -np.inf))  # eligible pixels first, in map order
    # Every (input, step) image is one row of a flat work list, scored in batches of batch_size.
    item = np.repeat(np.arange(n), steps + 1)
    step = np.tile(np.arange(steps + 1), n)
    scores = np.empty(item.size, dtype=np.float64)
    for start in range(0, item.size, batch_size):
        i, s = item[start : start + batch_size], step[start : start + batch_size]
        top = rank[i] < counts[i, s][:, None, None]  # the first counts[i, s] eligible pixels of each map
        images = delete_fn(x[i], (allowed[i] & ~top) if insertion else top)
        got = np.asarray(score_fn(images), dtype=np.float64).reshape(-1)
        if got.shape != (i.size,):
            raise ValueError(f"score_fn must return one score per image [{i.size}]; got shape {np.shape(got)}")
        scores[start : start + i.size] = got
    return fractions, scores.reshape(n, steps + 1)


def deletion_curve(
    score_fn: ScoreFn,
    inputs: np.ndarray,
    maps: np.ndarray,
    *,
    delete_fn: DeleteFn = zero_pixels,
    steps: int = 20,
    batch_size: int = 256,
    eligible: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Score as the most relevant pixels are removed (Petsiuk et al. 2018, RISE).

    Step s removes the ``round(s / steps * n_i)`` highest-ranked of input i's ``n_i`` eligible pixels
    (all ``H * W`` by default). For sparse inputs such as dmdts pass the occupied bins as
    ``eligible`` (removing an empty bin changes nothing) and ``steps`` >= their count, so that each
    step removes about one bin and the curve resolves the ranking instead of saturating.

    Parameters
    ----------
    score_fn : images [B, H, W, C] -> target-class scores [B].
    inputs : [N, H, W, C]
    maps : [N, H, W], or one class map [H, W] applied to every input.
    delete_fn : removal, ``(images, mask [B, H, W]) -> images``.
    steps : number of equal fractions; the curve has ``steps + 1`` points (0 % ... 100 % removed).
    batch_size : images per ``score_fn`` call.
    eligible : bool [N, H, W] or [H, W], optional; the pixels that may be removed (None: all).

    Returns
    -------
    fractions : float64 [steps + 1], 0 to 1.
    scores : float64 [N, steps + 1]; a faithful map makes it fall fast (low AUC).
    """
    return _curve(score_fn, inputs, maps, delete_fn=delete_fn, steps=steps, batch_size=batch_size, insertion=False,
                  eligible=eligible)


def insertion_curve(
    score_fn: ScoreFn,
    inputs: np.ndarray,
    maps: np.ndarray,
    *,
    delete_fn: DeleteFn = zero_pixels,
    steps: int = 20,
    batch_size: int = 256,
    eligible: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Score as the most relevant pixels are put back into an all-removed input.

    Step s keeps the ``round(s / steps * n_i)`` highest-ranked eligible pixels and removes the other
    eligible pixels with ``delete_fn``. Same parameters and returns as :func:`deletion_curve`; a faithful map makes the
    curve rise fast (high AUC).
    """
    return _curve(score_fn, inputs, maps, delete_fn=delete_fn, steps=steps, batch_size=batch_size, insertion=True,
                  eligible=eligible)


def curve_auc(fractions: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Trapezoid area under ``scores`` [..., S] over ``fractions`` [S] spanning [0, 1] -> [...].

    ``AUC = sum_s (f_{s+1} - f_s) (y_s + y_{s+1}) / 2``; in score units, since the fraction axis has length 1.
    """
    f, y = np.asarray(fractions, dtype=np.float64), np.asarray(scores, dtype=np.float64)
    if f.ndim != 1 or f.size < 2 or y.shape[-1] != f.size:
        raise ValueError(f"fractions must be 1-D [S >= 2] matching scores' last axis; got {f.shape} and {y.shape}")
    if f[0] != 0 or f[-1] != 1 or np.any(np.diff(f) <= 0):
        raise ValueError("fractions must increase strictly from 0 to 1")
    return np.sum(np.diff(f) * (y[..., 1:] + y[..., :-1]) / 2, axis=-1)


def _maps_and_masks(maps: np.ndarray, masks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    m, k = np.asarray(maps, dtype=np.float64), np.asarray(masks)
    if m.ndim != 3 or k.shape != m.shape:
        raise ValueError(f"maps and masks must both be [N, H, W]; got {m.shape} and {k.shape}")
    if k.dtype != bool:
        raise ValueError(f"masks must be boolean (True = relevant pixel); got dtype {k.dtype}")
    return m, k


def energy_in_mask(maps: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """Fraction of each map's absolute mass inside its mask, ``sum_{p in M} |m_p| / sum_p |m_p|``.

    maps [N, H, W], masks [N, H, W] bool -> float64 [N] in [0, 1]; NaN for an all-zero map. A random
    placement scores the mask's area fraction on average.
    """
    m, k = _maps_and_masks(maps, masks)
    mass = np.abs(m).reshape(len(m), -1)
    total = mass.sum(axis=1)
    inside = np.where(k.reshape(len(k), -1), mass, 0.0).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, inside / np.where(total > 0, total, 1), np.nan)


def pointing_game(maps: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """Whether each map's maximum lies inside its mask (Zhang et al. 2018): bool [N].

    Ties: the first maximum in row-major order.
    """
    m, k = _maps_and_masks(maps, masks)
    peak = np.argmax(m.reshape(len(m), -1), axis=1)
    return k.reshape(len(k), -1)[np.arange(len(k)), peak]


def random_map_baseline(maps: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Pixel-shuffled copy of a map [H, W] or of each map of [N, H, W] (independent permutations).

    Keeps the value histogram, destroys the placement: the floor any localisation score must beat.
    """
    m = np.asarray(maps)
    if m.ndim not in (2, 3):
        raise ValueError(f"maps must be [H, W] or [N, H, W]; got shape {m.shape}")
    flat = m.reshape(-1, m.shape[-2] * m.shape[-1])
    return rng.permuted(flat, axis=1).reshape(m.shape)


def versus_random(
    metric: Callable[..., np.ndarray],
    maps: np.ndarray,
    *args: Any,
    rng: np.random.Generator,
    n_draws: int = 8,
) -> tuple[np.ndarray, np.ndarray]:
    """A map score with its random baseline beside it: ``(metric(maps, *args), baseline)``.

    ``baseline`` is ``metric`` on pixel-shuffled maps (:func:`random_map_baseline`), averaged over
    ``n_draws`` shuffles, same shape as the score (for :func:`pointing_game` it is a hit rate).
    """
    if n_draws < 1:
        raise ValueError(f"n_draws must be >= 1; got {n_draws}")
    draws = [np.asarray(metric(random_map_baseline(maps, rng), *args), dtype=np.float64) for _ in range(n_draws)]
    return metric(maps, *args), np.mean(draws, axis=0)


def method_agreement(class_maps: dict[str, np.ndarray], data_range: float) -> dict[str, Any]:
    """How much explanation methods agree on one class: pairwise SSIM and Spearman of their class maps.

    Parameters
    ----------
    class_maps : method name -> class map [H, W], all in the same fixed range.
    data_range : the SSIM range of that common scale (1 or 2).

    Returns
    -------
    ``{"methods": [M names], "ssim": float64 [M, M], "spearman": float64 [M, M]}`` (symmetric, rows
    and columns in ``methods`` order).
    """
    names = list(class_maps)
    if len(names) < 2:
        raise ValueError(f"method_agreement needs >= 2 class maps; got {names}")
    stack = np.stack([np.asarray(class_maps[k], dtype=np.float64) for k in names])
    i, j = np.meshgrid(np.arange(len(names)), np.arange(len(names)), indexing="ij")
    rho = spearman(stack[i.ravel()], stack[j.ravel()]).reshape(i.shape)
    return {"methods": names, "ssim": ssim_all_pairs(stack, data_range), "spearman": rho}


def stability_pairs(class_maps_by_seed: np.ndarray, data_range: float) -> np.ndarray:
    """SSIM of every pair i < j of class maps [S, H, W] built with different seeds, float64 [S (S - 1) / 2].

    Pairs in row-major upper-triangle order ((0, 1), (0, 2), ..., (1, 2), ...). The whole set, not
    only its mean, because one unlucky seed (a collapsed generator) shows in the minimum.
    """
    maps = np.asarray(class_maps_by_seed)
    if maps.ndim != 3 or maps.shape[0] < 2:
        raise ValueError(f"class_maps_by_seed must be [S >= 2, H, W]; got shape {maps.shape}")
    return ssim_all_pairs(maps, data_range)[np.triu_indices(len(maps), k=1)]


def stability(class_maps_by_seed: np.ndarray, data_range: float) -> float:
    """Mean SSIM over all pairs i < j of class maps [S, H, W] built with different seeds (1 = identical)."""
    return float(stability_pairs(class_maps_by_seed, data_range).mean())


def _unit_signed(maps: np.ndarray) -> np.ndarray:
    """Each map divided by its max |value| (an all-zero map stays zero): [-1, 1], SSIM data_range 2."""
    m = np.asarray(maps, dtype=np.float64)
    peak = np.abs(m).reshape(len(m), -1).max(axis=1)
    return m / np.where(peak > 0, peak, 1.0)[:, None, None]


def cascading_randomised_maps(
    model,
    explain_fn: Callable[[Any, np.ndarray], np.ndarray],
    x: np.ndarray,
    *,
    seed: int,
    layers: Sequence[str] | None = None,
) -> tuple[np.ndarray, list[tuple[str, np.ndarray]]]:
    """The maps of cascading layer randomisation (Adebayo et al. 2018), before and after each layer.

    On a clone of ``model`` (``keras.models.clone_model`` + ``set_weights``; the user's model is never
    touched) the trainable weights of ``layers`` (default: every layer with weights, output side
    first) are replaced one layer at a time, cumulatively, by i.i.d. normal values with each
    variable's original mean and standard deviation (constant variables, e.g. zero biases, stay as
    they are). After each layer ``explain_fn(clone, x)`` is called again.

    Separate from :func:`cascading_randomisation` so that a caller can compare each stage with
    references other than the original maps (``pix2pixai.compare`` scores several candidate class
    maps against one cascade without recomputing it).

    Returns
    -------
    ``(original, [(layer_name, maps), ...])``: ``explain_fn`` of the intact clone, then of the clone
    after each cumulative randomisation, in randomisation order (one entry per layer).
    """
    import keras

    clone = keras.models.clone_model(model)
    clone.set_weights(model.get_weights())
    by_name = {layer.name: layer for layer in clone.layers}
    names = [layer.name for layer in reversed(clone.layers) if layer.trainable_weights] if layers is None else list(layers)
    unknown = [k for k in names if k not in by_name or not by_name[k].trainable_weights]
    if unknown:
        raise ValueError(f"layers {unknown} are not layers with trainable weights of this model; have {sorted(by_name)}")
    original = np.asarray(explain_fn(clone, x))
    rng = np.random.default_rng(seed)
    stages = []
    for name in names:
        for variable in by_name[name].trainable_weights:
            value = np.asarray(variable.numpy(), dtype=np.float64)
            drawn = rng.normal(value.mean(), value.std(), size=value.shape)
            variable.assign(drawn.astype(variable.dtype))
        stages.append((name, np.asarray(explain_fn(clone, x))))
    return original, stages


def cascading_randomisation(
    model,
    explain_fn: Callable[[Any, np.ndarray], np.ndarray],
    x: np.ndarray,
    *,
    seed: int,
    layers: Sequence[str] | None = None,
    data_range: float | None = None,
) -> list[tuple[str, float]]:
    """Model-parameter randomisation test, cascading from the top (Adebayo et al. 2018).

    The maps of :func:`cascading_randomised_maps` after each cumulative layer randomisation are
    compared with the original maps by SSIM.

    Parameters
    ----------
    model : keras.Model
    explain_fn : ``(model, x) -> maps [N, H, W]``.
    x : inputs passed to ``explain_fn``.
    seed : seeds the random weights (same seed, same result).
    layers : layer names in randomisation order.
    data_range : SSIM range when the maps are already on a fixed scale; by default each map is
        divided by its max |value| and SSIM uses range 2.

    Returns
    -------
    ``[(layer_name, mean SSIM to the original maps), ...]`` in randomisation order; a faithful map
    falls well below 1.
    """

    def comparable(maps: np.ndarray) -> np.ndarray:
        return np.asarray(maps, dtype=np.float64) if data_range is not None else _unit_signed(maps)

    original, stages = cascading_randomised_maps(model, explain_fn, x, seed=seed, layers=layers)
    reference = comparable(original)
    r = 2.0 if data_range is None else data_range
    return [(name, float(np.mean(ssim(reference, comparable(maps), r)))) for name, maps in stages]
