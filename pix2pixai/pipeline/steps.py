"""The steps of a run, each reading and writing one survey's folder of the run directory.

Every step function takes the resolved :class:`RunConfig`, the :class:`SurveyDir` and ``force``;
it is skipped when its fingerprint (settings + input file hashes) matches the last finished run
and its outputs exist. Steps: data -> classifier -> explain -> generators -> classmaps -> compare.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from pix2pixai import atomic
from pix2pixai.classmaps import build_class_map, split_group
from pix2pixai.errors import InputError
from pix2pixai.pipeline.config import SIGNED_METHODS, RunConfig, expand_path
from pix2pixai.pipeline.rundir import StepTimer, SurveyDir, fingerprint
from pix2pixai.pipeline.surveys import SurveyData, load_survey

log = logging.getLogger(__name__)

STEPS: tuple[str, ...] = ("data", "classifier", "explain", "classlevel", "generators", "classmaps", "compare")


def run_step(name: str, config: RunConfig, sdir: SurveyDir, *, force: bool = False) -> dict[str, Any]:
    """Run one step unless its inputs are unchanged; return its recorded state."""
    if name not in STEPS:
        raise InputError(f"unknown step {name!r}; expected one of {', '.join(STEPS)}")
    settings, inputs, outputs, func = _table(config, sdir)[name]
    print_ = fingerprint({"step": name, "settings": settings, "seed": config.seed}, inputs)
    if not force and sdir.is_done(name, print_, outputs):
        state = sdir.step_state(name)
        state["skipped"] = True
        return state
    with StepTimer() as timer:
        summary = func(config, sdir) or {}
    sdir.mark_done(name, print_, timer.seconds, summary=summary)
    return {"fingerprint": print_, "seconds": timer.seconds, "summary": summary, "skipped": False}


def step_status(name: str, config: RunConfig, sdir: SurveyDir) -> str:
    """What running step ``name`` now would do, for ``run --resume`` to say before it starts.

    ``"done"``: finished with today's settings and inputs, kept. ``"partial"``: interrupted, and it
    continues from what it left (classifier epoch backup, unfinished map store, generator epoch
    checkpoints). ``"todo"``: runs from the start. A step after one that is not done is judged again
    when it is reached, because its inputs are then rewritten.
    """
    settings, inputs, outputs, _ = _table(config, sdir)[name]
    print_ = fingerprint({"step": name, "settings": settings, "seed": config.seed}, inputs)
    if sdir.is_done(name, print_, outputs):
        return "done"
    return "partial" if any(path.exists() for path in partial_outputs(name, sdir)) else "todo"


def partial_outputs(name: str, sdir: SurveyDir) -> list[Path]:
    """Files an interrupted ``name`` step leaves and continues from when it is run again."""
    from pix2pixai.stores.maps import partial_path

    if name == "classifier":
        return [sdir.classifier / "training" / "backup"]
    if name == "explain":
        return [partial_path(sdir.maps)]
    if name == "generators":
        return sorted(sdir.generators.glob("*/*/checkpoints"))
    return []


# --------------------------------------------------------------------------------------- data
def _data(config: RunConfig, sdir: SurveyDir) -> dict[str, Any]:
    data = load_survey(config)
    data.save(sdir.data, sdir.data_meta)
    if data.cadence is not None:
        atomic.write_json(sdir.cadence, data.cadence)
    counts = {name: int((data.group == g).sum()) for g, name in enumerate(data.group_names)}
    return {"n": int(len(data.x)), "shape": list(data.x.shape[1:]), "groups": counts}


# --------------------------------------------------------------------------------- classifier
def _build_classifier(config: RunConfig, data: SurveyData):
    from pix2pixai.trainers import classifiers, load_legacy_model

    cc = config.classifier
    shape, n_classes = data.x.shape[1:], len(data.class_names)
    if cc.mode == "legacy":
        return load_legacy_model(expand_path(cc.legacy_path, config), cc.legacy_kind)
    if cc.architecture == "dmdt_cnn":
        model = classifiers.dmdt_cnn(input_shape=shape, n_classes=n_classes)
    elif cc.architecture == "braai_vgg6":
        model = classifiers.braai_vgg6(input_shape=shape, output="softmax2")
    else:
        model = classifiers.generic_cnn(input_shape=shape, n_classes=n_classes)
    if cc.mode == "finetune":
        from pix2pixai.trainers.transfer import transfer_weights

        source = load_legacy_model(expand_path(cc.finetune_from, config), cc.legacy_kind or "crts_cnn")
        transfer_weights(source, model)
    return model


def _classifier(config: RunConfig, sdir: SurveyDir) -> dict[str, Any]:
    from pix2pixai.trainers.determinism import enable_determinism
    from pix2pixai.trainers.distribute import strategy_from_name
    from pix2pixai.trainers.splits import stratified_split
    from pix2pixai.trainers.training import evaluate_classifier, predict_proba, train_classifier

    enable_determinism(config.seed)
    data = SurveyData.load(sdir.data, sdir.data_meta)
    train_idx, test_idx = stratified_split(data.group, config.classifier.test_fraction, config.seed)
    model = _build_classifier(config, data)
    out = sdir.classifier
    out.mkdir(parents=True, exist_ok=True)
    if config.classifier.mode != "legacy":
        model = train_classifier(
            model, data.x[train_idx], data.y[train_idx], class_names=data.class_names, out_dir=out / "training",
            seed=config.seed, epochs=config.classifier.epochs, batch_size=config.classifier.batch_size,
            patience=config.classifier.patience, verbose=0, strategy=strategy_from_name(config.classifier.strategy),
        ).model
    model.save(out / "model.keras.tmp.keras")
    (out / "model.keras.tmp.keras").replace(out / "model.keras")
    probs = predict_proba(model, data.x[test_idx], batch_size=256)
    report = evaluate_classifier(model, data.x[test_idx], data.y[test_idx], data.class_names)
    atomic.save_npz(out / "split.npz", train=train_idx, test=test_idx)
    atomic.save_npz(out / "predictions.npz", probs=probs.astype(np.float32))
    atomic.write_json(out / "report.json", report)
    return {"accuracy": report["accuracy"], "macro_f1": report["macro_f1"], "n_test": int(test_idx.size)}


def load_classifier(sdir: SurveyDir):
    import keras

    return keras.models.load_model(sdir.classifier / "model.keras", compile=False)


def test_split(sdir: SurveyDir) -> tuple[SurveyData, np.ndarray, np.ndarray]:
    """The survey data, the test-split indices and the classifier's test-split probabilities."""
    data = SurveyData.load(sdir.data, sdir.data_meta)
    with np.load(sdir.classifier / "split.npz") as split, np.load(sdir.classifier / "predictions.npz") as pred:
        return data, split["test"], pred["probs"]


