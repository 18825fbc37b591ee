"""GAN training curves: discriminator and generator losses per epoch for every generator."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import matplotlib.pyplot as plt

from pix2pixai.figures.style import paper_style, save_figure


def plot_training_curves(histories: dict[str, dict[str, Sequence[float]]], stem: Path, *, title: str = "") -> list[Path]:
    """``histories['group/method'] = {'d_loss': [...], 'g_gan': [...], 'g_l1': [...]}``."""
    keys = [("d_loss", "discriminator loss"), ("g_gan", "generator adversarial loss"), ("g_l1", "generator L1")]
    with paper_style():
        fig, axes = plt.subplots(1, 3, figsize=(9, 2.6))
        for ax, (key, label) in zip(axes, keys):
            for name, hist in sorted(histories.items()):
                if key in hist:
                    ax.plot(range(1, len(hist[key]) + 1), hist[key], lw=0.8, alpha=0.8, label=name)
            ax.set_xlabel("epoch")
            ax.set_title(label)
        if len(histories) <= 12:
            axes[-1].legend(fontsize=5, ncol=1, frameon=False, loc="upper right")
        if title:
            fig.suptitle(title)
        fig.tight_layout()
        return save_figure(fig, stem)
