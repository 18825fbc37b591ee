"""Blanking (occlusion, Zeiler & Fergus 2014): how much the target score drops when a patch is blanked.

For a window ``w`` (a ``patch x patch`` square, all channels at once or one channel at a time with
``per_channel=True``) the occluded input ``x_w`` equals ``x`` with the window set to ``baseline``
(default 0: the empty dmdt bin / an empty cutout pixel), and

    ``delta_w = S_t(x) - S_t(x_w)``   (positive = the window is evidence *for* the target).

Each pixel's value is the mean ``delta`` of the windows covering it (windows start every ``stride``
pixels; a last window is added flush with the border so every pixel is covered). With all channels
occluded at once ``delta`` is split equally over the ``C`` channels, so that the channel sum (the
reduction in :func:`pix2pixai.producers.reduce_maps`) is the score change. ``patch=1`` gives one exact
score difference per pixel (per channel).

Speed: a window whose pixels all equal the baseline leaves the input unchanged, so its ``delta`` is
exactly 0 and it is skipped (only ~27% of real CRTS dmdt bins are non-empty). All remaining occluded
inputs of a group of inputs are built with vectorised indexing and scored in compiled batches whose
occluded-input tensor stays under ``memory_bytes`` and holds at most the model's cache-sized call
(:attr:`pix2pixai.producers.base.ScoreModel.rows_per_call`). Where the layers below the model's first
pooling allow it (:mod:`pix2pixai.producers.receptive_field`), an occluded copy is only the crop of the
input that the window can influence: those layers run on the crop, and the rest of the model on the
clean feature map with the changed cells replaced.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

import numpy as np

from pix2pixai.errors import InputError
from pix2pixai.producers.base import Inputs, ScoreModel, request, rows_per_call_of, score_model, target_scores
from pix2pixai.producers.graph import graph_tensors
from pix2pixai.producers.receptive_field import LocalPrefix, local_prefix

DEFAULT_MEMORY_BYTES = 8 * 2**20


def blanking(
    model: Any,
    x: Any,
    targets: Any = None,
    score: str = "logit",
    *,
    patch: int = 1,
    stride: int | None = None,
    baseline: float | np.ndarray = 0.0,
    per_channel: bool = False,
    memory_bytes: int = DEFAULT_MEMORY_BYTES,
    batch_size: int | None = None,
    image_input: str | None = None,
) -> np.ndarray:
    """Occlusion map ``[N, H, W, C]`` of score drops (see module docstring for the formula).

    Parameters
    ----------
    patch : window side in pixels.
    stride : window step (default ``patch``: non-overlapping windows).
    baseline : blanking value, a scalar or an array broadcastable to ``[H, W, C]``.
    per_channel : blank each channel separately (e.g. science / reference / difference).
    memory_bytes : budget for one batch of occluded inputs (float32 bytes).
    batch_size : inputs whose perturbations are planned together.
    """
    sm = score_model(model, score, image_input)
    height, width, channels = sm.image_shape
    stride = patch if stride is None else stride
    if patch < 1 or stride < 1 or patch > min(height, width):
        raise InputError(f"patch={patch}, stride={stride}: expected 1 <= patch <= {min(height, width)} and stride >= 1")
    if memory_bytes < height * width * channels * 4:
        raise InputError(f"memory_bytes={memory_bytes}: expected at least one input ({height * width * channels * 4} bytes)")
    try:
        base = np.broadcast_to(np.asarray(baseline, np.float32), sm.image_shape)
    except ValueError:
        raise InputError(f"baseline has shape {np.shape(baseline)}: expected a scalar or broadcastable to "
                         f"{sm.image_shape}") from None
    windows = _Windows(height, width, patch, stride)
    req = request(model, x, targets, score, image_input=image_input, batch_size=batch_size)
    prefix = _prefix(sm)
    prefix = prefix if prefix is not None and prefix.useful(patch) else None
    rows_per_call = _rows_per_call(sm, prefix, patch, memory_bytes)
    out = np.zeros(req.inputs.image.shape, np.float32)
    for rows, batch, t in req.batches():
        out[rows] = _blank_batch(_Occluded(sm, batch, windows, base, per_channel, prefix), t, rows_per_call)
    return out / windows.coverage[None, :, :, None]


class _Windows:
    """Top-left corners of the occlusion windows and how many windows cover each pixel."""

    def __init__(self, height: int, width: int, patch: int, stride: int):
        rows, cols = _starts(height, patch, stride), _starts(width, patch, stride)
        self.patch = patch
        self.top = np.repeat(rows, cols.size)
        self.left = np.tile(cols, rows.size)
        offsets = np.arange(patch)
        # pixel coordinates of every window: [n_windows, patch * patch]
        self.pixel_rows = (self.top[:, None, None] + offsets[None, :, None]).repeat(patch, axis=2).reshape(len(self.top), -1)
        self.pixel_cols = (self.left[:, None, None] + offsets[None, None, :]).repeat(patch, axis=1).reshape(len(self.top), -1)
        self.coverage = np.zeros((height, width), np.float32)
        np.add.at(self.coverage, (self.pixel_rows, self.pixel_cols), 1.0)

    def changed(self, differs: np.ndarray) -> np.ndarray:
        """``[N, n_windows, C]``: does the window hold any pixel differing from the baseline (per channel)?

        Window sums come from an integral image, so the cost does not grow with the patch size.
        """
        n, h, w, c = differs.shape
        integral = np.zeros((n, h + 1, w + 1, c), np.int64)
        integral[:, 1:, 1:] = differs.cumsum(axis=1).cumsum(axis=2)
        t, l, p = self.top, self.left, self.patch
        counts = integral[:, t + p, l + p] - integral[:, t, l + p] - integral[:, t + p, l] + integral[:, t, l]
        return counts > 0


def _starts(size: int, patch: int, stride: int) -> np.ndarray:
    starts = list(range(0, size - patch + 1, stride))
    if starts[-1] != size - patch:
        starts.append(size - patch)
    return np.asarray(starts, np.int64)


def _blank_batch(scorer: _Occluded, targets: np.ndarray, rows_per_call: int) -> np.ndarray:
    """Summed window deltas ``[n, H, W, C]`` of one group of inputs (before dividing by coverage)."""
    batch, windows, per_channel = scorer.batch, scorer.windows, scorer.per_channel
    image = batch.image
    channels = image.shape[-1]
    changed = windows.changed(image != scorer.base)
    if not per_channel:
        changed = changed.any(axis=2, keepdims=True)
    sample, window, channel = np.nonzero(changed)
    clean = scorer.sm.target_scores(image, batch.others, targets)
    summed = np.zeros(image.shape, np.float32)
    for start in range(0, sample.size, rows_per_call):
        part = slice(start, start + rows_per_call)
        s, w, c = sample[part], window[part], channel[part]
        rr, cc = windows.pixel_rows[w], windows.pixel_cols[w]
        delta = clean[s] - scorer.scores(s, w, c, targets[s])
        if per_channel:
            np.add.at(summed, (s[:, None], rr, cc, c[:, None]), delta[:, None])
        else:
            np.add.at(summed, (s[:, None], rr, cc), (delta / channels)[:, None, None])
    return summed


class _Occluded:
    """Target scores of occluded copies of a group's inputs: whole inputs, or crops through a :class:`LocalPrefix`."""

    def __init__(self, sm: ScoreModel, batch: Inputs, windows: _Windows, base: np.ndarray, per_channel: bool,
                 prefix: LocalPrefix | None):
        self.sm, self.batch, self.windows, self.base, self.per_channel, self.prefix = (
            sm, batch, windows, base, per_channel, prefix)
        if prefix is not None:
            self.clean_map = sm.compiled("blanking/prefix", prefix.apply)(batch.image)

    def scores(self, s: np.ndarray, w: np.ndarray, c: np.ndarray, targets: np.ndarray) -> np.ndarray:
        """``S_t`` of input ``s`` with window ``w`` (channel ``c`` when per channel) set to the baseline."""
        others = {k: v[s] for k, v in self.batch.others.items()}
        rr, cc = self.windows.pixel_rows[w], self.windows.pixel_cols[w]
        if self.prefix is None:
            occluded = self.batch.image[s]
            self._occlude(occluded, np.arange(s.size)[:, None], rr, cc, rr, cc, c)
            return self.sm.target_scores(occluded, others, targets)
        prefix = self.prefix
        patch = self.windows.patch
        first_row, first_col = prefix.first_cells(self.windows.top[w], self.windows.left[w], patch)
        top, left = first_row * prefix.stride[0], first_col * prefix.stride[1]
        crop_h, crop_w = prefix.crop_size(patch)
        rows = top[:, None, None] + np.arange(crop_h)[None, :, None]
        cols = left[:, None, None] + np.arange(crop_w)[None, None, :]
        crops = self.batch.image[s[:, None, None], rows, cols]
        local_r, local_c = rr - top[:, None], cc - left[:, None]
        inside = (local_r >= 0) & (local_r < crop_h) & (local_c >= 0) & (local_c < crop_w)  # others reach no cell
        m = np.broadcast_to(np.arange(s.size)[:, None], rr.shape)
        self._occlude(crops, m[inside], local_r[inside], local_c[inside], rr[inside], cc[inside],
                      np.broadcast_to(c[:, None], rr.shape)[inside])
        cells = prefix.cells(patch)
        fn = self.sm.compiled(f"blanking/prefix_scores/{cells}", _prefix_scores_fn(self.sm, prefix, cells))
        return np.asarray(fn(self.clean_map, crops, s.astype(np.int32), first_row, first_col, targets, others))

    def _occlude(self, images: np.ndarray, m: np.ndarray, r: np.ndarray, q: np.ndarray, base_r: np.ndarray,
                 base_q: np.ndarray, channel: np.ndarray) -> None:
        """Set pixels ``(m, r, q)`` of ``images`` to the baseline at image pixels ``(base_r, base_q)``, in place."""
        if self.per_channel:
            channel = channel if channel.ndim == r.ndim else channel[:, None]
            images[m, r, q, channel] = self.base[base_r, base_q, channel]
        else:
            images[m, r, q] = self.base[base_r, base_q]


