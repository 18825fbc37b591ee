"""Content digests (sha256) of files: what a file means, not when it was written.

A ``.keras`` model is identified by its weight arrays and its architecture with layer names
canonicalised, because Keras writes the save time into the zip and numbers auto-named layers per
process, so re-saving identical weights gives the same digest. Every other file is hashed by its
bytes, a folder by every file under it. Used by step fingerprints (:mod:`pix2pixai.rundir.fingerprint`)
and by the map store's resume key (:mod:`pix2pixai.explain_files`), so it sits below both.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path
from typing import Any


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
