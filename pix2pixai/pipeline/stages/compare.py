"""The compare step: every (group, method) class map scored against the plain aggregates.

Scores are computed on each cell's *evaluation* inputs (the half of its class-map inputs that the
ranking never saw). Stability retrains the kept generator (trained on every fold) with
``compare.stability_seeds`` other seeds (class-conditional: one per method, serving every group;
per group: for the first ``compare.stability_groups`` groups with class maps) and rebuilds each
class map from the same selection inputs; the seeds' versions are compared with the kept
generator's own (``compare/stability/seed_0/``). The scores themselves are the pure functions of
:mod:`pix2pixai.compare`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pix2pixai import atomic
from pix2pixai.classmaps import ClassMap, CrossFit, OutOfFold, class_map_inputs
from pix2pixai.compare import (GENERATED_CANDIDATES, candidate_maps, cascading_scores, deletion_fn_for,
                               group_mean_explainer, score_candidates, score_fn_for, stability_scores)
from pix2pixai.metrics import faithfulness
from pix2pixai.pipeline.stages.classmaps import cell_class_map, save_class_map
from pix2pixai.pipeline.stages.explain import param_context
from pix2pixai.pipeline.stages.generators import generator_task, train_task_generators
from pix2pixai.producers.registry import default_params, is_signed
from pix2pixai.rundir.config import RunConfig
from pix2pixai.rundir.layout import SurveyDir
from pix2pixai.rundir.readers import (ClassifierSplit, cross_fit_split, load_classifier, out_of_fold, reduced_maps,
                                      test_split)


def compare_step(config: RunConfig, sdir: SurveyDir) -> dict[str, Any]:
    """Score the survey's class maps and write ``compare/comparison.json``."""
    result = compare_survey(config, sdir)
    atomic.write_json(sdir.comparison, result)
    return {"n_compared": len(result)}


def stability_seed(config: RunConfig, k: int) -> int:
    """Generator seed of the k-th stability run: the run's own seed for k = 0 (the kept generator),
    ``config.seed + k`` for the extra seeds."""
    return config.seed + k


def mapped_cells(sdir: SurveyDir) -> dict[str, list[str]]:
    """Method -> the groups with a class map, in the index's order."""
    cells: dict[str, list[str]] = {}
    for entry in json.loads(sdir.classmap_index.read_text()):
        if entry["reason"] is None:
            cells.setdefault(entry["method"], []).append(entry["group"])
    return cells


def stability_class_maps(config: RunConfig, sdir: SurveyDir, split: ClassifierSplit,
                         cells: dict[str, list[str]]) -> dict[tuple[str, str], list[dict[str, np.ndarray]]]:
    """(group, method) -> the stored class-map dicts (``ClassMap.save`` layout) of the kept generator
    and of each extra seed's retrained one, built from the same selection inputs and written to
    ``compare/stability/seed_K/`` (K = 0: the kept generator). Training resumes from the
    generators' evaluation checkpoints, so a re-run of the compare step does not train again."""
    cc = config.compare
    if cc.stability_seeds < 1 or not cells:
        return {}
    fit = cross_fit_split(config, split)
    x = split.data.x[split.test][fit.positions]
    methods = list(cells)
    raw = {m: reduced_maps(sdir, m)[fit.positions] for m in methods}
    oof = {m: out_of_fold(sdir, m) for m in methods}
    if config.generator.mode == "conditional":
        units: list[str | None] = [None]
    else:
        mapped = list(dict.fromkeys(g for m in methods for g in cells[m]))
        units = mapped[: cc.stability_groups] if cc.stability_groups > 0 else mapped
    found: dict[tuple[str, str], list[dict[str, np.ndarray]]] = {}
    for k in range(cc.stability_seeds + 1):
        for unit in units:
            rows = fit.members(unit)
            if k == 0:
                dirs = {m: sdir.generator_dir(m, unit) for m in methods}
            else:
                dirs = {m: sdir.stability_generator_dir(k, m, unit) for m in methods}
                groups = None if unit is not None else fit.groups[rows]
                train_task_generators(generator_task(config, x[rows], groups, {m: v[rows] for m, v in raw.items()},
                                                     dirs, seed=stability_seed(config, k)))
            for method in methods:
                for group in (g for g in cells[method] if unit is None or g == unit):
                    path = sdir.stability_classmap_file(k, group, method)
                    stability_class_map(config, dirs[method], split, fit, oof[method], group, method, path)
                    found.setdefault((group, method), []).append(ClassMap.load(path))
    return found


def stability_class_map(config: RunConfig, generator_dir: Path, split: ClassifierSplit, fit: CrossFit,
                        oof: OutOfFold, group: str, method: str, path: Path) -> None:
    """The class map of ``group`` rebuilt from a kept or retrained generator in ``generator_dir``:
    its maps of the group's inputs in the out-of-fold unit scale, ranked over the same selection
    inputs as the run's class map, written to ``path``."""
    from pix2pixai.trainers.pix2pix import MapScale, load_generator

    scale = MapScale(scale=oof.scale, signed=is_signed(method))
    bundle = load_generator(generator_dir)
    members = fit.members(group)
    generated = np.zeros(oof.targets.shape, np.float32)
    groups = fit.groups[members] if len(bundle.group_ids) > 1 else None
    generated[members] = scale.to_unit(bundle.predict(oof.inputs[members], groups)[..., 0])
    cm = config.classmaps
    inputs = class_map_inputs(group, members, fit.correct, fit.prob, threshold=cm.classmap_threshold,
                              min_inputs=cm.min_inputs, seed=config.seed)
    cmap = cell_class_map(config, generated, oof.targets, members, inputs, scale.data_range)
    save_class_map(cmap, path, split, fit, inputs, oof.scale)


