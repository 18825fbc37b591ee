"""The fast-path choice of each score model, by measurement, once per machine.

Every :class:`~pix2pixai.producers.path_choice.PathChoice` (hand-written kernels or TF's own ops, the
dormant-filter plan on or off, for forward passes and input gradients; inputs per compiled call)
computes the same numbers to float32 rounding, but which one is fastest depends on the machine: the
kernels tuned on one CPU lose on another whose oneDNN kernels are faster, and a GPU wants TF's ops. So
on a score model's first producer call (:func:`prepare`) each candidate is timed on that call's inputs
(best of :data:`REPEATS` warm calls, in interleaved rounds so that a drifting load on a shared machine
hits every candidate alike), the fastest is kept, and it is cached in the user's cache folder
(:func:`cache_path`, one JSON file) under a key of the model's signature, its input shapes and the
machine (device, ISA flags, cores, threads, oneDNN setting, TensorFlow version): :func:`tuning_key`.
A corrupt, stale or unwritable cache is ignored and rebuilt, never an error.

Switches: ``PIX2PIXAI_AUTOTUNE=0`` (or :func:`configured` with ``enabled=False``) keeps the fixed
default choice (the hand-written kernels with the dormant-filter plan, calls sized by
:func:`~pix2pixai.producers.base.rows_per_call_of`), as the tests do; :func:`configured` also pins the
choices a run recorded (:func:`choices_made`, e.g. in its manifest) so that a resumed run reuses them,
and forces parts of every choice (:class:`~pix2pixai.producers.path_choice.Override`) for benchmarks.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import platform
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pix2pixai import atomic
from pix2pixai.cache import cache_dir
from pix2pixai.errors import InputError
from pix2pixai.producers.path_choice import DEFAULT_ROUTE, ROUTES, Override, PathChoice, Route

ENV_SWITCH = "PIX2PIXAI_AUTOTUNE"
CACHE_FILE = "autotune.json"
#: Version of the cache file's layout and of the measurement; a file of another schema is rebuilt.
SCHEMA = 1
#: Warm calls per candidate; the best one counts.
REPEATS = 5
#: Call sizes tried, as multiples of the default :func:`~pix2pixai.producers.base.rows_per_call_of`.
ROWS_FACTORS = (0.25, 0.5, 1.0, 2.0, 4.0)
#: Largest call size tried (``rows_per_call_of``'s cap).
MAX_ROWS_PER_CALL = 512
#: ``/proc/cpuinfo`` flags that decide which kernels are fast (vector and matrix extensions).
ISA_FLAGS = ("avx", "avx2", "fma", "avx512f", "avx512bw", "avx512_vnni", "avx512_bf16", "avx512_fp16",
             "avx_vnni", "amx_tile", "amx_bf16", "amx_int8", "asimd", "sve")

#: ``measure(stage, candidates) -> seconds of each``: a candidate is ``(route, rows)``; ``stage`` is
#: ``"forward"`` or ``"gradient"`` (one call of ``rows`` inputs through ``route``) or ``"rows"`` (input
#: gradients of a fixed number of inputs in calls of ``rows`` through ``route``).
Measure = Callable[[str, Sequence[tuple[Route, int]]], list[float]]


@dataclass
class _Settings:
    enabled: bool | None = None
    pinned: dict[str, PathChoice] = field(default_factory=dict)
    override: Override | None = None


_SETTINGS: list[_Settings] = [_Settings()]
_TUNED: dict[str, PathChoice] = {}
_USED: dict[str, dict[str, Any]] = {}


# ------------------------------------------------------------------------------------ switches
@contextmanager
def configured(*, enabled: bool | None = None, pinned: Mapping[str, Any] | None = None,
               override: Override | None = None) -> Iterator[None]:
    """Within the block: autotuning on or off (``None``: as outside), ``pinned`` choices, forced parts.

    ``pinned``: what :func:`choices_made` returned (key id -> record with a ``"choice"``, or key id ->
    choice dict), used as is for those keys whatever ``enabled`` says, so a resumed run computes with
    the choices it recorded. ``override`` forces parts of every choice (benchmarks).
    """
    outer = _SETTINGS[-1]
    chosen = {kid: PathChoice.from_dict(rec.get("choice", rec)) for kid, rec in (pinned or {}).items()}
    _SETTINGS.append(_Settings(outer.enabled if enabled is None else enabled, {**outer.pinned, **chosen},
                               override or outer.override))
    try:
        yield
    finally:
        _SETTINGS.pop()


def is_enabled() -> bool:
    """Whether choices are measured: :func:`configured`'s ``enabled``, else ``$PIX2PIXAI_AUTOTUNE`` (default on)."""
    setting = _SETTINGS[-1].enabled
    if setting is not None:
        return setting
    return os.environ.get(ENV_SWITCH, "1").strip().lower() not in ("0", "false", "no", "off")


