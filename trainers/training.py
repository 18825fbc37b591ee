"""Train and evaluate image classifiers (softmax with K >= 2 outputs, or a single sigmoid).

Training (:func:`train_classifier`) is resumable and reproducible: a seeded stratified validation
split, optional oversampling of minority classes, balanced class weights, early stopping on the
validation loss, a weights checkpoint per epoch, ``BackupAndRestore`` so that an interrupted run
continues where it stopped when called again with the same ``out_dir``, and the history as CSV and
JSON. The best epoch (lowest monitored loss over the *whole* history, across resumptions) is restored
from its checkpoint at the end.

Evaluation (:func:`evaluate_predictions`, :func:`evaluate_classifier`) reports accuracy, macro-F1,
per-class precision/recall/F1/support and the confusion matrix, with standard errors.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Literal, Sequence

import keras
import numpy as np

from pix2pixai.atomic import write_json
from pix2pixai.trainers.determinism import enable_determinism
from pix2pixai.trainers.distribute import clone_with_synchronized_batch_norm
from pix2pixai.trainers.splits import stratified_split

#: ``oversample(x_class, n_needed, rng) -> [n_needed, *x_class.shape[1:]]`` new samples of one class.
Oversampler = Callable[[np.ndarray, int, np.random.Generator], np.ndarray]

_CHECKPOINTS = "checkpoints"
_BACKUP = "backup"
_HISTORY_CSV = "history.csv"
_HISTORY_JSON = "history.json"


@dataclass
class TrainingResult:
    """What :func:`train_classifier` produced.

    ``model`` holds the best epoch's weights; ``history`` maps each logged quantity (``loss``,
    ``val_loss``, ``accuracy``, ...) to its per-epoch values over the whole run, resumptions included;
    ``best_epoch`` is 0-based; ``class_weight`` is the per-class loss weight used (None = unweighted);
    ``train_counts`` are the per-class training counts after oversampling.
    """

    model: keras.Model
    history: dict[str, list[float]]
    best_epoch: int
    monitor: str
    class_weight: dict[int, float] | None
    train_counts: list[int]
    n_oversampled: int
    out_dir: Path
    files: dict[str, str] = field(default_factory=dict)


def train_classifier(
    model: keras.Model,
    x: np.ndarray,
    y: np.ndarray,
    *,
    class_names: Sequence[str],
    out_dir: str | Path,
    seed: int,
    epochs: int,
    batch_size: int,
    val_fraction: float = 0.1,
    class_weight: Literal["balanced"] | None = "balanced",
    patience: int = 5,
    oversample: Oversampler | None = None,
    oversample_to: int | None = None,
    strategy: Any = None,
    learning_rate: float = 1e-3,
    verbose: int = 0,
    callbacks: Sequence[keras.callbacks.Callback] = (),
) -> TrainingResult:
    """Fit ``model`` on images ``x`` [N, H, W, C] with integer labels ``y`` [N] in ``[0, K)``.

    Steps: seed everything (:func:`pix2pixai.trainers.determinism.enable_determinism`); hold out a stratified
    ``val_fraction`` of each class for validation (0 = no validation, early stopping then monitors
    the training loss); if ``oversample`` is given, top every training class up to ``oversample_to``
    members (default: the largest class's count) with ``oversample(x_class, n_needed, rng)`` (for
    dmdts the data layer passes noise-augmented re-binning of the class's light curves, the original
    recipe; an ``oversample_to`` above the largest count augments every class); weight each sample's loss by
    ``N / (K * n_class)`` when ``class_weight="balanced"``; compile with Adam and (sparse)
    categorical or binary cross-entropy; fit with early stopping after ``patience`` epochs without
    improvement; restore the best epoch.

    Parameters
    ----------
    model : a Keras model ending in a softmax over K = len(class_names) outputs, or a single sigmoid
        (then K must be 2 and the output is p(class 1)). Compiled here and trained in place.
    strategy : optional ``tf.distribute`` strategy (e.g. ``MirroredStrategy`` over several devices,
        see :func:`pix2pixai.trainers.distribute.strategy_from_name`); a clone of the model with the same
        weights, its batch normalisation synchronised across replicas, is compiled and fitted inside
        ``strategy.scope()``; the best weights are then copied back into ``model``, which is returned
        (so the result is usable without the strategy). Distributed evaluation needs every
        validation batch to split evenly over the replicas: the validation batch size is rounded
        up to a multiple of the replica count and at most ``replicas - 1`` validation items are
        left out.
    callbacks : extra Keras callbacks, run after the built-in ones.

    Files in ``out_dir``: ``checkpoints/epoch_NNN.weights.h5`` (1-based epoch), ``backup/`` (only while
    a run is unfinished), ``history.csv``, ``history.json`` (written atomically).
    """
    x, y = _check_training_inputs(model, x, y, class_names)
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
    if class_weight not in ("balanced", None):
        raise ValueError(f"class_weight must be 'balanced' or None, got {class_weight!r}")
    if epochs < 1 or batch_size < 1 or patience < 0:
        raise ValueError(f"need epochs >= 1, batch_size >= 1, patience >= 0; got {epochs}, {batch_size}, {patience}")
    enable_determinism(seed)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    n_classes = len(class_names)

    if val_fraction > 0:
        train_idx, val_idx = stratified_split(y, val_fraction, seed)
        validation = (x[val_idx], y[val_idx])
    else:
        train_idx, validation = np.arange(len(y)), None
    x_train, y_train = x[train_idx], y[train_idx]
    x_train, y_train, n_extra = _oversample(x_train, y_train, n_classes, oversample, oversample_to,
                                            np.random.default_rng(seed))
    counts = np.bincount(y_train, minlength=n_classes)
    weights = _balanced_weights(counts) if class_weight == "balanced" else None
    sample_weight = None if weights is None else np.array([weights[k] for k in range(n_classes)])[y_train]

    _compile(model, learning_rate)
    fitted, val_batch_size = model, batch_size
    if strategy is not None:
        with strategy.scope():
            fitted = clone_with_synchronized_batch_norm(model)
            _compile(fitted, learning_rate)
        validation, val_batch_size = _replica_divisible(validation, batch_size, strategy.num_replicas_in_sync)

    monitor = "val_loss" if validation is not None else "loss"
    backup_dir = out / _BACKUP
    if not backup_dir.exists():  # a fresh run: earlier finished runs' logs are replaced, not appended to
        (out / _HISTORY_CSV).unlink(missing_ok=True)
    (out / _CHECKPOINTS).mkdir(exist_ok=True)
    built_in = [
        keras.callbacks.BackupAndRestore(str(backup_dir)),
        keras.callbacks.ModelCheckpoint(str(out / _CHECKPOINTS / "epoch_{epoch:03d}.weights.h5"),
                                        save_weights_only=True, save_freq="epoch"),
        keras.callbacks.CSVLogger(str(out / _HISTORY_CSV), append=True),
        keras.callbacks.EarlyStopping(monitor=monitor, patience=patience),
    ]
    fitted.fit(
        x_train, _targets(model, y_train), sample_weight=sample_weight,
        validation_data=None if validation is None else (validation[0], _targets(model, validation[1])),
        epochs=epochs, batch_size=batch_size, validation_batch_size=val_batch_size, shuffle=True,
        verbose=verbose, callbacks=[*built_in, *callbacks],
    )

    history = _read_history_csv(out / _HISTORY_CSV)
    best_epoch = int(np.argmin(history[monitor]))
    fitted.load_weights(out / _CHECKPOINTS / f"epoch_{best_epoch + 1:03d}.weights.h5")
    if fitted is not model:
        model.set_weights(fitted.get_weights())
    summary = {
        "class_names": list(class_names), "monitor": monitor, "best_epoch": best_epoch, "seed": seed,
        "class_weight": None if weights is None else {class_names[k]: w for k, w in weights.items()},
        "train_counts": counts.tolist(), "n_oversampled": n_extra, "n_validation": 0 if validation is None
        else int(len(validation[1])), "history": history,
    }
    write_json(out / _HISTORY_JSON, summary)
    return TrainingResult(
        model=model, history=history, best_epoch=best_epoch, monitor=monitor, class_weight=weights,
        train_counts=counts.tolist(), n_oversampled=n_extra, out_dir=out,
        files={"history_csv": str(out / _HISTORY_CSV), "history_json": str(out / _HISTORY_JSON),
               "checkpoints": str(out / _CHECKPOINTS)},
    )


def predict_proba(model: keras.Model, x: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Class probabilities [N, K] float32; a single-sigmoid model's p becomes the two columns [1 - p, p]."""
    expected = tuple(model.input_shape[1:])
    x = np.asarray(x, dtype=np.float32)
    if x.ndim != len(expected) + 1 or tuple(x.shape[1:]) != expected:
        raise ValueError(f"predict_proba: model {model.name!r} expects inputs [N, {', '.join(map(str, expected))}], "
                         f"got shape {x.shape}")
    if len(x) == 0:
        return np.zeros((0, max(2, model.output_shape[-1])), np.float32)
    # predict_on_batch per chunk: the same batches as ``model.predict(batch_size=)``, hence the same
    # numbers, without the tf.data pipeline that predict builds on every call (~0.3 s, which dominated
    # the many small calls of deletion / insertion curves).
    probs = np.concatenate([np.asarray(model.predict_on_batch(x[i : i + batch_size]), dtype=np.float32)
                            for i in range(0, len(x), batch_size)])
    if probs.shape[-1] == 1:
        probs = np.concatenate([1.0 - probs, probs], axis=-1)
    return probs


