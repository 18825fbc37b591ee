"""Kill a run with SIGKILL at several points; re-running the same command finishes with the same results."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from pix2pixai.pipeline.runner import run_chain
from pix2pixai.rundir.config import load_config
from tests.pix2pixai.conftest import (
    SURVEY,
    assert_same_runs,
    run_arrays,
    write_tiny_config,
)

TIMEOUT_S = 600

#: A writer killed while ``maps.h5.partial`` is open must leave a file that reopens: the store uses
#: HDF5 v1.8 bounds (superblock v2), which have no "open for write" flag to leave set.

_KILLED_WRITER = """
import os, sys
import numpy as np
from pix2pixai.stores import MapStore
store = MapStore.create(sys.argv[1], {"run": "killed"})
store.begin("saliency", (2, 2, 1), chunk=2)
store.write_chunk("saliency", 0, np.ones((2, 2, 2, 1)))
os._exit(9)
"""


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "pix2pixai.cli", *args]


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONUNBUFFERED": "1", "TF_CPP_MIN_LOG_LEVEL": "3"}


def _kill_when(command: list[str], out: Path, pattern: str) -> None:
    """Start ``command`` and SIGKILL it as soon as a file matching ``pattern`` exists under ``out/<survey>``."""
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=_env())
    deadline = time.monotonic() + TIMEOUT_S
    while proc.poll() is None and time.monotonic() < deadline:
        if any((out / SURVEY).glob(pattern)):
            proc.send_signal(signal.SIGKILL)
            break
        time.sleep(0.02)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL, f"run ended ({proc.returncode}) before {pattern} appeared: {stderr}"


def _finish(command: list[str]) -> None:
    result = subprocess.run(command, check=False, capture_output=True, text=True, env=_env(), timeout=TIMEOUT_S)
    assert result.returncode == 0, result.stderr


def test_killed_after_classifier_explain_step_resumes(tiny_config, tmp_path):
    reference = tmp_path / "reference"
    run_chain([load_config(tiny_config)], reference, steps=("data", "classifier", "explain"), render=False,
              echo=lambda _: None)
    out = tmp_path / "killed"
    _kill_when(_cli("run", str(tiny_config), "--out", str(out)), out, "steps/classifier.json")
    assert not (out / SURVEY / "maps" / "maps.h5").exists()
    _finish(_cli("explain", str(tiny_config), "--out", str(out)))
    assert "maps.h5:saliency/maps" in run_arrays(out)
    assert_same_runs(reference, out)


def test_store_of_a_killed_writer_resumes(tmp_path):
    from pix2pixai.stores import MapStore

    path = tmp_path / "maps.h5"
    subprocess.run([sys.executable, "-c", _KILLED_WRITER, str(path)], check=False, timeout=120)
    maps = np.arange(16, dtype=np.float32).reshape(4, 2, 2, 1)
    with MapStore.create(path, {"run": "killed"}) as store:
        assert store.done_chunks("saliency").tolist() == [True]
        store.write("saliency", maps, chunk=2)
    with MapStore.open(path) as store:
        np.testing.assert_array_equal(store.read("saliency")[2:], maps[2:])


@pytest.fixture(scope="module")
def resume_setup(tmp_path_factory) -> tuple[Path, Path]:
    """One config (four generator evaluations, so a kill can land between them) and its uninterrupted CLI run."""
    folder = tmp_path_factory.mktemp("resume")
    config = write_tiny_config(folder, generator={"steps": 8})
    _finish(_cli("run", str(config), "--out", str(folder / "reference")))
    return config, folder / "reference"


@pytest.mark.slow
@pytest.mark.parametrize("pattern", ["classifier/training/*", "maps/maps.h5.partial",
                                     "steps/explain.json",
                                     "generators/folds/*/*/checkpoints/checkpoint", "classmaps/*.npz"],
                         ids=["mid-classifier", "mid-map-store", "after-explain", "mid-generator", "mid-classmaps"])
def test_killed_run_resumes_to_same_results(resume_setup, tmp_path, pattern):
    config, reference = resume_setup
    out = tmp_path / "killed"
    _kill_when(_cli("run", str(config), "--out", str(out)), out, pattern)
    _finish(_cli("run", str(config), "--out", str(out), "--resume"))
    assert "compare/comparison.json" in run_arrays(out)
    assert_same_runs(reference, out)
