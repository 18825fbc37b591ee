"""Classifier quality: the confusion matrix (row-normalised, counts annotated)."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np

from pix2pixai.figures.style import paper_style, save_figure


def plot_confusion(confusion: np.ndarray, class_names: Sequence[str], stem: Path, *, title: str = "") -> list[Path]:
    """Rows = true class, columns = predicted; colour = recall fraction, text = count."""
    confusion = np.asarray(confusion)
    rows = confusion.sum(axis=1, keepdims=True)
    frac = np.divide(confusion, rows, out=np.zeros(confusion.shape, dtype=float), where=rows > 0)
    n = len(class_names)
    with paper_style():
        fig, ax = plt.subplots(figsize=(0.45 * n + 1.6, 0.45 * n + 1.2))
        im = ax.imshow(frac, cmap="Blues", vmin=0, vmax=1)
        for i in range(n):
            for j in range(n):
                ax.text(j, i, str(int(confusion[i, j])), ha="center", va="center", fontsize=6,
                        color="white" if frac[i, j] > 0.6 else "black")
        ax.set_xticks(range(n), class_names, rotation=45, ha="right")
        ax.set_yticks(range(n), class_names)
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        plt.colorbar(im, ax=ax, fraction=0.046, pad=0.03, label="fraction of true class")
        if title:
            ax.set_title(title)
        return save_figure(fig, stem)
