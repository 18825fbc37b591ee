"""run_jobs: serial and Dask give the same results in job order; failed and killed jobs are re-run."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from pix2pixai.errors import InputError
from pix2pixai.pipeline.fanout import run_jobs


def _seeded_sum(seed: int) -> float:
    """A job whose result depends only on its argument (a seeded draw)."""
    return float(np.random.default_rng(seed).normal(size=1000).sum())


def _fail_first(marker: Path) -> str:
    """Raise on the first attempt (no marker yet), succeed on the next."""
    if not marker.exists():
        marker.write_text("failed once")
        raise RuntimeError("first attempt fails")
    return marker.read_text()


def _die_first(job: tuple[int, Path]) -> int:
    """Kill the whole worker process on the first attempt of job 1 (a marker file records it)."""
    value, marker = job
    if value == 1 and not marker.exists():
        marker.write_text("killed once")
        os._exit(1)
    return value * 10


def _always_die(value: int) -> int:
    os._exit(1)


def test_serial_results_in_job_order():
    seeds = [5, 1, 4, 1, 3]
    assert run_jobs(_seeded_sum, seeds, scheduler="serial") == [_seeded_sum(s) for s in seeds]
    assert run_jobs(_seeded_sum, [], scheduler="serial") == []


def test_serial_retries_a_failed_job(tmp_path):
    assert run_jobs(_fail_first, [tmp_path / "m"], scheduler="serial", retries=1) == ["failed once"]
    with pytest.raises(RuntimeError, match="first attempt"):
        run_jobs(_fail_first, [tmp_path / "other"], scheduler="serial", retries=0)


@pytest.mark.parametrize("scheduler, fragment", [("local:0", "at least one"), ("locale:2", "expected 'serial'"),
                                                 ("http//x", "expected 'serial'")])
def test_bad_scheduler_is_input_error(scheduler, fragment):
    pytest.importorskip("distributed")
    with pytest.raises(InputError, match=fragment):
        run_jobs(_seeded_sum, [1], scheduler=scheduler)


def test_negative_retries_is_input_error():
    with pytest.raises(InputError, match="retries=-1"):
        run_jobs(_seeded_sum, [1], scheduler="serial", retries=-1)


@pytest.fixture(scope="module")
def client():
    distributed = pytest.importorskip("distributed")
    import dask

    with dask.config.set({"distributed.scheduler.allowed-failures": 2}), \
            distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") \
            as cluster, distributed.Client(cluster) as dask_client:
        yield dask_client


def test_dask_matches_serial(client):
    seeds = list(range(12, 0, -1))
    assert run_jobs(_seeded_sum, seeds, scheduler=client) == run_jobs(_seeded_sum, seeds, scheduler="serial")
    assert run_jobs(_seeded_sum, seeds) == run_jobs(_seeded_sum, seeds, scheduler="serial")  # active client


def test_killed_worker_job_is_rerun(client, tmp_path):
    marker = tmp_path / "killed"
    jobs = [(value, marker) for value in range(4)]
    assert run_jobs(_die_first, jobs, scheduler=client) == [0, 10, 20, 30]
    assert marker.read_text() == "killed once"


def test_local_cluster_gives_up_after_retries():
    distributed = pytest.importorskip("distributed")
    with pytest.raises(distributed.KilledWorker):
        run_jobs(_always_die, [1], scheduler="local:1", retries=0)


@pytest.mark.slow
def test_tiny_chain_generators_on_a_local_cluster_match_the_serial_run(tmp_path):
    """The generators step fanned out on 2 worker processes gives the serial run's weights and class maps,
    bit for bit (each group's job depends only on the job: see trainers.pix2pix.architecture, Seeds)."""
    pytest.importorskip("distributed")
    import shutil

    from pix2pixai.pipeline.runner import run_chain
    from pix2pixai.rundir.config import load_config
    from tests.pix2pixai.conftest import _identical, run_arrays, write_tiny_config

    serial = load_config(write_tiny_config(tmp_path))
    (tmp_path / "dask").mkdir()
    fanned = load_config(write_tiny_config(tmp_path / "dask", generator={"scheduler": "local:2"}))
    run_chain([serial], tmp_path / "a", steps=("data", "classifier", "explain"), render=False, echo=lambda _: None)
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    later = ("generators", "classmaps")
    run_chain([serial], tmp_path / "a", steps=later, render=False, echo=lambda _: None)
    run_chain([fanned], tmp_path / "b", steps=later, render=False, echo=lambda _: None)
    a, b = run_arrays(tmp_path / "a"), run_arrays(tmp_path / "b")
    assert sum(key.endswith("generator.keras:weight0") for key in a) == 4
    assert sum(key.endswith(".npz:class_map") for key in a) == 4
    assert sorted(a) == sorted(b)
    differ = [key for key in a if not _identical(a[key], b[key])]
    assert differ == ["config.json"]  # which records the scheduler; every result is identical