def choices_made() -> dict[str, dict[str, Any]]:
    """key id -> ``{"key", "choice", "source", "timings"}`` of every choice used in this process.

    ``source``: ``"measured"``, ``"cache"``, ``"pinned"`` or ``"default"`` (autotuning off). What a run
    records in its manifest and passes back as :func:`configured`'s ``pinned`` on resume.
    """
    return json.loads(json.dumps(_USED))


# ------------------------------------------------------------------------------------- choices
def default_choice(sm: Any) -> PathChoice:
    """The fixed choice: the hand-written kernels with the dormant-filter plan, the model's default call size."""
    return PathChoice(DEFAULT_ROUTE, DEFAULT_ROUTE, sm.default_rows_per_call)


def choice_for(sm: Any) -> PathChoice:
    """The choice score model ``sm`` runs with now (pinned, measured or cached, else the default; overrides applied)."""
    settings = _SETTINGS[-1]
    kid = sm.tuning_id
    if kid in settings.pinned:
        choice = settings.pinned[kid]
    elif is_enabled() and kid in _TUNED:
        choice = _TUNED[kid]
    else:
        choice = default_choice(sm)
    return settings.override.applied_to(choice) if settings.override else choice


def prepare(sm: Any, inputs: Any, measure: Measure | None = None) -> None:
    """Give ``sm`` its choice before a producer call on ``inputs``: pinned, default, cached, or measured now.

    Measuring (``measure``, default: timing compiled calls on ``inputs``, tiled to the largest call
    size tried) happens once per key and process; the result is written to the cache file.
    """
    kid, key = sm.tuning_id, sm.tuning_key
    if kid in _SETTINGS[-1].pinned:
        _record(kid, key, _SETTINGS[-1].pinned[kid], "pinned")
        return
    if not is_enabled():
        _record(kid, key, default_choice(sm), "default")
        return
    if kid in _TUNED or len(inputs) == 0:
        return
    cached = _cached_choice(kid, key)
    if cached is not None:
        _TUNED[kid] = cached
        _record(kid, key, cached, "cache")
        return
    choice, timings = tune(sm.default_rows_per_call, measure or _Timer(sm, inputs))
    _TUNED[kid] = choice
    record = _record(kid, key, choice, "measured", timings)
    _store(kid, record)


def tune(default_rows: int, measure: Measure) -> tuple[PathChoice, dict[str, dict[str, float]]]:
    """The fastest choice by ``measure``, and every timing: routes first, then the call size on the chosen route."""
    forward = dict(zip(ROUTES, measure("forward", [(route, default_rows) for route in ROUTES])))
    gradient = dict(zip(ROUTES, measure("gradient", [(route, default_rows) for route in ROUTES])))
    best_forward, best_gradient = fastest(forward), fastest(gradient)
    sizes = rows_candidates(default_rows)
    rows = dict(zip(sizes, measure("rows", [(best_gradient, n) for n in sizes])))
    timings = {"forward": {r.name: s for r, s in forward.items()}, "gradient": {r.name: s for r, s in gradient.items()},
               "rows_per_call": {str(n): s for n, s in rows.items()}}
    return PathChoice(best_forward, best_gradient, fastest(rows)), timings


def fastest(timings: Mapping[Any, float]) -> Any:
    """The candidate of least time; the first listed among equals (the default comes first)."""
    return min(timings, key=lambda candidate: timings[candidate])


