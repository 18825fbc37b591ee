"""GAN training curves: discriminator and generator losses per epoch for every generator."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import matplotlib.pyplot as plt

from pix2pixai.figures.style import paper_style, save_figure


def plot_training_curves(histories: dict[str, dict[str, Sequence[float]]], stem: Path, *, title: str = "") -> list[Path]:
    """``histories['group/method'] = {'d_loss': [...], 'g_gan': [...], 'g_l1': [...]}``.

    One line per generator, coloured by method: a run has up to groups x methods generators (16 for
    ZTF, 28 for CRTS), too many to tell apart one by one, while the methods' losses differ in scale
    and shape (signed maps train differently from unsigned ones), which is what a reader compares.
    """
    keys = [("d_loss", "discriminator loss"), ("g_gan", "generator adversarial loss"), ("g_l1", "generator L1")]
    methods = list(dict.fromkeys(name.rsplit("/", 1)[-1] for name in sorted(histories)))
    colours = {m: plt.get_cmap("tab10")(i % 10) for i, m in enumerate(methods)}
    with paper_style():
        fig, axes = plt.subplots(1, 3, figsize=(9, 2.6))
        for ax, (key, label) in zip(axes, keys):
            labelled: set[str] = set()
            for name, hist in sorted(histories.items()):
                if key in hist:
                    method = name.rsplit("/", 1)[-1]
                    ax.plot(range(1, len(hist[key]) + 1), hist[key], lw=0.8, alpha=0.8, color=colours[method],
                            label=None if method in labelled else method)
                    labelled.add(method)
            ax.set_xlabel("epoch")
            ax.set_title(label)
        axes[-1].legend(fontsize=6, frameon=False, loc="best", title="method (a line per group)",
                        title_fontsize=6)
        if title:
            fig.suptitle(title)
        fig.tight_layout()
        return save_figure(fig, stem)
