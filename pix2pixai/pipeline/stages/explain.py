"""The explain step: every configured producer's maps of the test split, into one map store."""

from __future__ import annotations

from typing import Any

import numpy as np
from tqdm.auto import tqdm

from pix2pixai.rundir.config import RunConfig
from pix2pixai.rundir.layout import SurveyDir
from pix2pixai.producers.registry import ParamContext, default_params
from pix2pixai.rundir.readers import ClassifierSplit, load_classifier, test_split


def param_context(config: RunConfig, split: ClassifierSplit) -> ParamContext:
    """What the producers' default parameters are drawn from in a run: its explain settings and seed,
    and the survey's inputs with the classifier's training rows (shap's background, lighting's value,
    actmax's bounds come from the training inputs only)."""
    return ParamContext(config.explain, config.seed, split.data.x, split.train)


def explain_step(config: RunConfig, sdir: SurveyDir) -> dict[str, Any]:
    """Explain each test input for its group's class with every configured method (``maps/maps.h5``)."""
    from pix2pixai.producers import explain
    from pix2pixai.stores import MapStore

    split = test_split(sdir)
    data, test_idx = split.data, split.test
    model = load_classifier(sdir)
    x = data.x[test_idx]
    targets = np.asarray(data.group_class)[data.group[test_idx]]
    summary = {}
    sdir.maps.parent.mkdir(parents=True, exist_ok=True)
    edges = {k[:-6]: np.asarray(v) for k, v in data.meta.items() if k.endswith("_edges")}
    provenance = {"model_file": str(sdir.model.relative_to(sdir.root)), "survey": config.survey.name,
                  "kind": data.meta.get("kind")}
    with MapStore.create(sdir.maps, provenance=provenance, model=model, bin_edges=edges or None,
                         restart_stale=True) as store:
        for method in tqdm(config.explain.methods, desc=f"{config.survey.name}: explain", unit="method"):
            params = default_params(method, param_context(config, split))
            maps = explain(method, model, x, targets=targets, score=config.explain.score, **params)
            store.write(method, maps, targets=targets, index=test_idx, params=_jsonable(params), seed=config.seed)
            summary[method] = {"shape": list(maps.shape), "mean_abs": float(np.abs(maps).mean())}
    return summary


def _jsonable(params: dict[str, Any]) -> dict[str, Any]:
    """Parameters as the map store records them: arrays (SHAP's background) by their shape only."""
    return {k: (f"array{list(v.shape)}" if isinstance(v, np.ndarray) else v) for k, v in params.items()}
