"""``tf.distribute`` strategies by name, and batch normalisation synchronised across replicas.

Why names: a run config chooses how one model's training spreads over devices
(``classifier.strategy`` / ``generator.strategy``) without code:

* ``"default"``: no strategy, TensorFlow's default device placement (one GPU, or every CPU core);
* ``"mirrored"``: ``MirroredStrategy`` over every visible GPU, or over every logical CPU device when
  there is no GPU (how the tests run two replicas on one CPU);
* ``"multiworker"``: ``MultiWorkerMirroredStrategy``, one process per machine, the cluster read from
  the ``TF_CONFIG`` environment variable that the launcher (e.g. a Slurm script) sets.

Why synchronised batch norm: under a strategy each replica sees ``batch / replicas`` items; plain
batch normalisation would normalise with per-replica statistics, so results would depend on the
number of devices. ``BatchNormalization(synchronized=True)`` all-reduces the batch moments, which
makes a replicated step normalise like the single-device step on the whole batch.
"""

from __future__ import annotations

from typing import Any

import keras

STRATEGIES: tuple[str, ...] = ("default", "mirrored", "multiworker")


def strategy_from_name(name: str) -> Any:
    """The ``tf.distribute`` strategy called ``name`` (see the module docstring); ``None`` for ``"default"``."""
    import tensorflow as tf

    if name == "default":
        return None
    if name == "mirrored":
        devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
        return tf.distribute.MirroredStrategy([d.name for d in devices])
    if name == "multiworker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise ValueError(f"strategy {name!r}: expected one of {', '.join(STRATEGIES)}")


def replicas(strategy: Any) -> int:
    """Replicas a step is split over (1 without a strategy)."""
    return 1 if strategy is None else int(strategy.num_replicas_in_sync)


def clone_with_synchronized_batch_norm(model: keras.Model) -> keras.Model:
    """A clone of ``model`` with the same weights whose BatchNormalization layers all-reduce their
    batch moments across replicas (build it inside ``strategy.scope()``)."""
    def clone(layer: keras.layers.Layer) -> keras.layers.Layer:
        config = layer.get_config()
        if isinstance(layer, keras.layers.BatchNormalization):
            config["synchronized"] = True
        return layer.__class__.from_config(config)

    copy = keras.models.clone_model(model, clone_function=clone)
    copy.set_weights(model.get_weights())
    return copy
