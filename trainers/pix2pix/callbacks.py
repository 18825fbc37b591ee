"""Callbacks for ``Pix2Pix.fit``: per-epoch checkpoints (resume) and GAN health warnings."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import keras
import tensorflow as tf

from pix2pixai.atomic import write_json

HISTORY_KEYS = ("d_loss", "g_gan", "g_l1", "g_batch_std")


class GanHealthWarning(UserWarning):
    """The adversarial game has degenerated (discriminator wins outright, or generator collapses)."""


class GanHealthMonitor(keras.callbacks.Callback):
    """Warn when D dominates or G collapses for ``patience`` consecutive epochs.

    * D dominates: epoch-mean ``d_loss < d_loss_floor`` (vanilla loss ~0 means D separates real and
      fake perfectly, so G's adversarial gradient vanishes and only L1 trains it).
    * G collapses: epoch-mean ``g_batch_std < std_floor`` (the generator emits the same map for every
      input of a batch, in unit-range units).
    """

    def __init__(self, *, patience: int = 3, d_loss_floor: float = 0.02, std_floor: float = 1e-3) -> None:
        super().__init__()
        self.patience = patience
        self.d_loss_floor = d_loss_floor
        self.std_floor = std_floor
        self._streaks = {"d_loss": 0, "g_batch_std": 0}

    def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        logs = logs or {}
        checks = {"d_loss": (self.d_loss_floor, "discriminator dominates (d_loss {value:.3g} < {floor})"),
                  "g_batch_std": (self.std_floor, "generator collapsed: output spread across the batch "
                                                  "{value:.3g} < {floor}")}
        for key, (floor, message) in checks.items():
            value = logs.get(key)
            self._streaks[key] = self._streaks[key] + 1 if value is not None and value < floor else 0
            if self._streaks[key] == self.patience:
                warnings.warn(f"epoch {epoch + 1}: " + message.format(value=value, floor=floor)
                              + f" for {self.patience} epochs", GanHealthWarning, stacklevel=2)


class EpochCheckpoint(keras.callbacks.Callback):
    """After every epoch: save weights, optimiser slots, dropout RNG state and epoch; append history.

    The ``tf.train.Checkpoint`` holds both networks, both optimisers (moments and step counters),
    the dropout layers' seed-generator states (listed explicitly: a layer's tracked attributes
    leave them out) and ``epoch``; the data
    order of epoch e is a pure function of (seed, e) (see ``training.epoch_batches``), so resuming
    from epoch e continues exactly as an uninterrupted run would.
    """

    def __init__(self, checkpoint: tf.train.Checkpoint, manager: tf.train.CheckpointManager,
                 history_path: Path, history: dict[str, list[float]]) -> None:
        super().__init__()
        self.checkpoint = checkpoint
        self.manager = manager
        self.history_path = history_path
        self.history = history

    def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(float(value))
        self.checkpoint.epoch.assign(epoch + 1)
        self.manager.save(checkpoint_number=epoch + 1)
        write_json(self.history_path, self.history)


def read_history(path: Path, epochs_done: int) -> dict[str, list[float]]:
    """Per-epoch logs written by ``EpochCheckpoint``, truncated to the restored epoch count."""
    if epochs_done == 0 or not path.exists():
        return {}
    history: dict[str, Any] = json.loads(path.read_text())
    return {key: list(values)[:epochs_done] for key, values in history.items()}