# ------------------------------------------------------------------------------------ explain
def method_params(config: RunConfig, method: str, data: SurveyData, train_idx: np.ndarray) -> dict[str, Any]:
    """Producer parameters for ``method`` under this config (budget from the profile)."""
    ec = config.explain
    if method == "shap":
        rng = np.random.default_rng(config.seed)
        pick = rng.choice(train_idx, size=min(ec.shap_background, train_idx.size), replace=False)
        return {"background": data.x[np.sort(pick)], "n_samples": ec.shap_samples, "seed": config.seed}
    if method == "blanking":
        return {"patch": ec.blanking_patch, "stride": ec.blanking_patch}
    if method == "gradcam":
        return {"weighting": ec.gradcam_weighting}
    if method in ("integrated-gradients",):
        return {"seed": config.seed}
    return {}


def _explain(config: RunConfig, sdir: SurveyDir) -> dict[str, Any]:
    from pix2pixai.producers import explain
    from pix2pixai.stores import MapStore

    data, test_idx, _ = test_split(sdir)
    with np.load(sdir.classifier / "split.npz") as split:
        train_idx = split["train"]
    model = load_classifier(sdir)
    x = data.x[test_idx]
    targets = np.asarray(data.group_class)[data.group[test_idx]]
    summary = {}
    sdir.maps.parent.mkdir(parents=True, exist_ok=True)
    edges = {k[:-6]: np.asarray(v) for k, v in data.meta.items() if k.endswith("_edges")}
    provenance = {"model_file": "classifier/model.keras", "survey": config.survey.name, "kind": data.meta.get("kind")}
    with MapStore.create(sdir.maps, provenance=provenance, model=model, bin_edges=edges or None) as store:
        for method in tqdm(config.explain.methods, desc=f"{config.survey.name}: explain", unit="method"):
            params = method_params(config, method, data, train_idx)
            maps = explain(method, model, x, targets=targets, score=config.explain.score, **params)
            store.write(method, maps, targets=targets, index=test_idx, params=_jsonable(params), seed=config.seed)
            summary[method] = {"shape": list(maps.shape), "mean_abs": float(np.abs(maps).mean())}
    return summary