def evaluate_classifier(
    model: keras.Model, x: np.ndarray, y: np.ndarray, class_names: Sequence[str], *,
    batch_size: int = 256, n_bootstrap: int = 1000, seed: int = 0, out_path: str | Path | None = None,
) -> dict[str, Any]:
    """:func:`evaluate_predictions` of the model's arg-max class on ``x``; optionally saved as JSON (atomically)."""
    probs = predict_proba(model, x, batch_size=batch_size)
    if probs.shape[1] != len(class_names):
        raise ValueError(f"evaluate_classifier: model has {probs.shape[1]} classes, class_names has {len(class_names)}")
    report = evaluate_predictions(y, probs.argmax(axis=1), class_names, n_bootstrap=n_bootstrap, seed=seed)
    if out_path is not None:
        write_json(out_path, report)
    return report


def evaluate_predictions(
    y_true: np.ndarray, y_pred: np.ndarray, class_names: Sequence[str], *, n_bootstrap: int = 1000, seed: int = 0,
) -> dict[str, Any]:
    """Accuracy, macro-F1, per-class scores and confusion matrix of predicted vs true class indices.

    * ``accuracy_se`` = sqrt(a (1 - a) / N), the binomial standard error of the accuracy a.
    * ``macro_f1`` = mean over classes *present in y_true* of F1_c = 2 TP_c / (2 TP_c + FP_c + FN_c)
      (sklearn's ``f1_score(average="macro", labels=present)``); ``macro_f1_se`` is the standard
      deviation of macro-F1 over ``n_bootstrap`` resamples of the N test items (seeded).
    * ``confusion_matrix[i][j]`` = number of items of true class i predicted as class j.
    """
    k = len(class_names)
    y_true, y_pred = np.asarray(y_true).astype(np.int64), np.asarray(y_pred).astype(np.int64)
    if y_true.shape != y_pred.shape or y_true.ndim != 1 or y_true.size == 0:
        raise ValueError(f"evaluate: y_true {y_true.shape} and y_pred {y_pred.shape} must be equal non-empty 1-D")
    for name, arr in (("y_true", y_true), ("y_pred", y_pred)):
        if arr.min() < 0 or arr.max() >= k:
            raise ValueError(f"evaluate: {name} has labels outside [0, {k}) (class_names has {k} entries)")
    n = y_true.size
    confusion = np.bincount(y_true * k + y_pred, minlength=k * k).reshape(k, k)
    precision, recall, f1 = _per_class_scores(confusion[None])
    accuracy = float(np.trace(confusion) / n)

    rng = np.random.default_rng(seed)
    samples = rng.integers(0, n, size=(n_bootstrap, n))
    offsets = np.arange(n_bootstrap)[:, None] * k * k
    boot = np.bincount((offsets + y_true[samples] * k + y_pred[samples]).ravel(),
                       minlength=n_bootstrap * k * k).reshape(n_bootstrap, k, k)
    return {
        "n": int(n),
        "class_names": list(class_names),
        "accuracy": accuracy,
        "accuracy_se": float(np.sqrt(accuracy * (1.0 - accuracy) / n)),
        "macro_f1": float(_macro_f1(confusion[None])[0]),
        "macro_f1_se": float(_macro_f1(boot).std(ddof=1)) if n_bootstrap > 1 else float("nan"),
        "n_bootstrap": int(n_bootstrap),
        "bootstrap_seed": int(seed),
        "per_class": {
            name: {"precision": float(precision[0, c]), "recall": float(recall[0, c]), "f1": float(f1[0, c]),
                   "support": int(confusion[c].sum())}
            for c, name in enumerate(class_names)
        },
        "confusion_matrix": confusion.tolist(),
    }


