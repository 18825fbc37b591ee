"""The aggregation comparison: each candidate class map's faithfulness scores per (group, method),
and the cascading-randomisation curves behind the sanity score."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import matplotlib.pyplot as plt
import numpy as np

from pix2pixai.figures.style import paper_style, save_figure

METRICS: tuple[tuple[str, str], ...] = (
    ("deletion_auc", "deletion AUC (lower better)"),
    ("insertion_auc", "insertion AUC (higher better)"),
    ("energy_in_mask", "energy in mask (higher better)"),
    ("sanity_ssim_to_randomised", "SSIM to fully randomised\nmodel's map (lower better)"),
    ("stability_ssim_mean", "stability: mean SSIM across\ngenerator seeds (higher better)"),
    ("stability_ssim_min", "stability: min SSIM across\ngenerator seeds (higher better)"),
)
COLUMNS = 4


def plot_comparison(rows: Sequence[dict[str, Any]], stem: Path, *, title: str = "") -> list[Path]:
    """One panel per metric (candidates on the x axis, one marker per (group, method) coloured by method, mean as a
    bar; a candidate without the metric, e.g. no stability for input aggregates, shows "n/a"), then
    the cascading-randomisation curves: SSIM of each candidate to the randomised model's mean map,
    mean over (group, method), from the intact model through each randomised layer."""
    present = [(k, label) for k, label in METRICS if any(k in s for r in rows for s in r["scores"].values())]
    candidates = list(rows[0]["scores"]) if rows else []
    cascades = [r["cascading"] for r in rows if r.get("cascading", {}).get("layers")]
    n_panels = max(1, len(present) + bool(cascades))
    n_cols = min(COLUMNS, n_panels)
    n_rows = -(-n_panels // n_cols)
    with paper_style():
        fig, axes = plt.subplots(n_rows, n_cols, figsize=(3.0 * n_cols, 2.6 * n_rows), squeeze=False)
        flat = list(axes.ravel())
        methods = list(dict.fromkeys(r.get("method", "") for r in rows))
        colour = {m: f"C{i % 10}" for i, m in enumerate(methods)}
        for ax, (key, label) in zip(flat, present):
            values = np.array([[r["scores"][c].get(key, np.nan) for c in candidates] for r in rows], dtype=float)
            has = ~np.all(np.isnan(values), axis=0)
            means = np.where(has, np.nansum(values, axis=0) / np.maximum(1, np.sum(~np.isnan(values), axis=0)), 0)
            ax.bar(np.flatnonzero(has), means[has], color="0.85", edgecolor="0.4")
            jitter = np.linspace(-0.25, 0.25, max(1, len(rows)))
            for i, row in enumerate(values):
                ax.plot(np.arange(len(candidates)) + jitter[i], row, ".", ms=3, alpha=0.7,
                        color=colour[rows[i].get("method", "")])
            for i in np.flatnonzero(~has):  # say why a slot is empty rather than leave a reader guessing
                ax.text(i, 0.03, "n/a", transform=ax.get_xaxis_transform(), ha="center", va="bottom",
                        fontsize=6, color="0.45")
            ax.set_xticks(range(len(candidates)), candidates, rotation=45, ha="right")
            ax.set_title(label)
        if cascades:
            _plot_cascade(flat[len(present)], cascades, candidates)
        spare = flat[len(present) + bool(cascades):]
        for ax in spare:
            ax.set_visible(False)
        if present and len(methods) > 1:  # the dots' key, in a spare slot so that it hides no data
            handles = [plt.Line2D([], [], ls="", marker="o", ms=4, color=colour[m], label=m) for m in methods]
            where = spare[0] if spare else flat[0]
            where.set_visible(True)
            if spare:
                where.axis("off")
            where.legend(handles=handles, loc="center" if spare else "best", fontsize=7, frameon=False,
                         title="dots: one per group,\ncoloured by method", title_fontsize=7)
        if title:
            fig.suptitle(title)
        fig.tight_layout()
        return save_figure(fig, stem)


def _plot_cascade(ax: plt.Axes, cascades: Sequence[dict[str, Any]], candidates: Sequence[str]) -> None:
    """Mean SSIM(candidate, randomised mean map) per stage; rows of one survey share the classifier,
    so their layer lists agree (rows with another list than the first are left out)."""
    layers = cascades[0]["layers"]
    same = [c for c in cascades if c["layers"] == layers]
    stages = np.arange(len(layers) + 1)
    for name in candidates:
        curves = np.array([[c["ssim_intact"][name], *c["ssim"][name]] for c in same], dtype=float)
        ax.plot(stages, curves.mean(axis=0), marker=".", ms=3, label=name)
    ax.set_xticks(stages, ["intact", *layers], rotation=45, ha="right")
    ax.set_ylabel("SSIM to randomised mean map")
    ax.set_title(f"cascading randomisation, output side first\n(mean over {len(same)} group x method)")
    ax.legend(fontsize=5, frameon=False)
