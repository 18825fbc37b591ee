"""Turn a survey config into classifier inputs: images, labels, groups and (simulated) masks.

Two notions are kept apart on purpose: *classes* are what the classifier predicts (7 CRTS types;
real/bogus for ZTF), *groups* are what class maps are made for (the classes themselves for CRTS;
the five real/bogus subcategories for ZTF). ``group_class[g]`` is the classifier class whose score
is explained for group ``g``.
"""

from __future__ import annotations

import csv
import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pix2pixai import atomic
from pix2pixai.data.classes import CRTS_CLASSES, SUBCATEGORY_IS_REAL, ZTF_SUBCATEGORIES, canonical_class
from pix2pixai.errors import InputError
from pix2pixai.rundir.config import RunConfig, expand_path

log = logging.getLogger(__name__)

REAL_BOGUS_CLASSES: tuple[str, ...] = ("bogus", "real")


@dataclass
class SurveyData:
    """Inputs of one survey, ready for the classifier.

    x: float32 [N, H, W, C]; y: int [N] class index; group: int [N] group index; masks: bool
    [N, H, W] ground-truth relevance (simulated triplets only) or None; meta: bin edges, kind, ids.
    cadence: for dmdt surveys, the JSON-ready cadence diagnostics of the binned curves
    (:meth:`pix2pixai.data.cadence.CadenceReport.to_dict`, or ``{"unavailable": reason}``), computed
    while the curves are at hand because the images do not keep their time stamps; the data step
    writes it to ``cadence.json`` (not part of ``save``/``load``).
    """

    x: np.ndarray
    y: np.ndarray
    group: np.ndarray
    class_names: tuple[str, ...]
    group_names: tuple[str, ...]
    group_class: tuple[int, ...]
    ids: np.ndarray
    masks: np.ndarray | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    cadence: dict[str, Any] | None = None

    def save(self, path: Path, meta_path: Path) -> None:
        arrays = {"x": self.x, "y": self.y, "group": self.group, "ids": self.ids.astype(str)}
        if self.masks is not None:
            arrays["masks"] = self.masks
        atomic.save_npz(path, **arrays)
        atomic.write_json(meta_path, {
            "class_names": list(self.class_names),
            "group_names": list(self.group_names),
            "group_class": list(self.group_class),
            **self.meta,
        })

    @classmethod
    def load(cls, path: Path, meta_path: Path) -> "SurveyData":
        import json

        meta = json.loads(meta_path.read_text())
        with np.load(path) as data:
            masks = data["masks"] if "masks" in data.files else None
            return cls(
                x=data["x"], y=data["y"], group=data["group"], ids=data["ids"], masks=masks,
                class_names=tuple(meta.pop("class_names")), group_names=tuple(meta.pop("group_names")),
                group_class=tuple(meta.pop("group_class")), meta=meta,
            )


def load_survey(config: RunConfig) -> SurveyData:
    """Build the survey's inputs from its config (simulated or real)."""
    survey = config.survey
    loaders = {
        ("dmdt", "simulate"): _dmdt_simulated,
        ("dmdt", "lightcurves_npz"): _dmdt_from_npz,
        ("dmdt", "lightcurves_csv"): _dmdt_from_csv,
        ("triplet", "simulate"): _triplets_simulated,
        ("triplet", "fink_npz"): _triplets_fink,
        ("triplet", "braai_training_set"): _triplets_braai_set,
        ("image", "images"): _labelled_images,
        ("image", "simulate"): _images_simulated,
    }
    loader = loaders.get((survey.kind, survey.source))
    if loader is None:
        valid = ", ".join(f"{k}/{s}" for k, s in loaders)
        raise InputError(f"{config.source_file}: survey kind/source {survey.kind}/{survey.source} unsupported; "
                         f"expected one of {valid}")
    return loader(config)


def _crts_groups(config: RunConfig) -> tuple[str, ...]:
    return tuple(canonical_class(g) for g in config.survey.groups) if config.survey.groups else CRTS_CLASSES


def _dmdt_images(curves: list, config: RunConfig) -> tuple[np.ndarray, dict[str, Any]]:
    from pix2pixai.data.dmdt_images import DMDT_PRESETS, dmdt_from_lightcurves, dmdt_multiband

    preset = DMDT_PRESETS[config.survey.preset]
    if config.survey.bands:
        x = np.stack([dmdt_multiband(c, bands=config.survey.bands, preset=config.survey.preset) for c in curves])
    else:
        x = dmdt_from_lightcurves(curves, preset=config.survey.preset)[..., None]
    meta = {"kind": "dmdt", "preset": preset.name, "dm_edges": list(map(float, preset.dm_edges)),
            "dt_edges": list(map(float, preset.dt_edges)), "bands": list(config.survey.bands)}
    return x.astype(np.float32), meta