# ---------------------------------------------------------------------------------- helpers
def _per_class_scores(confusion: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Precision, recall, F1 [B, K] of confusion matrices [B, K, K]; 0 where undefined (0/0)."""
    tp = np.diagonal(confusion, axis1=1, axis2=2).astype(np.float64)
    predicted, actual = confusion.sum(axis=1), confusion.sum(axis=2)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(predicted > 0, tp / predicted, 0.0)
        recall = np.where(actual > 0, tp / actual, 0.0)
        f1 = np.where(actual + predicted > 0, 2 * tp / (actual + predicted), 0.0)
    return precision, recall, f1


def _macro_f1(confusion: np.ndarray) -> np.ndarray:
    """Macro-F1 [B] over the classes present (support > 0) in each confusion matrix [B, K, K]."""
    _, _, f1 = _per_class_scores(confusion)
    present = confusion.sum(axis=2) > 0
    return (f1 * present).sum(axis=1) / present.sum(axis=1)


def _check_training_inputs(model: keras.Model, x: np.ndarray, y: np.ndarray,
                           class_names: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    x, y = np.asarray(x, dtype=np.float32), np.asarray(y)
    expected = tuple(model.input_shape[1:])
    if tuple(x.shape[1:]) != expected:
        raise ValueError(f"train_classifier: model {model.name!r} expects x [N, {', '.join(map(str, expected))}], "
                         f"got {x.shape}")
    if y.shape != (len(x),) or not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"train_classifier: y must be integer labels of shape ({len(x)},), got {y.dtype} {y.shape}")
    k, outputs = len(class_names), model.output_shape[-1]
    if outputs != k and not (outputs == 1 and k == 2):
        raise ValueError(f"train_classifier: model has {outputs} outputs but class_names has {k} entries "
                         "(a single-sigmoid model needs exactly 2 class names)")
    if y.size == 0 or y.min() < 0 or y.max() >= k:
        raise ValueError(f"train_classifier: labels must lie in [0, {k}), got range "
                         f"[{y.min() if y.size else '-'}, {y.max() if y.size else '-'}]")
    return x, y.astype(np.int64)


def _oversample(x: np.ndarray, y: np.ndarray, n_classes: int, oversample: Oversampler | None,
                target: int | None, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, int]:
    """Top every present class up to ``target`` members (default: the largest class's count) with
    ``oversample``'s new samples."""
    if oversample is None:
        return x, y, 0
    counts = np.bincount(y, minlength=n_classes)
    target = int(counts.max()) if target is None else int(target)
    extra_x, extra_y = [x], [y]
    for c in np.flatnonzero((counts > 0) & (counts < target)):
        needed = int(target - counts[c])
        new = np.asarray(oversample(x[y == c], needed, rng), dtype=np.float32)
        if new.shape != (needed, *x.shape[1:]):
            raise ValueError(f"oversample returned shape {new.shape} for class {c}; expected {(needed, *x.shape[1:])}")
        extra_x.append(new)
        extra_y.append(np.full(needed, c, dtype=y.dtype))
    x_all, y_all = np.concatenate(extra_x), np.concatenate(extra_y)
    return x_all, y_all, int(len(y_all) - len(y))


def _balanced_weights(counts: np.ndarray) -> dict[int, float]:
    """w_c = N / (K_present * n_c): every present class contributes equally to the loss."""
    present = counts > 0
    total, k = counts.sum(), int(present.sum())
    return {int(c): float(total / (k * counts[c])) if present[c] else 0.0 for c in range(counts.size)}


def _is_sigmoid(model: keras.Model) -> bool:
    return model.output_shape[-1] == 1


def _targets(model: keras.Model, y: np.ndarray) -> np.ndarray:
    return y.astype(np.float32)[:, None] if _is_sigmoid(model) else y


def _compile(model: keras.Model, learning_rate: float) -> None:
    if _is_sigmoid(model):
        loss, metric = "binary_crossentropy", keras.metrics.BinaryAccuracy(name="accuracy")
    else:
        loss, metric = "sparse_categorical_crossentropy", keras.metrics.SparseCategoricalAccuracy(name="accuracy")
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=loss, metrics=[metric])


def _replica_divisible(validation: tuple[np.ndarray, np.ndarray] | None, batch_size: int,
                       replicas: int) -> tuple[tuple[np.ndarray, np.ndarray] | None, int]:
    """Validation data and batch size whose every batch splits evenly over ``replicas``."""
    val_batch_size = -(-batch_size // replicas) * replicas
    if validation is None:
        return None, val_batch_size
    keep = len(validation[1]) // replicas * replicas
    if keep == 0:
        raise ValueError(f"validation split has {len(validation[1])} items, fewer than the {replicas} replicas")
    return (validation[0][:keep], validation[1][:keep]), val_batch_size


def _read_history_csv(path: Path) -> dict[str, list[float]]:
    """Per-epoch logs from Keras's CSVLogger, in epoch order (a resumed run appends its epochs)."""
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    if not rows:
        raise ValueError(f"{path}: no epochs were logged")
    by_epoch = {int(r["epoch"]): r for r in rows}  # an epoch re-run after an interruption: last one wins
    ordered = [by_epoch[e] for e in sorted(by_epoch)]
    return {key: [float(r[key]) for r in ordered] for key in ordered[0]}
