"""Load the real Keras-2 (2.2.4) HDF5 models into Keras 3: the CRTS dmdt CNN and braai's VGG6.

Keras 3 cannot read these files directly: the CRTS file's stored config has no input shape, the braai
configs carry a Keras-2 ``batch_input_shape``, and Keras 3 treats any ``*.weights.h5`` as its own new
format. All these files share one layout, though: one HDF5 group per layer (under ``model_weights``
in full-model files, at the root in weights-only files), whose ``weight_names`` attribute lists the
datasets in the layer's weight order (kernel, then bias). So the architecture is rebuilt with our
builders (:mod:`pix2pixai.trainers.classifiers`, the same layer names) and the weights are read by layer name
with h5py, checking every shape.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import h5py
import keras
import numpy as np

from pix2pixai.trainers.classifiers import braai_vgg6, dmdt_cnn

#: Legacy model kinds and the builders that rebuild their architectures.
LEGACY_BUILDERS: dict[str, Callable[[], keras.Model]] = {
    "crts_cnn": lambda: dmdt_cnn((22, 24, 1), n_classes=7),
    "braai": lambda: braai_vgg6((63, 63, 3), output="sigmoid"),
}


def load_legacy_model(path: str | Path, kind: str) -> keras.Model:
    """Rebuild a legacy Keras-2 model of ``kind`` and load its weights from ``path``.

    Parameters
    ----------
    path : a Keras-2 ``.h5`` full-model file or a legacy weights-only ``.h5`` (either works).
    kind : ``"crts_cnn"`` (the real CRTS CNN: (22, 24, 1) dmdt -> 7-way softmax in the order
        EW, EA, RRab, RRc, RRd, RS_CVn, LPV) or ``"braai"`` ((63, 63, 3) triplet -> one sigmoid
        real-probability; either braai file, ``d6_m7`` or ``braai_d6_m9``).

    Returns
    -------
    An uncompiled functional Keras 3 model.

    Raises
    ------
    ValueError
        for an unknown kind, a missing file, a file that is not HDF5, a missing layer group, or a
        stored weight whose shape differs from the rebuilt layer's (naming layer and both shapes).
    """
    if kind not in LEGACY_BUILDERS:
        raise ValueError(f"unknown legacy model kind {kind!r}; expected one of {', '.join(LEGACY_BUILDERS)}")
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: legacy model file not found")
    model = LEGACY_BUILDERS[kind]()
    load_weights_by_name(model, path)
    return model


def load_weights_by_name(model: keras.Model, path: str | Path) -> None:
    """Set every weighted layer of ``model`` from the Keras-2 HDF5 group of the same name (in place).

    Layers without weights (pooling, dropout, flatten) are skipped; extra groups in the file are
    ignored. All layers are read and checked before any weight is set, so a failure leaves ``model``
    unchanged.
    """
    path = Path(path)
    try:
        handle = h5py.File(path, "r")
    except OSError as exc:
        raise ValueError(f"{path}: not a readable HDF5 file ({exc})") from exc
    with handle:
        root = handle["model_weights"] if "model_weights" in handle else handle
        staged = [(layer, _read_layer(root, layer, path)) for layer in model.layers if layer.weights]
    for layer, values in staged:
        layer.set_weights(values)


def _read_layer(root: h5py.Group, layer: keras.layers.Layer, path: Path) -> list[np.ndarray]:
    if layer.name not in root:
        raise ValueError(
            f"{path}: no weight group for layer {layer.name!r}; the file has groups {sorted(root.keys())}"
        )
    group = root[layer.name]
    names = [n.decode() if isinstance(n, bytes) else str(n) for n in group.attrs.get("weight_names", [])]
    if len(names) != len(layer.weights):
        raise ValueError(
            f"{path}: layer {layer.name!r} stores {len(names)} weights {names}, the rebuilt layer has "
            f"{len(layer.weights)}"
        )
    values = []
    for name, variable in zip(names, layer.weights):
        stored = np.asarray(group[name], dtype=np.float32)
        expected = tuple(variable.shape)
        if stored.shape != expected:
            raise ValueError(
                f"{path}: layer {layer.name!r} weight {name!r} has shape {stored.shape}, expected {expected}"
            )
        values.append(stored)
    return values
