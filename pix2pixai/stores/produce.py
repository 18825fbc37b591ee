"""Stream explanation maps of many inputs straight into a :class:`MapStore`, resumably."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from pix2pixai.errors import InputError
from pix2pixai.stores.maps import DEFAULT_CHUNK, MapStore, chunks_of


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
    from pix2pixai.producers import explain
    from pix2pixai.producers.base import score_model

    per_row = targets is not None and np.ndim(targets) == 1
    if per_row and not isinstance(x, np.ndarray):
        raise InputError("targets per row need x as one array; with a stream pass one int or None")
    if per_row and len(targets) != len(x):
        raise InputError(f"targets has {len(targets)} rows: expected {len(x)} like x")
    sm = score_model(model, score, params.get("image_input"))
    with MapStore.create(store_path, provenance, model=model, bin_edges=bin_edges) as store:
        done = store.done_chunks(method)
        for k, block in enumerate(chunks_of(x, chunk)):
            if k < done.size and done[k]:
                continue
            rows = slice(k * chunk, k * chunk + len(block))
            t = sm.targets(sm.inputs(block), np.asarray(targets)[rows] if per_row else targets)
            maps = explain(method, model, block, targets=t, score=score, **params)
            store.begin(method, maps.shape[1:], params={"score": score, **params}, seed=params.get("seed"), chunk=chunk)
            store.write_chunk(method, k, maps, t, np.arange(rows.start, rows.stop))
        if store.done_chunks(method).size == 0:
            raise InputError(f"{store_path}: x holds no inputs to explain")
        store.end(method)
    return Path(store_path)
