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
method is complete, :meth:`MapStore.close` renames the partial file onto ``path``
(:func:`pix2pixai.atomic.publish`: readers see the old file or the complete new one; a failed rename
leaves the partial file to resume). A partial file started by the failing call itself is removed
when the failure is an input error or came before any chunk was written: there is nothing to resume. Bytes are deterministic where HDF5 allows: fixed library-version
bounds and no object timestamps, so the same maps give the same file.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import numpy as np

from pix2pixai.atomic import publish
from pix2pixai.errors import InputError

log = logging.getLogger(__name__)

FORMAT = "pix2pixai-maps/1"
DEFAULT_CHUNK = 256

#: Method names become HDF5 group names: no "/" (a sub-group), ".", "" or NUL, and not "bin_edges".
_METHOD_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+-]*")


@contextlib.contextmanager
def _readable(path: Path) -> Iterator[None]:
    """Turn the errors h5py raises on a damaged or foreign file into one InputError naming ``path``.

    Why: a truncated or overwritten store fails deep inside HDF5 (OSError, KeyError, RuntimeError,
    ValueError depending on which structure is hit); the user needs to know which file is bad.
    """
    try:
        yield
    except InputError:
        raise
    except (OSError, KeyError, RuntimeError, ValueError) as err:
        raise InputError(f"{path}: unreadable or damaged map store ({type(err).__name__}: {err}); expected an "
                         f"HDF5 file written by MapStore") from err


class MapStore:
    """One HDF5 map store; use :meth:`create` (write, resume) or :meth:`open` (read) as context managers."""

    def __init__(self, h5: Any, path: Path, writable: bool, *, fresh: bool = False):
        self._h5 = h5
        self.path = path
        self.writable = writable
        self._fresh = fresh  # the partial file was created by this open, not resumed

    # ------------------------------------------------------------------------------ opening
    @classmethod
    def create(cls, path: str | Path, provenance: dict[str, Any] | None = None, *, model: Any = None,
               bin_edges: dict[str, np.ndarray] | None = None, restart_stale: bool = False) -> MapStore:
        """Start a store at ``path`` (written to ``<path>.partial``), or resume an unfinished one.

        Parameters
        ----------
        provenance : JSON-able fields describing the data and run.
        model : the explained model; its :func:`model_hash` is recorded as ``model_sha256``.
        bin_edges : named axis edges (e.g. ``{"dm": ..., "dt": ...}``) stored beside the maps.

        A resumed store must have been started with the same provenance: otherwise its chunks are
        maps of other inputs, so it is an ``InputError``, or with ``restart_stale`` the unfinished
        store is discarded (with a logged warning saying why) and started again.
        """
        import h5py

        path = Path(path)
        partial = partial_path(path)
        record = dict(provenance or {})
        if model is not None:
            record["model_sha256"] = model_hash(model)
        text = _json(record)
        if partial.exists():
            with _readable(partial):
                h5 = h5py.File(partial, "a")
                same = h5.attrs.get("format") == FORMAT and h5.attrs.get("provenance") == text
            if same:
                return cls(h5, path, writable=True)
            h5.close()
            if not restart_stale:
                raise InputError(f"{partial}: unfinished store started with other provenance "
                                 f"({record} expected): delete it to start again")
            log.warning("%s: unfinished store of other inputs (model, inputs or settings changed): starting again",
                        partial)
            partial.unlink()
        partial.parent.mkdir(parents=True, exist_ok=True)
        h5 = _new_file(partial)
        h5.attrs["format"] = FORMAT
        h5.attrs["provenance"] = text
        for name, edges in (bin_edges or {}).items():
            _group(h5, "bin_edges").create_dataset(name, data=np.asarray(edges, np.float64), track_times=False)
        h5.flush()
        return cls(h5, path, writable=True, fresh=True)

    @classmethod
    def open(cls, path: str | Path) -> MapStore:
        """Open a finished store read-only."""
        import h5py

        path = Path(path)
        if not path.exists():
            hint = " (an unfinished one exists: resume it with MapStore.create)" if partial_path(path).exists() else ""
            raise InputError(f"{path}: no map store{hint}")
        with _readable(path):
            h5 = h5py.File(path, "r")
            is_store = h5.attrs.get("format") == FORMAT
        if not is_store:
            h5.close()
            raise InputError(f"{path}: not a map store (format {FORMAT!r} expected)")
        return cls(h5, path, writable=False)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc_type is None:
            self.close()
            return
        if not self._h5.id.valid:
            return
        nothing_done = self.writable and not any(self._h5[m]["done"][...].any() for m in self._method_names())
        filename = Path(self._h5.filename)
        self._h5.close()  # keep the partial file: a later create() resumes it ...
        if self._fresh and (nothing_done or isinstance(exc, InputError)):
            filename.unlink(missing_ok=True)  # ... unless this call started it and left nothing worth resuming

    def close(self) -> None:
        """Close; a writable store whose started methods are all complete is finalised onto ``path``."""
        if not self._h5.id.valid:
            return
        finished = self.writable and all(self._h5[m].attrs["complete"] for m in self._method_names())
        filename = Path(self._h5.filename)
        self._h5.close()
        if finished:
            publish(filename, self.path)

    # ------------------------------------------------------------------------------ writing
    def begin(self, method: str, map_shape: tuple[int, ...], *, params: dict[str, Any] | None = None,
              seed: int | None = None, chunk: int = DEFAULT_CHUNK) -> None:
        """Declare ``method``'s maps (shape of one map, parameters, seed, chunk rows); idempotent on resume."""
        self._require_writable()
        _check_method(method, self.path)
        if not isinstance(chunk, (int, np.integer)) or chunk < 1:
            raise InputError(f"chunk={chunk}: expected a positive number of rows")
        if not all(isinstance(n, (int, np.integer)) and n >= 1 for n in map_shape) or not map_shape:
            raise InputError(f"{self.path}: method {method!r}: one map has shape {tuple(map_shape)}; expected "
                             "one or more positive sizes (e.g. H, W, C)")
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
        group = self._method(method)
        chunk = int(group.attrs["chunk"])
        maps = _numeric(maps, f"chunk {k} of {method!r} maps", np.float32)
        if maps.shape[1:] != group["maps"].shape[1:] or not 0 < len(maps) <= chunk:
            raise InputError(f"chunk {k} of {method!r} has shape {maps.shape}: expected [<= {chunk}, "
                             f"{', '.join(map(str, group['maps'].shape[1:]))}]")
        rows = slice(k * chunk, k * chunk + len(maps))
        targets = np.full(len(maps), -1, np.int32) if targets is None else _integers(targets, "targets", k, method)
        index = np.arange(rows.start, rows.stop) if index is None else _integers(index, "index", k, method)
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
        maps = _numeric(maps, f"{self.path}: maps of {method!r}", np.float32)
        if maps.ndim < 2:
            raise InputError(f"{self.path}: maps of {method!r} have shape {maps.shape}; expected [N, ...] with one "
                             "map per row (e.g. [N, H, W, C])")
        for name, values in (("targets", targets), ("index", index)):
            if values is not None and np.shape(values) != (len(maps),):
                raise InputError(f"{self.path}: {name} of {method!r} have shape {np.shape(values)}; expected "
                                 f"[{len(maps)}], one per map")
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
        with _readable(self.path):
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
        with _readable(self.path):
            group = self._method(method)
            return {"params": json.loads(group.attrs["params"]), "seed": int(group.attrs["seed"]),
                    "chunk": int(group.attrs["chunk"]), "n": int(group["maps"].shape[0]),
                    "complete": bool(group.attrs["complete"])}

    @property
    def provenance(self) -> dict[str, Any]:
        with _readable(self.path):
            return json.loads(self._h5.attrs["provenance"])

    @property
    def bin_edges(self) -> dict[str, np.ndarray]:
        with _readable(self.path):
            group = self._h5.get("bin_edges")
            return {} if group is None else {k: group[k][...] for k in group}

    def _rows(self, method: str, name: str, indices: np.ndarray | None) -> np.ndarray:
        with _readable(self.path):
            data = self._method(method)[name]
            if indices is None:
                return data[...]
            idx = _integers(indices, "indices", None, method)
            if idx.ndim != 1 or (idx.size and (idx.min() < 0 or idx.max() >= data.shape[0])):
                raise InputError(f"{self.path}: indices of shape {idx.shape} ({np.ravel(idx)[:8].tolist()} ...) "
                                 f"out of range for {data.shape[0]} rows of {method!r}; expected one row number each")
            unique, inverse = np.unique(idx, return_inverse=True)  # h5py reads increasing unique rows
            return data[unique][inverse]

    def _method(self, method: str) -> Any:
        names = self._method_names()
        if not isinstance(method, str) or method not in names:
            raise InputError(f"{self.path}: no maps for method {method!r} (has {names})")
        return self._h5[method]

    def _method_names(self) -> list[str]:
        with _readable(self.path):
            return [k for k in self._h5 if k != "bin_edges"]

    def _require_writable(self) -> None:
        if not self.writable:
            raise InputError(f"{self.path}: opened read-only (use MapStore.create to write)")


