"""The inspection views of one classifier on one labelled set, as figures: what ``pix2pixai inspect``
writes and what the report's "Inspection" section shows.

For a chosen input: the activation grid of every conv/pooling layer and the first-layer filters; for
a chosen channel of a conv layer: the inputs' patches (receptive fields) that excite it most; for the
set: a t-SNE map of the penultimate features (by class, by correctness, with thumbnails) and the
chosen input's nearest neighbours in that space. Defaults are picked from the data so that a run needs
no arguments: the most confident correct input, the last conv layer, and its channel with the highest
mean peak activation (the most used one). t-SNE sees at most ``max_inputs`` inputs (a seeded subset),
because its cost grows faster than linearly and a map of a few hundred points is already readable.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from pix2pixai import atomic
from pix2pixai.errors import InputError
from pix2pixai.figures.inspection import (
    plot_activation_grid,
    plot_first_layer_filters,
    plot_max_activating_patches,
    plot_nearest_neighbours,
    plot_tsne,
)
from pix2pixai.inspection import (
    activation_maps,
    first_layer_filters,
    max_activating_patches,
    nearest_neighbours,
    penultimate_features,
    receptive_field,
    spatial_layers,
    tsne_embedding,
)
from pix2pixai.inspection.activations import CONV_LAYERS, layer_activations, model_images

#: Most t-SNE inputs by default (cost and readability).
MAX_TSNE_INPUTS = 500
TRIPLET_CHANNELS = ("SCI", "REF", "DIFF")


@dataclass
class InspectionViews:
    """What was drawn: the chosen input, layer and channel, the t-SNE size, and the files written."""

    index: int
    layer: str
    channel: int
    receptive_field: tuple[int, int]
    n_tsne: int
    neighbours: list[int]
    paths: list[Path] = field(default_factory=list)


def inspection_views(
    model: Any,
    x: np.ndarray,
    labels: np.ndarray,
    class_names: Sequence[str],
    out_dir: Path,
    *,
    meta: dict[str, Any] | None = None,
    probs: np.ndarray | None = None,
    index: int | None = None,
    layer: str | None = None,
    channel: int | None = None,
    max_inputs: int = MAX_TSNE_INPUTS,
    k_patches: int = 12,
    k_neighbours: int = 6,
    seed: int = 0,
) -> InspectionViews:
    """Write every inspection view of ``model`` on ``x`` [N, H, W, C] (true ``labels`` [N]) into ``out_dir``.

    ``probs`` [N, K] are the model's probabilities when already known (else computed). ``meta`` is the
    survey metadata (``kind``: dmdt images are drawn dm-up, triplet channels named SCI/REF/DIFF).
    Writes ``activations``, ``filters``, ``patches``, ``tsne``, ``neighbours`` (.png + .pdf) and
    ``inspection.json`` (the choices, so a caption or a re-run can name them).
    """
    from pix2pixai.trainers.training import predict_proba

    meta = meta or {}
    images = model_images(model, x)
    labels = np.asarray(labels, np.int64)
    if labels.shape != (len(images),):
        raise InputError(f"labels has shape {labels.shape}: expected ({len(images)},), one per input")
    if len(images) < 5:
        raise InputError(f"{len(images)} inputs: inspection needs at least 5 (t-SNE, neighbours)")
    probs = predict_proba(model, images) if probs is None else np.asarray(probs)
    predicted = probs.argmax(axis=1)
    names = list(class_names) if len(class_names) >= probs.shape[1] else [f"class {k}" for k in range(probs.shape[1])]
    index = _default_index(labels, probs) if index is None else int(index)
    if not 0 <= index < len(images):
        raise InputError(f"index={index}: expected an input index in 0..{len(images) - 1}")
    layer = _default_layer(model) if layer is None else _checked_layer(model, layer)
    n_channels = int(model.get_layer(layer).output.shape[-1])
    channel = _default_channel(model, layer, images) if channel is None else int(channel)
    if not 0 <= channel < n_channels:
        raise InputError(f"channel={channel}: layer {layer!r} has channels 0..{n_channels - 1}")
    subset = _tsne_subset(len(images), max_inputs, index, seed)
    channel_names = _channel_names(meta, images.shape[-1])
    out_dir.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []

    maps = {name: _dm_up(fmap, meta, row_axis=0) for name, fmap in activation_maps(model, images[index]).items()}
    paths += plot_activation_grid(maps, out_dir / "activations",
                                  title=f"Activation maps of input #{index} "
                                        f"({names[labels[index]]}, predicted {names[predicted[index]]}), "
                                        "each channel scaled to its own range")
    paths += plot_first_layer_filters(_dm_up(first_layer_filters(model), meta, row_axis=0), out_dir / "filters",
                                      channel_names=channel_names)

    patches, scores, _ = max_activating_patches(model, images, layer, channel, k=k_patches)
    rf = receptive_field(model, layer)
    paths += plot_max_activating_patches(
        _dm_up(patches, meta, row_axis=1), scores, out_dir / "patches", channel_names=channel_names,
        title=f"{layer} channel {channel}: top {len(patches)} of {len(images)} inputs, "
              f"receptive field {rf.size[0]}x{rf.size[1]} px")

    features = penultimate_features(model, images)
    embedding = tsne_embedding(features[subset], seed)
    thumbs = _dm_up(images[subset][..., _thumbnail_channel(meta, images.shape[-1])], meta, row_axis=1)
    paths += plot_tsne(embedding, labels[subset], predicted[subset], names, thumbs, out_dir / "tsne")

    k = min(k_neighbours, len(images) - 1)
    near, distances = nearest_neighbours(features, index, k)
    channel_shown = _thumbnail_channel(meta, images.shape[-1])
    paths += plot_nearest_neighbours(
        _dm_up(images[index][..., channel_shown], meta, row_axis=0),
        _dm_up(images[near][..., channel_shown], meta, row_axis=1),
        distances, out_dir / "neighbours", query_title=f"#{index} {names[labels[index]]}",
        titles=[f"#{j} {names[labels[j]]}" + ("" if predicted[j] == labels[j] else " (wrong)") for j in near])

    views = InspectionViews(index=index, layer=layer, channel=channel, receptive_field=rf.size,
                            n_tsne=len(subset), neighbours=[int(j) for j in near], paths=paths)
    record = {k: v for k, v in asdict(views).items() if k != "paths"}
    atomic.write_json(out_dir / "inspection.json", {**record, "n_inputs": len(images), "seed": seed})
    return views


def inspect_survey(sdir: Any, out_dir: Path, **options: Any) -> InspectionViews:
    """Inspection views of a run's classifier on its test split (``sdir``: a ``SurveyDir``)."""
    from pix2pixai.rundir.readers import load_classifier, recorded_config, test_split

    if not sdir.model.exists():
        raise InputError(f"{sdir.root}: no classifier yet ({sdir.model.relative_to(sdir.root)}); "
                         "run the classifier step first")
    split = test_split(sdir)
    data, test_idx, probs = split.data, split.test, split.probs
    options.setdefault("seed", recorded_config(sdir).get("seed", 0))
    return inspection_views(load_classifier(sdir), data.x[test_idx], data.y[test_idx], data.class_names, out_dir,
                            meta=data.meta, probs=probs, **options)