def rows_candidates(default_rows: int) -> list[int]:
    """Call sizes tried: :data:`ROWS_FACTORS` times the default, within ``1..MAX_ROWS_PER_CALL``, the default first."""
    sizes = [default_rows] + [int(np.clip(round(default_rows * f), 1, MAX_ROWS_PER_CALL)) for f in ROWS_FACTORS]
    return list(dict.fromkeys(sizes))


# ------------------------------------------------------------------------------------------ keys
def tuning_key(model: Any, image_input: str) -> dict[str, Any]:
    """What a choice depends on: the model's signature, its input shapes, the device and the machine's software.

    Inputs are named by position (``image_input`` by its index): Keras names unnamed inputs anew in
    every session, and the same architecture must find its entry again.
    """
    names = [t.name for t in model.inputs]
    return {"model": model_signature(model), "image_input": names.index(image_input),
            "inputs": [list(t.shape[1:]) for t in model.inputs], **machine_key()}


def key_id(key: Mapping[str, Any]) -> str:
    """Short stable id of a :func:`tuning_key` (the cache file's entry name)."""
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:20]


def model_signature(model: Any) -> str:
    """Hash of the architecture (layer kinds and configurations, names left out), weight shapes and dormant filters.

    Why the dormant filters: how many a trained model has decides how much the dormant-filter plan
    saves, so a retrained model of the same architecture is measured again.
    """
    from pix2pixai.producers.dormant import dormant_filters
    from pix2pixai.producers.graph import is_plain_conv2d

    layers = []
    for layer in model.layers:
        try:
            config = {k: v for k, v in layer.get_config().items() if k != "name"}
        except NotImplementedError:
            config = {}
        layers.append([type(layer).__name__, config, [list(w.shape) for w in layer.weights],
                       len(dormant_filters(layer)) if is_plain_conv2d(layer) else 0])
    return hashlib.sha256(json.dumps(layers, sort_keys=True, default=str).encode()).hexdigest()[:20]


def machine_key() -> dict[str, Any]:
    """The device, ISA flags, core and thread counts, oneDNN setting and TensorFlow version of this process."""
    import tensorflow as tf

    return {"device": device_kind(), "isa": cpu_description()["flags"], "cores": os.cpu_count(),
            "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
            "threads": [tf.config.threading.get_intra_op_parallelism_threads(),
                        tf.config.threading.get_inter_op_parallelism_threads()],
            "onednn": onednn_setting(), "tensorflow": tf.__version__}


def device_kind() -> str:
    """``"cpu"``, or the names of the visible GPUs (where TF places the producers' ops)."""
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        return "cpu"
    return ", ".join(tf.config.experimental.get_device_details(g).get("device_name", g.name) for g in gpus)


def onednn_setting() -> str:
    """``$TF_ENABLE_ONEDNN_OPTS`` as set, or ``"default"``."""
    return os.environ.get("TF_ENABLE_ONEDNN_OPTS", "default")


@functools.cache
def cpu_description() -> dict[str, Any]:
    """``{"model", "flags", "cores"}``: the CPU's model string, its :data:`ISA_FLAGS` and logical cores."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        text = ""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        name, _, value = line.partition(":")
        fields.setdefault(name.strip(), value.strip())  # the first processor's
    model = fields.get("model name") or platform.processor() or platform.machine()
    flags = set((fields.get("flags") or fields.get("Features") or "").split())
    return {"model": model, "flags": [f for f in ISA_FLAGS if f in flags], "cores": os.cpu_count()}


# ----------------------------------------------------------------------------------------- cache
def cache_path() -> Path:
    """The cache file: ``autotune.json`` in the user's cache folder (:func:`pix2pixai.cache.cache_dir`)."""
    return cache_dir() / CACHE_FILE