def _from_curves(curves: list, config: RunConfig, classes: tuple[str, ...]) -> SurveyData:
    curves, labels = _curves_of_classes(curves, classes, config.survey.path)
    y = np.array([classes.index(label) for label in labels], dtype=np.int64)
    if config.survey.max_per_group:
        rng = np.random.default_rng(config.seed)
        chosen = np.concatenate([
            rng.permutation(np.flatnonzero(y == k))[: config.survey.max_per_group] for k in range(len(classes))
        ])
        chosen.sort()
        curves = [curves[i] for i in chosen]
        y = y[chosen]
    x, meta = _dmdt_images(curves, config)
    return SurveyData(
        x=x, y=y, group=y.copy(), class_names=classes, group_names=classes,
        group_class=tuple(range(len(classes))), ids=np.array([c.lcid for c in curves]), meta=meta,
        cadence=_cadence(curves, config),
    )


def _cadence(curves: list, config: RunConfig) -> dict[str, Any]:
    """Cadence diagnostics of exactly the pairs the dmdts count: per band for multi-band surveys
    (pairs are taken within a band), else per curve. Chunked over curves (bounded memory). A sampling
    the diagnostics cannot describe (e.g. every lag 0) is recorded as unavailable, not an error: the
    images are still valid."""
    from pix2pixai.data.cadence import cadence_report
    from pix2pixai.data.lightcurves import LightCurve

    if config.survey.bands:
        curves = [LightCurve(f"{c.lcid}:{b}", c.mjd[c.band == b], c.mag[c.band == b], c.magerr[c.band == b])
                  for c in curves for b in config.survey.bands]
    curves = [c for c in curves if c.mjd.size >= 2]
    try:
        return {**cadence_report(curves, preset=config.survey.preset).to_dict(),
                "curves": "per band" if config.survey.bands else "per light curve"}
    except InputError as exc:
        return {"unavailable": str(exc)}


def _dmdt_simulated(config: RunConfig) -> SurveyData:
    from pix2pixai.data.synthetic.periodic import simulate_periodic

    classes = _crts_groups(config)
    survey = "ztf" if config.survey.bands else "crts"
    curves = simulate_periodic(config.survey.n_per_group, seed=config.seed, classes=classes, survey=survey)
    return _from_curves(curves, config, classes)


def _dmdt_from_npz(config: RunConfig) -> SurveyData:
    from pix2pixai.data.lightcurves import read_lightcurves_npz

    curves = read_lightcurves_npz(expand_path(config.survey.path, config))
    return _from_curves(curves, config, _crts_groups(config))


def _dmdt_from_csv(config: RunConfig) -> SurveyData:
    from pix2pixai.data.lightcurves import read_lightcurves

    curves = read_lightcurves(expand_path(config.survey.path, config))
    if config.survey.labels:
        table = _read_label_table(expand_path(config.survey.labels, config))
        for curve in curves:
            curve.label = table.get(str(curve.lcid), curve.label)
    missing = [c.lcid for c in curves if c.label is None]
    if missing:
        raise InputError(f"{config.survey.path}: {len(missing)} light curves have no label (e.g. {missing[0]}); "
                         "give survey.labels = a CSV with columns id,label")
    return _from_curves(curves, config, _crts_groups(config))


def _curves_of_classes(curves: list, classes: tuple[str, ...], source: str) -> tuple[list, list[str]]:
    """The curves whose label is one of the survey's ``classes`` and their canonical labels; the
    others are dropped with one warning naming each dropped label and its count, so that a class the
    survey does not know (e.g. "Cepheid" among the CRTS classes) never vanishes silently."""
    kept, labels, dropped = [], [], Counter()
    for curve in curves:
        try:
            label = canonical_class(curve.label or "")
        except InputError:
            label = None
        if label in classes:
            kept.append(curve)
            labels.append(label)
        else:
            dropped[str(curve.label)] += 1
    if dropped:
        listed = ", ".join(f"{name} ({count})" for name, count in sorted(dropped.items()))
        log.warning("%s: dropped %d of %d light curves whose class is not one of the survey's groups %s: %s",
                    source, sum(dropped.values()), len(curves), ", ".join(classes), listed)
    return kept, labels


def _read_label_table(path: Path) -> dict[str, str]:
    if not path.exists():
        raise InputError(f"{path}: label table not found")
    with open(path, newline="") as fh:
        reader = csv.DictReader(fh)
        cols = {c.lower(): c for c in reader.fieldnames or []}
        id_col = cols.get("id") or cols.get("lcid")
        label_col = cols.get("label") or cols.get("class")
        if id_col is None or label_col is None:
            raise InputError(f"{path}: expected columns id (or lcid) and label (or class), got {reader.fieldnames}")
        return {row[id_col]: row[label_col] for row in reader}