def _prefix_scores_fn(sm: ScoreModel, prefix: LocalPrefix, cells: tuple[int, int]) -> Callable[..., Any]:
    """Compiled scores from crops: prefix on the crops, their cells written into the clean map, the rest of the model."""
    import tensorflow as tf

    def scores(clean_map: Any, crops: Any, sample: Any, first_row: Any, first_col: Any, targets: Any,
               others: Any) -> Any:
        cell_maps = prefix.apply(crops)
        rows = first_row[:, None, None] + tf.range(cells[0])[None, :, None]
        cols = first_col[:, None, None] + tf.range(cells[1])[None, None, :]
        rows, cols = tf.broadcast_to(rows, tf.shape(cell_maps)[:3]), tf.broadcast_to(cols, tf.shape(cell_maps)[:3])
        which = tf.broadcast_to(tf.range(tf.shape(sample)[0])[:, None, None], tf.shape(rows))
        maps = tf.tensor_scatter_nd_update(tf.gather(clean_map, sample), tf.stack([which, rows, cols], -1), cell_maps)
        inputs = [maps, *(others[name] for name in prefix.other_inputs)]
        features = prefix.rest(inputs[0] if len(inputs) == 1 else inputs, training=False)
        return target_scores(sm.scores_from_features(features), targets)

    return scores