def _check_method(method: Any, path: Path) -> None:
    if not isinstance(method, str) or not _METHOD_NAME.fullmatch(method) or method == "bin_edges":
        raise InputError(f"{path}: method name {method!r}; expected letters, digits, '_', '.', '+' or '-' "
                         "(not starting with '.' or '-', not 'bin_edges'), e.g. 'gradcam'")


def _numeric(values: Any, what: str, dtype: type) -> np.ndarray:
    """``values`` as ``dtype``, refusing what is not real numbers (strings, objects, complex)."""
    array = np.asarray(values) if not isinstance(values, np.ndarray) else values
    if array.dtype.kind not in "biuf":
        raise InputError(f"{what}: {array.dtype} array of shape {array.shape}; expected real numbers")
    with np.errstate(over="ignore"):
        cast = array.astype(dtype, copy=False)
    if np.isinf(cast).sum() != np.isinf(array).sum():
        raise InputError(f"{what}: values up to {np.nanmax(np.abs(array[np.isfinite(array)]))} overflow "
                         f"{np.dtype(dtype).name}; expected maps within its range")
    return cast


def _integers(values: Any, name: str, k: int | None, method: str) -> np.ndarray:
    """Integer row labels (targets, index, indices); floats only when they hold whole numbers."""
    array = np.asarray(values)
    dtype = np.dtype(np.int32 if name == "targets" else np.int64)
    limits = np.iinfo(dtype)
    whole = array.dtype.kind in "biu" or (array.dtype.kind == "f" and bool(np.all(np.isfinite(array)))
                                          and bool(np.all(array == np.round(array))))
    if not whole or (array.size and (array.min() < limits.min or array.max() > limits.max)):
        where_ = f"chunk {k} of {method!r}" if k is not None else repr(method)
        raise InputError(f"{where_}: {name} is a {array.dtype} array of shape {array.shape}; expected whole "
                         f"numbers in the {dtype.name} range")
    return array.astype(dtype)


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
