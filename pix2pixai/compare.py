"""Which class map is most faithful? The aggregation-metric comparison.

For every (group, method) the candidates are: the fidelity-ranked top generated map, the
medoid-ranked top generated map, the pixel-wise mean and median of the input-specific maps, the
mean of the generated maps, and a pixel-shuffled random map (the floor every candidate must beat).
Each candidate is applied to every class-map input of the group and scored by

* deletion AUC (lower = the map finds what the classifier needs sooner),
* insertion AUC (higher = better),
* energy-in-mask, where ground-truth relevance masks exist (simulated triplets),
* sanity: SSIM between the candidate and the same aggregate made from a *randomised* classifier's
  maps (lower = the map depends on what the model learnt; Adebayo et al. 2018).

This is the number that says whether pix2piXAI beats plain averaging; it is reported either way.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

import numpy as np

import metrics
from metrics import faithfulness
from pix2pixai.classmaps import ClassMap
from pix2pixai.pipeline.config import RunConfig
from pix2pixai.pipeline.rundir import SurveyDir

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
        from pix2pixai.data.dmdt import DMDT_PRESETS

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
    from trainers.training import predict_proba

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
    randomised: np.ndarray | None = None,
    data_range: float = 1.0,
    steps: int = 10,
) -> dict[str, dict[str, float]]:
    """Deletion/insertion AUC (mean over inputs), energy-in-mask and sanity SSIM per candidate."""
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
        if randomised is not None:
            row["sanity_ssim_to_randomised"] = float(metrics.ssim(cmap[None], randomised[None], data_range=data_range)[0])
        table[name] = row
    return table


def compare_survey(config: RunConfig, sdir: SurveyDir) -> list[dict[str, Any]]:
    """Score every (group, method) class map of one survey against the plain aggregates."""
    from pix2pixai.pipeline.steps import group_splits, load_classifier, method_params, test_split
    from pix2pixai.producers import explain, reduce_maps

    data, test_idx, _ = test_split(sdir)
    with np.load(sdir.classifier / "split.npz") as split:
        train_idx = split["train"]
    model = load_classifier(sdir)
    randomised_model = _randomised_copy(model, config.seed)
    delete_fn = deletion_fn_for(data.meta)
    splits = group_splits(config, sdir)
    results = []
    for method in config.explain.methods:
        for g, (group, split) in enumerate(splits.items()):
            path = sdir.classmap_file(group, method)
            if split.skipped or not path.exists():
                continue
            stored = ClassMap.load(path)
            target = int(data.group_class[g])
            inputs = data.x[test_idx[split.classmap]]
            scale = generator_scale(sdir.generator_dir(group, method))
            params = method_params(config, method, data, train_idx)
            rand_maps = explain(method, randomised_model, inputs, targets=np.full(len(inputs), target),
                                score=config.explain.score, **params)
            randomised_mean = scale.to_unit(reduce_maps(rand_maps, method=method)).mean(axis=0)
            masks = data.masks[test_idx[split.classmap]] if data.masks is not None else None
            table = score_candidates(
                candidate_maps(stored, config.seed), inputs, score_fn_for(model, target), delete_fn,
                masks=masks, randomised=randomised_mean, data_range=float(stored["data_range"]),
            )
            results.append({"group": group, "method": method, "n_inputs": int(len(inputs)), "scores": table,
                            "best_by_deletion": min(table, key=lambda k: table[k]["deletion_auc"]),
                            "best_by_insertion": max(table, key=lambda k: table[k]["insertion_auc"])})
    return results


def generator_scale(directory: Path):
    """The ``MapScale`` of a saved generator, read from its metadata without loading the network."""
    from trainers.pix2pix import MapScale
    from trainers.pix2pix.bundle import META_FILE

    return MapScale.from_dict(json.loads((directory / META_FILE).read_text())["scale"])


def _randomised_copy(model, seed: int):
    """A clone of ``model`` with every weight re-drawn from its initialiser (full randomisation)."""
    import keras

    keras.utils.set_random_seed(seed + 9973)
    clone = keras.models.clone_model(model)
    return clone
