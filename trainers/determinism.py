"""Seeding and op determinism: same seed, same machine -> identical outputs."""

from __future__ import annotations

import os
import random

import numpy as np


def enable_determinism(seed: int) -> None:
    """Seed Python, numpy and TensorFlow and turn on TensorFlow's deterministic ops.

    Deterministic ops make reductions (e.g. gradient sums in backprop) run in a fixed order, which
    costs a little speed but makes two runs with the same seed bit-identical on the same machine.
    """
    import keras
    import tensorflow as tf

    os.environ.setdefault("TF_DETERMINISTIC_OPS", "1")
    random.seed(seed)
    np.random.seed(seed)
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
