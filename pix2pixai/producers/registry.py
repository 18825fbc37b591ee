"""What each explanation method is: one :class:`MethodRecord` per method, and the queries on them.

Why one record: every fact another module needs about a method (its function, whether it explains one
input or a whole class, how its channels reduce to one value per pixel, whether its maps are signed,
its default parameters under a run's explain settings, the parameters it fixes) is defined here once,
so figures, the map store, the command line and the pipeline cannot disagree about it. What a model
needs for a method to apply is checked by the method itself (an :class:`InputError` naming the layer
or head); the layer kinds that are the identity at inference are :data:`pix2pixai.producers.graph.IDENTITY`.

Input-specific functions are called as ``fn(model, x, targets, score, **params)`` and return raw float32
maps ``[N, H, W, C]``; class-level ones as ``fn(model, classes, **params)`` and return ``[K, H, W, C]``.
Importing this module imports no TensorFlow (the producer modules import it inside their functions), so
a figure may ask :func:`is_signed` cheaply; a test checks it.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from pix2pixai.errors import InputError
from pix2pixai.producers.actmax import actmax
from pix2pixai.producers.blanking import blanking
from pix2pixai.producers.cam import cam
from pix2pixai.producers.gradcam import gradcam
from pix2pixai.producers.gradient_shap import gradient_shap
from pix2pixai.producers.guided import guided_backprop, guided_gradcam
from pix2pixai.producers.integrated_gradients import integrated_gradients
from pix2pixai.producers.lighting import lighting
from pix2pixai.producers.saliency import saliency

Level = Literal["input", "class"]
Reduction = Literal["sum", "max", "mean"]
#: Arguments the caller of a producer sets itself, per level; every other keyword is a method parameter.
_CALL_ARGUMENTS = {"input": frozenset({"model", "x", "targets", "score"}), "class": frozenset({"model", "classes"})}


@dataclass(frozen=True)
class ParamContext:
    """What a method's default parameters are derived from.

    Attributes
    ----------
    explain : the run's explain settings, read by attribute: ``gradcam_weighting``, ``blanking_patch``,
        ``shap_samples``, ``shap_background``, ``actmax_steps``, ``actmax_restarts`` (e.g. the pipeline's
        ``ExplainConfig``).
    seed : the run's seed.
    x : every input of the survey ``[N, H, W, C]``; needed by the methods that draw on the training inputs
        (shap's background, lighting's value, actmax's bounds).
    train_idx : the rows of ``x`` the classifier was trained on.
    """

    explain: Any
    seed: int
    x: np.ndarray | None = None
    train_idx: np.ndarray | None = None

    def training(self, method: str) -> tuple[np.ndarray, np.ndarray]:
        """``(x, train_idx)``; :class:`InputError` naming ``method`` when they were not given."""
        if self.x is None or self.train_idx is None:
            raise InputError(f"method {method!r}: its default parameters need the training inputs (x, train_idx)")
        return self.x, self.train_idx


def _no_defaults(context: ParamContext) -> dict[str, Any]:
    """Methods whose own defaults serve every run."""
    return {}


@dataclass(frozen=True)
class MethodRecord:
    """One explanation method.

    Attributes
    ----------
    name : the method's name (``explain(name, ...)``, map-store keys, config ``explain.methods``).
    function : the producer function.
    level : ``"input"`` (one map per input, :func:`pix2pixai.producers.explain`) or ``"class"`` (one map per
        class, :func:`pix2pixai.producers.explain_class`).
    reduction : numpy function combining the channels of a map into one value per pixel: ``"sum"`` for
        additive attributions (the pixel keeps its share of the score change), ``"max"`` for saliency (the
        published per-pixel value), ``"mean"`` for maps that are one spatial map broadcast over channels.
    signed : whether the maps (with the method's default parameters) take both signs; figures centre
        them on 0, generators scale them to [-1, 1].
    defaults : the method's parameters under a run's settings (:class:`ParamContext`).
    fixed : parameters of ``function`` the method sets itself and refuses from the caller.
    quantity : what a map's value is, with its sign convention (a figure's colour-bar label).
    """

    name: str
    function: Callable[..., np.ndarray]
    level: Level
    reduction: Reduction
    signed: bool
    defaults: Callable[[ParamContext], dict[str, Any]] = _no_defaults
    fixed: Mapping[str, Any] = field(default_factory=dict)
    quantity: str = "relevance"

    def __call__(self, *args: Any, **params: Any) -> np.ndarray:
        """``function(*args, **fixed, **params)``; :class:`InputError` when ``params`` sets a fixed parameter."""
        for key, value in self.fixed.items():
            if key in params:
                free = [r.name for r in RECORDS.values() if r.function is self.function and key not in r.fixed]
                raise InputError(f"{self.name} fixes {key}={value!r}: use method {free[0]!r} to choose a {key}")
        return self.function(*args, **self.fixed, **params)

    def parameters(self) -> frozenset[str]:
        """Keyword parameters a caller may pass (beyond model, inputs, targets and score, or model and classes)."""
        named = {name for name, p in inspect.signature(self.function).parameters.items() if p.kind is not p.VAR_KEYWORD}
        return frozenset(named - _CALL_ARGUMENTS[self.level] - set(self.fixed))

    def reduce(self, maps: np.ndarray) -> np.ndarray:
        """One value per pixel: ``maps`` ``[..., C] -> [...]`` by :attr:`reduction`."""
        return getattr(np, self.reduction)(maps, axis=-1)


def _gradcam_defaults(context: ParamContext) -> dict[str, Any]:
    return {"weighting": context.explain.gradcam_weighting}


def _blanking_defaults(context: ParamContext) -> dict[str, Any]:
    return {"patch": context.explain.blanking_patch, "stride": context.explain.blanking_patch}


def _seed_defaults(context: ParamContext) -> dict[str, Any]:
    return {"seed": context.seed}


def _shap_defaults(context: ParamContext) -> dict[str, Any]:
    """Background: ``shap_background`` training inputs drawn without replacement by the run's seed, in row order."""
    x, train_idx = context.training("shap")
    rng = np.random.default_rng(context.seed)
    pick = rng.choice(train_idx, size=min(context.explain.shap_background, train_idx.size), replace=False)
    return {"background": x[np.sort(pick)], "n_samples": context.explain.shap_samples, "seed": context.seed}


def _lighting_defaults(context: ParamContext) -> dict[str, Any]:
    """Lit value: the 99th percentile of the positive training values (a bright but typical pixel), else 1."""
    x, train_idx = context.training("lighting")
    train = x[train_idx]
    return {"value": float(np.percentile(train[train > 0], 99)) if np.any(train > 0) else 1.0}


def _actmax_defaults(context: ParamContext) -> dict[str, Any]:
    """Bounds per pixel: the training data's range, so that the optimised input stays a plausible input."""
    x, train_idx = context.training("actmax")
    train = x[train_idx]
    return {"bounds": (train.min(axis=0), train.max(axis=0)), "steps": context.explain.actmax_steps,
            "restarts": context.explain.actmax_restarts, "seed": context.seed}


RECORDS: dict[str, MethodRecord] = {record.name: record for record in (
    MethodRecord("gradcam", gradcam, "input", "mean", signed=False, defaults=_gradcam_defaults,
                 quantity="Grad-CAM relevance (>= 0)"),
    MethodRecord("gradcam++", gradcam, "input", "mean", signed=False, fixed={"weighting": "plusplus"},
                 quantity="Grad-CAM++ relevance (>= 0)"),
    MethodRecord("saliency", saliency, "input", "max", signed=False,
                 quantity="|d score / d input| (>= 0)"),
    MethodRecord("integrated-gradients", integrated_gradients, "input", "sum", signed=True,
                 defaults=_seed_defaults, quantity="integrated gradient of the score; red = evidence for the class"),
    MethodRecord("blanking", blanking, "input", "sum", signed=True, defaults=_blanking_defaults,
                 quantity="score drop when blanked; red = evidence for the class"),
    MethodRecord("shap", gradient_shap, "input", "sum", signed=True, defaults=_shap_defaults,
                 quantity="SHAP value of the score; red = evidence for the class"),
    MethodRecord("cam", cam, "input", "mean", signed=False, quantity="class activation (>= 0)"),
    MethodRecord("guided-backprop", guided_backprop, "input", "sum", signed=True,
                 quantity="guided gradient; red = evidence for the class"),
    MethodRecord("guided-gradcam", guided_gradcam, "input", "sum", signed=True,
                 quantity="guided Grad-CAM; red = evidence for the class"),
    MethodRecord("lighting", lighting, "class", "sum", signed=False, defaults=_lighting_defaults,
                 quantity="class score with the pixel lit"),
    MethodRecord("actmax", actmax, "class", "sum", signed=False, defaults=_actmax_defaults,
                 quantity="input maximising the class score"),
)}

#: Names of the input-specific and of the class-level methods, in registry order.
INPUT_METHODS: tuple[str, ...] = tuple(name for name, record in RECORDS.items() if record.level == "input")
CLASS_METHODS: tuple[str, ...] = tuple(name for name, record in RECORDS.items() if record.level == "class")


def method_record(method: str, level: Level | None = None) -> MethodRecord:
    """The record of ``method``; :class:`InputError` listing the choices when it is unknown (or not of ``level``)."""
    known = RECORDS if level is None else {n: r for n, r in RECORDS.items() if r.level == level}
    if method in known:
        return known[method]
    if level == "input":
        hint = f" (class-level methods {list(CLASS_METHODS)} go through explain_class)"
    elif level == "class":
        hint = f" (input-specific methods {list(INPUT_METHODS)} go through explain)"
    else:
        hint = ""
    raise InputError(f"method={method!r}: expected one of {sorted(known)}{hint}")


def is_signed(method: str) -> bool:
    """Whether ``method``'s maps take both signs (figures centre them on 0)."""
    return method_record(method).signed


def default_params(method: str, context: ParamContext) -> dict[str, Any]:
    """``method``'s parameters under a run's settings, e.g. shap's background, samples and seed."""
    return method_record(method).defaults(context)

