"""Feature maps of every convolution and pooling layer for one input, and the first layer's filters.

Both read the model without changing it: the maps come from one multi-output sub-model sharing the
model's weights (built once per model and cached), the filters are a copy of the first convolution's
kernel.
"""

from __future__ import annotations

import weakref
from typing import Any

import numpy as np

from pix2pixai.errors import InputError
from pix2pixai.producers.base import DEFAULT_BATCH_SIZE

CONV_LAYERS = ("Conv2D", "SeparableConv2D", "DepthwiseConv2D", "Conv2DTranspose")
POOLING_LAYERS = ("MaxPooling2D", "AveragePooling2D")

_SUBMODELS: weakref.WeakKeyDictionary[Any, dict[tuple[str, ...], Any]] = weakref.WeakKeyDictionary()


def spatial_layers(model: Any) -> list[str]:
    """Names of the conv and pooling layers with 4-D ``[N, h, w, c]`` outputs, in model order."""
    return [layer.name for layer in model.layers
            if layer.__class__.__name__ in CONV_LAYERS + POOLING_LAYERS and len(layer.output.shape) == 4]


def activation_maps(model: Any, x_one: Any) -> dict[str, np.ndarray]:
    """Output of every conv and pooling layer for one input: ``{layer name: float32 [h, w, c]}``.

    Parameters
    ----------
    model : one-input Keras 3 classifier.
    x_one : one input ``[H, W, C]`` (``[H, W]`` for a one-channel model).
    """
    names = spatial_layers(model)
    if not names:
        raise InputError(f"model {model.name!r} has no conv or pooling layer with a 4-D output")
    image = model_images(model, np.asarray(x_one)[None])
    return {name: out[0] for name, out in zip(names, layer_activations(model, tuple(names), image))}


def first_layer_filters(model: Any) -> np.ndarray:
    """Kernel of the model's first convolution, float32 ``[k_h, k_w, c_in, c_out]`` (a copy)."""
    for layer in model.layers:
        if layer.__class__.__name__ in CONV_LAYERS:
            return np.array(layer.kernel, dtype=np.float32)
    raise InputError(f"model {model.name!r} has no convolution layer: no filters to show")


def model_images(model: Any, x: Any) -> np.ndarray:
    """``x`` as a finite float32 ``[N, H, W, C]`` batch for a one-input model (``[N, H, W]`` if C = 1).

    Any one-input model is accepted (not only classifiers), so feature extractors can be inspected too.
    """
    if len(model.inputs) != 1:
        raise InputError(f"model {model.name!r} takes {len(model.inputs)} inputs: inspection needs a one-input model")
    shape = tuple(model.inputs[0].shape[1:])
    images = np.asarray(x, dtype=np.float32)
    if images.ndim == 3 and len(shape) == 3 and shape[-1] == 1:
        images = images[..., None]
    if images.ndim != 4 or any(want is not None and want != got for want, got in zip(shape, images.shape[1:])):
        raise InputError(f"input has shape {images.shape}: expected [N, {', '.join(map(str, shape))}]")
    if not np.all(np.isfinite(images)):
        raise InputError(f"input has {int(np.sum(~np.isfinite(images)))} non-finite values: expected finite numbers")
    return images


def layer_activations(model: Any, names: tuple[str, ...], images: np.ndarray,
                      batch_size: int = DEFAULT_BATCH_SIZE) -> list[np.ndarray]:
    """Outputs of layers ``names`` for ``images`` ``[N, H, W, C]``, one float32 array per layer, batched.

    The sub-model from the input to those layers shares the model's weights and is cached per model.
    """
    import keras

    per_model = _SUBMODELS.setdefault(model, {})
    if names not in per_model:
        known = [layer.name for layer in model.layers]
        missing = [n for n in names if n not in known]
        if missing:
            raise InputError(f"layer(s) {missing} not in model {model.name!r} (layers: {known})")
        per_model[names] = keras.Model(model.inputs[0], [model.get_layer(n).output for n in names])
    sub = per_model[names]
    parts: list[list[np.ndarray]] = [[] for _ in names]
    for start in range(0, len(images), batch_size):
        out = sub(images[start:start + batch_size], training=False)
        for part, tensor in zip(parts, out if isinstance(out, (list, tuple)) else [out]):
            part.append(np.asarray(tensor, dtype=np.float32))
    return [np.concatenate(part) if part else np.zeros((0, *t.shape[1:]), np.float32)
            for part, t in zip(parts, sub.outputs)]
