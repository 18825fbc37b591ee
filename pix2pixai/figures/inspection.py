"""Figures of :mod:`pix2pixai.inspection`: activation grids, filters, top patches, t-SNE map, neighbours.

Every function takes arrays and a ``stem`` and returns the written ``stem.png`` / ``stem.pdf`` paths.
Many small images are tiled into one mosaic per axis (NaN gaps drawn as the background), which keeps
figures with hundreds of channels fast to draw and light to store.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.offsetbox import AnnotationBbox, OffsetImage

from pix2pixai.errors import InputError
from pix2pixai.figures.maps import draw_map
from pix2pixai.figures.style import (
    INPUT_CMAP,
    SIGNED_CMAP,
    UNSIGNED_CMAP,
    paper_style,
    save_figure,
)

_CORRECT_COLOURS = {True: "#1b9e77", False: "#d95f02"}


def tile(images: np.ndarray, columns: int) -> np.ndarray:
    """``[n, h, w]`` images as one ``[rows (h + 1) - 1, columns (w + 1) - 1]`` mosaic with NaN gaps."""
    n, h, w = images.shape
    rows = -(-n // columns)
    canvas = np.full((rows * columns, h + 1, w + 1), np.nan, np.float32)
    canvas[:n, :h, :w] = images
    mosaic = canvas.reshape(rows, columns, h + 1, w + 1).transpose(0, 2, 1, 3).reshape(rows * (h + 1), columns * (w + 1))
    return mosaic[:-1, :-1]


def contrast_normalise(images: np.ndarray) -> np.ndarray:
    """Each ``[h, w]`` image of ``[n, h, w]`` scaled to [0, 1] by its own min and max (flat images -> 0)."""
    lo = images.min(axis=(1, 2), keepdims=True)
    span = images.max(axis=(1, 2), keepdims=True) - lo
    return np.divide(images - lo, span, out=np.zeros_like(images, dtype=np.float32), where=span > 0)


def plot_activation_grid(maps: dict[str, np.ndarray], stem: Path, *, max_channels: int = 32,
                         columns: int = 16,
                         title: str = "Activation maps, each channel scaled to its own range") -> list[Path]:
    """One row per layer: its first ``max_channels`` channels tiled, each contrast-normalised alone.

    Per-channel normalisation shows *where* each channel fires; the layer title gives the value range
    lost by it (channels that never fire are drawn flat dark).
    """
    if not maps:
        raise InputError("maps is empty: expected {layer name: [h, w, c]} from activation_maps")
    mosaics, row_titles = [], []
    for name, fmap in maps.items():
        channels = np.moveaxis(np.asarray(fmap, np.float32)[..., :max_channels], -1, 0)
        mosaics.append(tile(contrast_normalise(channels), min(columns, len(channels))))
        shown = f"first {len(channels)} of {fmap.shape[-1]}" if fmap.shape[-1] > len(channels) else "all"
        row_titles.append(f"{name}  {fmap.shape[0]}x{fmap.shape[1]}x{fmap.shape[-1]} ({shown} channels; "
                      f"values {float(np.min(fmap)):.2g}..{float(np.max(fmap)):.2g})")
    ratios = [m.shape[0] / m.shape[1] for m in mosaics]
    with paper_style():
        fig, axes = plt.subplots(len(maps), 1, figsize=(7.0, 0.6 + 7.0 * sum(ratios) + 0.35 * len(maps)),
                                 squeeze=False, gridspec_kw={"height_ratios": ratios})
        for ax, mosaic, row_title in zip(axes[:, 0], mosaics, row_titles):
            ax.imshow(mosaic, cmap=UNSIGNED_CMAP, vmin=0, vmax=1, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(row_title, loc="left")
        fig.suptitle(title)
        fig.tight_layout()
        return save_figure(fig, stem)


def plot_first_layer_filters(filters: np.ndarray, stem: Path, *, channel_names: Sequence[str] | None = None,
                             columns: int = 16) -> list[Path]:
    """First-layer kernels ``[k, k, c_in, c_out]``: one row per input channel, one tile per filter.

    One symmetric colour scale for all weights (red positive, blue negative), so filters compare.
    """
    filters = np.asarray(filters, np.float32)
    if filters.ndim != 4:
        raise InputError(f"filters have shape {filters.shape}: expected [k_h, k_w, c_in, c_out]")
    c_in = filters.shape[2]
    names = list(channel_names) if channel_names is not None else [f"input channel {c}" for c in range(c_in)]
    if len(names) != c_in:
        raise InputError(f"channel_names has {len(names)} names: expected {c_in} (filters' c_in)")
    bound = float(np.abs(filters).max()) or 1.0
    with paper_style():
        fig, axes = plt.subplots(c_in, 1, figsize=(7.0, 0.6 + 1.4 * c_in * -(-filters.shape[3] // columns) / 2),
                                 squeeze=False)
        for c, ax in enumerate(axes[:, 0]):
            mosaic = tile(np.moveaxis(filters[:, :, c, :], -1, 0), min(columns, filters.shape[3]))
            im = ax.imshow(mosaic, cmap=SIGNED_CMAP, vmin=-bound, vmax=bound, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(f"{names[c]}: {filters.shape[3]} filters {filters.shape[0]}x{filters.shape[1]}", loc="left")
        fig.colorbar(im, ax=axes[:, 0].tolist(), fraction=0.03, pad=0.02, label="weight")
        fig.suptitle("First-layer filters")
        return save_figure(fig, stem)


def plot_max_activating_patches(patches: np.ndarray, scores: np.ndarray, stem: Path, *, title: str,
                                channel_names: Sequence[str] | None = None) -> list[Path]:
    """Patches ``[k, rh, rw, C]`` sorted by activation (highest first), one row per input channel."""
    patches = np.asarray(patches, np.float32)
    scores = np.asarray(scores, np.float32)
    if patches.ndim != 4 or scores.shape != patches.shape[:1]:
        raise InputError(f"patches {patches.shape}, scores {scores.shape}: expected [k, rh, rw, C] and [k]")
    order = np.argsort(-scores, kind="stable")
    patches, scores = patches[order], scores[order]
    k, c = len(patches), patches.shape[-1]
    names = list(channel_names) if channel_names is not None else [f"ch {i}" for i in range(c)]
    with paper_style():
        fig, axes = plt.subplots(c, k, figsize=(0.8 * k + 0.6, 0.9 * c + 0.7), squeeze=False)
        for j in range(k):
            for i in range(c):
                draw_map(axes[i, j], patches[j, ..., i], kind="input", colorbar=False,
                         title=f"{scores[j]:.3g}" if i == 0 else None)
            axes[0, j].title.set_fontsize(6)
        for i in range(c):
            axes[i, 0].set_ylabel(names[i])
        fig.suptitle(f"{title} (activation above each patch)")
        fig.tight_layout()
        return save_figure(fig, stem)


def plot_tsne(embedding: np.ndarray, labels: np.ndarray, predicted: np.ndarray, class_names: Sequence[str],
              thumbnails: np.ndarray, stem: Path, *, n_thumbnails: int = 36) -> list[Path]:
    """t-SNE map coloured by true class, by correctness, and with input thumbnails at their coordinates.

    Parameters
    ----------
    embedding : ``[N, 2]`` t-SNE coordinates.
    labels, predicted : int ``[N]`` true and predicted classes (indices into ``class_names``).
    thumbnails : ``[N, H, W]`` images drawn in the third panel (one channel; each scaled to its range).
    n_thumbnails : at most this many thumbnails, one per cell of a grid over the map (the point nearest
        each cell's centre), so they spread over the map instead of piling up in dense regions.
    """
    embedding = np.asarray(embedding, np.float32)
    labels, predicted = np.asarray(labels), np.asarray(predicted)
    n = len(embedding)
    if embedding.shape != (n, 2) or labels.shape != (n,) or predicted.shape != (n,) or len(thumbnails) != n:
        raise InputError(f"embedding {embedding.shape}, labels {labels.shape}, predicted {predicted.shape}, "
                         f"thumbnails {np.shape(thumbnails)}: expected [N, 2], [N], [N], [N, H, W]")
    colours = plt.get_cmap("tab10" if len(class_names) <= 10 else "tab20")(np.arange(len(class_names)))
    correct = labels == predicted
    with paper_style():
        fig, axes = plt.subplots(1, 3, figsize=(10.5, 3.6))
        for c, name in enumerate(class_names):
            mine = labels == c
            axes[0].scatter(*embedding[mine].T, s=6, color=colours[c], label=f"{name} ({mine.sum()})")
        axes[0].legend(markerscale=2, frameon=False, loc="center right", bbox_to_anchor=(-0.12, 0.5))
        axes[0].set_title("true class")
        for ok in (True, False):
            axes[1].scatter(*embedding[correct == ok].T, s=6, color=_CORRECT_COLOURS[ok],
                            label=f"{'correct' if ok else 'wrong'} ({np.sum(correct == ok)})")
        axes[1].legend(markerscale=2, frameon=False)
        axes[1].set_title(f"prediction correct ({correct.mean():.0%})")
        axes[2].scatter(*embedding.T, s=2, color="0.8")
        for i in spread_points(embedding, n_thumbnails):
            box = OffsetImage(contrast_normalise(np.asarray(thumbnails[i:i + 1], np.float32))[0], cmap=INPUT_CMAP,
                              zoom=18 / max(np.shape(thumbnails)[1:3]))
            axes[2].add_artist(AnnotationBbox(box, embedding[i], frameon=True, pad=0.1,
                                              bboxprops={"edgecolor": colours[labels[i]], "linewidth": 1.2}))
        axes[2].set_title("inputs (frame = true class)")
        for ax in axes:
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_xlabel("t-SNE 1")
            ax.set_ylabel("t-SNE 2")
        fig.tight_layout()
        return save_figure(fig, stem)


def spread_points(points: np.ndarray, count: int) -> np.ndarray:
    """Indices of at most ``count`` points spread over ``points`` ``[N, 2]``: per cell of a square grid,
    the point nearest the cell centre (deterministic; empty cells give none)."""
    side = max(1, int(np.sqrt(count)))
    lo, hi = points.min(axis=0), points.max(axis=0)
    scaled = (points - lo) / np.where(hi > lo, hi - lo, 1.0) * side
    cell = np.minimum(scaled.astype(int), side - 1)
    offset = np.linalg.norm(scaled - cell - 0.5, axis=1)
    key = cell[:, 0] * side + cell[:, 1]
    order = np.lexsort((offset, key))
    first = np.r_[True, key[order][1:] != key[order][:-1]]
    return order[first]


def plot_nearest_neighbours(query: np.ndarray, neighbours: np.ndarray, distances: np.ndarray, stem: Path, *,
                            titles: Sequence[str] | None = None, query_title: str = "query") -> list[Path]:
    """A strip: the query image ``[H, W]`` then its neighbours ``[k, H, W]``, nearest first, with distances."""
    neighbours = np.asarray(neighbours, np.float32)
    distances = np.asarray(distances)
    if neighbours.ndim != 3 or distances.shape != neighbours.shape[:1]:
        raise InputError(f"neighbours {neighbours.shape}, distances {distances.shape}: expected [k, H, W] and [k]")
    k = len(neighbours)
    labels = list(titles) if titles is not None else [""] * k
    with paper_style():
        fig, axes = plt.subplots(1, k + 1, figsize=(1.1 * (k + 1), 1.6), squeeze=False)
        draw_map(axes[0, 0], np.asarray(query, np.float32), kind="input", colorbar=False, title=query_title)
        for spine in axes[0, 0].spines.values():
            spine.set_linewidth(2)
        for j in range(k):
            draw_map(axes[0, j + 1], neighbours[j], kind="input", colorbar=False,
                     title=f"{labels[j]}\nd={distances[j]:.3g}".strip())
        fig.suptitle("Nearest neighbours in the penultimate feature space")
        fig.tight_layout()
        return save_figure(fig, stem)