def _classlevel(config: RunConfig, sdir: SurveyDir) -> dict[str, Any]:
    """Class-level producers of the seed work: lighting and activation maximisation.

    Activation maximisation is bounded per pixel by the training data's range, so that the
    optimised input stays a plausible member of the input space.
    """
    from pix2pixai.producers import explain_class

    data = SurveyData.load(sdir.data, sdir.data_meta)
    with np.load(sdir.classifier / "split.npz") as split:
        train = data.x[split["train"]]
    model = load_classifier(sdir)
    classes = list(range(len(data.class_names)))
    lighting = explain_class("lighting", model, classes=classes, value=float(np.percentile(train[train > 0], 99))
                             if np.any(train > 0) else 1.0)
    actmax = explain_class("actmax", model, classes=classes, bounds=(train.min(axis=0), train.max(axis=0)),
                           steps=config.explain.actmax_steps, restarts=config.explain.actmax_restarts, seed=config.seed)
    atomic.save_npz(sdir.root / "classlevel.npz", lighting=lighting, actmax=actmax)
    return {"lighting": list(lighting.shape), "actmax": list(actmax.shape)}


def _jsonable(params: dict[str, Any]) -> dict[str, Any]:
    return {k: (f"array{list(v.shape)}" if isinstance(v, np.ndarray) else v) for k, v in params.items()}


def reduced_maps(sdir: SurveyDir, method: str) -> np.ndarray:
    """The method's maps of the test split reduced to [N, H, W]."""
    from pix2pixai.producers import reduce_maps
    from pix2pixai.stores import MapStore

    with MapStore.open(sdir.maps) as store:
        return reduce_maps(store.read(method), method=method)


# --------------------------------------------------------------------------------- generators
def group_splits(config: RunConfig, sdir: SurveyDir) -> dict[str, Any]:
    """Per-group generator-training / held-out / class-map indices into the test split."""
    data, test_idx, probs = test_split(sdir)
    cm = config.classmaps
    cls = np.asarray(data.group_class)[data.group[test_idx]]
    correct = probs.argmax(axis=1) == data.y[test_idx]
    confidence = probs[np.arange(len(cls)), cls]
    splits = {}
    for g, name in enumerate(data.group_names):
        members = np.flatnonzero(data.group[test_idx] == g)
        splits[name] = split_group(
            name, members, correct, confidence, seed=config.seed + g, heldout_fraction=cm.heldout_fraction,
            train_threshold=cm.train_threshold, classmap_threshold=cm.classmap_threshold,
            min_train_pairs=cm.min_train_pairs, min_heldout=cm.min_heldout,
        )
    return splits


