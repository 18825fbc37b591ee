"""Shared machinery of every producer: input sanitising, targets, the score function, batching.

Every method in this package explains one scalar per input: the *target score* ``S_t(x)``, the model's
score for class ``t``. Keeping that function in one place makes all methods explain the same number:

* ``score="logit"`` (default): the pre-activation of the model's last layer. For a ``Dense(K, softmax)``
  head this is ``z = h @ W + b`` computed from the head's own weights (shared, not copied), so the
  user's model is never edited. Logits are additive and do not saturate, which is why gradient methods
  and SHAP completeness are stated on them. For a single-sigmoid head (braai real/bogus), the two
  class scores are ``[-z, z]``: class 1 ("real") is the logit, class 0 its negation
  (``log p0/p1 = -z``).
* ``score="probability"``: the model output itself (softmax probabilities; ``[1 - p, p]`` for a single
  sigmoid; a softmax is applied to a linear head).

Inputs are ``[N, H, W, C]`` float arrays (``[N, H, W]`` is accepted when the model wants one channel,
e.g. dmdt images). Multi-input models take a list (in ``model.inputs`` order) or a dict by input name;
``image_input=`` names the input to attribute, the others are held fixed at their given values.
"""

from __future__ import annotations

import hashlib
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from pix2pixai.errors import InputError
from pix2pixai.producers import autotune
from pix2pixai.producers.fast_paths import FastPaths
from pix2pixai.producers.graph import graph_tensors
from pix2pixai.producers.path_choice import PathChoice, Route

SCORES = ("logit", "probability")
DEFAULT_BATCH_SIZE = 256
#: Bytes of the largest layer activation of one compiled call when the batch size is left to the producer.
ACTIVATION_BUDGET_BYTES = 8 * 2**20

_HEAD_ACTIVATIONS = ("softmax", "sigmoid", "linear")


@dataclass(frozen=True)
class Inputs:
    """A sanitised batch: the attributed image and the model's other inputs (held fixed).

    Attributes
    ----------
    image : float32 ``[N, H, W, C]``, the input being explained.
    others : name -> float32 array ``[N, ...]`` for every other model input (empty for one-input models).
    """

    image: np.ndarray
    others: dict[str, np.ndarray]

    def __len__(self) -> int:
        return int(self.image.shape[0])

    def take(self, rows: slice | np.ndarray) -> Inputs:
        """The rows ``rows`` of the image and of every other input."""
        return Inputs(self.image[rows], {k: v[rows] for k, v in self.others.items()})

    def batches(self, batch_size: int) -> Iterator[tuple[slice, Inputs]]:
        """Consecutive ``(rows, batch)`` pairs of at most ``batch_size`` inputs."""
        for start in range(0, len(self), batch_size):
            rows = slice(start, min(start + batch_size, len(self)))
            yield rows, self.take(rows)


