"""MapStore: explanation maps on disk (HDF5), written in chunks, finalised atomically, resumable.

Layout of one store file::

    /                      attrs: format, provenance (JSON: user fields + model_sha256 when a model is given)
    /bin_edges/<name>      optional axis edges (e.g. dm, dt of a dmdt) as float64 datasets
    /<method>/maps         float32 [N, H, W, C], HDF5-chunked by write chunk
    /<method>/targets      int32 [N]   class explained per row (-1: not recorded)
    /<method>/index        int64 [N]   row of the source data set
    /<method>/done         bool [n_chunks]  which write chunks are complete
              attrs: params (JSON), seed, chunk, complete

Why: a run over thousands of inputs must not hold every map in memory, must survive being killed and
must never leave a half-written file where a finished one is expected. So writes go to
``<path>.partial``; each chunk's rows are written and flushed *before* its ``done`` flag is set, so a
killed run re-opened with :meth:`MapStore.create` sees exactly which chunks to redo; when every started
method is complete, :meth:`MapStore.close` renames the partial file onto ``path`` (``os.replace``:
readers see the old file or the complete new one). Bytes are deterministic where HDF5 allows: fixed
library-version bounds and no object timestamps, so the same maps give the same file.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import numpy as np

from pix2pixai.errors import InputError

FORMAT = "pix2pixai-maps/1"
DEFAULT_CHUNK = 256


class MapStore:
    """One HDF5 map store; use :meth:`create` (write, resume) or :meth:`open` (read) as context managers."""

    def __init__(self, h5: Any, path: Path, writable: bool):
        self._h5 = h5
        self.path = path
        self.writable = writable

    # ------------------------------------------------------------------------------ opening
    @classmethod
    def create(cls, path: str | Path, provenance: dict[str, Any] | None = None, *, model: Any = None,
               bin_edges: dict[str, np.ndarray] | None = None) -> MapStore:
        """Start a store at ``path`` (written to ``<path>.partial``), or resume an unfinished one.

        Parameters
        ----------
        provenance : JSON-able fields describing the data and run.
        model : the explained model; its :func:`model_hash` is recorded as ``model_sha256``.
        bin_edges : named axis edges (e.g. ``{"dm": ..., "dt": ...}``) stored beside the maps.

        A resumed store must have been started with the same provenance (else ``InputError``).
        """
        import h5py

        path = Path(path)
        partial = partial_path(path)
        record = dict(provenance or {})
        if model is not None:
            record["model_sha256"] = model_hash(model)
        text = _json(record)
        if partial.exists():
            h5 = h5py.File(partial, "a")
            if h5.attrs.get("format") != FORMAT or h5.attrs.get("provenance") != text:
                h5.close()
                raise InputError(f"{partial}: unfinished store started with other provenance "
                                 f"({record} expected): delete it to start again")
            return cls(h5, path, writable=True)
        partial.parent.mkdir(parents=True, exist_ok=True)
        h5 = _new_file(partial)
        h5.attrs["format"] = FORMAT
        h5.attrs["provenance"] = text
        for name, edges in (bin_edges or {}).items():
            _group(h5, "bin_edges").create_dataset(name, data=np.asarray(edges, np.float64), track_times=False)
        h5.flush()
        return cls(h5, path, writable=True)

    @classmethod
    def open(cls, path: str | Path) -> MapStore:
        """Open a finished store read-only."""
        import h5py

        path = Path(path)
        if not path.exists():
            hint = " (an unfinished one exists: resume it with MapStore.create)" if partial_path(path).exists() else ""
            raise InputError(f"{path}: no map store{hint}")
        h5 = h5py.File(path, "r")
        if h5.attrs.get("format") != FORMAT:
            h5.close()
            raise InputError(f"{path}: not a map store (format {FORMAT!r} expected)")
        return cls(h5, path, writable=False)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc_type is None:
            self.close()
        else:
            self._h5.close()  # keep the partial file: a later create() resumes it

    def close(self) -> None:
        """Close; a writable store whose started methods are all complete is finalised onto ``path``."""
        if not self._h5.id.valid:
            return
        finished = self.writable and all(self._h5[m].attrs["complete"] for m in self._method_names())
        filename = Path(self._h5.filename)
        self._h5.close()
        if finished:
            with open(filename, "rb+") as fh:
                os.fsync(fh.fileno())
            os.replace(filename, self.path)

    # ------------------------------------------------------------------------------ writing
    def begin(self, method: str, map_shape: tuple[int, ...], *, params: dict[str, Any] | None = None,
              seed: int | None = None, chunk: int = DEFAULT_CHUNK) -> None:
        """Declare ``method``'s maps (shape of one map, parameters, seed, chunk rows); idempotent on resume."""
        self._require_writable()
        if chunk < 1:
            raise InputError(f"chunk={chunk}: expected a positive number of rows")
        params_text = _json(params or {})
        if method in self._h5:
            group = self._h5[method]
            old = (tuple(group["maps"].shape[1:]), group.attrs["params"], int(group.attrs["chunk"]))
            if old != (tuple(map_shape), params_text, chunk):
                raise InputError(f"{self.path}: method {method!r} was started with maps {old[0]}, params {old[1]}, "
                                 f"chunk {old[2]}: got {tuple(map_shape)}, {params_text}, {chunk}")
            return
        group = _group(self._h5, method)
        group.create_dataset("maps", shape=(0, *map_shape), maxshape=(None, *map_shape), dtype=np.float32,
                             chunks=(chunk, *map_shape), track_times=False)
        group.create_dataset("targets", shape=(0,), maxshape=(None,), dtype=np.int32, chunks=(chunk,), track_times=False)
        group.create_dataset("index", shape=(0,), maxshape=(None,), dtype=np.int64, chunks=(chunk,), track_times=False)
        group.create_dataset("done", shape=(0,), maxshape=(None,), dtype=bool, chunks=(1024,), track_times=False)
        group.attrs["params"] = params_text
        group.attrs["seed"] = -1 if seed is None else int(seed)
        group.attrs["chunk"] = int(chunk)
        group.attrs["complete"] = False
        self._h5.flush()

    def done_chunks(self, method: str) -> np.ndarray:
        """bool ``[n_chunks]``: which write chunks of ``method`` are complete (empty if not begun)."""
        return self._h5[method]["done"][...] if method in self._h5 else np.zeros(0, bool)

    def write_chunk(self, method: str, k: int, maps: np.ndarray, targets: np.ndarray | None = None,
                    index: np.ndarray | None = None) -> None:
        """Write chunk ``k`` (rows ``k*chunk ...``): rows first, flushed, then its ``done`` flag."""
        self._require_writable()
        group = self._h5[method]
        chunk = int(group.attrs["chunk"])
        maps = np.asarray(maps, np.float32)
        if maps.shape[1:] != group["maps"].shape[1:] or not 0 < len(maps) <= chunk:
            raise InputError(f"chunk {k} of {method!r} has shape {maps.shape}: expected [<= {chunk}, "
                             f"{', '.join(map(str, group['maps'].shape[1:]))}]")
        rows = slice(k * chunk, k * chunk + len(maps))
        targets = np.full(len(maps), -1, np.int32) if targets is None else np.asarray(targets, np.int32)
        index = np.arange(rows.start, rows.stop) if index is None else np.asarray(index, np.int64)
        if targets.shape != (len(maps),) or index.shape != (len(maps),):
            raise InputError(f"chunk {k} of {method!r}: targets {targets.shape} and index {index.shape} "
                             f"must be [{len(maps)}] like the maps")
        for name in ("maps", "targets", "index"):
            if group[name].shape[0] < rows.stop:
                group[name].resize(rows.stop, axis=0)
        group["maps"][rows] = maps
        group["targets"][rows] = targets
        group["index"][rows] = index
        self._h5.flush()
        if group["done"].shape[0] <= k:
            group["done"].resize(k + 1, axis=0)
        group["done"][k] = True
        self._h5.flush()

    def end(self, method: str) -> None:
        """Mark ``method`` complete (every chunk written); required before finalising."""
        self._require_writable()
        group = self._h5[method]
        done = group["done"][...]
        expected = -(-group["maps"].shape[0] // int(group.attrs["chunk"]))
        if done.size != expected or not done.all():
            raise InputError(f"{self.path}: method {method!r} has chunks {np.flatnonzero(~done).tolist()} "
                             f"missing of {expected}")
        group.attrs["complete"] = True
        self._h5.flush()

    def write(self, method: str, maps: np.ndarray, targets: np.ndarray | None = None, index: np.ndarray | None = None,
              params: dict[str, Any] | None = None, seed: int | None = None, chunk: int = DEFAULT_CHUNK) -> None:
        """Write all of ``method``'s maps ``[N, ...]`` in chunks (skipping chunks already done) and end it."""
        maps = np.asarray(maps)
        self.begin(method, maps.shape[1:], params=params, seed=seed, chunk=chunk)
        done = self.done_chunks(method)
        for k, start in enumerate(range(0, len(maps), chunk)):
            if k < done.size and done[k]:
                continue
            rows = slice(start, start + chunk)
            self.write_chunk(method, k, maps[rows], None if targets is None else np.asarray(targets)[rows],
                             None if index is None else np.asarray(index)[rows])
        self.end(method)

    # ------------------------------------------------------------------------------ reading
    def methods(self) -> list[str]:
        """Complete methods in the store, sorted."""
        return sorted(m for m in self._method_names() if self._h5[m].attrs["complete"])

    def read(self, method: str, indices: np.ndarray | None = None) -> np.ndarray:
        """float32 maps of ``method``: all ``[N, ...]`` or the rows ``indices`` (any order, repeats allowed)."""
        return self._rows(method, "maps", indices)

    def targets(self, method: str, indices: np.ndarray | None = None) -> np.ndarray:
        """int32 targets per row (-1 where not recorded)."""
        return self._rows(method, "targets", indices)

    def index(self, method: str, indices: np.ndarray | None = None) -> np.ndarray:
        """int64 source-data row of each stored row."""
        return self._rows(method, "index", indices)

    def info(self, method: str) -> dict[str, Any]:
        """``{"params", "seed", "chunk", "n", "complete"}`` of ``method``."""
        group = self._method(method)
        return {"params": json.loads(group.attrs["params"]), "seed": int(group.attrs["seed"]),
                "chunk": int(group.attrs["chunk"]), "n": int(group["maps"].shape[0]),
                "complete": bool(group.attrs["complete"])}

    @property
    def provenance(self) -> dict[str, Any]:
        return json.loads(self._h5.attrs["provenance"])

    @property
    def bin_edges(self) -> dict[str, np.ndarray]:
        group = self._h5.get("bin_edges")
        return {} if group is None else {k: group[k][...] for k in group}

    def _rows(self, method: str, name: str, indices: np.ndarray | None) -> np.ndarray:
        data = self._method(method)[name]
        if indices is None:
            return data[...]
        idx = np.asarray(indices, np.int64)
        if idx.ndim != 1 or (idx.size and (idx.min() < 0 or idx.max() >= data.shape[0])):
            raise InputError(f"{self.path}: indices {idx.tolist()[:8]} out of range for {data.shape[0]} rows of {method!r}")
        unique, inverse = np.unique(idx, return_inverse=True)  # h5py reads increasing unique rows
        return data[unique][inverse]

    def _method(self, method: str) -> Any:
        if method not in self._method_names():
            raise InputError(f"{self.path}: no maps for method {method!r} (has {self._method_names()})")
        return self._h5[method]

    def _method_names(self) -> list[str]:
        return [k for k in self._h5 if k != "bin_edges"]

    def _require_writable(self) -> None:
        if not self.writable:
            raise InputError(f"{self.path}: opened read-only (use MapStore.create to write)")


def partial_path(path: str | Path) -> Path:
    """Where an unfinished store for ``path`` lives."""
    path = Path(path)
    return path.with_name(path.name + ".partial")


def model_hash(model: Any) -> str:
    """sha256 of the model's weights: every weight's shape and float32 little-endian bytes, in layer order.

    Names are left out (Keras numbers layers per session), so two models with equal weights hash equal.
    """
    digest = hashlib.sha256()
    for weight in model.weights:
        value = np.ascontiguousarray(np.asarray(weight), dtype="<f4")
        digest.update(str(value.shape).encode())
        digest.update(value.tobytes())
    return digest.hexdigest()


def chunks_of(x: np.ndarray | Iterable[np.ndarray], chunk: int) -> Iterator[np.ndarray]:
    """Consecutive ``chunk``-row blocks of an array or of a stream of arrays (re-blocked)."""
    if isinstance(x, np.ndarray):
        for start in range(0, len(x), chunk):
            yield x[start:start + chunk]
        return
    buffer: list[np.ndarray] = []
    held = 0
    for block in x:
        buffer.append(np.asarray(block))
        held += len(buffer[-1])
        while held >= chunk:
            joined = np.concatenate(buffer)
            yield joined[:chunk]
            buffer, held = [joined[chunk:]], held - chunk
    if held:
        yield np.concatenate(buffer)


def _new_file(path: Path) -> Any:
    """A fresh HDF5 file with fixed library-version bounds and no object timestamps."""
    import h5py

    fcpl = h5py.h5p.create(h5py.h5p.FILE_CREATE)
    fcpl.set_obj_track_times(False)
    fapl = h5py.h5p.create(h5py.h5p.FILE_ACCESS)
    # v1.8 superblock: no "open for write" flag, so the partial file of a killed writer reopens
    fapl.set_libver_bounds(h5py.h5f.LIBVER_V18, h5py.h5f.LIBVER_V18)
    return h5py.File(h5py.h5f.create(os.fsencode(path), h5py.h5f.ACC_TRUNC, fcpl=fcpl, fapl=fapl))


def _group(h5: Any, name: str) -> Any:
    """The group ``name`` (created without timestamps if absent)."""
    import h5py

    if name in h5:
        return h5[name]
    gcpl = h5py.h5p.create(h5py.h5p.GROUP_CREATE)
    gcpl.set_obj_track_times(False)
    return h5py.Group(h5py.h5g.create(h5.id, name.encode(), gcpl=gcpl))


def _json(obj: dict[str, Any]) -> str:
    try:
        return json.dumps(obj, sort_keys=True, default=_describe)
    except TypeError as err:
        raise InputError(f"provenance/params {sorted(obj)}: {err}") from None


def _describe(value: Any) -> Any:
    """JSON for non-JSON parameter values: arrays by shape, dtype and content hash (provenance, not data)."""
    if isinstance(value, np.ndarray):
        digest = hashlib.sha256(np.ascontiguousarray(value).tobytes()).hexdigest()[:16]
        return f"array{list(value.shape)}:{value.dtype}:sha256:{digest}"
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"parameter value of type {type(value).__name__} is not JSON serialisable")
