"""The run directory: where every step reads its inputs and writes its outputs.

Layout (one folder per survey, so a demo holds two surveys side by side)::

    RUN/
      manifest.json            versions, configs, seeds, input hashes, timings, class_maps list
      report.html              self-contained report (figures embedded)
      figures/                 PNG + PDF
      <survey>/
        config.json            the resolved config of this survey
        data.npz, data.json    inputs x [N,H,W,C], labels, groups, masks (if any); metadata
        classifier/            model.keras, split.npz, predictions.npz, report.json
        maps/maps.h5           explanation maps of the test split (MapStore)
        generators/<group>/<method>/   generator.keras + generator.json
        classmaps/<group>__<method>.npz
        compare/comparison.json
        steps/<step>.json      fingerprint of each finished step (skip when unchanged)

A step is skipped when its fingerprint (hash of its config section and of its input files) equals
the recorded one and its outputs exist; ``force`` re-runs it. Input files are hashed by content, not
by bytes where the bytes carry noise: a ``.keras`` model is identified by its weight arrays and its
architecture with layer names canonicalised, because Keras writes the save time into the zip and
numbers auto-named layers per process, so re-saving identical weights must not re-run what follows.
"""

from __future__ import annotations

import hashlib
import io
import json
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from pix2pixai import atomic


def file_digest(path: Path, chunk: int = 1 << 20) -> str:
    """sha256 of a file's content (or of every file under a folder, in sorted order).

    ``.keras`` files are hashed by :func:`keras_model_digest` (weights + canonical architecture),
    every other file by its bytes.
    """
    digest = hashlib.sha256()
    paths = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for item in paths:
        digest.update(str(item.relative_to(path) if path.is_dir() else item.name).encode())
        if item.suffix == ".keras" and zipfile.is_zipfile(item):
            digest.update(keras_model_digest(item).encode())
            continue
        with open(item, "rb") as fh:
            for block in iter(lambda: fh.read(chunk), b""):
                digest.update(block)
    return digest.hexdigest()


def keras_model_digest(path: Path) -> str:
    """sha256 of what a Keras 3 ``.keras`` file means: its architecture and its weight arrays.

    Left out, because they change when identical weights are saved again: ``metadata.json`` (save
    date, Keras version), the HDF5 layout bytes and attributes of ``model.weights.h5``, and the
    session-numbered names of layers (``dropout_3``), which are renamed in order of appearance.
    Also left out: the compile settings and optimiser state, which do not change what the model
    computes (a model reloaded with ``compile=False`` and saved again is the same model).
    Read with zipfile and h5py only, so that fingerprinting a step does not build the model.
    """
    import h5py

    digest = hashlib.sha256()
    with zipfile.ZipFile(path) as archive:
        names = set(archive.namelist())
        if "config.json" in names:
            config = json.loads(archive.read("config.json"))
            config.pop("compile_config", None)
            digest.update(json.dumps(_canonical_names(config), sort_keys=True).encode())
        if "model.weights.h5" in names:
            with h5py.File(io.BytesIO(archive.read("model.weights.h5")), "r") as weights:
                arrays: list[tuple[str, Any]] = []
                weights.visititems(lambda name, obj: arrays.append((name, obj)) if isinstance(obj, h5py.Dataset) else None)
                for name, dataset in sorted(arrays, key=lambda item: item[0]):
                    if name.startswith("optimizer/"):
                        continue
                    value = dataset[()]
                    digest.update(f"{name}:{value.dtype.str}:{value.shape}".encode())
                    digest.update(value.tobytes() if hasattr(value, "tobytes") else repr(value).encode())
    return digest.hexdigest()


def _canonical_names(config: Any) -> Any:
    """``config`` with every layer/model name replaced by its order of first appearance and every
    ``shared_object_id`` dropped (a Python ``id()``, present only when one object, such as a dtype
    policy, happened to be shared by layers when saved), so that equal architectures compare equal."""
    names: dict[str, str] = {}

    def collect(node: Any) -> None:
        if isinstance(node, dict):
            inner = node.get("config")
            if "class_name" in node and isinstance(inner, dict) and isinstance(inner.get("name"), str):
                names.setdefault(inner["name"], f"#{len(names)}")
            for value in node.values():
                collect(value)
        elif isinstance(node, list):
            for value in node:
                collect(value)

    def rename(node: Any) -> Any:
        if isinstance(node, dict):
            return {key: rename(value) for key, value in node.items() if key != "shared_object_id"}
        if isinstance(node, list):
            return [rename(value) for value in node]
        return names.get(node, node) if isinstance(node, str) else node

    collect(config)
    return rename(config)


def fingerprint(settings: Any, inputs: Iterable[Path]) -> str:
    """Hash of a step's settings (JSON-able) and the content of its input files (see ``file_digest``)."""
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode())
    for path in inputs:
        digest.update(file_digest(path).encode() if path.exists() else b"missing")
    return digest.hexdigest()


@dataclass
class SurveyDir:
    """Paths of one survey's part of a run directory."""

    root: Path

    @property
    def data(self) -> Path:
        return self.root / "data.npz"

    @property
    def data_meta(self) -> Path:
        return self.root / "data.json"

    @property
    def cadence(self) -> Path:
        """Cadence diagnostics of a dmdt survey's light curves (written by the data step)."""
        return self.root / "cadence.json"

    @property
    def classifier(self) -> Path:
        return self.root / "classifier"

    @property
    def maps(self) -> Path:
        return self.root / "maps" / "maps.h5"

    @property
    def generators(self) -> Path:
        return self.root / "generators"

    @property
    def classmaps(self) -> Path:
        return self.root / "classmaps"

    @property
    def compare(self) -> Path:
        return self.root / "compare"

    def generator_dir(self, group: str, method: str) -> Path:
        return self.generators / group / method

    def classmap_file(self, group: str, method: str) -> Path:
        return self.classmaps / f"{group}__{method}.npz"

    def step_file(self, step: str) -> Path:
        return self.root / "steps" / f"{step}.json"

    def is_done(self, step: str, print_: str, outputs: Iterable[Path]) -> bool:
        """True when ``step`` last finished with this fingerprint and its outputs still exist."""
        state = self.step_state(step)
        return bool(state) and state.get("fingerprint") == print_ and all(p.exists() for p in outputs)

    def step_state(self, step: str) -> dict[str, Any]:
        path = self.step_file(step)
        if not path.exists():
            return {}
        try:
            return json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            return {}

    def mark_done(self, step: str, print_: str, seconds: float, **extra: Any) -> None:
        atomic.write_json(self.step_file(step), {"fingerprint": print_, "seconds": round(seconds, 3), **extra})


class StepTimer:
    """Context manager measuring a step's wall time."""

    def __enter__(self) -> "StepTimer":
        self.start = time.perf_counter()
        self.seconds = 0.0
        return self

    def __exit__(self, *exc: Any) -> None:
        self.seconds = time.perf_counter() - self.start
