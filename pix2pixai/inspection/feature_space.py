"""The classifier's feature space: penultimate features, a seeded t-SNE map, nearest neighbours.

"Penultimate" means the input of the output layer (after Flatten or global pooling): the space in which
the last linear layer separates the classes, so neighbours there are inputs the model treats alike.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from pix2pixai.errors import InputError
from pix2pixai.inspection.activations import layer_activations, model_images
from pix2pixai.producers.base import batch_size_of


def penultimate_features(model: Any, x: Any, *, batch_size: int | None = None) -> np.ndarray:
    """Input of the model's output layer for every input, float32 ``[N, D]`` (flattened if spatial)."""
    images = model_images(model, x)
    source = model.layers[-1].input._keras_history.operation.name
    features = layer_activations(model, (source,), images, batch_size_of(batch_size))[0]
    return features.reshape(len(images), -1)


def tsne_embedding(features: Any, seed: int, *, perplexity: float = 30.0) -> np.ndarray:
    """2-D t-SNE map of ``features`` ``[N, D]`` -> float32 ``[N, 2]`` (scikit-learn, PCA start, seeded).

    The same seed gives the same map: ``seed`` is scikit-learn's ``random_state``, and the PCA start
    (better global layout than a random start) leaves no other random draw.
    ``perplexity`` is capped at ``(N - 1) / 3`` so small sets still embed.

    The fit runs on one OpenMP thread: the map is identical to the multi-threaded one, and beside
    TensorFlow's thread pools or on a shared machine the multi-threaded gradient loop spins instead of
    working (timings: ``docs/benchmarks.md``).
    """
    from sklearn.manifold import TSNE
    from threadpoolctl import threadpool_limits

    f = _features(features)
    if len(f) < 4:
        raise InputError(f"features have {len(f)} rows: t-SNE needs at least 4 inputs")
    tsne = TSNE(n_components=2, perplexity=min(float(perplexity), (len(f) - 1) / 3), init="pca",
                random_state=int(seed))
    with threadpool_limits(limits=1, user_api="openmp"):
        return tsne.fit_transform(f.astype(np.float64)).astype(np.float32)


def nearest_neighbours(features: Any, i: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` rows nearest to row ``i`` in Euclidean distance (``i`` itself excluded).

    Returns
    -------
    indices : int ``[k]``, nearest first (ties broken by lower index).
    distances : float ``[k]``, ``||f_j - f_i||_2``.
    """
    f = _features(features)
    if not 0 <= i < len(f):
        raise InputError(f"i={i}: expected a row index in 0..{len(f) - 1}")
    if not 1 <= k < len(f):
        raise InputError(f"k={k}: expected 1 <= k <= {len(f) - 1} (rows other than i)")
    distances = np.sqrt(np.sum((f - f[i]) ** 2, axis=1, dtype=np.float64))
    distances[i] = np.inf
    order = np.argsort(distances, kind="stable")[:k]
    return order, distances[order]


def _features(features: Any) -> np.ndarray:
    f = np.asarray(features, dtype=np.float32)
    if f.ndim != 2:
        raise InputError(f"features have shape {f.shape}: expected [N, D]")
    if not np.all(np.isfinite(f)):
        raise InputError(f"features have {int(np.sum(~np.isfinite(f)))} non-finite values: expected finite numbers")
    return f
