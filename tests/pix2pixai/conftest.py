"""Shared fixtures for whole-chain tests: a tiny dmdt config and a reader of a run's outputs.

The tiny config runs the simulated CRTS chain (two groups, 40 curves each, gradcam + saliency,
4-step 4-filter generators cross-fitted over the demo profile's 3 folds) with the class-map
threshold lowered so that both groups produce class maps from a weak two-epoch classifier. It exists so that determinism and kill/resume tests can run
the real pipeline end to end in well under a minute on a free CPU.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import keras
import numpy as np
import pytest

SURVEY = "tiny"

TINY_CONFIG = f"""\
seed = 3
profile = "demo"

[survey]
name = "{SURVEY}"
kind = "dmdt"
source = "simulate"
preset = "crts"
groups = ["EW", "LPV"]
n_per_group = 40

[classifier]
mode = "train"
architecture = "dmdt_cnn"
epochs = 2
batch_size = 16
test_fraction = 0.5
patience = 2

[explain]
methods = ["gradcam", "saliency"]
actmax_steps = 3
actmax_restarts = 1

[generator]
ngf = 4
ndf = 4
steps = 4
eval_every = 2
batch_size = 4

[classmaps]
classmap_threshold = 0.3
top_k = 2

[compare]
stability_seeds = 1
stability_groups = 1
cascading_inputs = 2
"""


def write_tiny_config(folder: Path, **sections: dict[str, object]) -> Path:
    """Write the tiny config into ``folder/tiny.toml`` with keys replaced or added per section
    (e.g. ``generator={"steps": 8}``) and return its path."""
    text = TINY_CONFIG
    for section, values in sections.items():
        start = text.index(f"[{section}]\n")
        end = text.find("\n[", start)
        end = len(text) if end < 0 else end + 1
        body = text[start:end]
        for key, value in values.items():
            line = f"{key} = {json.dumps(value)}"
            body, found = re.subn(rf"^{key} = .*$", line, body, flags=re.MULTILINE)
            body = body if found else body.rstrip("\n") + f"\n{line}\n"
        text = text[:start] + body + text[end:]
    path = folder / "tiny.toml"
    path.write_text(text)
    return path


@pytest.fixture
def tiny_config(tmp_path: Path) -> Path:
    """Path of the tiny dmdt chain config in this test's ``tmp_path``."""
    return write_tiny_config(tmp_path)


def run_arrays(out: Path) -> dict[str, np.ndarray]:
    """Every result array found in the tiny survey's run directory, keyed ``<file>:<array>``.

    What is compared between runs: the data set, the classifier's split and test predictions,
    every method's maps, targets and rows in the map store, the class-level maps, every class-map
    file, the generators' training histories and splits, the comparison scores (JSON files are
    flattened into one string array each so that equality is exact), and the weights of every
    ``.keras`` model in layer order. Whole ``.keras`` bytes are not compared: the zip records the
    save time, Keras writes Python ``id()`` values as ``shared_object_id`` and auto-numbered layer
    names depend on how many models the process built before. Files a partial run has not made
    yet are simply absent from the result.
    """
    from pix2pixai.stores import MapStore
    from pix2pixai.trainers import pix2pix  # noqa: F401  registers the generators' layers for load_model

    root = out / SURVEY
    arrays: dict[str, np.ndarray] = {}
    for path in sorted(root.rglob("*.npz")):
        with np.load(path) as stored:
            arrays.update({f"{path.relative_to(root)}:{name}": stored[name] for name in stored.files})
    if (root / "maps" / "maps.h5").exists():
        with MapStore.open(root / "maps" / "maps.h5") as store:
            for method in store.methods():
                for name, read in (("maps", store.read), ("targets", store.targets), ("index", store.index)):
                    arrays[f"maps.h5:{method}/{name}"] = read(method)
    for path in sorted(p for p in root.rglob("*.json") if p.parent.name not in ("steps", "checkpoints")):
        arrays[str(path.relative_to(root))] = np.array(json.dumps(json.loads(path.read_text()), sort_keys=True))
    for path in sorted(root.rglob("*.keras")):
        model = keras.models.load_model(path, compile=False)
        arrays.update({f"{path.relative_to(root)}:weight{i}": w for i, w in enumerate(model.get_weights())})
    return arrays


def assert_same_runs(first: Path, second: Path) -> None:
    """Assert two run directories hold the same result arrays (exactly), naming every one that differs."""
    a, b = run_arrays(first), run_arrays(second)
    assert sorted(a) == sorted(b)
    differ = [key for key in a if not _identical(a[key], b[key])]
    assert not differ, f"differ between {first} and {second}: {differ}"


def _identical(x: np.ndarray, y: np.ndarray) -> bool:
    """Same shape, dtype and values (NaN equal to NaN in float arrays)."""
    floating = np.issubdtype(x.dtype, np.floating)
    return x.shape == y.shape and x.dtype == y.dtype and bool(np.array_equal(x, y, equal_nan=floating))

