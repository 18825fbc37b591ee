"""The aggregation comparison: each candidate class map's faithfulness scores per (group, method)."""

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
    ("sanity_ssim_to_randomised", "SSIM to randomised-model map (lower better)"),
)


def plot_comparison(rows: Sequence[dict[str, Any]], stem: Path, *, title: str = "") -> list[Path]:
    """One panel per metric: candidates on the x axis, one marker per (group, method), mean as a bar."""
    present = [(k, label) for k, label in METRICS if any(k in s for r in rows for s in r["scores"].values())]
    candidates = list(rows[0]["scores"]) if rows else []
    with paper_style():
        fig, axes = plt.subplots(1, max(1, len(present)), figsize=(3.0 * max(1, len(present)), 2.6), squeeze=False)
        for ax, (key, label) in zip(axes[0], present):
            values = np.array([[r["scores"][c].get(key, np.nan) for c in candidates] for r in rows], dtype=float)
            ax.bar(range(len(candidates)), np.nanmean(values, axis=0), color="0.85", edgecolor="0.4")
            jitter = np.linspace(-0.25, 0.25, max(1, len(rows)))
            for i, row in enumerate(values):
                ax.plot(np.arange(len(candidates)) + jitter[i], row, ".", ms=3, alpha=0.7)
            ax.set_xticks(range(len(candidates)), candidates, rotation=45, ha="right")
            ax.set_title(label)
        if title:
            fig.suptitle(title)
        fig.tight_layout()
        return save_figure(fig, stem)
