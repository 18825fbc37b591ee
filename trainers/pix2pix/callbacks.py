"""Callbacks for ``Pix2Pix.fit``, where one Keras epoch is ``eval_every`` generator steps followed by
one validation: best weights and early stopping, checkpoints (resume), GAN health warnings."""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from pix2pixai.atomic import write_json

#: The validation score: mean absolute error of the inference-mode generator on the validation
#: pairs' original (unpadded) pixels, unit range.
MONITOR = "val_g_l1"


class GanHealthWarning(UserWarning):
    """The adversarial game has degenerated (discriminator wins outright, or generator collapses)."""


class GanHealthMonitor(keras.callbacks.Callback):
    """Warn when the discriminator dominates for ``patience`` consecutive evaluations: interval-mean
    ``d_loss < d_loss_floor`` (vanilla loss ~0 means D separates real and fake perfectly, so G's
    adversarial gradient vanishes and only L1 trains it).

    An output that does not vary across a batch is not a failure here: the generator starts as its
    group's mean map and stays there until it finds input information, which its validation score
    against the floor (``history.json``) and the out-of-fold skill report, so ``g_batch_std`` is
    logged but not warned about.
    """

    def __init__(self, *, patience: int = 3, d_loss_floor: float = 0.02) -> None:
        super().__init__()
        self.patience = patience
        self.d_loss_floor = d_loss_floor
        self._streak = 0

    def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        value = (logs or {}).get("d_loss")
        self._streak = self._streak + 1 if value is not None and value < self.d_loss_floor else 0
        if self._streak == self.patience:
            warnings.warn(f"evaluation {epoch + 1}: discriminator dominates (d_loss {value:.3g} < "
                          f"{self.d_loss_floor}) for {self.patience} evaluations", GanHealthWarning, stacklevel=2)


class BestWeights(keras.callbacks.Callback):
    """Keep the generator weights of the lowest validation L1 and stop after ``patience`` evaluations
    without improvement (None: never stop early).

    ``start(score)`` enters the untrained generator (the floor) at step 0 with its validation score,
    so a generator that never beats the floor on validation ends as the floor exactly. Its state (a
    copy of every generator variable, the floor's and the best score, the step the best was reached
    at, the evaluations since) lives in ``tf.Variable``s, listed by ``state`` for the checkpoint, so
    a resumed run continues the same comparison. Without a validation score in the logs (no
    validation pairs) every evaluation counts as the best: the last weights are kept.
    """

    def __init__(self, generator: keras.Model, *, eval_every: int, patience: int | None) -> None:
        super().__init__()
        self.generator = generator
        self.eval_every = int(eval_every)
        self.patience = patience
        self.weights = [tf.Variable(np.asarray(v.numpy()), trainable=False, name=f"best_{k}")
                        for k, v in enumerate(generator.variables)]
        self.floor_score = tf.Variable(math.inf, dtype=tf.float64, trainable=False, name="floor_score")
        self.best_score = tf.Variable(math.inf, dtype=tf.float64, trainable=False, name="best_score")
        self.best_step = tf.Variable(0, dtype=tf.int64, trainable=False, name="best_step")
        self.wait = tf.Variable(0, dtype=tf.int64, trainable=False, name="wait")

    @property
    def state(self) -> list[tf.Variable]:
        return [*self.weights, self.floor_score, self.best_score, self.best_step, self.wait]

    @property
    def stopped(self) -> bool:
        """True once ``patience`` evaluations in a row brought no improvement."""
        return self.patience is not None and int(self.wait.numpy()) >= self.patience

    def start(self, score: float) -> None:
        """Keep the current (untrained) weights as the best, at step 0 with validation score ``score``."""
        self.floor_score.assign(float(score))
        self._keep(float(score), 0)

    def _keep(self, score: float, step: int) -> None:
        for best, variable in zip(self.weights, self.generator.variables):
            best.assign(variable.numpy())
        self.best_score.assign(score)
        self.best_step.assign(step)
        self.wait.assign(0)

    def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        score = (logs or {}).get(MONITOR)
        if score is None or score < float(self.best_score.numpy()):
            self._keep(math.inf if score is None else float(score), (epoch + 1) * self.eval_every)
        else:
            self.wait.assign_add(1)
        if self.stopped:
            self.model.stop_training = True

    def restore(self) -> None:
        """Load the kept weights into the generator."""
        for variable, best in zip(self.generator.variables, self.weights):
            variable.assign(best.numpy())


class EvaluationCheckpoint(keras.callbacks.Callback):
    """After every evaluation: save weights, optimiser slots, best-weights state, dropout RNG state and
    the evaluation count; append the logs (and the step) to the history.

    The ``tf.train.Checkpoint`` holds the networks, the optimisers (moments and step counters), the
    ``BestWeights`` state, the dropout layers' seed-generator states (listed explicitly: a layer's
    tracked attributes leave them out) and ``epoch`` (evaluations done); the batch of step s is a
    pure function of (seed, s) (see ``data.step_batches``), so resuming after evaluation e continues
    exactly as an uninterrupted run would.
    """

    def __init__(self, checkpoint: tf.train.Checkpoint, manager: tf.train.CheckpointManager,
                 history_path: Path, history: dict[str, list[float]], eval_every: int) -> None:
        super().__init__()
        self.checkpoint = checkpoint
        self.manager = manager
        self.history_path = history_path
        self.history = history
        self.eval_every = int(eval_every)

    def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        self.history.setdefault("step", []).append((epoch + 1) * self.eval_every)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(float(value))
        self.checkpoint.epoch.assign(epoch + 1)
        self.manager.save(checkpoint_number=epoch + 1)
        write_json(self.history_path, self.history)


def read_history(path: Path, evaluations_done: int) -> dict[str, list[float]]:
    """Per-evaluation logs written by ``EvaluationCheckpoint``, truncated to the restored evaluation count."""
    if evaluations_done == 0 or not path.exists():
        return {}
    history: dict[str, Any] = json.loads(path.read_text())
    return {key: list(values)[:evaluations_done] for key, values in history.items() if isinstance(values, list)}
