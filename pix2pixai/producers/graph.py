"""The model's own Keras graph: a layer's tensors in it, the run of layers above one input, and its layer kinds.

Why one place: the hand-differentiated input gradient (:mod:`pix2pixai.producers.input_gradient`) and
blanking's crops (:mod:`pix2pixai.producers.receptive_field`) both take over the layers next to the
image while the graph is a simple run (each tensor feeds one layer, used once), then hand the rest
of the model to Keras as a sub-model; both must agree on what counts as a run, and every sub-model
must be built from the model's own tensors (:func:`graph_tensors`), and both must agree on which layers
act on each position alone (:func:`is_pointwise`) and which convolutions are plain (:func:`is_plain_conv2d`).
CAM looks through the same inference-time identity layers (:data:`IDENTITY`) to find its head.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

#: Elementwise activations (a channel's output depends on that channel alone), by Keras function name.
ELEMENTWISE = frozenset({"linear", "relu", "relu6", "leaky_relu", "elu", "selu", "gelu", "silu", "swish",
                         "tanh", "sigmoid", "hard_sigmoid", "softplus", "softsign", "exponential", "mish"})
#: Layers that are the identity at inference (regularisers and noise that act only in training).
IDENTITY = frozenset({"Dropout", "SpatialDropout1D", "SpatialDropout2D", "GaussianNoise", "GaussianDropout",
                      "AlphaDropout", "ActivityRegularization"})


def activation_name(layer: Any) -> str:
    """Keras function name of the layer's activation (``"linear"`` when it has none)."""
    activation = getattr(layer, "activation", None)
    return "linear" if activation is None else getattr(activation, "__name__", str(activation))


def is_pointwise(layer: Any) -> bool:
    """Whether the layer acts on each position alone at inference (elementwise activations, channels-last batch norm)."""
    kind = type(layer).__name__
    if kind == "Activation":
        return activation_name(layer) in ELEMENTWISE
    if kind == "BatchNormalization":
        return layer.axis in (-1, 3, [3], [-1])
    return kind in ("ReLU", "LeakyReLU", "ELU")


def is_plain_conv2d(layer: Any) -> bool:
    """Whether the layer is a ``Conv2D`` of one group, no dilation and an elementwise activation."""
    return (type(layer).__name__ == "Conv2D" and activation_name(layer) in ELEMENTWISE and layer.groups == 1
            and tuple(layer.dilation_rate) == (1, 1))


def graph_tensors(model: Any, layer: Any) -> tuple[Any, Any]:
    """``(input, output)`` symbolic tensors of ``layer`` in the model's own graph.

    Why not ``layer.input`` / ``layer.output``: those are the layer's *first* call. A Sequential model
    loaded from ``.keras`` has been built several times, so they belong to an earlier graph; a
    sub-model mixing them with the model's tensors computes the layer twice and the gradient of the
    score with respect to the first copy is None (Grad-CAM failed so on every loaded Sequential model).
    """
    for node in _nodes(model):
        if node.operation is layer:
            inputs, outputs = node.input_tensors, node.output_tensors
            return (inputs[0] if len(inputs) == 1 else inputs), (outputs[0] if len(outputs) == 1 else outputs)
    return layer.input, layer.output


def layer_run(model: Any, input_name: str, head_input: Any) -> Iterator[tuple[Any, Any, Any]]:
    """``(layer, input tensor, output tensor)`` from input ``input_name`` upwards, while the graph is a run.

    A run continues while the current tensor feeds exactly one node, that node has one input and
    one output, and its layer is used nowhere else; it stops before ``head_input`` (the head's input).
    """
    nodes = [node for node in _nodes(model) if type(node.operation).__name__ != "InputLayer"]
    tensor = next(t for t in model.inputs if t.name == input_name)
    while tensor is not head_input:
        users = [node for node in nodes if any(t is tensor for t in node.input_tensors)]
        if len(users) != 1 or len(users[0].input_tensors) != 1 or len(users[0].output_tensors) != 1:
            return
        layer = users[0].operation
        if sum(node.operation is layer for node in nodes) != 1:
            return
        output = users[0].output_tensors[0]
        yield layer, tensor, output
        tensor = output


def model_above(model: Any, tensor: Any, input_name: str, head_input: Any) -> tuple[Any, tuple[str, ...]] | None:
    """``(sub-model, names of its other inputs)`` mapping ``[tensor, other model inputs...]`` to ``head_input``.

    ``None`` when the input ``input_name`` reaches the head by a path that avoids ``tensor``.
    """
    import keras

    others = [t for t in model.inputs if t.name != input_name]
    try:
        return keras.Model([tensor, *others], head_input), tuple(t.name for t in others)
    except ValueError:
        return None


def _nodes(model: Any) -> list[Any]:
    """Every node of the model's own graph (a Sequential model's lives in its ``_functional``)."""
    graph = getattr(model, "_functional", None) or model
    return [node for depth in getattr(graph, "_nodes_by_depth", {}).values() for node in depth]
