"""Per-input panels: the input beside each method's map, titled prediction vs label.

For triplets the panel has three rows: SCI, REF, DIFF / Grad-CAM, saliency, blanking / SHAP of SCI,
REF and DIFF separately (SHAP is additive per channel, so its channels are meaningful alone).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np

from pix2pixai.figures.maps import draw_map
from pix2pixai.figures.style import paper_style, save_figure
from pix2pixai.producers.registry import is_signed, method_record

CHANNELS = ("SCI", "REF", "DIFF")


def plot_input_panel(
    image: np.ndarray,
    maps: dict[str, np.ndarray],
    meta: dict[str, Any],
    stem: Path,
    *,
    title: str,
) -> list[Path]:
    """``image`` [H, W, C] and ``maps[method]`` [H, W, C] of one input."""
    if meta.get("kind") == "triplet" and image.shape[-1] == 3:
        return _triplet_panel(image, maps, stem, title=title)
    methods = list(maps)
    with paper_style():
        fig, axes = plt.subplots(1, 1 + len(methods), figsize=(2.4 * (1 + len(methods)), 2.2), squeeze=False)
        draw_map(axes[0, 0], image[..., 0], kind="input", meta=meta, title="input")
        for ax, method in zip(axes[0, 1:], methods):
            draw_map(ax, method_record(method).reduce(maps[method]), signed=is_signed(method), meta=meta,
                     title=method)
            ax.set_ylabel("")
        fig.suptitle(title)
        fig.tight_layout()
        return save_figure(fig, stem)


def _triplet_panel(image: np.ndarray, maps: dict[str, np.ndarray], stem: Path, *, title: str) -> list[Path]:
    middle = [m for m in ("gradcam", "saliency", "blanking") if m in maps]
    with paper_style():
        fig, axes = plt.subplots(3, 3, figsize=(6.0, 6.0))
        for c, name in enumerate(CHANNELS):
            draw_map(axes[0, c], image[..., c], kind="input", title=name)
        for c in range(3):
            if c < len(middle):
                method = middle[c]
                draw_map(axes[1, c], method_record(method).reduce(maps[method]), signed=is_signed(method),
                         title=method)
            else:
                axes[1, c].axis("off")
        if "shap" in maps:
            bound = float(np.abs(maps["shap"]).max()) or 1.0
            for c, name in enumerate(CHANNELS):
                draw_map(axes[2, c], maps["shap"][..., c], signed=True, title=f"SHAP of {name}", vlim=(-bound, bound))
        else:
            for c in range(3):
                axes[2, c].axis("off")
        fig.suptitle(title)
        fig.tight_layout()
        return save_figure(fig, stem)


def pick_examples(correct: np.ndarray, groups: np.ndarray, n_groups: int, *, misclassified: bool) -> list[int]:
    """One example per group: the first correctly (or wrongly) classified input of each group."""
    chosen = []
    for g in range(n_groups):
        hits = np.flatnonzero((groups == g) & (correct != misclassified))
        if hits.size:
            chosen.append(int(hits[0]))
    return chosen

