"""The input gradient ``dS_t/dx``, differentiated by hand through the layers nearest the image.

Every gradient producer (saliency, SmoothGrad, integrated gradients, SHAP) is an input gradient. This
module computes it with the backward pass of the layers next to the image rewritten, and gives every
forward pass of the producers the same rewritten start (:class:`FastFront`):

* **Thin-channel images** (1-4 channels): the convolution runs forward as XLA-fused shifted
  multiply-adds and backward as one matmul and an XLA-fused ``col2im``, and a non-overlapping max
  pooling records its routes in the forward pass (:mod:`pix2pixai.producers.fused_kernels`).
* **Wide stride-1 convolutions.** The backward of a stride-1 convolution *is* a forward convolution:
  the output gradient, zero-padded by ``k - 1 - p_before`` / ``p_before`` (``p_before`` = the forward
  padding on that side), convolved ("valid") with the kernel flipped in both spatial axes and its
  channel axes swapped. It replaces ``Conv2DBackpropInput`` where the padded output is not much larger
  than the input (``H_in W_in / (H_out W_out) <=`` :data:`FLIPPED_MAX_AREA_RATIO`); elsewhere TF's op
  is kept.
* **Dormant filters** (:mod:`pix2pixai.producers.dormant`): a convolution computes only its live filters
  and reads only the live channels below it; an :class:`Expand` step restores all channels where a
  layer needs them.

All are exact: the same sums as the tape's, in another order (tested to float32 rounding). A
:class:`~pix2pixai.producers.path_choice.Route` switches the hand-written kernels and the dormant-filter
plan off (TF's own ops and gradients instead), for the autotuner (:mod:`pix2pixai.producers.autotune`).

What is differentiated by hand is the *chain*: the layers from the attributed input upwards while
each one is a supported layer (undilated ``Conv2D`` with an elementwise activation, inference-time
identities such as ``Dropout``, and per-channel layers: pooling, batch normalisation, activations,
padding, cropping) whose output feeds exactly the next layer, up to the last convolution or pooling
whose backward is rewritten. TF's tape differentiates everything above the chain (the head, a
concatenation with other model inputs, unsupported layers), so any model works; a model with no
rewritten step next to its image keeps the plain tape gradient.

Why this design: on CPU, TF's kernels are slowest exactly where image CNNs start (thin-input
convolutions, ``Conv2DBackpropInput``, ``MaxPoolGrad``); rewriting only those layers brings a saliency
map to about one forward pass while the tape keeps every model working (measurements and the variants
tried: ``docs/benchmarks.md``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pix2pixai.producers import dormant, fused_kernels
from pix2pixai.producers.graph import IDENTITY, activation_name, is_plain_conv2d, is_pointwise, layer_run, model_above
from pix2pixai.producers.path_choice import DEFAULT_ROUTE, Route

#: Weightless per-channel layers that move or pool positions, differentiated locally by the tape.
SPATIAL_CHANNELWISE = frozenset({"MaxPooling2D", "AveragePooling2D", "ZeroPadding2D", "Cropping2D"})
#: Largest input-channel count whose convolution runs as the fused thin-input kernels.
THIN_MAX_CHANNELS = 4
#: Largest ``H_in W_in / (H_out W_out)`` for which a convolution's backward runs as a flipped-kernel convolution.
FLIPPED_MAX_AREA_RATIO = 1.3


class Step:
    """One layer of the chain: ``forward`` keeps what ``backward`` needs.

    ``rewritten``: whether its backward beats TF's own (the chain ends at the last such step).
    """

    rewritten = False

    def forward(self, x: Any) -> tuple[Any, Any]:
        """``(output, record)``."""
        raise NotImplementedError

    def asleep(self, x: Any) -> Any | None:
        """Bool tensor: the channels this step leaves out are zero for input ``x``; ``None`` when it leaves none out."""
        return None

    def backward(self, grad: Any, record: Any) -> Any:
        """Gradient with respect to the input from the gradient ``grad`` with respect to the output."""
        raise NotImplementedError


@dataclass(frozen=True)
class Convolution(Step):
    """A stride-1 or strided ``Conv2D`` with an elementwise activation, on its live channels only.

    ``backward_kind``: ``"thin"`` (fused kernels), ``"flipped"`` or ``"tape"`` (TF's own gradient of the
    convolution), chosen by :func:`_backward_kind`; ``input_hw`` / ``output_hw`` are the layer's spatial sizes.
    ``kept_in``: the input channels it reads (the previous convolution's live filters; ``None``: all);
    ``dormant``: its filters left out (:mod:`pix2pixai.producers.dormant`), so its output holds the rest.
    """

    layer: Any
    backward_kind: str
    input_hw: tuple[int, int]
    output_hw: tuple[int, int]
    kept_in: tuple[int, ...] | None = None
    dormant: tuple[int, ...] = ()

    @property
    def kept_out(self) -> tuple[int, ...] | None:
        """The filters it computes (``None``: all)."""
        return dormant.live_filters(self.layer, self.dormant)

    @property
    def rewritten(self) -> bool:  # type: ignore[override]
        return self.backward_kind != "tape" or self.kept_in is not None or bool(self.dormant)

    def asleep(self, x: Any) -> Any | None:
        return dormant.asleep(self.layer, self.dormant, x) if self.dormant else None

    def weights(self) -> tuple[Any, Any | None]:
        """``(kernel, bias)`` restricted to the kept input channels and live filters (the current values)."""
        import tensorflow as tf

        kernel, bias = self.layer.kernel, (self.layer.bias if self.layer.use_bias else None)
        if self.kept_in is not None:
            kernel = tf.gather(kernel, self.kept_in, axis=2)
        if self.dormant:
            kernel = tf.gather(kernel, self.kept_out, axis=3)
            bias = tf.gather(bias, self.kept_out)
        return kernel, bias

    def forward(self, x: Any) -> tuple[Any, Any]:
        import tensorflow as tf

        layer = self.layer
        kernel, bias = self.weights()
        if self.backward_kind == "thin":
            z = fused_kernels.thin_convolution(x, kernel, bias, layer.padding)
        else:
            z = tf.nn.convolution(x, kernel, list(layer.strides), layer.padding.upper())
            z = z if bias is None else tf.nn.bias_add(z, bias)
        y = layer.activation(z)
        kept = y if activation_name(layer) == "relu" else z  # relu(z) > 0 exactly where z > 0: y is the gate
        return y, (x if self.backward_kind == "tape" else None, kept)

    def backward(self, grad: Any, record: Any) -> Any:
        import tensorflow as tf

        layer = self.layer
        kernel = self.weights()[0]
        x, kept = record
        name = activation_name(layer)
        if name == "relu":
            grad = grad * tf.cast(kept > 0, grad.dtype)
        elif name != "linear":
            grad = _vjp(layer.activation, kept, grad)
        if self.backward_kind == "thin":
            return fused_kernels.thin_convolution_input_gradient(grad, kernel, self.input_hw, layer.padding)
        if self.backward_kind == "flipped":
            return self._flipped_backward(grad, kernel)
        return _vjp(lambda t: tf.nn.convolution(t, kernel, list(layer.strides), layer.padding.upper()), x, grad)

    def _flipped_backward(self, grad: Any, kernel: Any) -> Any:
        """``dS/dx`` of a stride-1 convolution as a "valid" forward convolution (see the module doc)."""
        import tensorflow as tf

        kh, kw = (int(k) for k in self.layer.kernel_size)
        top, _, left, _ = fused_kernels.same_padding((kh, kw), self.layer.padding)
        (height, width), (out_h, out_w) = self.input_hw, self.output_hw
        pad_top, pad_left = kh - 1 - top, kw - 1 - left
        pad_bottom, pad_right = height + kh - 1 - out_h - pad_top, width + kw - 1 - out_w - pad_left
        padded = tf.pad(grad, [[0, 0], [pad_top, pad_bottom], [pad_left, pad_right], [0, 0]])
        flipped = tf.transpose(tf.reverse(kernel, axis=[0, 1]), [0, 1, 3, 2])
        return tf.nn.conv2d(padded, flipped, 1, "VALID")


@dataclass(frozen=True)
class MaxPoolRoute(Step):
    """A ``size x size`` max pooling with stride ``size``, its routes recorded forward (see fused_kernels)."""

    size: int
    input_hw: tuple[int, int]
    rewritten = True

    def forward(self, x: Any) -> tuple[Any, Any]:
        return fused_kernels.pool_route(x, self.size)

    def backward(self, grad: Any, record: Any) -> Any:
        return fused_kernels.pool_unroute(grad, record, self.size, self.input_hw)


@dataclass(frozen=True)
class ChannelWise(Step):
    """A per-channel layer (pooling, batch norm, activation, padding), differentiated locally by the tape."""

    layer: Any

    def forward(self, x: Any) -> tuple[Any, Any]:
        return self.layer(x, training=False), x

    def backward(self, grad: Any, record: Any) -> Any:
        return _vjp(lambda t: self.layer(t, training=False), record, grad)


@dataclass(frozen=True)
class Identity(Step):
    """A layer that is the identity at inference (dropout, noise): nothing to record or compute."""

    def forward(self, x: Any) -> tuple[Any, Any]:
        return x, None

    def backward(self, grad: Any, record: Any) -> Any:
        return grad


@dataclass(frozen=True)
class Expand(Step):
    """Back to all ``channels`` from the ``kept`` ones (zeros for dormant filters), where a layer needs them all."""

    kept: tuple[int, ...]
    channels: int

    def forward(self, x: Any) -> tuple[Any, Any]:
        return dormant.expand_channels(x, self.kept, self.channels), None

    def backward(self, grad: Any, record: Any) -> Any:
        return dormant.kept_channels(grad, self.kept)


@dataclass(frozen=True)
class BackwardChain:
    """A model split at the top of its hand-differentiated chain (see the module doc).

    ``rest`` maps ``[chain output, other model inputs...]`` to the head's input, so
    ``scores(rest(chain(x)))`` is the model's score.
    """

    steps: tuple[Step, ...]
    rest: Any
    other_inputs: tuple[str, ...]

    def forward(self, image: Any) -> tuple[Any, list[Any], Any | None]:
        """The chain's output, each step's record, and whether its dormant filters slept (see :func:`run_steps`)."""
        return run_steps(self.steps, image)

    def features(self, top: Any, others: dict[str, Any]) -> Any:
        """The head's input from the chain output and the model's other inputs."""
        inputs = [top, *(others[name] for name in self.other_inputs)]
        return self.rest(inputs[0] if len(inputs) == 1 else inputs, training=False)

    def input_gradient(self, grad_top: Any, records: Sequence[Any]) -> Any:
        """``dS/dx`` from ``dS/d(chain output)`` (from the tape) and the forward's records."""
        grad = grad_top
        for step, record in zip(reversed(self.steps), reversed(records)):
            grad = step.backward(grad, record)
        return grad


def run_steps(steps: Sequence[Step], image: Any) -> tuple[Any, list[Any], Any | None]:
    """``(output, records, asleep)`` of ``steps`` run forward from ``image``.

    ``asleep``: scalar bool tensor, true when every filter the steps left out was off on this batch, so
    the output is exact; ``None`` when no step leaves filters out. When false, the caller must compute
    the batch with the model's own layers (:mod:`pix2pixai.producers.dormant`).
    """
    import tensorflow as tf

    records, checks, x = [], [], image
    for step in steps:
        check = step.asleep(x)
        if check is not None:
            checks.append(check)
        x, record = step.forward(x)
        records.append(record)
    return x, records, (tf.reduce_all(tf.stack(checks)) if checks else None)


def backward_chain(model: Any, image_input: str, head_input: Any, route: Route = DEFAULT_ROUTE) -> BackwardChain | None:
    """The :class:`BackwardChain` of ``model`` above input ``image_input``, or ``None`` (use the plain tape).

    The chain takes the supported layers of the run above the image (:func:`_supported_run`) and is
    cut after its last rewritten step (above that, the tape is as fast). ``route``: which kernels, and
    whether dormant filters are left out.
    """
    run = _supported_run(model, image_input, head_input, route)
    rewritten = [i for i, (step, _, _) in enumerate(run) if step.rewritten]
    if not rewritten:
        return None
    steps, top = _cut(run, rewritten[-1])
    above = model_above(model, top, image_input, head_input)
    if above is None:
        return None
    return BackwardChain(steps, *above)


@dataclass(frozen=True)
class FastFront:
    """The layers from the image up to its last fused or compacted convolution, run forward by :func:`run_steps`.

    Why: every forward pass of the producers (predictions, Grad-CAM's activations, blanking's scores)
    starts with these layers, which the model's own forward runs at oneDNN's slow thin-input speed and
    with all its dormant filters. ``top`` is the symbolic tensor the last step outputs, from which Keras
    runs the rest.
    """

    steps: tuple[Step, ...]
    top: Any

    def __call__(self, image: Any) -> tuple[Any, Any | None]:
        """``(output at top, asleep)``: see :func:`run_steps` for ``asleep``."""
        top, _, asleep = run_steps(self.steps, image)
        return top, asleep


def fast_front(model: Any, image_input: str, head_input: Any, route: Route = DEFAULT_ROUTE) -> FastFront | None:
    """The :class:`FastFront` of ``model`` above input ``image_input``; ``None`` when Keras is as fast there."""
    run = _supported_run(model, image_input, head_input, route)
    fast = [i for i, (step, _, _) in enumerate(run) if isinstance(step, Convolution)
            and (step.backward_kind == "thin" or step.kept_in is not None or step.dormant)]
    if not fast:
        return None
    return FastFront(*_cut(run, fast[-1]))


def _supported_run(model: Any, image_input: str, head_input: Any,
                   route: Route) -> list[tuple[Step, Any, tuple[int, ...] | None]]:
    """``(step, output tensor, channels kept)`` of the layers of the run above the image while supported.

    ``channels kept``: the channels the step's output holds (``None``: all). A convolution drops its
    dormant filters and the next reads only the kept channels; pooling and dropout pass them through;
    a layer with per-channel parameters gets all channels back first (an :class:`Expand` step).
    """
    run: list[tuple[Step, Any, tuple[int, ...] | None]] = []
    kept = None
    for layer, inputs, output in layer_run(model, image_input, head_input):
        step = _step(layer, tuple(inputs.shape), tuple(output.shape), route, kept)
        if step is None:
            break
        if kept is not None and not _takes_kept_channels(step):
            run.append((Expand(kept, int(inputs.shape[-1])), inputs, None))
            kept = None
        if isinstance(step, Convolution):
            kept = step.kept_out
        run.append((step, output, kept))
    return run


def _cut(run: list[tuple[Step, Any, tuple[int, ...] | None]], last: int) -> tuple[tuple[Step, ...], Any]:
    """``(steps, top tensor)`` of ``run`` up to index ``last``, with all channels back at the top."""
    steps = [step for step, _, _ in run[:last + 1]]
    _, top, kept = run[last]
    if kept is not None:
        steps.append(Expand(kept, int(top.shape[-1])))
    return tuple(steps), top


def _takes_kept_channels(step: Step) -> bool:
    """Whether a step works on any subset of channels (no per-channel parameters)."""
    if isinstance(step, ChannelWise):
        return type(step.layer).__name__ in SPATIAL_CHANNELWISE
    return True


def _step(layer: Any, in_shape: tuple[Any, ...], out_shape: tuple[Any, ...], route: Route,
          kept_in: tuple[int, ...] | None = None) -> Step | None:
    """The chain step for ``layer`` with input/output shapes ``[None, ...]``, ``None`` if unsupported.

    ``kept_in``: the input channels the step receives (``None``: all). With ``route.kernels ==
    "framework"`` convolutions and poolings keep TF's ops and gradients; without ``route.dormant`` no
    filter is left out.
    """
    kind = type(layer).__name__
    if (len(in_shape) != 4 or any(d is None for d in in_shape[1:])
            or getattr(layer, "data_format", "channels_last") != "channels_last"):
        return None
    input_hw = (int(in_shape[1]), int(in_shape[2]))
    if kind in IDENTITY:
        return Identity()
    fused = route.kernels == "fused"
    if kind == "MaxPooling2D" and fused and _routable(layer):
        return MaxPoolRoute(int(layer.pool_size[0]), input_hw)
    if kind in SPATIAL_CHANNELWISE or is_pointwise(layer):
        return ChannelWise(layer)
    if not is_plain_conv2d(layer) or getattr(layer.kernel, "dtype", None) != "float32":
        return None
    channels = int(in_shape[-1]) if kept_in is None else len(kept_in)
    return Convolution(layer, _backward_kind(layer, channels, input_hw, out_shape) if fused else "tape", input_hw,
                       (int(out_shape[1]), int(out_shape[2])), kept_in,
                       dormant.dormant_filters(layer) if route.dormant else ())


def _routable(layer: Any) -> bool:
    """Whether a ``MaxPooling2D`` is square, non-overlapping and unpadded (what :class:`MaxPoolRoute` covers)."""
    size = tuple(layer.pool_size)
    return size[0] == size[1] and tuple(layer.strides) == size and layer.padding == "valid"


def _backward_kind(layer: Any, channels: int, input_hw: tuple[int, int], out_shape: tuple[Any, ...]) -> str:
    """How a ``Conv2D`` is run and differentiated (measurements in the module doc).

    ``"thin"`` for stride-1 convolutions of at most :data:`THIN_MAX_CHANNELS` input channels,
    ``"flipped"`` for stride-1 convolutions whose padded output gradient is at most
    :data:`FLIPPED_MAX_AREA_RATIO` times their input, ``"tape"`` (TF's own gradient) otherwise.
    """
    if tuple(layer.strides) != (1, 1):
        return "tape"
    if channels <= THIN_MAX_CHANNELS:
        return "thin"
    area_ratio = (input_hw[0] * input_hw[1]) / (int(out_shape[1]) * int(out_shape[2]))
    return "flipped" if area_ratio <= FLIPPED_MAX_AREA_RATIO else "tape"


def _vjp(fn: Callable[[Any], Any], x: Any, grad: Any) -> Any:
    """Vector-Jacobian product of ``fn`` at ``x`` with ``grad`` (TF differentiates ``fn`` locally)."""
    import tensorflow as tf

    with tf.GradientTape(watch_accessed_variables=False) as tape:
        tape.watch(x)
        y = fn(x)
    return tape.gradient(y, x, output_gradients=grad)
