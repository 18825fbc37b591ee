"""The classmaps step: each generator run on its group's held-out inputs, the generated maps ranked
(fidelity or medoid) into the class map, with the plain baselines stored beside it."""

from __future__ import annotations

from typing import Any

import numpy as np

from pix2pixai import atomic
from pix2pixai.classmaps import ClassMap, GroupSplit, build_class_map
from pix2pixai.rundir.config import RunConfig
from pix2pixai.rundir.layout import SurveyDir
from pix2pixai.rundir.readers import group_splits, reduced_maps, test_split


def classmaps_step(config: RunConfig, sdir: SurveyDir) -> dict[str, Any]:
    """One class map per (group, method) with a generator, and ``classmaps/index.json`` listing them."""
    from pix2pixai.trainers.pix2pix import load_generator

    split = test_split(sdir)
    splits = group_splits(config, split)
    x = split.data.x[split.test]
    entries = []
    for method in config.explain.methods:
        maps = reduced_maps(sdir, method)
        for group, group_split in splits.items():
            if group_split.skipped:
                continue
            bundle = load_generator(sdir.generator_dir(group, method))
            cmap = group_class_map(config, bundle, x, maps, group_split)
            cmap.save(sdir.classmap_file(group, method), inputs_index=split.test[group_split.classmap],
                      class_map_raw=bundle.scale.from_unit(cmap.class_map))
            entries.append({"group": group, "method": method, "heldout_ssim": cmap.heldout_ssim,
                            "heldout_l1": cmap.heldout_l1, **group_split.counts()})
    atomic.write_json(sdir.classmap_index, entries)
    return {"n_class_maps": len(entries)}


def group_class_map(config: RunConfig, bundle: Any, x: np.ndarray, maps: np.ndarray, split: GroupSplit) -> ClassMap:
    """The class map of one (group, method) from its generator ``bundle``: G on the group's held-out
    test-split inputs (``x``, ``maps`` [N, H, W] indexed like the test split), ranked over the
    class-map inputs. Shared with the compare step's stability generators."""
    scale = bundle.scale
    held_gen = bundle.predict_unit(x[split.heldout])[..., 0]
    held_true = scale.to_unit(maps[split.heldout])
    in_map = np.isin(split.heldout, split.classmap)
    return build_class_map(
        held_gen[in_map], held_true[in_map], data_range=scale.data_range, ranking=config.classmaps.ranking,
        top_k=config.classmaps.top_k, heldout_generated=held_gen, heldout_targets=held_true,
    )