def _generators(config: RunConfig, sdir: SurveyDir) -> dict[str, Any]:
    """One generator per (group, method); the methods of a group share one input pipeline, and the
    groups are independent jobs (serial, or fanned out on Dask by ``generator.scheduler``)."""
    from pix2pixai.pipeline.fanout import run_jobs

    data, test_idx, _ = test_split(sdir)
    splits = group_splits(config, sdir)
    atomic.write_json(sdir.generators / "splits.json", {k: s.counts() for k, s in splits.items()})
    gc = config.generator
    x = data.x[test_idx]
    maps = {m: reduced_maps(sdir, m) for m in config.explain.methods}
    tasks = [group_generator_task(config, x, maps, split, {m: sdir.generator_dir(group, m) for m in maps},
                                  seed=config.seed)
             for group, split in splits.items() if not split.skipped]
    if gc.scheduler == "serial":
        for task in tqdm(tasks, desc=f"{config.survey.name}: generators", unit="group"):
            train_group_generators(task)
    else:
        run_jobs(train_group_generators, tasks, scheduler=gc.scheduler)
    return {"skipped": {g: s.skipped for g, s in splits.items() if s.skipped},
            "trained": [f"{g}/{m}" for g, s in splits.items() if not s.skipped for m in config.explain.methods]}


def group_generator_task(config: RunConfig, x: np.ndarray, maps: dict[str, np.ndarray], split: Any,
                         out_dirs: dict[str, Path], *, seed: int) -> tuple[np.ndarray, list, dict[str, Any]]:
    """The job of :func:`train_group_generators` for one group: its training pairs, one target per
    method in ``out_dirs`` (test-split maps [N, H, W] in ``maps``), the run's generator settings and
    ``seed``. Shared with ``pix2pixai.compare``, whose stability generators differ only in seed and folder."""
    from pix2pixai.trainers.pix2pix import GeneratorConfig

    gc = config.generator
    gen_config = GeneratorConfig(ngf=gc.ngf, ndf=gc.ndf, norm=gc.norm, loss=gc.loss, l1_weight=gc.l1_weight)
    settings = {"epochs": gc.epochs, "batch_size": gc.batch_size, "seed": seed, "flip": gc.flip, "config": gen_config,
                "strategy": gc.strategy}
    idx = split.train
    targets = [(maps[m][idx][..., None], m in SIGNED_METHODS, str(out)) for m, out in out_dirs.items()]
    return x[idx], targets, settings


def train_group_generators(task: tuple[np.ndarray, list[tuple[np.ndarray, bool, str]], dict[str, Any]]) -> None:
    """Train one group's generators (one per method) from shared inputs; a module-level function so
    that Dask can ship it to worker processes. Outputs are written atomically, so a retried job is safe."""
    from pix2pixai.trainers.determinism import enable_determinism
    from pix2pixai.trainers.distribute import strategy_from_name
    from pix2pixai.trainers.pix2pix import GeneratorJob, train_generators

    inputs, targets, settings = task
    enable_determinism(settings["seed"])  # a Dask worker process starts without the run's op determinism
    jobs = [GeneratorJob(targets=t, signed=signed, out_dir=Path(out)) for t, signed, out in targets]
    # the strategy travels by name: a strategy object cannot be pickled to a Dask worker
    options = {k: v for k, v in settings.items() if k != "strategy"}
    train_generators(inputs, jobs, verbose=0, strategy=strategy_from_name(settings["strategy"]), **options)


# ---------------------------------------------------------------------------------- classmaps
def _classmaps(config: RunConfig, sdir: SurveyDir) -> dict[str, Any]:
    from pix2pixai.trainers.pix2pix import load_generator

    data, test_idx, _ = test_split(sdir)
    splits = group_splits(config, sdir)
    x = data.x[test_idx]
    entries = []
    for method in config.explain.methods:
        maps = reduced_maps(sdir, method)
        for group, split in splits.items():
            if split.skipped:
                continue
            bundle = load_generator(sdir.generator_dir(group, method))
            cmap = group_class_map(config, bundle, x, maps, split)
            cmap.save(sdir.classmap_file(group, method), inputs_index=test_idx[split.classmap],
                      class_map_raw=bundle.scale.from_unit(cmap.class_map))
            entries.append({"group": group, "method": method, "heldout_ssim": cmap.heldout_ssim,
                            "heldout_l1": cmap.heldout_l1, **split.counts()})
    atomic.write_json(sdir.classmaps / "index.json", entries)
    return {"n_class_maps": len(entries)}


