"""Which class map is most faithful? The aggregation-metric comparison.

For every (group, method) the candidates are: the fidelity-ranked top generated map, the
medoid-ranked top generated map, the pixel-wise mean and median of the input-specific maps, the
mean of the generated maps, and a pixel-shuffled random map (the floor every candidate must beat).
Each candidate is applied to every class-map input of the group and scored by

* deletion AUC (lower = the map finds what the classifier needs sooner),
* insertion AUC (higher = better),
* energy-in-mask, where ground-truth relevance masks exist (simulated triplets),
* sanity, cascading layer randomisation (Adebayo et al. 2018): the classifier's layers are
  randomised from the output down, cumulatively, and after each layer the method's explanations
  of ``compare.cascading_inputs`` class-map inputs are recomputed and averaged (in the generator's
  unit scale). The curve is SSIM(candidate, that randomised mean map) per stage; the table's number
  ``sanity_ssim_to_randomised`` is its last point (every layer randomised). Lower = the map depends
  on what the model learnt. One cascade per method serves every group and candidate.
* stability: the generators of the first ``compare.stability_groups`` groups are trained again
  with ``compare.stability_seeds`` other seeds (same data, same settings, in
  ``generators/stability/seed_K/``), their class maps are built from the same held-out inputs, and
  the mean and minimum pairwise SSIM between the seeds' versions of each candidate are reported
  (1 = the seed does not matter). The plain input aggregates (mean / median input) do not depend
  on a generator and get no stability score; the random map's seed-specific shuffles are its floor.

This is the number that says whether pix2piXAI beats plain averaging; it is reported either way.
This module holds only the comparison's mathematics (pure functions of maps, inputs and a model);
the compare step, which reads the run directory and trains the stability generators, is
``pix2pixai.pipeline.stages.compare``.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from pix2pixai import metrics
from pix2pixai.metrics import faithfulness

CANDIDATES: tuple[str, ...] = ("fidelity_top1", "medoid_top1", "mean_input", "median_input", "mean_generated", "random")


def candidate_maps(stored: dict[str, np.ndarray], seed: int) -> dict[str, np.ndarray]:
    """The six candidate class maps (unit range, [H, W]) from a stored class-map file."""
    ranking = str(stored["ranking"])
    fidelity, medoid = (stored["class_map"], stored["alternative_map"])
    if ranking == "medoid":
        fidelity, medoid = medoid, fidelity
    rng = np.random.default_rng(seed)
    flat = fidelity.ravel()
    return {
        "fidelity_top1": fidelity,
        "medoid_top1": medoid,
        "mean_input": stored["baseline_mean_input"],
        "median_input": stored["baseline_median_input"],
        "mean_generated": stored["baseline_mean_generated"],
        "random": flat[rng.permutation(flat.size)].reshape(fidelity.shape),
    }


def deletion_fn_for(meta: dict[str, Any]) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """Domain-correct removal: dmdt bins set empty and renormalised like the preset; triplets and
    other images zeroed in every channel (0 is the normalised background)."""
    if meta.get("kind") == "dmdt":
        from pix2pixai.data.dmdt_images import DMDT_PRESETS

        preset = DMDT_PRESETS[meta["preset"]]

        def delete_dmdt(images: np.ndarray, mask: np.ndarray) -> np.ndarray:
            out = np.where(mask[..., None], 0.0, images)
            chans = [preset.renormalise(out[..., c]) for c in range(out.shape[-1])]
            return np.stack(chans, axis=-1).astype(np.float32)

        return delete_dmdt

    def delete_zero(images: np.ndarray, mask: np.ndarray) -> np.ndarray:
        return np.where(mask[..., None], 0.0, images).astype(np.float32)

    return delete_zero


def score_fn_for(model, target: int, batch_size: int = 512) -> Callable[[np.ndarray], np.ndarray]:
    """Probability of ``target`` for a batch of inputs (sigmoid models give [1-p, p])."""
    from pix2pixai.trainers.training import predict_proba

    def score(images: np.ndarray) -> np.ndarray:
        return predict_proba(model, images, batch_size=batch_size)[:, target]

    return score


def score_candidates(
    candidates: dict[str, np.ndarray],
    inputs: np.ndarray,
    score_fn: Callable[[np.ndarray], np.ndarray],
    delete_fn: Callable[[np.ndarray, np.ndarray], np.ndarray],
    *,
    masks: np.ndarray | None = None,
    steps: int = 10,
) -> dict[str, dict[str, float]]:
    """Deletion/insertion AUC (mean over inputs) and energy-in-mask per candidate."""
    table: dict[str, dict[str, float]] = {}
    for name, cmap in candidates.items():
        row: dict[str, float] = {}
        fr, dele = faithfulness.deletion_curve(score_fn, inputs, cmap, delete_fn=delete_fn, steps=steps)
        fr_i, ins = faithfulness.insertion_curve(score_fn, inputs, cmap, delete_fn=delete_fn, steps=steps)
        row["deletion_auc"] = float(np.mean(faithfulness.curve_auc(fr, dele)))
        row["insertion_auc"] = float(np.mean(faithfulness.curve_auc(fr_i, ins)))
        if masks is not None:
            broadcast = np.broadcast_to(cmap, masks.shape)
            row["energy_in_mask"] = float(np.mean(faithfulness.energy_in_mask(broadcast, masks)))
        table[name] = row
    return table


#: Candidates made from a generator, whose stability across generator seeds is measured.
GENERATED_CANDIDATES: tuple[str, ...] = ("fidelity_top1", "medoid_top1", "mean_generated", "random")


def stability_scores(candidates_by_seed: Sequence[dict[str, np.ndarray]], data_range: float) -> dict[str, dict[str, Any]]:
    """Pairwise SSIM between the seeds' versions of each generated candidate.

    ``candidates_by_seed``: one :func:`candidate_maps` dict per generator seed (>= 2). Returns, per
    candidate of :data:`GENERATED_CANDIDATES`, ``{"mean": ..., "min": ..., "pairs": [...]}`` over
    the seed pairs i < j (``pix2pixai.metrics.faithfulness.stability_pairs``).
    """
    if len(candidates_by_seed) < 2:
        raise ValueError(f"stability needs class maps from >= 2 generator seeds; got {len(candidates_by_seed)}")
    out = {}
    for name in GENERATED_CANDIDATES:
        pairs = faithfulness.stability_pairs(np.stack([c[name] for c in candidates_by_seed]), data_range)
        out[name] = {"mean": float(pairs.mean()), "min": float(pairs.min()), "pairs": pairs.tolist()}
    return out


def cascading_scores(candidates: dict[str, np.ndarray], original: np.ndarray,
                     stages: Sequence[tuple[str, np.ndarray]], data_range: float) -> dict[str, Any]:
    """SSIM of each candidate [H, W] to the intact model's mean map ``original`` and to the mean map
    after each cascading-randomisation stage (``stages``: (layer, [H, W]) in randomisation order)."""
    names = list(candidates)
    stack = np.stack([candidates[k] for k in names]).astype(np.float64)

    def to_all(reference: np.ndarray) -> np.ndarray:
        return metrics.ssim(stack, np.broadcast_to(reference, stack.shape), data_range=data_range)

    intact = to_all(original)
    curves = np.stack([to_all(m) for _, m in stages], axis=1) if stages else np.empty((len(names), 0))
    return {"layers": [layer for layer, _ in stages],
            "ssim_intact": {k: float(v) for k, v in zip(names, intact)},
            "ssim": {k: curves[i].tolist() for i, k in enumerate(names)}}


def group_mean_explainer(method: str, groups: Sequence[tuple[int, int, Any]], *, score: str,
                         params: dict[str, Any]) -> Callable[[Any, np.ndarray], np.ndarray]:
    """``explain_fn(model, x) -> [G, H, W]`` for the cascade: ``x`` holds several groups' inputs one
    after another, ``groups`` gives (number of inputs, target class, ``MapScale``) per group in that
    order; each group's maps are reduced, put in its generator's unit scale and averaged, so that
    one cascade serves every group of a method."""
    from pix2pixai.producers import explain, reduce_maps

    sizes = [n for n, _, _ in groups]
    targets = np.repeat([t for _, t, _ in groups], sizes)

    def explain_fn(model: Any, x: np.ndarray) -> np.ndarray:
        reduced = reduce_maps(explain(method, model, x, targets=targets, score=score, **params), method=method)
        parts = np.split(reduced, np.cumsum(sizes)[:-1])
        return np.stack([scale.to_unit(part).mean(axis=0) for (_, _, scale), part in zip(groups, parts)])

    return explain_fn
