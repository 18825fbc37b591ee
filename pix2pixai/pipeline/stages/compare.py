"""The compare step: every (group, method) class map scored against the plain aggregates.

It reads the run directory and trains the stability generators (the same settings with other
seeds); the scores themselves are the pure functions of :mod:`pix2pixai.compare`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from pix2pixai import atomic
from pix2pixai.classmaps import ClassMap, GroupSplit
from pix2pixai.compare import (GENERATED_CANDIDATES, candidate_maps, cascading_scores, deletion_fn_for,
                               group_mean_explainer, score_candidates, score_fn_for, stability_scores)
from pix2pixai.metrics import faithfulness
from pix2pixai.pipeline.stages.classmaps import group_class_map
from pix2pixai.pipeline.stages.explain import param_context
from pix2pixai.producers.registry import default_params
from pix2pixai.pipeline.stages.generators import group_generator_task, train_group_generators
from pix2pixai.rundir.config import RunConfig
from pix2pixai.rundir.layout import SurveyDir
from pix2pixai.rundir.readers import (ClassifierSplit, generator_scale, group_splits, load_classifier, reduced_maps,
                                      test_split)


def compare_step(config: RunConfig, sdir: SurveyDir) -> dict[str, Any]:
    """Score the survey's class maps and write ``compare/comparison.json``."""
    result = compare_survey(config, sdir)
    atomic.write_json(sdir.comparison, result)
    return {"n_compared": len(result)}


def stability_seed(config: RunConfig, k: int) -> int:
    """Generator seed of the k-th extra stability run (k >= 1); the run's own generators use ``config.seed``."""
    return config.seed + k


def stability_class_maps(config: RunConfig, sdir: SurveyDir, split: ClassifierSplit,
                         splits: dict[str, GroupSplit]) -> dict[tuple[str, str], list[dict[str, np.ndarray]]]:
    """Train the extra-seed generators and build their class maps: (group, method) -> one stored
    class-map dict per extra seed (``classmaps.ClassMap.save`` layout, also written to
    ``compare/stability/seed_K/``). Training resumes from the generators' epoch checkpoints, so a
    re-run of the compare step does not train again."""
    from pix2pixai.trainers.pix2pix import load_generator

    cc = config.compare
    methods = list(config.explain.methods)
    groups = [g for g, group_split in splits.items() if not group_split.skipped and all(
        sdir.classmap_file(g, m).exists() for m in methods)]
    groups = groups[: cc.stability_groups] if cc.stability_groups > 0 else groups
    if cc.stability_seeds < 1 or not groups:
        return {}
    x = split.data.x[split.test]
    maps = {m: reduced_maps(sdir, m) for m in methods}
    found: dict[tuple[str, str], list[dict[str, np.ndarray]]] = {}
    for k in range(1, cc.stability_seeds + 1):
        for group in groups:
            dirs = {m: sdir.stability_generator_dir(k, group, m) for m in methods}
            train_group_generators(group_generator_task(config, x, maps, splits[group], dirs,
                                                        seed=stability_seed(config, k)))
            for method in methods:
                cmap = group_class_map(config, load_generator(dirs[method]), x, maps[method], splits[group])
                path = sdir.stability_classmap_file(k, group, method)
                cmap.save(path, inputs_index=split.test[splits[group].classmap])
                found.setdefault((group, method), []).append(ClassMap.load(path))
    return found


@dataclass(frozen=True)
class MethodCascade:
    """Cascading randomisation of one method's explanations, shared by its groups: the intact
    model's mean map [G, H, W] and, per randomised layer (output side first), the mean maps
    [G, H, W], in the generator's unit scale of each group (``groups`` gives the order)."""

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


def method_cascade(config: RunConfig, sdir: SurveyDir, method: str, model: Any, split: ClassifierSplit,
                   splits: dict[str, GroupSplit], groups: list[str],
                   group_class: dict[str, int]) -> MethodCascade | None:
    """One cascade for ``method`` on the first ``compare.cascading_inputs`` class-map inputs of each
    of ``groups`` (None when there are no inputs or no groups)."""
    n_cascade = config.compare.cascading_inputs
    if n_cascade <= 0 or not groups:
        return None
    cascade_idx = {g: split.test[splits[g].classmap[:n_cascade]] for g in groups}
    scales = {g: generator_scale(sdir.generator_dir(g, method)) for g in groups}
    explain_fn = group_mean_explainer(
        method, [(cascade_idx[g].size, group_class[g], scales[g]) for g in groups],
        score=config.explain.score, params=default_params(method, param_context(config, split)))
    x_cascade = split.data.x[np.concatenate([cascade_idx[g] for g in groups])]
    original, stages = faithfulness.cascading_randomised_maps(model, explain_fn, x_cascade, seed=config.seed)
    return MethodCascade(groups=groups, original=original, stages=stages,
                         n_inputs={g: int(idx.size) for g, idx in cascade_idx.items()})


def compare_survey(config: RunConfig, sdir: SurveyDir) -> list[dict[str, Any]]:
    """Score every (group, method) class map of one survey against the plain aggregates."""
    split = test_split(sdir)
    data, test_idx = split.data, split.test
    model = load_classifier(sdir)
    delete_fn = deletion_fn_for(data.meta)
    splits = group_splits(config, split)
    group_class = {group: int(data.group_class[g]) for g, group in enumerate(splits)}
    by_seed = stability_class_maps(config, sdir, split, splits)
    results = []
    for method in config.explain.methods:
        present = [g for g, s in splits.items() if not s.skipped and sdir.classmap_file(g, method).exists()]
        cascade = method_cascade(config, sdir, method, model, split, splits, present, group_class)
        for group in present:
            classmap_idx = test_idx[splits[group].classmap]
            stored = ClassMap.load(sdir.classmap_file(group, method))
            data_range = float(stored["data_range"])
            inputs = data.x[classmap_idx]
            masks = data.masks[classmap_idx] if data.masks is not None else None
            candidates = candidate_maps(stored, config.seed)
            table = score_candidates(candidates, inputs, score_fn_for(model, group_class[group]), delete_fn,
                                     masks=masks)
            row: dict[str, Any] = {"group": group, "method": method, "n_inputs": int(len(inputs))}
            if cascade is not None:
                row["cascading"] = cascade.scores(group, candidates, data_range)
                for name, curve in row["cascading"]["ssim"].items():
                    table[name]["sanity_ssim_to_randomised"] = curve[-1]
            if (group, method) in by_seed:
                row["stability"] = seed_stability(config, candidates, by_seed[(group, method)], data_range)
                for name in GENERATED_CANDIDATES:
                    table[name]["stability_ssim_mean"] = row["stability"][name]["mean"]
                    table[name]["stability_ssim_min"] = row["stability"][name]["min"]
            row.update({"scores": table,
                        "best_by_deletion": min(table, key=lambda k: table[k]["deletion_auc"]),
                        "best_by_insertion": max(table, key=lambda k: table[k]["insertion_auc"])})
            results.append(row)
    return results


def seed_stability(config: RunConfig, candidates: dict[str, np.ndarray], extra_seeds: list[dict[str, np.ndarray]],
                   data_range: float) -> dict[str, Any]:
    """Pairwise SSIM between the run's candidates and those of the stability generators
    (``extra_seeds``: their stored class maps, seed 1, 2, ...), with the generator seeds used."""
    seeds = [candidates] + [candidate_maps(s, stability_seed(config, k + 1)) for k, s in enumerate(extra_seeds)]
    return {"seeds": [config.seed] + [stability_seed(config, k) for k in range(1, len(seeds))],
            **stability_scores(seeds, data_range)}
