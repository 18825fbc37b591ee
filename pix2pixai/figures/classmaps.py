"""Class-specific grid: one row per group, one column per method, each cell the class map with its
out-of-fold skill, or a panel saying why the cell has none."""

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

    Signed methods use a diverging map centred on 0. Every group gets a row: a cell without a class
    map is a panel that says why (``notes[(group, method)]``, else ``skipped[group]``), so a reader
    sees which classes have no map instead of a missing row.
    ``notes[(group, method)]`` of a drawn cell is printed in its corner: the run passes each cell's
    out-of-fold skill with its interval (:func:`class_map_notes`), because each cell has its own
    colour limits, so a generator that learnt nothing beyond the class average still draws a
    high-contrast picture and only its skill tells the reader not to trust it.
    """
    is_dmdt = meta.get("kind") == "dmdt"
    cell = (2.3, 2.0) if is_dmdt else (1.9, 1.8)
    with paper_style():
        rows = max(len(groups), 1)
        fig, axes = plt.subplots(rows, len(methods), squeeze=False, figsize=(cell[0] * len(methods), cell[1] * rows))
        for r, group in enumerate(groups):
            for c, method in enumerate(methods):
                ax = axes[r, c]
                image = maps.get((group, method))
                if image is None:
                    ax.axis("off")
                    reason = (notes or {}).get((group, method)) or (skipped or {}).get(group, "no class map")
                    ax.text(0.5, 0.5, "\n".join(_wrap(f"no class map: {reason}", 28)), ha="center", va="center",
                            fontsize=6, transform=ax.transAxes, color="0.4")
                else:
                    draw_map(ax, image, signed=is_signed(method), meta=meta)
                    note = (notes or {}).get((group, method))
                    if note:
                        ax.text(0.03, 0.97, note, transform=ax.transAxes, ha="left", va="top", fontsize=5.5,
                                bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.8})
                    if is_dmdt and r < len(groups) - 1:
                        ax.set_xlabel("")
                    if is_dmdt and c > 0:
                        ax.set_ylabel("")
                if r == 0:
                    ax.set_title(method)
            axes[r, 0].annotate(group, xy=(-0.55 if is_dmdt else -0.15, 0.5), xycoords="axes fraction",
                                rotation=90, ha="center", va="center", fontsize=8, fontweight="bold")
        if not groups:
            for ax in axes.ravel():
                ax.axis("off")
        fig.tight_layout(rect=(0, 0, 1, 0.97 if title else 1))
        if title:
            fig.suptitle(title)
        return save_figure(fig, stem)


def class_map_notes(entries: Sequence[dict[str, Any]]) -> dict[tuple[str, str], str]:
    """The ``notes`` of :func:`plot_class_map_grid` from ``classmaps/index.json`` entries: a drawn
    cell's out-of-fold skill with its 95% interval, a missing cell's reason."""
    notes = {}
    for entry in entries:
        key = (entry["group"], entry["method"])
        if entry.get("reason"):
            notes[key] = entry["reason"]
        elif entry.get("skill") is not None:
            low, high = entry["skill_ci"]
            notes[key] = f"skill {entry['skill']:.2f} [{low:.2f}, {high:.2f}]"
        else:
            notes[key] = f"skill: {entry.get('skill_reason') or 'none'}"
    return notes


def _wrap(text: str, width: int) -> list[str]:
    words, lines, line = text.split(), [], ""
    for word in words:
        if len(line) + len(word) + 1 > width and line:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    return lines + ([line] if line else [])