def _rows_per_call(sm: ScoreModel, prefix: LocalPrefix | None, patch: int, memory_bytes: int) -> int:
    """Occluded copies per compiled call: within ``memory_bytes`` and cache-sized for what the call computes.

    Whole copies: the input bytes and the model's call size. Crops: a crop plus its clean feature map
    per row, and the call size of the model above the prefix (its largest activation is smaller than
    the first layers', so calls hold more rows and cost fewer dispatches).
    """
    height, width, channels = sm.image_shape
    if prefix is None:
        return max(1, min(memory_bytes // (height * width * channels * 4), sm.rows_per_call))
    crop_h, crop_w = prefix.crop_size(patch)
    map_bytes = 4 * int(np.prod(prefix.rest.inputs[0].shape[1:]))
    return max(1, min(memory_bytes // (crop_h * crop_w * channels * 4 + map_bytes), rows_per_call_of(prefix.rest)))


_PREFIXES: weakref.WeakKeyDictionary[ScoreModel, LocalPrefix | None] = weakref.WeakKeyDictionary()


def _prefix(sm: ScoreModel) -> LocalPrefix | None:
    """The model's :class:`LocalPrefix` (built once per score model), or ``None``."""
    if sm not in _PREFIXES:
        _PREFIXES[sm] = local_prefix(sm.model, sm.image_input, graph_tensors(sm.model, sm.head)[0])
    return _PREFIXES[sm]
