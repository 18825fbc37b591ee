"""How a score model's graphs run: by the fast paths where they are exact, by the model's own layers elsewhere.

:class:`~pix2pixai.producers.base.ScoreModel` says *what* every producer computes (the score, the inputs,
the targets); :class:`FastPaths` says *how* it runs, so that choice is made in one place for every
producer:

* forward passes start with the fast front (:class:`~pix2pixai.producers.input_gradient.FastFront`) and
  hand its output to a Keras sub-model of the layers above it;
* input gradients go through the hand-written backward chain
  (:class:`~pix2pixai.producers.input_gradient.BackwardChain`) below a tape of the layers above it;
* where neither applies, or on a batch on which a filter the fast paths leave out wakes
  (:mod:`pix2pixai.producers.dormant`), the model's own layers and TF's tape compute the same numbers;
* every compiled function (``tf.function``) is traced once per score model and key, and reused
  (tracing costs more than a forward pass of a small CNN).

Which kernels the front and the chain use, and whether they leave dormant filters out, is each one's
:class:`~pix2pixai.producers.path_choice.Route` (chosen by :mod:`pix2pixai.producers.autotune`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from pix2pixai.producers.graph import graph_tensors, model_above
from pix2pixai.producers.input_gradient import backward_chain, fast_front
from pix2pixai.producers.path_choice import DEFAULT_ROUTE, Route


class FastPaths:
    """The routes and compiled functions of one model with one attributed input.

    ``forward`` and ``gradient`` are the routes of the front and of the chain.

    Attributes
    ----------
    front : the fast front above the attributed input, ``None`` where Keras is as fast.
    chain : the hand-differentiated backward chain above it, ``None`` where the tape is used.
    features : ``model inputs (list) -> the head's input`` (TF ops), through the front where it applies.
    """

    def __init__(self, model: Any, input_names: Sequence[str], image_input: str, head_input: Any,
                 forward: Route = DEFAULT_ROUTE, gradient: Route = DEFAULT_ROUTE):
        self.model = model
        self.input_names = list(input_names)
        self.image_input = image_input
        self.head_input = head_input
        self.front = fast_front(model, image_input, head_input, forward)
        self.chain = backward_chain(model, image_input, head_input, gradient)
        self.features = self.to(head_input)
        self._plain_features = self.whole_model(head_input)
        self._layer_runs: dict[str, Callable[..., tuple[Any, Any]]] = {}
        self._compiled: dict[str, Callable[..., Any]] = {}

    def compiled(self, key: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        """``fn`` wrapped in a ``tf.function`` cached under ``key``."""
        import tensorflow as tf

        if key not in self._compiled:
            self._compiled[key] = tf.function(fn, reduce_retracing=True)
        return self._compiled[key]

    def to(self, outputs: Any) -> Callable[[Sequence[Any]], Any]:
        """``model inputs (list) -> outputs`` (symbolic tensors of the model's graph), as TF ops.

        Through the fast front and a Keras sub-model above it where every output lies at or above the
        front; else a Keras sub-model of the whole model, which also serves a batch on which the front's
        dormant filters might wake.
        """
        import tensorflow as tf

        whole = self.whole_model(outputs)
        front = self.front
        if front is None:
            return whole
        if outputs is front.top:
            sub, other_names = None, ()
        else:
            above = model_above(self.model, front.top, self.image_input, outputs)
            if above is None:
                return whole
            sub, other_names = above
        image_at = self.input_names.index(self.image_input)

        def run(inputs: Sequence[Any]) -> Any:
            top, asleep = front(inputs[image_at])
            others = [inputs[self.input_names.index(name)] for name in other_names]
            fast = (lambda: top) if sub is None else (lambda: sub(_structure([top, *others]), training=False))
            return fast() if asleep is None else tf.cond(asleep, fast, lambda: whole(inputs))

        return run

    def whole_model(self, outputs: Any) -> Callable[[Sequence[Any]], Any]:
        """``model inputs (list) -> outputs`` by a Keras sub-model of the whole model (the model's own layers)."""
        import keras

        whole = keras.Model(self.model.inputs, outputs)
        return lambda inputs: whole(_structure(inputs), training=False)

    def layer_and_features(self, layer_name: str) -> Callable[..., tuple[Any, Any]]:
        """``run(inputs, watch) -> (activations of layer_name, the head's input)``, built once per layer.

        ``watch`` (e.g. a tape's ``watch``) is called on the activations before the layers above them run,
        so a tape records the head's input as a function of the activations even where the fused kernels
        of the fast front, which no tape records, produced them.
        """
        if layer_name not in self._layer_runs:
            self._layer_runs[layer_name] = self._layer_and_features(layer_name)
        return self._layer_runs[layer_name]

    def _layer_and_features(self, layer_name: str) -> Callable[..., tuple[Any, Any]]:
        layer_out = graph_tensors(self.model, self.model.get_layer(layer_name))[1]
        above = model_above(self.model, layer_out, self.image_input, self.head_input)
        if above is None:  # the image reaches the head around the layer too: one Keras graph for both
            both = self.whole_model([layer_out, self.head_input])  # Keras layers: tapes record them via their weights
            return lambda inputs, watch: tuple(both(inputs))
        sub, other_names = above
        to_layer = self.to(layer_out)

        def through(inputs: Sequence[Any], watch: Callable[[Any], Any] | None) -> tuple[Any, Any]:
            activations = to_layer(inputs)
            if watch is not None:
                watch(activations)
            others = [inputs[self.input_names.index(name)] for name in other_names]
            return activations, sub(_structure([activations, *others]), training=False)

        return through

    def input_gradient(self, image: Any, others: Mapping[str, Any], inputs: Sequence[Any],
                       score_of: Callable[[Any], Any]) -> tuple[Any, Any]:
        """``(score_of(head input) [N], its gradient with respect to image [N, H, W, C])`` as TF ops.

        ``inputs`` is the model's input list with ``image`` in the attributed slot and ``others`` in theirs.
        Through the backward chain where it applies and the batch's dormant filters slept, else by the tape
        through the model's own layers.
        """
        import tensorflow as tf

        chain = self.chain
        if chain is None:
            return self._tape_input_gradient(image, inputs, score_of)
        top, records, asleep = chain.forward(image)

        def through_chain() -> tuple[Any, Any]:
            with tf.GradientTape(watch_accessed_variables=False) as tape:
                tape.watch(top)
                scores = score_of(chain.features(top, others))
            return scores, chain.input_gradient(tape.gradient(scores, top), records)

        if asleep is None:
            return through_chain()
        return tf.cond(asleep, through_chain, lambda: self._tape_input_gradient(image, inputs, score_of))

    def _tape_input_gradient(self, image: Any, inputs: Sequence[Any],
                             score_of: Callable[[Any], Any]) -> tuple[Any, Any]:
        """Scores and their image gradient differentiated by TF's tape through the model's own layers."""
        import tensorflow as tf

        with tf.GradientTape(watch_accessed_variables=False) as tape:
            tape.watch(image)
            scores = score_of(self._plain_features(inputs))
        return scores, tape.gradient(scores, image)


def _structure(inputs: Sequence[Any]) -> Any:
    """Keras wants a bare tensor for a one-input model and a list otherwise."""
    return inputs[0] if len(inputs) == 1 else list(inputs)
