"""Stream explanation maps of many inputs straight into a :class:`MapStore`, resumably."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from pix2pixai.errors import InputError
from pix2pixai.stores.maps import DEFAULT_CHUNK, MapStore, chunks_of

#: ``progress(chunks_done, chunks_total or None)`` after every written chunk of every method.
Progress = Callable[[int, int | None], None]


def produce_to_store(
    method: str,
    model: Any,
    x: np.ndarray | Iterable[np.ndarray],
    store_path: str | Path,
    *,
    chunk: int = DEFAULT_CHUNK,
    targets: np.ndarray | int | None = None,
    score: str = "logit",
    provenance: dict[str, Any] | None = None,
    bin_edges: dict[str, np.ndarray] | None = None,
    **params: Any,
) -> Path:
    """Explain ``x`` with ``method`` chunk by chunk into the store at ``store_path``; returns the path.

    Only one chunk of inputs and maps is in memory at a time. Re-running after a crash resumes: chunks
    already marked done in ``<store_path>.partial`` are skipped (a stream ``x`` must then yield the same
    inputs in the same order). The targets actually explained (the predicted class when ``targets`` is
    None) are stored per row. Seeded methods get the same ``seed`` for every chunk.

    Parameters
    ----------
    x : ``[N, H, W, C]`` array, or an iterable of such blocks (re-blocked into ``chunk`` rows).
    targets : None (predicted class), one int, or ``[N]`` ints (arrays only).
    params : the method's parameters (see :func:`pix2pixai.producers.explain`); recorded as JSON.
    """
    return produce_methods({method: params}, model, x, store_path, chunk=chunk, targets=targets, score=score,
                           provenance=provenance, bin_edges=bin_edges, image_input=params.get("image_input"))


def produce_methods(
    methods: Mapping[str, Mapping[str, Any]],
    model: Any,
    x: Any,
    store_path: str | Path,
    *,
    chunk: int = DEFAULT_CHUNK,
    targets: np.ndarray | int | None = None,
    score: str = "logit",
    provenance: dict[str, Any] | None = None,
    bin_edges: dict[str, np.ndarray] | None = None,
    image_input: str | None = None,
    progress: Progress | None = None,
    restart_stale: bool = False,
) -> Path:
    """Several methods (name -> parameters) in one pass over ``x`` into one store; returns the path.

    Why one pass: a stream is read once, the target of each input is resolved once (so every method
    explains the same class), and the store is finalised only when every method is complete.

    Parameters
    ----------
    x : an array ``[N, ...]`` or any sliceable with ``shape`` (``np.memmap``, ``h5py.Dataset``), a dict
        input name -> such arrays for multi-input models (name the attributed one with ``image_input``),
        or an iterable of array blocks (re-blocked into ``chunk`` rows).
    targets : None (predicted class), one int, or ``[N]`` ints (not with a stream).
    progress : called after each chunk of each method (see :data:`Progress`).
    restart_stale : an unfinished store of other provenance is started again (see :meth:`MapStore.create`)
        instead of refused.
    """
    from pix2pixai.producers import explain
    from pix2pixai.producers.base import score_model

    if not methods:
        raise InputError("no methods to explain: expected at least one")
    n = _rows(x)
    per_row = targets is not None and np.ndim(targets) == 1
    if per_row and n is None:
        raise InputError("targets per row need x as one array; with a stream pass one int or None")
    if per_row and len(targets) != n:
        raise InputError(f"targets has {len(targets)} rows: expected {n} like x")
    sm = score_model(model, score, image_input)
    given = np.asarray(targets if targets is not None else [], dtype=np.int64)
    if given.size and (given.min() < 0 or given.max() >= sm.n_classes):
        raise InputError(f"targets range {given.min()}..{given.max()}: expected classes 0..{sm.n_classes - 1}")
    total = None if n is None else -(-n // chunk) * len(methods)
    with MapStore.create(store_path, provenance, model=model, bin_edges=bin_edges,
                         restart_stale=restart_stale) as store:
        done = {m: store.done_chunks(m) for m in methods}
        finished = int(sum(d.sum() for d in done.values()))
        for k, block in enumerate(_blocks(x, chunk)):
            todo = [m for m in methods if not (k < done[m].size and done[m][k])]
            if not todo:
                continue
            rows = slice(k * chunk, k * chunk + _rows(block))
            inputs = sm.inputs(block)
            t = sm.targets(inputs, np.asarray(targets)[rows] if per_row else targets)
            for method in todo:
                params = dict(methods[method])
                if image_input is not None:
                    params["image_input"] = image_input
                maps = explain(method, model, block, targets=t, score=score, **params)
                store.begin(method, maps.shape[1:], params={"score": score, **params}, seed=params.get("seed"),
                            chunk=chunk)
                store.write_chunk(method, k, maps, t, np.arange(rows.start, rows.stop))
                finished += 1
                if progress is not None:
                    progress(finished, total)
        for method in methods:
            if store.done_chunks(method).size == 0:
                raise InputError(f"{store_path}: x holds no inputs to explain")
            store.end(method)
    return Path(store_path)


def _rows(x: Any) -> int | None:
    """Rows of an array-like or of a dict of them (None for a stream)."""
    if isinstance(x, Mapping):
        lengths = {_rows(v) for v in x.values()}
        return lengths.pop() if len(lengths) == 1 else None
    return int(x.shape[0]) if hasattr(x, "shape") else None


def _blocks(x: Any, chunk: int) -> Iterator[Any]:
    """``chunk``-row blocks (as numpy) of an array-like, a dict of array-likes, or a stream of blocks."""
    if isinstance(x, Mapping):
        n = _rows(x)
        if n is None:
            raise InputError(f"inputs {sorted(x)} have different numbers of rows: expected one per input")
        for start in range(0, n, chunk):
            yield {k: np.asarray(v[start:start + chunk]) for k, v in x.items()}
    elif hasattr(x, "shape") and not isinstance(x, np.ndarray):
        for start in range(0, int(x.shape[0]), chunk):
            yield np.asarray(x[start:start + chunk])
    else:
        yield from chunks_of(x, chunk)
