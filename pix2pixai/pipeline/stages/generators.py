"""The generators step: cross-fitted pix2pix generators, input -> explanation map.

Pairs are every explained test-split input with its map: confident or not, correctly classified or
not, because a generator that is to explain any input must see the inputs the classifier finds hard
too (groups with fewer than ``classmaps.min_inputs`` explained inputs are left out: no skill can be
measured on them). The inputs are dealt into ``generator.folds`` seeded folds stratified by group
(:func:`pix2pixai.rundir.readers.cross_fit_split`); for each fold a generator trained on the other
folds predicts the fold's maps (the classmaps step runs it), and the generator kept for later use is
trained on all folds. ``generator.mode = "conditional"`` trains one class-conditional generator per
method on every group's pairs (the group as an input, so rare groups borrow strength);
``"per_group"`` trains one per (group, method) on the group's pairs. The methods of a job share one
input pipeline; jobs run serially or fanned out on Dask (``generator.scheduler``), and each resumes
from its evaluation checkpoints.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from pix2pixai import atomic
from pix2pixai.classmaps import CrossFit
from pix2pixai.producers.registry import is_signed
from pix2pixai.rundir.config import RunConfig
from pix2pixai.rundir.layout import SurveyDir
from pix2pixai.rundir.readers import cross_fit_split, reduced_maps, test_split

#: One training job: its inputs [n, H, W, C], their groups [n] (None: one group), (targets
#: [n, H, W, 1], signed, output folder) per method, and the settings of ``train_generators``.
GeneratorTask = tuple[np.ndarray, np.ndarray | None, list[tuple[np.ndarray, bool, str]], dict[str, Any]]


def generators_step(config: RunConfig, sdir: SurveyDir) -> dict[str, Any]:
    """Train every fold generator and every kept generator of the survey."""
    from pix2pixai.pipeline.fanout import run_jobs

    split = test_split(sdir)
    fit = cross_fit_split(config, split)
    atomic.write_json(sdir.generator_splits, fit.counts())
    x = split.data.x[split.test][fit.positions]
    maps = {m: reduced_maps(sdir, m)[fit.positions] for m in config.explain.methods}
    tasks = cross_fit_tasks(config, sdir, fit, x, maps)
    if config.generator.scheduler == "serial":
        for task in tqdm(tasks, desc=f"{config.survey.name}: generators", unit="job"):
            train_task_generators(task)
    else:
        run_jobs(train_task_generators, tasks, scheduler=config.generator.scheduler)
    return {"mode": config.generator.mode, "folds": fit.n_folds, "pairs": int(fit.positions.size),
            "skipped": fit.skipped, "generators": sum(len(task[2]) for task in tasks)}


def cross_fit_tasks(config: RunConfig, sdir: SurveyDir, fit: CrossFit, x: np.ndarray,
                    maps: dict[str, np.ndarray]) -> list[GeneratorTask]:
    """The jobs of the step: per fold (then the kept generators, trained on every fold), one job
    in conditional mode, one per group in per-group mode. ``x`` [N, H, W, C] and ``maps``
    (method -> [N, H, W]) are indexed like ``fit``'s rows."""
    if not fit.positions.size:
        return []
    conditional = config.generator.mode == "conditional"
    groups: list[str | None] = [None] if conditional else list(dict.fromkeys(fit.groups.tolist()))
    tasks = []
    for fold in [*range(fit.n_folds), None]:
        for group in groups:
            rows = fit.members(group) if fold is None else fit.train(fold, group)
            dirs = {m: (sdir.generator_dir(m, group) if fold is None else sdir.fold_generator_dir(fold, m, group))
                    for m in maps}
            tasks.append(generator_task(config, x[rows], fit.groups[rows] if conditional else None,
                                        {m: v[rows] for m, v in maps.items()}, dirs, seed=config.seed))
    return tasks


def generator_task(config: RunConfig, inputs: np.ndarray, groups: np.ndarray | None, maps: dict[str, np.ndarray],
                   out_dirs: dict[str, Path], *, seed: int) -> GeneratorTask:
    """The job of :func:`train_task_generators`: ``inputs`` [n, H, W, C] of ``groups`` [n] (None for a
    one-group generator), one target per method of ``out_dirs`` (raw reduced maps [n, H, W] in
    ``maps``), the run's generator settings and ``seed``. Shared with the compare step, whose
    stability generators differ only in seed and folder."""
    from pix2pixai.trainers.pix2pix import GeneratorConfig

    gc = config.generator
    gen_config = GeneratorConfig(ngf=gc.ngf, ndf=gc.ndf, norm=gc.norm, loss=gc.loss, l1_weight=gc.l1_weight,
                                 gan_weight=gc.gan_weight)
    settings = {"steps": gc.steps, "eval_every": gc.eval_every, "patience": gc.patience,
                "validation_fraction": gc.validation_fraction, "batch_size": gc.batch_size, "seed": seed,
                "flip": gc.flip, "config": gen_config, "strategy": gc.strategy}
    targets = [(maps[m][..., None], is_signed(m), str(out)) for m, out in out_dirs.items()]
    return inputs, groups, targets, settings


def train_task_generators(task: GeneratorTask) -> None:
    """Train one job's generators (one per method) from shared inputs; a module-level function so
    that Dask can ship it to worker processes. Outputs are written atomically, so a retried job is safe."""
    from pix2pixai.trainers.determinism import enable_determinism
    from pix2pixai.trainers.distribute import strategy_from_name
    from pix2pixai.trainers.pix2pix import GeneratorJob, train_generators

    inputs, groups, targets, settings = task
    enable_determinism(settings["seed"])  # a Dask worker process starts without the run's op determinism
    jobs = [GeneratorJob(targets=t, signed=signed, out_dir=Path(out)) for t, signed, out in targets]
    # the strategy travels by name: a strategy object cannot be pickled to a Dask worker
    options = {k: v for k, v in settings.items() if k != "strategy"}
    train_generators(inputs, jobs, groups=groups, verbose=0, strategy=strategy_from_name(settings["strategy"]),
                     **options)