def _default_index(labels: np.ndarray, probs: np.ndarray) -> int:
    """The most confident correctly classified input (the clearest example of what the model learnt)."""
    confidence = probs[np.arange(len(labels)), np.clip(labels, 0, probs.shape[1] - 1)]
    correct = probs.argmax(axis=1) == labels
    return int(np.argmax(np.where(correct, confidence, -1.0)))


def _default_layer(model: Any) -> str:
    """The deepest convolution whose receptive field is defined (a chain of conv/pool/per-pixel layers)."""
    for name in reversed(spatial_layers(model)):
        if model.get_layer(name).__class__.__name__ not in CONV_LAYERS:
            continue
        try:
            receptive_field(model, name)
        except InputError:
            continue
        return name
    raise InputError(f"model {model.name!r}: no convolution with a receptive field to search patches for")


def _checked_layer(model: Any, layer: str) -> str:
    """``layer`` if it is a conv or pooling layer with a receptive field (else an InputError naming it)."""
    if layer not in spatial_layers(model):
        raise InputError(f"layer={layer!r}: expected a conv or pooling layer of model {model.name!r} "
                         f"({', '.join(spatial_layers(model))})")
    receptive_field(model, layer)
    return layer


def _default_channel(model: Any, layer: str, images: np.ndarray) -> int:
    """The channel of ``layer`` with the highest mean (over inputs) peak activation."""
    fmap = layer_activations(model, (layer,), images)[0]
    return int(np.argmax(fmap.max(axis=(1, 2)).mean(axis=0)))


def _tsne_subset(n: int, max_inputs: int, index: int, seed: int) -> np.ndarray:
    """A seeded subset of at most ``max_inputs`` rows, always holding ``index``, in row order."""
    if max_inputs < 5:
        raise InputError(f"max_inputs={max_inputs}: t-SNE needs at least 5 inputs")
    if n <= max_inputs:
        return np.arange(n)
    others = np.delete(np.arange(n), index)
    chosen = np.random.default_rng(seed).choice(others, size=max_inputs - 1, replace=False)
    return np.sort(np.append(chosen, index))


def _channel_names(meta: dict[str, Any], n_channels: int) -> list[str]:
    if meta.get("kind") == "triplet" and n_channels == 3:
        return list(TRIPLET_CHANNELS)
    bands = meta.get("bands") or []
    if meta.get("kind") == "dmdt":
        return [f"dmdt {b}" for b in bands] if len(bands) == n_channels else ["dmdt"] * n_channels
    return [f"channel {c}" for c in range(n_channels)]


def _thumbnail_channel(meta: dict[str, Any], n_channels: int) -> int:
    """DIFF for triplets (where real and bogus differ most), else the first channel."""
    return 2 if meta.get("kind") == "triplet" and n_channels == 3 else 0


def _dm_up(images: np.ndarray, meta: dict[str, Any], *, row_axis: int) -> np.ndarray:
    """dmdt rows flipped so that dm increases upward, as every other dmdt figure draws them."""
    return np.flip(images, axis=row_axis) if meta.get("kind") == "dmdt" else images
