"""The classmaps step: out-of-fold maps, skill per cell, and a class map for every group.

Per method, each fold generator predicts its fold's maps, so every cross-fitted input gets a map
from a generator that never saw it; targets and generated maps are put in one unit scale per
(survey, method) (a ``MapScale`` fitted on all targets; each fold generator's raw prediction is
expressed in it) and written to ``classmaps/oof_<method>.npz``, exactly the arrays every number of
the cell comes from. Per (group, method) cell: skill and kNN skill with 95% paired bootstrap
intervals, held-out SSIM over the group's out-of-fold inputs, and the class map: the out-of-fold
generated maps of the selection half of the group's confident, correctly classified inputs,
ranked (``pix2pixai.classmaps``); the evaluation half is stored for the compare step.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from pix2pixai import atomic
from pix2pixai.classmaps import (ClassMap, ClassMapInputs, CrossFit, OutOfFold, build_class_map, class_map_inputs,
                                 generator_quality)
from pix2pixai.producers.registry import is_signed
from pix2pixai.rundir.config import RunConfig
from pix2pixai.rundir.layout import SurveyDir
from pix2pixai.rundir.readers import ClassifierSplit, cross_fit_split, reduced_maps, test_split


def classmaps_step(config: RunConfig, sdir: SurveyDir) -> dict[str, Any]:
    """Write each method's out-of-fold arrays, every cell's class map (where the group has one) and
    ``classmaps/index.json`` with one entry per (group, method) cell."""
    split = test_split(sdir)
    fit = cross_fit_split(config, split)
    x = split.data.x[split.test][fit.positions]
    entries = []
    for method in config.explain.methods:
        oof = out_of_fold_maps(config, sdir, fit, x, reduced_maps(sdir, method)[fit.positions], method)
        if oof is not None:
            oof.save(sdir.out_of_fold(method))
        for group in split.data.group_names:
            entries.append(cell_entry(config, sdir, split, fit, oof, group, method))
    atomic.write_json(sdir.classmap_index, entries)
    return {"n_cells": len(entries), "n_class_maps": sum(e["reason"] is None for e in entries),
            "n_skill_positive": sum(bool(e["skill_positive"]) for e in entries)}


def out_of_fold_maps(config: RunConfig, sdir: SurveyDir, fit: CrossFit, x: np.ndarray, raw_targets: np.ndarray,
                     method: str) -> OutOfFold | None:
    """Every cross-fitted input's target and out-of-fold generated map in one unit scale (None when
    no group has enough inputs). ``x`` [N, H, W, C] and ``raw_targets`` [N, H, W] follow ``fit``'s rows."""
    from pix2pixai.trainers.pix2pix import MapScale, load_generator

    if not fit.positions.size:
        return None
    scale = MapScale.fit(raw_targets, signed=is_signed(method))
    generated = np.zeros(raw_targets.shape, np.float32)
    conditional = config.generator.mode == "conditional"
    for fold in range(fit.n_folds):
        for group in [None] if conditional else list(dict.fromkeys(fit.groups.tolist())):
            rows = fit.predict(fold, group)
            if rows.size:
                bundle = load_generator(sdir.fold_generator_dir(fold, method, group))
                raw = bundle.predict(x[rows], fit.groups[rows] if conditional else None)
                generated[rows] = scale.to_unit(raw[..., 0])
    return OutOfFold(inputs=x.astype(np.float32), targets=scale.to_unit(raw_targets), generated=generated,
                     group=fit.groups, fold=fit.folds, prob=fit.prob, scale=scale.scale)


def cell_entry(config: RunConfig, sdir: SurveyDir, split: ClassifierSplit, fit: CrossFit, oof: OutOfFold | None,
               group: str, method: str) -> dict[str, Any]:
    """The index entry of one (group, method) cell, writing its class map when the group has one."""
    cm = config.classmaps
    entry: dict[str, Any] = {"group": group, "method": method, "members": 0, "skill": None, "skill_ci": None,
                             "knn_skill": None, "knn_skill_ci": None, "skill_positive": None,
                             "skill_reason": fit.skipped.get(group), "heldout_ssim": None, "heldout_l1": None,
                             "n_inputs": 0, "n_selection": 0, "n_evaluation": 0, "threshold_used": None,
                             "reason": fit.skipped.get(group)}
    if oof is None or group in fit.skipped:
        return entry
    members = fit.members(group)
    data_range = 2.0 if is_signed(method) else 1.0
    ssim, l1 = generator_quality(oof.generated[members], oof.targets[members], data_range)
    entry.update(members=int(members.size), heldout_ssim=ssim, heldout_l1=l1,
                 **oof.skill(group, min_inputs=cm.min_inputs, seed=config.seed))
    inputs = class_map_inputs(group, members, fit.correct, fit.prob, threshold=cm.classmap_threshold,
                              min_inputs=cm.min_inputs, seed=config.seed)
    entry.update(n_inputs=inputs.n_inputs, n_selection=int(inputs.selection.size),
                 n_evaluation=int(inputs.evaluation.size), threshold_used=inputs.threshold_used,
                 reason=inputs.reason or None)
    if not inputs.reason:
        cmap = cell_class_map(config, oof.generated, oof.targets, members, inputs, data_range)
        save_class_map(cmap, sdir.classmap_file(group, method), split, fit, inputs, oof.scale)
    return entry


def cell_class_map(config: RunConfig, generated: np.ndarray, targets: np.ndarray, members: np.ndarray,
                   inputs: ClassMapInputs, data_range: float) -> ClassMap:
    """The class map of one cell: ``generated`` [N, H, W] maps of the selection inputs ranked against
    their ``targets``; the held-out SSIM / L1 over the group's ``members``. Shared with the compare
    step's stability generators (whose ``generated`` maps come from the retrained kept generator)."""
    sel = inputs.selection
    return build_class_map(generated[sel], targets[sel], data_range=data_range, ranking=config.classmaps.ranking,
                           top_k=config.classmaps.top_k, heldout_generated=generated[members],
                           heldout_targets=targets[members])


def save_class_map(cmap: ClassMap, path: Path, split: ClassifierSplit, fit: CrossFit, inputs: ClassMapInputs,
                   scale: float) -> None:
    """Write ``cmap`` with its selection and evaluation inputs as rows of ``data.npz`` and the unit
    scale (raw = unit * ``map_scale``)."""
    rows = split.test[fit.positions]
    cmap.save(path, selection_index=rows[inputs.selection], evaluation_index=rows[inputs.evaluation],
              map_scale=np.float64(scale), class_map_raw=(cmap.class_map * scale).astype(np.float32))
