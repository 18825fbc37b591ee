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
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from pix2pixai import metrics
from pix2pixai.metrics import faithfulness
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


def stability_seed(config: RunConfig, k: int) -> int:
    """Generator seed of the k-th extra stability run (k >= 1); the run's own generators use ``config.seed``."""
    return config.seed + k


def stability_class_maps(config: RunConfig, sdir: SurveyDir, data: Any, test_idx: np.ndarray,
                         splits: dict[str, Any]) -> dict[tuple[str, str], list[dict[str, np.ndarray]]]:
    """Train the extra-seed generators and build their class maps: (group, method) -> one stored
    class-map dict per extra seed (``classmaps.ClassMap.save`` layout, also written to
    ``compare/stability/seed_K/``). Training resumes from the generators' epoch checkpoints, so a
    re-run of the compare step does not train again."""
    from pix2pixai.pipeline.steps import group_class_map, group_generator_task, reduced_maps, train_group_generators
    from pix2pixai.trainers.pix2pix import load_generator

    cc = config.compare
    methods = list(config.explain.methods)
    groups = [g for g, split in splits.items() if not split.skipped and all(
        sdir.classmap_file(g, m).exists() for m in methods)]
    groups = groups[: cc.stability_groups] if cc.stability_groups > 0 else groups
    if cc.stability_seeds < 1 or not groups:
        return {}
    x = data.x[test_idx]
    maps = {m: reduced_maps(sdir, m) for m in methods}
    found: dict[tuple[str, str], list[dict[str, np.ndarray]]] = {}
    for k in range(1, cc.stability_seeds + 1):
        root = sdir.generators / "stability" / f"seed_{k}"
        for group in groups:
            dirs = {m: root / group / m for m in methods}
            train_group_generators(group_generator_task(config, x, maps, splits[group], dirs,
                                                        seed=stability_seed(config, k)))
            for method in methods:
                cmap = group_class_map(config, load_generator(dirs[method]), x, maps[method], splits[group])
                path = sdir.compare / "stability" / f"seed_{k}" / f"{group}__{method}.npz"
                cmap.save(path, inputs_index=test_idx[splits[group].classmap])
                found.setdefault((group, method), []).append(ClassMap.load(path))
    return found


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


def compare_survey(config: RunConfig, sdir: SurveyDir) -> list[dict[str, Any]]:
    """Score every (group, method) class map of one survey against the plain aggregates."""
    from pix2pixai.pipeline.steps import group_splits, load_classifier, method_params, test_split

    data, test_idx, _ = test_split(sdir)
    with np.load(sdir.classifier / "split.npz") as split:
        train_idx = split["train"]
    model = load_classifier(sdir)
    delete_fn = deletion_fn_for(data.meta)
    splits = group_splits(config, sdir)
    group_class = {group: int(data.group_class[g]) for g, group in enumerate(splits)}
    by_seed = stability_class_maps(config, sdir, data, test_idx, splits)
    n_cascade = config.compare.cascading_inputs
    results = []
    for method in config.explain.methods:
        present = [g for g, split in splits.items() if not split.skipped and sdir.classmap_file(g, method).exists()]
        scales = {g: generator_scale(sdir.generator_dir(g, method)) for g in present}
        cascade_idx = {g: test_idx[splits[g].classmap[:n_cascade]] for g in present}
        params = method_params(config, method, data, train_idx)

        original = stages = None
        if n_cascade > 0 and present:
            x_cascade = data.x[np.concatenate([cascade_idx[g] for g in present])]
            explain_fn = group_mean_explainer(
                method, [(cascade_idx[g].size, group_class[g], scales[g]) for g in present],
                score=config.explain.score, params=params)
            original, stages = faithfulness.cascading_randomised_maps(model, explain_fn, x_cascade, seed=config.seed)
        for gi, group in enumerate(present):
            split = splits[group]
            stored = ClassMap.load(sdir.classmap_file(group, method))
            data_range = float(stored["data_range"])
            target = group_class[group]
            inputs = data.x[test_idx[split.classmap]]
            masks = data.masks[test_idx[split.classmap]] if data.masks is not None else None
            candidates = candidate_maps(stored, config.seed)
            table = score_candidates(candidates, inputs, score_fn_for(model, target), delete_fn, masks=masks)
            row: dict[str, Any] = {"group": group, "method": method, "n_inputs": int(len(inputs))}
            if original is not None:
                cascade = cascading_scores(candidates, original[gi], [(k, v[gi]) for k, v in stages], data_range)
                cascade["n_inputs"] = int(cascade_idx[group].size)
                for name, curve in cascade["ssim"].items():
                    table[name]["sanity_ssim_to_randomised"] = curve[-1]
                row["cascading"] = cascade
            if (group, method) in by_seed:
                seeds = [candidates] + [candidate_maps(s, stability_seed(config, k + 1))
                                        for k, s in enumerate(by_seed[(group, method)])]
                stability = stability_scores(seeds, data_range)
                for name, values in stability.items():
                    table[name]["stability_ssim_mean"] = values["mean"]
                    table[name]["stability_ssim_min"] = values["min"]
                row["stability"] = {"seeds": [config.seed] + [stability_seed(config, k) for k in range(1, len(seeds))],
                                    **stability}
            row.update({"scores": table,
                        "best_by_deletion": min(table, key=lambda k: table[k]["deletion_auc"]),
                        "best_by_insertion": max(table, key=lambda k: table[k]["insertion_auc"])})
            results.append(row)
    return results


def generator_scale(directory: Path):
    """The ``MapScale`` of a saved generator, read from its metadata without loading the network."""
    from pix2pixai.trainers.pix2pix import MapScale
    from pix2pixai.trainers.pix2pix.bundle import META_FILE

    return MapScale.from_dict(json.loads((directory / META_FILE).read_text())["scale"])