def _entries() -> dict[str, Any]:
    """The cache file's entries; empty when it is missing, unreadable, not JSON or of another schema."""
    try:
        data = json.loads(cache_path().read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("schema") != SCHEMA or not isinstance(data.get("entries"), dict):
        return {}
    return data["entries"]


def _cached_choice(kid: str, key: Mapping[str, Any]) -> PathChoice | None:
    """The cached choice of ``kid`` if its entry is whole and recorded for exactly ``key``."""
    entry = _entries().get(kid)
    try:
        return PathChoice.from_dict(entry["choice"]) if entry["key"] == key else None
    except (KeyError, TypeError, ValueError):
        return None


def _store(kid: str, record: dict[str, Any]) -> None:
    """Add ``record`` to the cache file (atomically); a cache that cannot be written is skipped silently.

    Why silently: the choice still holds for this process, and a read-only home must not stop a run.
    """
    entries = {k: v for k, v in _entries().items() if isinstance(v, dict)}
    entries[kid] = record
    path = cache_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic.write_json(path, {"schema": SCHEMA, "entries": entries})
    except (OSError, InputError):
        pass


def _record(kid: str, key: Mapping[str, Any], choice: PathChoice, source: str,
            timings: Mapping[str, Any] | None = None) -> dict[str, Any]:
    record = {"key": dict(key), "choice": choice.as_dict(), "source": source,
              "timings": dict(timings or {}), "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    _USED[kid] = record
    return record


# ---------------------------------------------------------------------------------------- timing
class _Timer:
    """The default :data:`Measure`: compiled calls of the score model's routes on the first call's inputs.

    Each candidate runs once (tracing and compiling), then once per round for :data:`REPEATS` rounds;
    its best round counts. Routes that build the same layers (e.g. every route of a model with no
    thin-input convolution and no dormant filter) are timed once.
    """

    def __init__(self, sm: Any, inputs: Any, repeats: int = REPEATS):
        import tensorflow as tf

        self.sm, self.repeats = sm, repeats
        largest = max(rows_candidates(sm.default_rows_per_call))
        self.sample = inputs.take(np.arange(largest) % len(inputs))
        self.targets = np.zeros(largest, np.int32)
        self._calls: dict[tuple[str, Route], Any] = {}
        self._tf = tf

    def __call__(self, stage: str, candidates: Sequence[tuple[Route, int]]) -> list[float]:
        layouts, runs = [], {}
        for route, rows in candidates:
            paths = self.sm.paths(route, route)
            layout = (rows, _layout(paths.front if stage == "forward" else paths.chain))
            layouts.append(layout)
            if layout not in runs:  # the first route of a layout stands for all
                runs[layout] = self._run(stage, route, rows)
        for run in runs.values():
            run()
        best = {layout: float("inf") for layout in runs}
        for _ in range(self.repeats):
            for layout, run in runs.items():
                start = time.perf_counter()
                run()
                best[layout] = min(best[layout], time.perf_counter() - start)
        return [best[layout] for layout in layouts]

    def _run(self, stage: str, route: Route, rows: int) -> Callable[[], None]:
        """One timed unit of ``stage``: a call of ``rows`` inputs, or all sample rows in calls of ``rows``."""
        call = self._call("forward" if stage == "forward" else "gradient", route)
        total = len(self.sample) if stage == "rows" else rows
        parts = [(self.sample.take(slice(s, min(s + rows, total))), self.targets[s:min(s + rows, total)])
                 for s in range(0, total, rows)]

        def run() -> None:
            for batch, targets in parts:
                np.asarray(call(batch.image, batch.others, targets)[0])

        return run

    def _call(self, kind: str, route: Route) -> Any:
        if (kind, route) not in self._calls:
            sm, paths = self.sm, self.sm.paths(route, route)
            if kind == "forward":
                def fn(image: Any, others: Any, targets: Any) -> Any:
                    return (paths.features(sm.model_inputs(image, others)),)
            else:
                def fn(image: Any, others: Any, targets: Any) -> Any:
                    return sm.input_gradient_with(paths, image, others, targets)
            self._calls[(kind, route)] = self._tf.function(fn, reduce_retracing=True)
        return self._calls[(kind, route)]


def _layout(part: Any) -> tuple[Any, ...]:
    """What a front or chain computes, step by step (equal layouts run the same ops)."""
    if part is None:
        return ()
    return tuple((type(s).__name__, getattr(s, "backward_kind", None), getattr(s, "kept_in", None),
                  getattr(s, "dormant", None), getattr(getattr(s, "layer", None), "name", None)) for s in part.steps)
