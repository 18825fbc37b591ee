"""pix2pixai: class-level explanation maps for CNN classifiers via pix2pix generators.

One import namespace, three layers: ``pix2pixai.metrics`` (similarity, ranking, faithfulness) <-
``pix2pixai.trainers`` (architectures and training loops) <- the rest of ``pix2pixai`` (data,
producers, class maps, figures, stores, CLI); ARCHITECTURE.md has the map.

The toolkit runs Keras 3 on its TensorFlow backend only (producers and trainers use TensorFlow ops
and ``tf.function``), so the backend is pinned here, before anything imports Keras, and another
backend asked for by ``KERAS_BACKEND`` is refused with one clear message.
"""

import os

__version__ = "0.1.0"

_BACKEND = os.environ.setdefault("KERAS_BACKEND", "tensorflow")
if _BACKEND != "tensorflow":
    raise ImportError(f"pix2pixai needs Keras on its TensorFlow backend; KERAS_BACKEND={_BACKEND!r} is set "
                      "(unset it or set KERAS_BACKEND=tensorflow)")