def group_class_map(config: RunConfig, bundle: Any, x: np.ndarray, maps: np.ndarray, split: Any) -> Any:
    """The class map of one (group, method) from its generator ``bundle``: G on the group's held-out
    test-split inputs (``x``, ``maps`` [N, H, W] indexed like the test split), ranked over the
    class-map inputs. Shared with ``pix2pixai.compare``'s stability generators."""
    scale = bundle.scale
    held_gen = bundle.predict_unit(x[split.heldout])[..., 0]
    held_true = scale.to_unit(maps[split.heldout])
    in_map = np.isin(split.heldout, split.classmap)
    return build_class_map(
        held_gen[in_map], held_true[in_map], data_range=scale.data_range, ranking=config.classmaps.ranking,
        top_k=config.classmaps.top_k, heldout_generated=held_gen, heldout_targets=held_true,
    )


# ------------------------------------------------------------------------------------ compare
def _compare(config: RunConfig, sdir: SurveyDir) -> dict[str, Any]:
    from pix2pixai.compare import compare_survey

    result = compare_survey(config, sdir)
    atomic.write_json(sdir.compare / "comparison.json", result)
    return {"n_compared": len(result)}


def generator_files(sdir: SurveyDir) -> list[Path]:
    """Every trained generator's network and metadata: the class maps depend on them, and a
    generator re-trained with other settings leaves ``splits.json`` unchanged."""
    return sorted([*sdir.generators.glob("*/*/generator.keras"), *sdir.generators.glob("*/*/generator.json")])


def _table(config: RunConfig, sdir: SurveyDir):
    """(settings, input files, output files, function) of every step."""
    cfg = config.to_dict()
    upstream = {
        "data": ([], [sdir.data, sdir.data_meta, *([sdir.cadence] if config.survey.kind == "dmdt" else [])]),
        "classifier": ([sdir.data], [sdir.classifier / "model.keras", sdir.classifier / "predictions.npz"]),
        "explain": ([sdir.classifier / "predictions.npz", sdir.classifier / "model.keras"], [sdir.maps]),
        "classlevel": ([sdir.data, sdir.classifier / "model.keras"], [sdir.root / "classlevel.npz"]),
        "generators": ([sdir.data, sdir.classifier / "predictions.npz", sdir.maps], [sdir.generators / "splits.json"]),
        "classmaps": ([sdir.generators / "splits.json", sdir.maps, *generator_files(sdir)],
                      [sdir.classmaps / "index.json"]),
        "compare": ([sdir.classmaps, sdir.classifier / "model.keras"], [sdir.compare / "comparison.json"]),
    }
    sections = {
        "data": {"survey": cfg["survey"]},
        "classifier": {"classifier": cfg["classifier"]},
        "explain": {"explain": cfg["explain"]},
        "classlevel": {"actmax_steps": cfg["explain"]["actmax_steps"], "restarts": cfg["explain"]["actmax_restarts"]},
        "generators": {"generator": {k: v for k, v in cfg["generator"].items() if k != "scheduler"},
                       "classmaps": cfg["classmaps"], "methods": cfg["explain"]["methods"]},
        "classmaps": {"classmaps": cfg["classmaps"]},
        "compare": {"classmaps": cfg["classmaps"], "compare": cfg["compare"],
                    "generator": {k: v for k, v in cfg["generator"].items() if k != "scheduler"}},
    }
    funcs = {"data": _data, "classifier": _classifier, "explain": _explain, "classlevel": _classlevel, "generators": _generators,
             "classmaps": _classmaps, "compare": _compare}
    return {name: (sections[name], *upstream[name], funcs[name]) for name in STEPS}


