"""The generators step: one pix2pix generator per (group, method), learning input -> explanation on
the group's generator-training pairs; the groups are independent jobs (serial, or fanned out on Dask
by ``generator.scheduler``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from pix2pixai import atomic
from pix2pixai.classmaps import GroupSplit
from pix2pixai.producers.registry import is_signed
from pix2pixai.rundir.config import RunConfig
from pix2pixai.rundir.layout import SurveyDir
from pix2pixai.rundir.readers import group_splits, reduced_maps, test_split

#: One group's job: its training inputs, (targets [n, H, W, 1], signed, output folder) per method, settings.
GeneratorTask = tuple[np.ndarray, list[tuple[np.ndarray, bool, str]], dict[str, Any]]


def generators_step(config: RunConfig, sdir: SurveyDir) -> dict[str, Any]:
    """Train every group's generators; the methods of a group share one input pipeline."""
    from pix2pixai.pipeline.fanout import run_jobs

    split = test_split(sdir)
    splits = group_splits(config, split)
    atomic.write_json(sdir.generator_splits, {k: s.counts() for k, s in splits.items()})
    x = split.data.x[split.test]
    maps = {m: reduced_maps(sdir, m) for m in config.explain.methods}
    tasks = [group_generator_task(config, x, maps, group_split, {m: sdir.generator_dir(group, m) for m in maps},
                                  seed=config.seed)
             for group, group_split in splits.items() if not group_split.skipped]
    if config.generator.scheduler == "serial":
        for task in tqdm(tasks, desc=f"{config.survey.name}: generators", unit="group"):
            train_group_generators(task)
    else:
        run_jobs(train_group_generators, tasks, scheduler=config.generator.scheduler)
    return {"skipped": {g: s.skipped for g, s in splits.items() if s.skipped},
            "trained": [f"{g}/{m}" for g, s in splits.items() if not s.skipped for m in config.explain.methods]}


def group_generator_task(config: RunConfig, x: np.ndarray, maps: dict[str, np.ndarray], split: GroupSplit,
                         out_dirs: dict[str, Path], *, seed: int) -> GeneratorTask:
    """The job of :func:`train_group_generators` for one group: its training pairs, one target per
    method in ``out_dirs`` (test-split maps [N, H, W] in ``maps``), the run's generator settings and
    ``seed``. Shared with the compare step, whose stability generators differ only in seed and folder."""
    from pix2pixai.trainers.pix2pix import GeneratorConfig

    gc = config.generator
    gen_config = GeneratorConfig(ngf=gc.ngf, ndf=gc.ndf, norm=gc.norm, loss=gc.loss, l1_weight=gc.l1_weight,
                                 gan_weight=gc.gan_weight)
    settings = {"steps": gc.steps, "eval_every": gc.eval_every, "patience": gc.patience,
                "validation_fraction": gc.validation_fraction, "batch_size": gc.batch_size, "seed": seed,
                "flip": gc.flip, "config": gen_config, "strategy": gc.strategy}
    idx = split.train
    targets = [(maps[m][idx][..., None], is_signed(m), str(out)) for m, out in out_dirs.items()]
    return x[idx], targets, settings


def train_group_generators(task: GeneratorTask) -> None:
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
