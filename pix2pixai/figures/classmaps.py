"""Class-specific grid: one row per group, one column per method, each cell the class map."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import matplotlib.pyplot as plt
import numpy as np

from pix2pixai.figures.maps import draw_map
from pix2pixai.figures.style import paper_style, save_figure
from pix2pixai.producers.registry import is_signed


def plot_class_map_grid(
    maps: dict[tuple[str, str], np.ndarray],
    groups: Sequence[str],
    methods: Sequence[str],
    meta: dict[str, Any],
    stem: Path,
    *,
    title: str = "",
    skipped: dict[str, str] | None = None,
    notes: dict[tuple[str, str], str] | None = None,
) -> list[Path]:
    """``maps[(group, method)]`` -> a groups x methods grid with a colour bar per cell.

    Signed methods use a diverging map centred on 0. Groups without any class map (too few
    confident inputs for a generator) get no row: they are listed under the grid with the reason,
    because a row of empty cells costs a paper figure as much space as a row of maps. A single
    missing cell in a drawn row says why in place.
    ``notes[(group, method)]`` is printed in the cell's corner: the run passes each generator's
    held-out SSIM, because each cell has its own colour limits, so a generator that learnt almost
    nothing still draws a high-contrast picture and only its SSIM tells the reader not to trust it.
    """
    is_dmdt = meta.get("kind") == "dmdt"
    cell = (2.3, 2.0) if is_dmdt else (1.9, 1.8)
    drawn = [g for g in groups if any(maps.get((g, m)) is not None for m in methods)]
    absent = [g for g in groups if g not in drawn]
    footnote = "; ".join(f"{g}: {(skipped or {}).get(g, 'no class map')}" for g in absent)
    foot_lines = _wrap(f"No class map for {footnote}", int(cell[0] * len(methods) * 15)) if absent else []
    foot_h = 0.12 * len(foot_lines) + (0.1 if foot_lines else 0.0)
    with paper_style():
        rows = max(len(drawn), 1)
        fig, axes = plt.subplots(rows, len(methods), squeeze=False,
                                 figsize=(cell[0] * len(methods), cell[1] * rows + foot_h))
        for r, group in enumerate(drawn):
            for c, method in enumerate(methods):
                ax = axes[r, c]
                image = maps.get((group, method))
                if image is None:
                    ax.axis("off")
                    reason = (skipped or {}).get(group, "no class map")
                    ax.text(0.5, 0.5, "\n".join(_wrap(reason, 28)), ha="center", va="center", fontsize=6,
                            transform=ax.transAxes, color="0.4")
                else:
                    draw_map(ax, image, signed=is_signed(method), meta=meta)
                    note = (notes or {}).get((group, method))
                    if note:
                        ax.text(0.03, 0.97, note, transform=ax.transAxes, ha="left", va="top", fontsize=5.5,
                                bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.8})
                    if is_dmdt and r < len(drawn) - 1:
                        ax.set_xlabel("")
                    if is_dmdt and c > 0:
                        ax.set_ylabel("")
                if r == 0:
                    ax.set_title(method)
            axes[r, 0].annotate(group, xy=(-0.55 if is_dmdt else -0.15, 0.5), xycoords="axes fraction",
                                rotation=90, ha="center", va="center", fontsize=8, fontweight="bold")
        if not drawn:
            for ax in axes.ravel():
                ax.axis("off")
        bottom = (foot_h / fig.get_figheight()) if foot_lines else 0.0
        fig.tight_layout(rect=(0, bottom, 1, 0.97 if title else 1))
        if foot_lines:
            fig.text(0.5, bottom * 0.5, "\n".join(foot_lines), ha="center", va="center", fontsize=6, color="0.3")
        if title:
            fig.suptitle(title)
        return save_figure(fig, stem)


def _wrap(text: str, width: int) -> list[str]:
    words, lines, line = text.split(), [], ""
    for word in words:
        if len(line) + len(word) + 1 > width and line:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    return lines + ([line] if line else [])
