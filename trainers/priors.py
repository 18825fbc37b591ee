"""Class-prior shift: Bayes re-weighting of probabilities, and validation scored at the target prior.

A classifier trained on a class-balanced (oversampled or re-drawn) set outputs probabilities for a
uniform prior; the data it is scored on have their natural class mix. Re-weighting by the prior
ratio is the Bayes-optimal correction for a pure prior shift, so model selection should score the
*corrected* probabilities: :class:`PriorShiftedValidation` adds that score to Keras's epoch logs,
where ``EarlyStopping`` and ``ModelCheckpoint`` can monitor it.
"""

from __future__ import annotations

import keras
import numpy as np


def prior_shift(probs: np.ndarray, source_prior: np.ndarray, target_prior: np.ndarray) -> np.ndarray:
    """p'_k = p_k w_k / sum_j p_j w_j with w = target / source: Bayes' rule under a change of class prior.

    ``probs`` [N, K] under ``source_prior`` [K]; returns [N, K] float64 under ``target_prior`` [K].
    """
    probs = np.asarray(probs, np.float64)
    source, target = np.asarray(source_prior, np.float64), np.asarray(target_prior, np.float64)
    if probs.ndim != 2 or source.shape != (probs.shape[1],) or target.shape != source.shape:
        raise ValueError(f"prior_shift: probs [N, K] and priors [K] expected, got {probs.shape}, "
                         f"{source.shape}, {target.shape}")
    if np.any(source <= 0) or np.any(target < 0):
        raise ValueError("prior_shift: source prior must be > 0 and target prior >= 0 in every class")
    weighted = probs * (target / source)
    return weighted / weighted.sum(axis=1, keepdims=True)


class PriorShiftedValidation(keras.callbacks.Callback):
    """Adds ``val_prior_nll`` and ``val_prior_accuracy`` to each epoch's logs.

    Both are computed on (``x_val``, ``y_val``) from the model's probabilities shifted from
    ``train_prior`` to ``eval_prior`` (:func:`prior_shift`): the negative log-likelihood (natural
    log, mean over items, probabilities floored at 1e-12) and the accuracy of the arg-max. Put this
    callback *before* any callback that monitors these names (Keras passes one logs dict along).
    """

    def __init__(self, x_val: np.ndarray | dict[str, np.ndarray], y_val: np.ndarray, train_prior: np.ndarray,
                 eval_prior: np.ndarray, batch_size: int = 256) -> None:
        super().__init__()
        # a dict of arrays feeds a model with several named inputs (e.g. dmdt + features)
        self.x_val = ({name: np.asarray(v, np.float32) for name, v in x_val.items()} if isinstance(x_val, dict)
                      else np.asarray(x_val, np.float32))
        self.y_val = np.asarray(y_val).astype(np.int64)
        self.train_prior, self.eval_prior, self.batch_size = train_prior, eval_prior, batch_size

    def _batch(self, part: slice) -> np.ndarray | dict[str, np.ndarray]:
        if isinstance(self.x_val, dict):
            return {name: v[part] for name, v in self.x_val.items()}
        return self.x_val[part]

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        probs = np.concatenate([np.asarray(self.model.predict_on_batch(self._batch(slice(i, i + self.batch_size))))
                                for i in range(0, len(self.y_val), self.batch_size)])
        shifted = prior_shift(probs, self.train_prior, self.eval_prior)
        if logs is not None:
            logs["val_prior_nll"] = float(-np.log(np.maximum(shifted[np.arange(len(self.y_val)), self.y_val],
                                                             1e-12)).mean())
            logs["val_prior_accuracy"] = float((shifted.argmax(axis=1) == self.y_val).mean())