@dataclass(frozen=True)
class MethodCascade:
    """Cascading randomisation of one method's explanations, shared by its groups: the intact
    model's mean map [G, H, W] and, per randomised layer (output side first), the mean maps
    [G, H, W], in the method's out-of-fold unit scale (``groups`` gives the order)."""

    groups: list[str]
    original: np.ndarray
    stages: list[tuple[str, np.ndarray]]
    n_inputs: dict[str, int]

    def scores(self, group: str, candidates: dict[str, np.ndarray], data_range: float) -> dict[str, Any]:
        """SSIM of each candidate to ``group``'s intact and randomised mean maps, per layer."""
        gi = self.groups.index(group)
        cascade = cascading_scores(candidates, self.original[gi], [(k, v[gi]) for k, v in self.stages], data_range)
        cascade["n_inputs"] = self.n_inputs[group]
        return cascade


def method_cascade(config: RunConfig, method: str, model: Any, split: ClassifierSplit,
                   stored: dict[str, dict[str, np.ndarray]], group_class: dict[str, int]) -> MethodCascade | None:
    """One cascade for ``method`` on the first ``compare.cascading_inputs`` evaluation inputs of each
    group of ``stored`` (its class-map files; None when there are no inputs or no groups)."""
    from pix2pixai.trainers.pix2pix import MapScale

    n_cascade = config.compare.cascading_inputs
    groups = [g for g in stored if stored[g]["evaluation_index"].size]
    if n_cascade <= 0 or not groups:
        return None
    cascade_idx = {g: stored[g]["evaluation_index"][:n_cascade] for g in groups}
    scales = {g: MapScale(scale=float(stored[g]["map_scale"]), signed=is_signed(method)) for g in groups}
    explain_fn = group_mean_explainer(
        method, [(cascade_idx[g].size, group_class[g], scales[g]) for g in groups],
        score=config.explain.score, params=default_params(method, param_context(config, split)))
    x_cascade = split.data.x[np.concatenate([cascade_idx[g] for g in groups])]
    original, stages = faithfulness.cascading_randomised_maps(model, explain_fn, x_cascade, seed=config.seed)
    return MethodCascade(groups=groups, original=original, stages=stages,
                         n_inputs={g: int(idx.size) for g, idx in cascade_idx.items()})


def compare_survey(config: RunConfig, sdir: SurveyDir) -> list[dict[str, Any]]:
    """Score every (group, method) class map of one survey against the plain aggregates on its
    evaluation inputs."""
    split = test_split(sdir)
    data = split.data
    model = load_classifier(sdir)
    delete_fn = deletion_fn_for(data.meta)
    group_class = {group: int(data.group_class[g]) for g, group in enumerate(data.group_names)}
    cells = mapped_cells(sdir)
    by_seed = stability_class_maps(config, sdir, split, cells)
    results = []
    for method in config.explain.methods:
        stored = {g: ClassMap.load(sdir.classmap_file(g, method)) for g in cells.get(method, [])}
        cascade = method_cascade(config, method, model, split, stored, group_class)
        for group, cell in stored.items():
            evaluation = cell["evaluation_index"]
            data_range = float(cell["data_range"])
            inputs = data.x[evaluation]
            masks = data.masks[evaluation] if data.masks is not None else None
            candidates = candidate_maps(cell, config.seed)
            table = score_candidates(candidates, inputs, score_fn_for(model, group_class[group]), delete_fn,
                                     masks=masks)
            row: dict[str, Any] = {"group": group, "method": method, "n_inputs": int(len(inputs))}
            if cascade is not None and group in cascade.groups:
                row["cascading"] = cascade.scores(group, candidates, data_range)
                for name, curve in row["cascading"]["ssim"].items():
                    table[name]["sanity_ssim_to_randomised"] = curve[-1]
            if (group, method) in by_seed:
                row["stability"] = seed_stability(config, by_seed[(group, method)], data_range)
                for name in GENERATED_CANDIDATES:
                    table[name]["stability_ssim_mean"] = row["stability"][name]["mean"]
                    table[name]["stability_ssim_min"] = row["stability"][name]["min"]
            row.update({"scores": table,
                        "best_by_deletion": min(table, key=lambda k: table[k]["deletion_auc"]),
                        "best_by_insertion": max(table, key=lambda k: table[k]["insertion_auc"])})
            results.append(row)
    return results


def seed_stability(config: RunConfig, by_seed: list[dict[str, np.ndarray]], data_range: float) -> dict[str, Any]:
    """Pairwise SSIM between the candidates of the kept generator and those of the stability
    generators (``by_seed``: their stored class maps, seed index 0, 1, 2, ...), with the seeds used."""
    seeds = [candidate_maps(s, stability_seed(config, k)) for k, s in enumerate(by_seed)]
    return {"seeds": [stability_seed(config, k) for k in range(len(seeds))], **stability_scores(seeds, data_range)}
