"""Transfer weights between surveys: start a new survey's classifier from a previous one.

The original work fine-tuned the CRTS dmdt CNN on ZTF dmdts. Input sizes differ (22x24x1 CRTS
bins vs 26x26x2 SCoPe bins, one channel per band), so weights move layer by layer, by name:

* same shape -> copied;
* a convolution whose input-channel count differs -> the source kernel is averaged over its input
  channels and repeated for each target channel, divided by the target channel count, so that an
  input with the same image in every channel gives the same response as the source did;
* anything else (e.g. the Dense head after a Flatten of a different size) keeps its fresh
  initialisation and is learnt during fine-tuning.
"""

from __future__ import annotations

import keras
import numpy as np


def transfer_weights(source: keras.Model, target: keras.Model) -> dict[str, str]:
    """Copy what fits from ``source`` into ``target`` (in place); return what happened per layer."""
    by_name = {layer.name: layer for layer in source.layers}
    report: dict[str, str] = {}
    for layer in target.layers:
        src = by_name.get(layer.name)
        if src is None or not layer.weights:
            continue
        src_w, dst_w = src.get_weights(), layer.get_weights()
        if len(src_w) != len(dst_w):
            report[layer.name] = "kept (different weight structure)"
            continue
        if all(a.shape == b.shape for a, b in zip(src_w, dst_w)):
            layer.set_weights(src_w)
            report[layer.name] = "copied"
        elif _is_channel_mismatch(src_w, dst_w):
            kernel = src_w[0].mean(axis=2, keepdims=True)
            n_in = dst_w[0].shape[2]
            layer.set_weights([np.repeat(kernel, n_in, axis=2) / n_in, *src_w[1:]])
            report[layer.name] = f"adapted ({src_w[0].shape[2]} -> {n_in} input channels)"
        else:
            report[layer.name] = "kept (shape differs)"
    return report


def _is_channel_mismatch(src: list[np.ndarray], dst: list[np.ndarray]) -> bool:
    a, b = src[0], dst[0]
    return (a.ndim == 4 and b.ndim == 4 and a.shape[:2] == b.shape[:2] and a.shape[3] == b.shape[3]
            and all(x.shape == y.shape for x, y in zip(src[1:], dst[1:])))
