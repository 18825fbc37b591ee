"""Model and input files straight to a map store: ``pix2pixai explain --model M --inputs X --out maps.h5``.

The run-directory chain explains its own test split; this is the same producers on any saved Keras
model and any array file, outside a run. Inputs are read chunk by chunk (``.npy`` memory-mapped,
``.h5`` datasets sliced), so a file larger than memory streams through; the store is written by
:func:`pix2pixai.stores.produce.produce_methods` (atomic, resumable: re-run the same command).

A store resumes only on the same content: its provenance records the sha256 digests of the model
(:func:`pix2pixai.digests.file_digest`), the inputs, the background and a targets file, so an
input edited in place (same name, same size) restarts the store, with a warning, instead of
mixing maps of old and new rows. Every input is read and checked before the store is opened, and
``--out`` is checked first of all (:mod:`pix2pixai.output_safety`): never an input, never a folder.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from pix2pixai.digests import file_digest
from pix2pixai.errors import InputError
from pix2pixai.output_safety import check_output_file
from pix2pixai.stores.maps import DEFAULT_CHUNK, MapStore, partial_path
from pix2pixai.stores.produce import Progress, produce_methods

INPUT_SUFFIXES = (".npy", ".npz", ".h5", ".hdf5")

#: A ``--param`` value that is not JSON is kept as a string only when it is a plain word (``mean``).
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_.+-]*")


@contextmanager
def open_inputs(path: str | Path, input_names: Sequence[str], image_input: str | None = None,
                key: str | None = None) -> Iterator[Any]:
    """The arrays of an input file, sliceable without reading it whole; a dict for multi-input models.

    One-input models: a ``.npy`` array, or the one array (or ``key``, or the model input's name) of an
    ``.npz`` / ``.h5``. Multi-input models: an ``.npz`` / ``.h5`` with one array per model input name.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: inputs file not found")
    if path.suffix not in INPUT_SUFFIXES:
        raise InputError(f"{path}: expected inputs as {', '.join(INPUT_SUFFIXES)}")
    with ExitStack() as stack:
        arrays = _arrays_of(path, stack)
        yield _select(path, arrays, list(input_names), image_input, key)


def _arrays_of(path: Path, stack: ExitStack) -> dict[str, Any]:
    """Name -> lazily sliceable array of every array in the file (``.npy``: one, named ``""``)."""
    try:
        if path.suffix == ".npy":
            return {"": np.load(path, mmap_mode="r", allow_pickle=False)}
        if path.suffix == ".npz":
            archive = stack.enter_context(np.load(path, allow_pickle=False))
            return {k: _LazyNpz(archive, k) for k in archive.files}
        import h5py

        h5 = stack.enter_context(h5py.File(path, "r"))
        found: dict[str, Any] = {}
        h5.visititems(lambda name, obj: found.setdefault(name, obj) if isinstance(obj, h5py.Dataset) else None)
        return found
    except (ValueError, OSError) as err:
        raise InputError(f"{path}: not a readable {path.suffix} array file ({err})") from None


class _LazyNpz:
    """One array of an ``.npz``, loaded on first slice (zip members cannot be memory-mapped)."""

    def __init__(self, archive: Any, name: str):
        self._archive, self._name, self._array = archive, name, None

    def _load(self) -> np.ndarray:
        if self._array is None:
            self._array = self._archive[self._name]
        return self._array

    @property
    def shape(self) -> tuple[int, ...]:
        return self._load().shape

    @property
    def dtype(self) -> np.dtype:
        return self._load().dtype

    def __getitem__(self, item: Any) -> np.ndarray:
        return self._load()[item]


def _select(path: Path, arrays: dict[str, Any], names: list[str], image_input: str | None,
            key: str | None) -> Any:
    if not arrays:
        raise InputError(f"{path}: holds no arrays")
    numeric = {k: _real(path, k, v) for k, v in arrays.items() if v.dtype.kind in "biufc"}
    if len(names) > 1:
        missing = [n for n in names if n not in numeric]
        if missing:
            raise InputError(f"{path}: lacks arrays {missing} for model inputs {names} (has {sorted(arrays)})")
        return {n: numeric[n] for n in names}
    if key is not None:
        if key not in arrays:
            raise InputError(f"{path}: no array {key!r} (has {sorted(arrays)})")
        return arrays[key]
    for candidate in (names[0], image_input):
        if candidate in numeric:
            return numeric[candidate]
    if len(numeric) == 1:
        return next(iter(numeric.values()))
    raise InputError(f"{path}: holds arrays {sorted(arrays)}: name the one to explain with --inputs-key")


class _ComplexArray:
    """Stands for a complex array until it is chosen: choosing it is an InputError (a model takes real
    inputs, and casting would drop the imaginary part without a word)."""

    def __init__(self, path: Path, name: str, array: Any):
        self.path, self.name, self.dtype, self.shape = path, name, array.dtype, array.shape

    def __getitem__(self, item: Any) -> Any:
        raise InputError(f"{self.path}: array {self.name or self.path.name!r} holds complex numbers ({self.dtype}); "
                         "expected real-valued inputs")


def _real(path: Path, name: str, array: Any) -> Any:
    return _ComplexArray(path, name, array) if array.dtype.kind == "c" else array


def read_targets(spec: str | None) -> np.ndarray | int | None:
    """``None``/``"predicted"`` (predicted class), an int, or a ``.npy`` / ``.txt`` file of ints per input."""
    if spec is None or spec == "predicted":
        return None
    try:
        return int(spec)
    except ValueError:
        pass
    path = Path(spec)
    if not path.is_file():
        raise InputError(f"--targets {spec!r}: expected 'predicted', a class index, or a .npy/.txt file of ints")
    try:
        values = np.load(path, allow_pickle=False) if path.suffix == ".npy" else np.loadtxt(path, ndmin=1)
    except ValueError as err:
        raise InputError(f"{path}: not a readable list of class indices ({err})") from None
    values = np.asarray(values)
    if values.ndim != 1 or not np.all(np.equal(np.mod(values, 1), 0)):
        raise InputError(f"{path}: targets of shape {values.shape}: expected one integer class per input")
    return values.astype(np.int64)


def parse_params(items: Sequence[str], methods: Sequence[str]) -> dict[str, dict[str, Any]]:
    """``NAME=VALUE`` (every listed method that takes NAME) or ``METHOD.NAME=VALUE`` -> per-method parameters.

    Values are read as JSON where they parse (``8``, ``0.1``, ``true``, ``[1, 2]``), else kept as strings.
    A name no chosen method takes is an error naming the parameters they do take.
    """
    params: dict[str, dict[str, Any]] = {m: {} for m in methods}
    accepted = {m: _parameters(m) for m in methods}
    for item in items:
        name, sep, text = item.partition("=")
        if not sep or not name:
            raise InputError(f"--param {item!r}: expected NAME=VALUE or METHOD.NAME=VALUE")
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            if not _WORD.fullmatch(text):
                raise InputError(f"--param {item!r}: value {text!r} is neither JSON (8, 0.1, true, [1, 2]) "
                                 "nor a plain word") from None
            value = text
        method, dot, field = name.rpartition(".")
        if dot and method not in params:
            raise InputError(f"--param {item!r}: method {method!r} is not among --method {list(methods)}")
        takers = [m for m in ([method] if dot else methods) if field in accepted[m]]
        if not takers:
            options = {m: sorted(accepted[m]) for m in ([method] if dot else methods)}
            raise InputError(f"--param {item!r}: no chosen method takes {field!r} (they take {options})")
        for m in takers:
            _check_param_type(m, field, value, item)
            params[m][field] = value
    return params


def _check_param_type(method: str, field: str, value: Any, item: str) -> None:
    """A value of another kind than the parameter's default (a word for a number, a number for a flag)
    is an error here, not a TypeError deep inside the producer."""
    import inspect

    from pix2pixai.producers.registry import method_record

    default = inspect.signature(method_record(method).function).parameters[field].default
    if isinstance(default, bool):
        expected, ok = "true or false", isinstance(value, bool)
    elif isinstance(default, (int, float)):
        expected, ok = "a number", isinstance(value, (int, float)) and not isinstance(value, bool)
    else:
        return
    if not ok:
        raise InputError(f"--param {item!r}: {method}.{field} takes {expected}, got {value!r}")


def _parameters(method: str) -> frozenset[str]:
    """Keyword parameters of a producer (beyond model, x, targets, score, which the command sets)."""
    from pix2pixai.producers.registry import method_record

    return method_record(method).parameters()


def explain_files(
    model_path: str | Path,
    inputs_path: str | Path,
    methods: Sequence[str],
    out: str | Path,
    *,
    targets: str | None = None,
    score: str = "logit",
    image_input: str | None = None,
    inputs_key: str | None = None,
    background: str | Path | None = None,
    params: Sequence[str] = (),
    legacy: str | None = None,
    chunk: int = DEFAULT_CHUNK,
    progress: Progress | None = None,
) -> Path:
    """Explain every input of ``inputs_path`` with each of ``methods`` into the map store ``out``.

    ``background`` (an array file, as for inputs) feeds ``shap``; ``params`` are ``--param`` items
    (see :func:`parse_params`). Provenance records the content digests of the model, inputs,
    background and targets files and the model's weight hash: an unfinished store of other content
    is started again (saying so), never resumed.
    """
    from pix2pixai.producers.registry import INPUT_METHODS

    sources = {role: Path(path) for role, path in (("model", model_path), ("inputs", inputs_path),
                                                   ("background", background), ("targets", _targets_file(targets)))
               if path is not None}
    # an existing store or its unfinished partial file is resumed (or refused below when it is not a
    # map store), so existing outputs are not refused here
    check_output_file(out, sources.values(), replace=True)
    check_output_file(partial_path(out), sources.values(), what="--out's unfinished store", replace=True)
    if Path(out).exists():
        with MapStore.open(out):  # an InputError unless it is a map store (replaced only by another one)
            pass
    unknown = [m for m in methods if m not in INPUT_METHODS]
    if unknown or not methods:
        raise InputError(f"--method {','.join(methods)}: expected a comma-separated list of {list(INPUT_METHODS)}")
    if chunk < 1:
        raise InputError(f"--chunk {chunk}: expected a positive number of rows")
    per_method = parse_params(params, methods)
    from pix2pixai.trainers.model_files import load_model_file

    model = load_model_file(model_path, legacy)
    names = [t.name for t in model.inputs]
    if any("background" in p for p in per_method.values()):
        raise InputError("--param background=...: give reference inputs as a file with --background FILE")
    if "shap" in methods:
        if background is None:
            raise InputError("method shap needs --background FILE: reference inputs, e.g. a sample of training data")
        with open_inputs(background, names, image_input, inputs_key) as bg:
            per_method["shap"]["background"] = np.asarray(
                bg[image_input or names[0]][:] if isinstance(bg, Mapping) else bg[:], np.float32)
    wanted = read_targets(targets)
    with open_inputs(inputs_path, names, image_input, inputs_key) as x:
        _check_shapes(model, x, score, image_input, inputs_path)
        provenance = {"model": Path(model_path).name, "inputs": Path(inputs_path).name, "inputs_key": inputs_key,
                      "targets": targets, "sha256": {role: file_digest(path) for role, path in sources.items()}}
        return produce_methods(per_method, model, x, out, chunk=chunk, targets=wanted, score=score,
                               provenance=provenance, image_input=image_input, progress=progress,
                               restart_stale=True)


def _targets_file(spec: str | None) -> Path | None:
    """The file ``--targets`` names, if it names one (not ``predicted`` nor a class index)."""
    if spec is None or spec == "predicted" or spec.lstrip("-").isdigit():
        return None
    return Path(spec)


def _check_shapes(model: Any, x: Any, score: str, image_input: str | None, path: str | Path) -> None:
    """Shape errors name the inputs file and the whole array's shape, and come before a store is started."""
    from pix2pixai.producers.base import score_model

    sm = score_model(model, score, image_input)
    image = x[sm.image_input] if isinstance(x, Mapping) else x
    shape = tuple(int(d) for d in image.shape)
    h, w, c = sm.image_shape
    if shape[1:] != (h, w, c) and not (c == 1 and shape[1:] == (h, w)):
        raise InputError(f"{path}: array of shape {shape}: model input {sm.image_input!r} expects "
                         f"[N, {h}, {w}, {c}]" + (f" or [N, {h}, {w}]" if c == 1 else ""))


def tqdm_progress(desc: str) -> tuple[Progress, Callable[[], None]]:
    """A :data:`Progress` drawing a tqdm bar on stderr, and the function that closes it.

    The bar appears with the first finished chunk, so an input error before any work stays one line.
    """
    from tqdm import tqdm

    bars: list[Any] = []

    def update(done: int, total: int | None) -> None:
        if not bars:
            bars.append(tqdm(desc=desc, unit="chunk", total=total))
        bars[0].n = done
        bars[0].refresh()

    def close() -> None:
        for bar in bars:
            bar.close()

    return update, close
