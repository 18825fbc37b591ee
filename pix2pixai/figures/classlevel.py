"""Class-level producers per class: the lighting experiment and activation maximisation."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import matplotlib.pyplot as plt
import numpy as np

from pix2pixai.figures.maps import draw_map
from pix2pixai.figures.style import paper_style, save_figure


def plot_class_level(
    lighting: np.ndarray, actmax: np.ndarray, class_names: Sequence[str], meta: dict[str, Any], stem: Path
) -> list[Path]:
    """Two rows per figure: lighting probability maps [K,H,W,C] and actmax inputs [K,H,W,C]."""
    k = len(class_names)
    with paper_style():
        fig, axes = plt.subplots(2, k, figsize=(max(2.2 * k, 5.0), 4.6), squeeze=False)
        for j, name in enumerate(class_names):
            draw_map(axes[0, j], lighting[j].max(axis=-1), meta=meta, title=f"{name}: lighting",
                     vlim=(0.0, 1.0))
            draw_map(axes[1, j], actmax[j].mean(axis=-1), kind="input", meta=meta, title=f"{name}: act. max.")
            for row in range(2):
                if j > 0:
                    axes[row, j].set_ylabel("")
        fig.suptitle("top: lighting, p(class) with one bin/pixel lit in an empty input (max over channels)\n"
                     "bottom: activation maximisation, the optimised input (mean over channels)", fontsize=8)
        fig.tight_layout(rect=(0, 0, 1, 0.94))
        return save_figure(fig, stem)
