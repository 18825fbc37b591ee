"""The chain's steps, each declared once as a :class:`Step` record.

Steps in order: data -> classifier -> explain -> classlevel -> generators -> classmaps -> compare.
A record holds everything about a step: its CLI command and help, the config settings and input
files it is fingerprinted by, the outputs that must exist for it to count as done, the files an
interrupted run continues from, and its function (in :mod:`pix2pixai.pipeline.stages`). A step is
skipped when its fingerprint matches the last finished run and its outputs exist; the runner, the
resume plan and the CLI all read these records.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from pix2pixai.errors import InputError
from pix2pixai.pipeline.stages.classifier import classifier_step
from pix2pixai.pipeline.stages.classlevel import classlevel_step
from pix2pixai.pipeline.stages.classmaps import classmaps_step
from pix2pixai.pipeline.stages.compare import compare_step
from pix2pixai.pipeline.stages.data import data_step
from pix2pixai.pipeline.stages.explain import explain_step
from pix2pixai.pipeline.stages.generators import generators_step
from pix2pixai import __version__
from pix2pixai.rundir.config import RunConfig, classifier_files, survey_files
from pix2pixai.rundir.fingerprint import fingerprint
from pix2pixai.rundir.layout import SurveyDir

#: ``(config, survey folder) -> files``: a step's inputs or outputs.
Files = Callable[[RunConfig, SurveyDir], list[Path]]


def _no_partial_files(sdir: SurveyDir) -> list[Path]:
    """A step that leaves nothing to continue from when interrupted: it runs again from the start."""
    return []


@dataclass(frozen=True)
class Step:
    """One step of the chain.

    ``command``, ``help`` and ``aliases``: the CLI command that runs it alone on a run directory,
    its help line and its former command names. ``settings`` picks the step's part of
    ``RunConfig.to_dict()`` (what re-runs it when changed); ``inputs`` are the files whose content
    it depends on; ``outputs`` must exist for it to be done; ``run`` is its function; ``partial``
    are the files an interrupted run leaves and continues from.
    """

    name: str
    command: str
    help: str
    settings: Callable[[dict[str, Any]], dict[str, Any]]
    inputs: Files
    outputs: Files
    run: Callable[[RunConfig, SurveyDir], dict[str, Any]]
    partial: Callable[[SurveyDir], list[Path]] = _no_partial_files
    aliases: tuple[str, ...] = ()


def _generator_settings(cfg: dict[str, Any]) -> dict[str, Any]:
    """The generator section without ``scheduler``, which does not change what is trained."""
    return {k: v for k, v in cfg["generator"].items() if k != "scheduler"}


def _partial_maps(sdir: SurveyDir) -> list[Path]:
    from pix2pixai.stores.maps import partial_path

    return [partial_path(sdir.maps)]


STEPS: tuple[Step, ...] = (
    Step("data", "data", "simulate or load a survey's inputs into the run directory (data.npz)",
         settings=lambda cfg: {"survey": cfg["survey"]},
         inputs=lambda config, sdir: survey_files(config),
         outputs=lambda config, sdir: [sdir.data, sdir.data_meta,
                                       *([sdir.cadence] if config.survey.kind == "dmdt" else [])],
         run=data_step, aliases=("simulate",)),
    Step("classifier", "classifier", "split the data, then train, fine-tune or load the classifier",
         settings=lambda cfg: {"classifier": cfg["classifier"]},
         inputs=lambda config, sdir: [sdir.data, *classifier_files(config)],
         outputs=lambda config, sdir: [sdir.model, sdir.predictions],
         partial=lambda sdir: [sdir.classifier_backup],
         run=classifier_step, aliases=("train-classifier",)),
    Step("explain", "explain", "explanation maps of the test split with every configured method (maps/maps.h5)",
         settings=lambda cfg: {"explain": cfg["explain"]},
         inputs=lambda config, sdir: [sdir.predictions, sdir.model],
         outputs=lambda config, sdir: [sdir.maps],
         partial=_partial_maps, run=explain_step),
    Step("classlevel", "classlevel", "class-level maps: lighting and activation maximisation (classlevel.npz)",
         settings=lambda cfg: {"actmax_steps": cfg["explain"]["actmax_steps"],
                               "restarts": cfg["explain"]["actmax_restarts"]},
         inputs=lambda config, sdir: [sdir.data, sdir.model],
         outputs=lambda config, sdir: [sdir.classlevel],
         run=classlevel_step),
    Step("generators", "generators", "train the cross-fitted pix2pix generators (per fold and on all folds)",
         # min_inputs decides which groups are cross-fitted; the class-map threshold and ranking do not
         settings=lambda cfg: {"generator": _generator_settings(cfg), "min_inputs": cfg["classmaps"]["min_inputs"],
                               "methods": cfg["explain"]["methods"]},
         inputs=lambda config, sdir: [sdir.data, sdir.split, sdir.predictions, sdir.maps],
         outputs=lambda config, sdir: [sdir.generator_splits],
         partial=lambda sdir: sdir.generator_checkpoints(),
         run=generators_step, aliases=("train-gan",)),
    Step("classmaps", "class-maps", "out-of-fold maps and skill per cell; rank them into a class map per group",
         settings=lambda cfg: {"classmaps": cfg["classmaps"], "mode": cfg["generator"]["mode"],
                               "folds": cfg["generator"]["folds"]},
         # every generator's network and metadata: a generator re-trained with other settings
         # leaves splits.json unchanged
         inputs=lambda config, sdir: [sdir.data, sdir.split, sdir.predictions, sdir.generator_splits, sdir.maps,
                                      *sdir.generator_files()],
         outputs=lambda config, sdir: [sdir.classmap_index],
         run=classmaps_step),
    Step("compare", "compare", "score each class map against the plain aggregates (faithfulness, sanity, stability)",
         settings=lambda cfg: {"classmaps": cfg["classmaps"], "compare": cfg["compare"],
                               "generator": _generator_settings(cfg)},
         inputs=lambda config, sdir: [sdir.classmaps, sdir.model, *sdir.generator_files()],
         outputs=lambda config, sdir: [sdir.comparison],
         run=compare_step),
)

STEP_NAMES: tuple[str, ...] = tuple(step.name for step in STEPS)


def step_named(name: str) -> Step:
    """The record of step ``name`` (an ``InputError`` naming the known steps otherwise)."""
    for step in STEPS:
        if step.name == name:
            return step
    raise InputError(f"unknown step {name!r}; expected one of {', '.join(STEP_NAMES)}")


def step_fingerprint(step: Step, config: RunConfig, sdir: SurveyDir) -> str:
    """The fingerprint ``step`` would record now: its settings, the run's seed, the toolkit's version
    (an upgrade may change results, so it re-runs every step once) and the content of its input files
    (a light-curve file edited in place re-runs the data step and everything after it)."""
    settings = {"step": step.name, "settings": step.settings(config.to_dict()), "seed": config.seed,
                "pix2pixai": __version__}
    return fingerprint(settings, step.inputs(config, sdir))


def run_step(name: str, config: RunConfig, sdir: SurveyDir, *, force: bool = False) -> dict[str, Any]:
    """Run one step unless its inputs are unchanged; return its recorded state."""
    step = step_named(name)
    print_ = step_fingerprint(step, config, sdir)
    if not force and sdir.is_done(name, print_, step.outputs(config, sdir)):
        state = sdir.step_state(name)
        state["skipped"] = True
        return state
    start = time.perf_counter()
    summary = step.run(config, sdir) or {}
    seconds = time.perf_counter() - start
    sdir.mark_done(name, print_, seconds, summary=summary)
    return {"fingerprint": print_, "seconds": seconds, "summary": summary, "skipped": False}


def step_status(name: str, config: RunConfig, sdir: SurveyDir) -> str:
    """What running step ``name`` now would do, for ``run --resume`` to say before it starts.

    ``"done"``: finished with today's settings and inputs, kept. ``"partial"``: interrupted, and it
    continues from what it left (classifier epoch backup, unfinished map store, generator epoch
    checkpoints). ``"todo"``: runs from the start. A step after one that is not done is judged again
    when it is reached, because its inputs are then rewritten.
    """
    step = step_named(name)
    if sdir.is_done(name, step_fingerprint(step, config, sdir), step.outputs(config, sdir)):
        return "done"
    return "partial" if any(path.exists() for path in step.partial(sdir)) else "todo"
