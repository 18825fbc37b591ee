"""Draw one map: on true dmdt axes (dm up, dt on its non-uniform binning) or as an image."""

from __future__ import annotations

from typing import Any, Sequence

import matplotlib.pyplot as plt
import numpy as np

from pix2pixai.figures.style import INPUT_CMAP, SIGNED_CMAP, UNSIGNED_CMAP


def map_limits(image: np.ndarray, signed: bool) -> tuple[float, float]:
    """Colour limits: symmetric about 0 for signed maps so that white means 'no evidence'."""
    if signed:
        bound = float(np.max(np.abs(image))) or 1.0
        return -bound, bound
    lo, hi = float(np.min(image)), float(np.max(image))
    return lo, hi if hi > lo else lo + 1.0


def _edge_ticks(edges: Sequence[float], max_ticks: int) -> tuple[np.ndarray, list[str]]:
    positions = np.arange(len(edges))
    step = max(1, int(np.ceil(len(edges) / max_ticks)))
    chosen = positions[::step]
    return chosen - 0.5, [f"{edges[i]:.3g}" for i in chosen]


def draw_map(
    ax: plt.Axes,
    image: np.ndarray,
    *,
    signed: bool = False,
    kind: str = "map",
    meta: dict[str, Any] | None = None,
    colorbar: bool = True,
    title: str | None = None,
    vlim: tuple[float, float] | None = None,
) -> Any:
    """Show ``image`` [H, W] on ``ax``.

    For dmdt data (``meta['kind'] == 'dmdt'`` with edges) rows are dm bins, drawn increasing
    upward, and columns dt bins; ticks sit on the true bin edges (dt bins are non-uniform, so the
    axis is in bin units labelled with edge values in days, as in Mahabal et al. 2017).
    ``kind='input'`` uses the input colour map; otherwise signed/unsigned map colours.
    """
    cmap = INPUT_CMAP if kind == "input" else (SIGNED_CMAP if signed else UNSIGNED_CMAP)
    vmin, vmax = vlim if vlim is not None else map_limits(image, signed and kind != "input")
    is_dmdt = bool(meta) and meta.get("kind") == "dmdt" and "dm_edges" in meta
    im = ax.imshow(image, cmap=cmap, vmin=vmin, vmax=vmax, origin="lower" if is_dmdt else "upper",
                   interpolation="nearest", aspect="auto" if is_dmdt else "equal")
    if is_dmdt:
        xt, xl = _edge_ticks(meta["dt_edges"], 7)
        yt, yl = _edge_ticks(meta["dm_edges"], 8)
        ax.set_xticks(xt, xl, rotation=60)
        ax.set_yticks(yt, yl)
        ax.set_xlabel("dt (days)")
        ax.set_ylabel("dm (mag)")
    else:
        ax.set_xticks([])
        ax.set_yticks([])
    if title:
        ax.set_title(title)
    if colorbar:
        plt.colorbar(im, ax=ax, fraction=0.046, pad=0.03)
    return im
