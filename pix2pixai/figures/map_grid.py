"""Any explanation maps beside their inputs, as a notebook wants them: a ``Figure`` back, saving optional.

The conventions every figure of the toolkit follows: a signed method's maps on a diverging scale
centred on 0 (red = evidence for the class), an unsigned method's from its minimum; the colour bar
names the quantity (the method record's ``quantity``); dmdt maps on true dm / dt axes with dm
increasing upward and dm = 0 marked; ZTF triplet inputs drawn channel by channel (SCI / REF / DIFF).
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any, Sequence

import matplotlib.pyplot as plt
import numpy as np

from pix2pixai.errors import InputError
from pix2pixai.figures.maps import draw_map
from pix2pixai.figures.style import paper_style, save_figure

#: Most rows one figure draws; more inputs are cut (the caption says how many were shown).
MAX_ROWS = 16
#: Channel names of a three-channel ZTF triplet.
TRIPLET_CHANNELS = ("SCI", "REF", "DIFF")


def plot_maps(maps: np.ndarray, inputs: np.ndarray | None = None, *, method: str | None = None,
              titles: Sequence[str] | None = None, bin_edges: dict[str, np.ndarray] | None = None,
              path: str | Path | None = None) -> plt.Figure:
    """One row per map: the input's channels (when ``inputs`` is given), then the map.

    Parameters
    ----------
    maps : [N, H, W] or [N, H, W, C]
        Raw maps of any producer; channels are combined by the method's reduction (``method``
        given) or summed.
    inputs : [N, H, W, C], optional
        The inputs the maps explain.
    method : str, optional
        The producer's name: decides the sign convention and the colour-bar label.
    titles : one per row, optional (e.g. ids or classes).
    bin_edges : ``{"dm": ..., "dt": ...}``, optional: dmdt axes (a map store's ``bin_edges``).
    path : optional stem; the figure is also saved there as PNG + PDF (and closed).

    Returns
    -------
    matplotlib.figure.Figure (still open unless ``path`` was given).
    """
    reduced, signed, label = _reduced(maps, method)
    n = min(len(reduced), MAX_ROWS)
    channels = 0 if inputs is None else _checked_inputs(inputs, reduced.shape)
    meta = _dmdt_meta(bin_edges)
    columns = channels + 1
    with paper_style():
        fig, axes = plt.subplots(n, columns, figsize=(2.3 * columns + 0.6, 1.9 * n + 0.7), squeeze=False,
                                 layout="constrained")
        for row in range(n):
            for c in range(channels):
                name = _channel_name(c, channels, meta)
                draw_map(axes[row, c], inputs[row, ..., c], kind="input", meta=meta, colorbar=True,
                         title=name if row == 0 else None)
            image = draw_map(axes[row, -1], reduced[row], signed=signed, meta=meta, colorbar=False,
                             title=textwrap.fill(f"{method or 'map'}: {label}", 34) if row == 0 else None)
            fig.colorbar(image, ax=axes[row, -1], fraction=0.046, pad=0.03)
            if meta is not None:
                _mark_dm_zero(axes[row, -1], meta)
            else:
                for ax in axes[row]:
                    _pixel_axes(ax, reduced.shape[1:], last_row=row == n - 1)
            if titles is not None:
                axes[row, 0].set_ylabel(f"{titles[row]}\n{axes[row, 0].get_ylabel()}".strip())
        shown = f"{n} of {len(reduced)}" if n < len(reduced) else f"{n}"
        fig.suptitle(f"{method or 'maps'}: {shown} map(s)" + (" beside their inputs" if channels else "")
                     + (" (dmdt: dt bins are non-linear; dashed line dm = 0)" if meta else ""), fontsize=7)
    if path is not None:
        save_figure(fig, Path(path))
    return fig


def plot_map_store(store: str | Path, out_dir: str | Path, *, inputs: np.ndarray | None = None,
                   rows: int = 8) -> list[Path]:
    """Render a map store (``pix2pixai explain`` output): one figure per method of its first ``rows``
    maps, titled by stored row and target class, on dmdt axes when the store carries bin edges;
    ``inputs`` (the explained array, optional) are drawn beside them. Returns the PNG + PDF paths."""
    from pix2pixai.stores import MapStore

    out_dir = Path(out_dir)
    paths: list[Path] = []
    with MapStore.open(store) as opened:
        edges = opened.bin_edges
        methods = opened.methods()
        if not methods:
            raise InputError(f"{store}: the map store holds no finished method; nothing to plot")
        for method in methods:
            n = min(rows, opened.info(method)["n"])
            picked = np.arange(n)
            index, targets = opened.index(method, picked), opened.targets(method, picked)
            beside = None if inputs is None else np.asarray(inputs)[index]
            if beside is not None and beside.ndim == 3:
                beside = beside[..., None]
            titles = [f"row {i}, class {t}" if t >= 0 else f"row {i}" for i, t in zip(index, targets)]
            fig = plot_maps(opened.read(method, picked), beside, method=method, titles=titles, bin_edges=edges)
            paths.extend(save_figure(fig, out_dir / method.replace("+", "plus")))
    return paths


def _reduced(maps: np.ndarray, method: str | None) -> tuple[np.ndarray, bool, str]:
    """[N, H, W] maps, whether they are signed, and the colour-bar label."""
    array = np.asarray(maps, dtype=np.float64)
    if array.ndim not in (3, 4) or 0 in array.shape:
        raise InputError(f"plot_maps: maps of shape {array.shape}; expected [N, H, W] or [N, H, W, C]")
    if method is not None:
        from pix2pixai.producers.registry import method_record

        record = method_record(method)
        reduced = record.reduce(array) if array.ndim == 4 else array
        return reduced, record.signed, record.quantity
    reduced = array.sum(axis=-1) if array.ndim == 4 else array
    signed = bool(np.min(reduced) < 0)
    return reduced, signed, "map value; red = positive" if signed else "map value"


def _checked_inputs(inputs: np.ndarray, shape: tuple[int, ...]) -> int:
    x = np.asarray(inputs)
    if x.ndim != 4 or x.shape[:3] != shape:
        raise InputError(f"plot_maps: inputs of shape {x.shape}; expected [N, H, W, C] with [N, H, W] = {shape}")
    return int(x.shape[3])


def _dmdt_meta(bin_edges: dict[str, np.ndarray] | None) -> dict[str, Any] | None:
    if not bin_edges or "dm" not in bin_edges or "dt" not in bin_edges:
        return None
    return {"kind": "dmdt", "dm_edges": np.asarray(bin_edges["dm"]), "dt_edges": np.asarray(bin_edges["dt"])}


def _channel_name(c: int, channels: int, meta: dict[str, Any] | None) -> str:
    if meta is None and channels == len(TRIPLET_CHANNELS):
        return TRIPLET_CHANNELS[c]
    return "input" if channels == 1 else f"input channel {c}"


def _mark_dm_zero(ax: plt.Axes, meta: dict[str, Any]) -> None:
    """A dashed line at dm = 0 (in bin units: the edge equal to 0, or where 0 falls in its bin)."""
    edges = np.asarray(meta["dm_edges"], dtype=np.float64)
    if edges[0] < 0 < edges[-1] or 0 in edges:
        position = np.interp(0.0, edges, np.arange(edges.size)) - 0.5
        ax.axhline(position, color="0.3", linestyle="--", linewidth=0.5)


def _pixel_axes(ax: plt.Axes, shape: tuple[int, int], *, last_row: bool) -> None:
    """Pixel coordinates on an image panel (first, middle and last pixel); the label on the last row."""
    h, w = shape
    ax.set_xticks(np.unique(np.round(np.linspace(0, w - 1, 3)).astype(int)))
    ax.set_yticks(np.unique(np.round(np.linspace(0, h - 1, 3)).astype(int)))
    if last_row:
        ax.set_xlabel("x (pixel)")