class ScoreModel:
    """The user's model seen as ``inputs -> class scores [N, K]`` (logit or probability).

    It owns what every producer explains: the score function of the head's input, the sanitised inputs
    and the targets. How its graphs run (fast paths or the model's own layers) and its compiled
    functions are the :class:`~pix2pixai.producers.fast_paths.FastPaths` of its current
    :class:`~pix2pixai.producers.path_choice.PathChoice` (:mod:`pix2pixai.producers.autotune`), one per
    pair of routes. Built once per (model, score, image_input) and cached (:func:`score_model`), so
    that its ``tf.function`` s are traced once per choice.
    """

    def __init__(self, model: Any, score: str = "logit", image_input: str | None = None):
        if score not in SCORES:
            raise InputError(f"score={score!r}: expected one of {SCORES}")
        self.model = model
        self.score = score
        self.input_names = [t.name for t in model.inputs]
        self.image_input = _pick_image_input(self.input_names, image_input)
        shape = tuple(model.inputs[self.input_names.index(self.image_input)].shape[1:])
        if len(shape) != 3 or any(d is None for d in shape):
            raise InputError(f"input {self.image_input!r} has shape {shape}: expected a fixed (H, W, C) image")
        self.image_shape = tuple(int(d) for d in shape)
        self.head = model.layers[-1]
        self.head_activation = _head_activation(self.head)
        self._head_input = graph_tensors(model, self.head)[0]
        self._paths: dict[tuple[Route, Route], FastPaths] = {}
        n_out = int(model.outputs[0].shape[-1])
        self.single_sigmoid = n_out == 1
        if self.single_sigmoid and self.head_activation == "softmax":
            raise InputError("model has one softmax output: its probability is always 1, nothing to explain")
        self.n_classes = 2 if self.single_sigmoid else n_out
        self.default_rows_per_call = rows_per_call_of(model)
        self.tuning_key = autotune.tuning_key(model, self.image_input)
        self.tuning_id = autotune.key_id(self.tuning_key)

    # ------------------------------------------------------------------------- fast-path choice
    @property
    def choice(self) -> PathChoice:
        """The routes and call size this score model runs with now (:func:`pix2pixai.producers.autotune.choice_for`)."""
        return autotune.choice_for(self)

    @property
    def rows_per_call(self) -> int:
        """Inputs per compiled call when the caller leaves the batch size open."""
        return self.choice.rows_per_call

    @property
    def _fast(self) -> FastPaths:
        choice = self.choice
        return self.paths(choice.forward, choice.gradient)

    def paths(self, forward: Route, gradient: Route) -> FastPaths:
        """The :class:`FastPaths` of these routes (built once; each keeps its own compiled functions)."""
        if (forward, gradient) not in self._paths:
            self._paths[(forward, gradient)] = FastPaths(self.model, self.input_names, self.image_input,
                                                         self._head_input, forward, gradient)
        return self._paths[(forward, gradient)]

    def prepare(self, inputs: Inputs) -> None:
        """Settle the fast-path choice before a producer call on ``inputs`` (measured on first use, see autotune)."""
        autotune.prepare(self, inputs)

    # ------------------------------------------------------------------ scores from head features
    def scores_from_features(self, features: Any) -> Any:
        """Class scores ``[N, K]`` from the head's input ``features`` (differentiable, TF ops)."""
        import tensorflow as tf

        z = self._pre_activation(features)
        if self.score == "logit":
            return tf.concat([-z, z], axis=-1) if self.single_sigmoid else z
        if self.single_sigmoid:
            p = tf.sigmoid(z)
            return tf.concat([1.0 - p, p], axis=-1)
        return tf.nn.softmax(z, axis=-1)

    def _pre_activation(self, features: Any) -> Any:
        import keras
        import tensorflow as tf

        if isinstance(self.head, keras.layers.Dense):
            z = tf.matmul(features, self.head.kernel)
            return z + self.head.bias if self.head.use_bias else z
        if self.head_activation == "linear":
            return self.head(features)
        # An Activation/Softmax layer: its input already is the pre-activation.
        return features

    def call(self, inputs: Sequence[Any]) -> Any:
        """Class scores ``[N, K]`` for model inputs given in ``model.inputs`` order."""
        return self.scores_from_features(self._fast.features(inputs))

    def with_layer(self, layer_name: str) -> Callable[..., tuple[Any, Any]]:
        """``run(inputs, watch=None) -> (activations of layer_name, class scores)`` sharing the model's weights.

        ``watch`` (e.g. a tape's ``watch``) is called on the activations before the scores are computed
        from them, so a tape differentiates the scores with respect to the activations even where the
        fused kernels of the fast front, which no tape records, produced them.
        """
        sub = self._fast.layer_and_features(layer_name)

        def run(inputs: Sequence[Any], watch: Callable[[Any], Any] | None = None) -> tuple[Any, Any]:
            activations, features = sub(inputs, watch)
            return activations, self.scores_from_features(features)

        return run

    # --------------------------------------------------------------------------- input handling
    def inputs(self, x: Any) -> Inputs:
        """Sanitise ``x`` (array, list or dict) into float32 :class:`Inputs` checked against the model."""
        if isinstance(x, Mapping):
            missing = [n for n in self.input_names if n not in x]
            if missing:
                raise InputError(f"inputs dict lacks model input(s) {missing}: expected keys {self.input_names}")
            arrays = {n: x[n] for n in self.input_names}
        elif isinstance(x, (list, tuple)):
            if len(x) != len(self.input_names):
                raise InputError(f"got {len(x)} input arrays: the model takes {len(self.input_names)} "
                                 f"({self.input_names})")
            arrays = dict(zip(self.input_names, x))
        elif len(self.input_names) == 1:
            arrays = {self.image_input: x}
        else:
            raise InputError(f"model takes {len(self.input_names)} inputs {self.input_names}: pass a list or dict")
        image = self.image_array(arrays.pop(self.image_input))
        others = {k: np.asarray(v, dtype=np.float32) for k, v in arrays.items()}
        for name, arr in others.items():
            if arr.shape[:1] != image.shape[:1]:
                raise InputError(f"input {name!r} has {arr.shape[0] if arr.ndim else 0} rows: expected "
                                 f"{image.shape[0]} like input {self.image_input!r}")
        return Inputs(image, others)

    def image_array(self, x: Any) -> np.ndarray:
        """``x`` as a finite float32 ``[N, H, W, C]`` batch of the attributed input (``[N, H, W]`` if C=1)."""
        image = np.asarray(x, dtype=np.float32)
        if image.ndim == 3 and self.image_shape[-1] == 1 and image.shape[1:] == self.image_shape[:2]:
            image = image[..., None]
        if image.ndim == 3 and image.shape == self.image_shape:
            raise InputError(f"input {self.image_input!r} has shape {image.shape}: pass a batch "
                             f"[N, {', '.join(map(str, self.image_shape))}] (add a leading axis for one image)")
        if image.ndim != 4 or image.shape[1:] != self.image_shape:
            raise InputError(f"input {self.image_input!r} has shape {image.shape}: expected "
                             f"[N, {', '.join(map(str, self.image_shape))}]")
        if not np.all(np.isfinite(image)):
            raise InputError(f"input {self.image_input!r} has {int(np.sum(~np.isfinite(image)))} non-finite "
                             "values: expected finite numbers (replace NaN first)")
        return image

    def model_inputs(self, image: Any, others: Mapping[str, Any]) -> list[Any]:
        """The model's input list with ``image`` in the attributed slot."""
        return [image if n == self.image_input else others[n] for n in self.input_names]

    # ---------------------------------------------------------------------------------- targets
    def targets(self, inputs: Inputs, targets: Any, batch_size: int = DEFAULT_BATCH_SIZE) -> np.ndarray:
        """int32 ``[N]`` target classes: given (int or per-input), or the predicted class when ``None``."""
        n = len(inputs)
        if targets is None:
            return np.concatenate([self.predict(batch).argmax(axis=1) for _, batch in inputs.batches(batch_size)]
                                  or [np.zeros(0, np.int64)]).astype(np.int32)
        t = np.asarray(targets)
        if t.ndim == 0:
            t = np.full(n, t)
        if t.shape != (n,) or not np.issubdtype(t.dtype, np.integer):
            raise InputError(f"targets has shape {t.shape} and dtype {t.dtype}: expected one int or {n} ints")
        if n and (t.min() < 0 or t.max() >= self.n_classes):
            raise InputError(f"targets range {t.min()}..{t.max()}: expected classes 0..{self.n_classes - 1}")
        return t.astype(np.int32)

    def predict(self, inputs: Inputs) -> np.ndarray:
        """Class scores ``[N, K]`` of a batch as numpy (compiled forward pass)."""
        return np.asarray(self.compiled("scores", self._scores_fn)(inputs.image, inputs.others))

    def _scores_fn(self, image: Any, others: Mapping[str, Any]) -> Any:
        return self.call(self.model_inputs(image, others))

    def compiled(self, key: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        """``fn`` wrapped in a ``tf.function`` cached on this score model under ``key``."""
        return self._fast.compiled(key, fn)

    def gradients(self, image: np.ndarray, others: Mapping[str, np.ndarray], targets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Target scores ``S_t(x)`` ``[N]`` and their gradients ``dS_t/dx`` ``[N, H, W, C]`` (one compiled call)."""
        scores, grads = self.compiled("gradients", self._gradients_fn)(image, others, targets)
        return np.asarray(scores), np.asarray(grads)

    def _gradients_fn(self, image: Any, others: Mapping[str, Any], targets: Any) -> tuple[Any, Any]:
        return self.scores_and_input_gradient(image, others, targets)

    def scores_and_input_gradient(self, image: Any, others: Mapping[str, Any], targets: Any) -> tuple[Any, Any]:
        """Target scores ``[N]`` and ``dS_t/dx`` ``[N, H, W, C]`` as TF ops, for use inside compiled functions.

        Every gradient producer goes through here, so all of them get the hand-written backward pass of
        the layers nearest the image (:mod:`pix2pixai.producers.input_gradient`) where it applies.
        """
        return self.input_gradient_with(self._fast, image, others, targets)

    def input_gradient_with(self, paths: FastPaths, image: Any, others: Mapping[str, Any],
                            targets: Any) -> tuple[Any, Any]:
        """:meth:`scores_and_input_gradient` through the given ``paths`` (the autotuner times each)."""
        return paths.input_gradient(image, others, self.model_inputs(image, others),
                                    lambda features: target_scores(self.scores_from_features(features), targets))

    def target_scores(self, image: np.ndarray, others: Mapping[str, np.ndarray], targets: np.ndarray) -> np.ndarray:
        """Target scores ``S_t(x)`` ``[N]`` without gradients (compiled forward pass)."""
        return np.asarray(self.compiled("target_scores", self._target_scores_fn)(image, others, targets))

    def _target_scores_fn(self, image: Any, others: Mapping[str, Any], targets: Any) -> Any:
        return target_scores(self.call(self.model_inputs(image, others)), targets)


def target_scores(scores: Any, targets: Any) -> Any:
    """``scores[i, targets[i]]`` for every row: ``[N, K], [N] -> [N]`` (TF ops)."""
    import tensorflow as tf

    return tf.gather(scores, tf.cast(targets, tf.int32), axis=1, batch_dims=1)


_SCORE_MODELS: weakref.WeakKeyDictionary[Any, dict[tuple[str, str | None], ScoreModel]] = weakref.WeakKeyDictionary()


def score_model(model: Any, score: str = "logit", image_input: str | None = None) -> ScoreModel:
    """The cached :class:`ScoreModel` of ``model`` (one per score kind and attributed input)."""
    per_model = _SCORE_MODELS.setdefault(model, {})
    key = (score, image_input)
    if key not in per_model:
        per_model[key] = ScoreModel(model, score=score, image_input=image_input)
    return per_model[key]


@dataclass(frozen=True)
class Request:
    """One per-input producer call made concrete: score model, sanitised inputs, targets, batch size.

    Why one place: every per-input producer must explain the same number for the same input (one
    score function, one target per input, the predicted class by default); resolving these here
    keeps the methods from drifting apart.
    """

    sm: ScoreModel
    inputs: Inputs
    targets: np.ndarray
    batch_size: int

    def batches(self) -> Iterator[tuple[slice, Inputs, np.ndarray]]:
        """Consecutive ``(rows, batch, targets of the batch)`` triples of at most ``batch_size`` inputs."""
        for rows, batch in self.inputs.batches(self.batch_size):
            yield rows, batch, self.targets[rows]

    def map_batches(self, fn: Callable[[Any, Any, Any], Any]) -> np.ndarray:
        """float32 ``fn(image, others, targets)`` of every batch, concatenated along the first axis.

        ``fn`` is a compiled per-batch map (e.g. :meth:`ScoreModel.compiled`); with no inputs it runs once
        on the empty batch so that the result still has the map's trailing shape.
        """
        if len(self.inputs) == 0:
            return np.asarray(fn(self.inputs.image, self.inputs.others, self.targets), np.float32)
        return np.concatenate([np.asarray(fn(batch.image, batch.others, t), np.float32)
                               for _, batch, t in self.batches()])

    def spatial(self, maps: np.ndarray) -> np.ndarray:
        """One spatial map per input ``[N, H, W]`` broadcast over the image channels, float32 ``[N, H, W, C]``."""
        return np.broadcast_to(maps[..., None], (len(self.inputs), *self.sm.image_shape)).astype(np.float32)


def request(model: Any, x: Any, targets: Any = None, score: str = "logit", *, image_input: str | None = None,
            batch_size: int | None = None) -> Request:
    """Resolve a producer call: :func:`score_model`, checked inputs, targets (default: predicted class).

    ``batch_size=None`` sizes the compiled calls to the model (:attr:`ScoreModel.rows_per_call`). The
    score model's fast-path choice is settled first (:meth:`ScoreModel.prepare`).
    """
    sm = score_model(model, score, image_input)
    inputs = sm.inputs(x)
    sm.prepare(inputs)
    bs = sm.rows_per_call if batch_size is None else batch_size_of(batch_size)
    return Request(sm, inputs, sm.targets(inputs, targets, bs), bs)


def input_generators(seed: int, image: np.ndarray) -> list[np.random.Generator]:
    """One random generator per input, keyed by ``seed`` and the input's bytes.

    Why: the random draws of an input (SmoothGrad noise, SHAP samples, noise baselines) then depend on
    nothing but the seed and the input itself, so batching, chunking (e.g. streaming into a store) and
    input order never change its map.
    """
    keys = [int.from_bytes(hashlib.blake2b(row.tobytes(), digest_size=8).digest(), "little") for row in image]
    return [np.random.default_rng([int(seed), key]) for key in keys]


def batch_size_of(batch_size: int | None) -> int:
    """Validated batch size (``None`` -> :data:`DEFAULT_BATCH_SIZE`)."""
    if batch_size is None:
        return DEFAULT_BATCH_SIZE
    if int(batch_size) < 1:
        raise InputError(f"batch_size={batch_size}: expected a positive integer")
    return int(batch_size)


def rows_per_call_of(model: Any) -> int:
    """Inputs per compiled call so that the model's largest layer activation fits :data:`ACTIVATION_BUDGET_BYTES`.

    Why: on CPU a call is fastest while its activations stay cache-sized (measurements:
    ``docs/benchmarks.md``). The result is capped at :data:`DEFAULT_BATCH_SIZE` x 2 and is at least 1.
    It is the default call size; the autotuner (:mod:`pix2pixai.producers.autotune`) tries multiples of it.
    """
    largest = 0
    for layer in model.layers:
        try:
            shape = layer.output.shape
        except (AttributeError, ValueError):  # layers shared between inputs have several outputs
            continue
        if isinstance(shape, tuple) and all(isinstance(d, int) for d in shape[1:]):
            largest = max(largest, 4 * int(np.prod(shape[1:], dtype=np.int64)))
    if largest == 0:
        return DEFAULT_BATCH_SIZE
    return int(np.clip(ACTIVATION_BUDGET_BYTES // largest, 1, 2 * DEFAULT_BATCH_SIZE))


def _pick_image_input(names: list[str], image_input: str | None) -> str:
    if image_input is None:
        if len(names) > 1:
            raise InputError(f"model has inputs {names}: name the one to attribute with image_input=")
        return names[0]
    if image_input not in names:
        raise InputError(f"image_input={image_input!r}: expected one of the model's inputs {names}")
    return image_input


def _head_activation(head: Any) -> str:
    name = head.__class__.__name__
    if name == "Softmax":
        return "softmax"
    activation = getattr(head, "activation", None)
    act_name = getattr(activation, "__name__", str(activation)) if activation is not None else "linear"
    if name == "Dense" or name == "Activation":
        if act_name not in _HEAD_ACTIVATIONS:
            raise InputError(f"output layer {head.name!r} has activation {act_name!r}: expected one of "
                             f"{_HEAD_ACTIVATIONS}")
        return act_name
    raise InputError(f"output layer {head.name!r} is a {name}: expected Dense, Activation or Softmax "
                     "(the score function needs the pre-activation of the last layer)")


def path_integral(req: Request, row_input: np.ndarray, baselines: np.ndarray, row_baseline: np.ndarray,
                  alpha: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Weighted path-gradient sums shared by integrated gradients and expected gradients.

    For every row ``r`` (a point on the straight path from baseline ``b = baselines[row_baseline[r]]`` to
    input ``x = req.inputs.image[row_input[r]]``):
    ``out[i] += weight[r] * dS_t/dx(b + alpha[r] (x - b)) * (x - b)``, summed over the rows of input ``i``.

    Shapes: ``row_input``, ``row_baseline``, ``alpha``, ``weight`` ``[R]`` with ``row_input`` sorted;
    returns ``[N, H, W, C]`` float32. Rows go through the model ``req.batch_size`` at a time, so the
    memory use is independent of ``R``. Why one compiled call per batch does the gathering, the path
    points and the per-input sums: on the host these copies cost as much as a tenth of the gradients.
    """
    import tensorflow as tf

    sm = req.sm
    fn = sm.compiled("path_integral", _path_integral_fn(sm))
    out = np.zeros(req.inputs.image.shape, np.float32)
    base_all = tf.constant(np.asarray(baselines, np.float32))
    for start in range(0, row_input.size, req.batch_size):
        part = slice(start, start + req.batch_size)
        i = row_input[part]
        first, last = int(i[0]), int(i[-1]) + 1
        others = {k: v[i] for k, v in req.inputs.others.items()}
        out[first:last] += np.asarray(fn(req.inputs.image[first:last], base_all, (i - first).astype(np.int32),
                                         row_baseline[part].astype(np.int32), alpha[part].astype(np.float32),
                                         weight[part].astype(np.float32), req.targets[i], others))
    return out


def _path_integral_fn(sm: ScoreModel) -> Callable[..., Any]:
    """The compiled body of :func:`path_integral` for one batch: ``[rows of x] -> [those rows' sums]``."""
    import tensorflow as tf

    def body(images: Any, baselines: Any, local: Any, which: Any, alpha: Any, weight: Any, targets: Any,
             others: Any) -> Any:
        x = tf.gather(images, local)
        base = tf.gather(baselines, which)
        diff = x - base
        points = base + alpha[:, None, None, None] * diff
        terms = sm.scores_and_input_gradient(points, others, targets)[1] * diff * weight[:, None, None, None]
        return tf.math.unsorted_segment_sum(terms, local, tf.shape(images)[0])

    return body


def class_indices(sm: ScoreModel, classes: Sequence[int] | None) -> np.ndarray:
    """Validated class indices (default ``0..K-1``)."""
    if classes is None:
        return np.arange(sm.n_classes)
    cls = np.asarray(list(classes))
    if cls.ndim != 1 or cls.size == 0 or not np.issubdtype(cls.dtype, np.integer) or cls.min() < 0 or cls.max() >= sm.n_classes:
        raise InputError(f"classes={list(classes)}: expected a non-empty list of ints in 0..{sm.n_classes - 1}")
    return cls


def require_single_input(sm: ScoreModel) -> None:
    """Class-level producers build whole inputs themselves: only one-input models qualify."""
    if len(sm.input_names) != 1:
        raise InputError(f"class-level maps need a one-input model: this one takes {sm.input_names}")
