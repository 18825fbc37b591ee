"""The classlevel step: the class-level producers of the seed work, lighting and activation
maximisation, one map per class (``classlevel.npz``)."""

from __future__ import annotations

from typing import Any

from pix2pixai import atomic
from pix2pixai.pipeline.stages.explain import param_context
from pix2pixai.producers.registry import default_params
from pix2pixai.rundir.config import RunConfig
from pix2pixai.rundir.layout import SurveyDir
from pix2pixai.rundir.readers import load_classifier, test_split


def classlevel_step(config: RunConfig, sdir: SurveyDir) -> dict[str, Any]:
    """Lighting and activation maximisation per class, with the registry's defaults: lighting at the
    training inputs' 99th percentile, activation maximisation bounded per pixel by the training
    inputs' range (so the optimised input stays a plausible member of the input space)."""
    from pix2pixai.producers import explain_class

    split = test_split(sdir)
    model = load_classifier(sdir)
    classes = list(range(len(split.data.class_names)))
    context = param_context(config, split)
    maps = {method: explain_class(method, model, classes=classes, **default_params(method, context))
            for method in ("lighting", "actmax")}
    atomic.save_npz(sdir.classlevel, **maps)
    return {method: list(values.shape) for method, values in maps.items()}