def _subcategory_data(x: np.ndarray, subcats: np.ndarray, ids: np.ndarray, masks=None, meta=None) -> SurveyData:
    group = np.array([ZTF_SUBCATEGORIES.index(s) for s in subcats], dtype=np.int64)
    y = np.array([SUBCATEGORY_IS_REAL[s] for s in subcats], dtype=np.int64)
    return SurveyData(
        x=x.astype(np.float32), y=y, group=group, class_names=REAL_BOGUS_CLASSES,
        group_names=ZTF_SUBCATEGORIES, group_class=tuple(SUBCATEGORY_IS_REAL[s] for s in ZTF_SUBCATEGORIES),
        ids=ids, masks=masks, meta={"kind": "triplet", **(meta or {})},
    )


def _triplets_simulated(config: RunConfig) -> SurveyData:
    from pix2pixai.data.synthetic.triplets import simulate_triplets

    sim = simulate_triplets(config.survey.n_per_group, seed=config.seed, normalisation=config.survey.normalisation)
    ids = np.array([f"sim{i:06d}" for i in range(len(sim.images))])
    return _subcategory_data(sim.images, np.asarray(sim.subcategory), ids, masks=sim.masks,
                             meta={"normalisation": config.survey.normalisation})


def _triplets_fink(config: RunConfig) -> SurveyData:
    """The 400 real fink alerts: IPAC drb >= 0.5 as the real/bogus pseudo-label, heuristic subcategories."""
    from pix2pixai.data.alerts import triplets_from_raw_cutouts
    from pix2pixai.data.subcategories import assign_subcategories

    folder = expand_path(config.survey.path, config)
    npz, table = folder / "cutouts_raw.npz", folder / "alerts.csv"
    for path in (npz, table):
        if not path.exists():
            raise InputError(f"{path}: not found (survey.path must be the fink alerts folder)")
    with np.load(npz) as data:
        x = triplets_from_raw_cutouts(data["cutouts"], data["shapes"], config.survey.normalisation)
        candid = data["candid"].astype(str)
    with open(table, newline="") as fh:
        drb = np.array([float(row["drb"]) for row in csv.DictReader(fh)])
    labels = (drb >= 0.5).astype(np.int64)
    subcats = assign_subcategories(x, labels=labels)
    return _subcategory_data(x, np.asarray(subcats), candid, meta={"normalisation": config.survey.normalisation,
                                                                   "pseudo_labels": "drb >= 0.5"})


def _triplets_braai_set(config: RunConfig) -> SurveyData:
    from pix2pixai.data.alerts import read_braai_training_set
    from pix2pixai.data.subcategories import assign_subcategories

    x, labels, _ = read_braai_training_set(expand_path(config.survey.path, config),
                                           expand_path(config.survey.labels, config))
    subcats = assign_subcategories(x, labels=labels)
    return _subcategory_data(x, np.asarray(subcats), np.arange(len(x)).astype(str))


def _labelled_images(config: RunConfig) -> SurveyData:
    """Any labelled image set (``pix2pixai.data.images``: .npz or HDF5 with images, labels, optional
    class_names and masks); ``survey.groups`` picks and orders classes, else all classes are used."""
    from pix2pixai.data.images import read_image_set

    path = expand_path(config.survey.path, config)
    images = read_image_set(path)
    if config.survey.groups:
        images = images.select(config.survey.groups, f"{config.source_file}: survey.groups")
    return _image_survey(images.images, images.y, images.class_names, images.masks,
                         meta={"kind": "image", "source": path.name})


def _images_simulated(config: RunConfig) -> SurveyData:
    """Simulated 64x64 patches: light-echo arcs, point sources, streaks, with ground-truth masks."""
    from pix2pixai.data.synthetic.patches import PATCH_CLASSES, simulate_patches

    sim = simulate_patches(config.survey.n_per_group, seed=config.seed,
                           classes=tuple(config.survey.groups) or PATCH_CLASSES)
    return _image_survey(sim.images, sim.labels, sim.class_names, sim.masks,
                         meta={"kind": "image", "source": "simulated patches"})


def _image_survey(x: np.ndarray, y: np.ndarray, names: tuple[str, ...], masks: np.ndarray | None,
                  meta: dict[str, Any]) -> SurveyData:
    """An image set as survey data: each class is its own group (class maps per class)."""
    empty = [name for k, name in enumerate(names) if not np.any(y == k)]
    if empty:
        raise InputError(f"{meta['source']}: classes {empty} have no images; drop them or add images")
    return SurveyData(x=x.astype(np.float32), y=y, group=y.copy(), class_names=names, group_names=names,
                      group_class=tuple(range(len(names))), ids=np.arange(len(x)).astype(str), masks=masks,
                      meta=meta)
