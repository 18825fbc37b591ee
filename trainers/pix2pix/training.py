"""Train pix2pix generators: one (group, method) with ``train_generator``, many with ``train_generators``.

Data pipeline (``epoch_batches``): the raw (unpadded) arrays live once in the graph; each epoch e
draws a permutation with ``stateless_shuffle(seed=(seed, e))``, batches it (``drop_remainder`` when
there is more than one batch, so every step has the same shape: one trace, no size-1 batch-norm
batches), gathers the batch, optionally flips it, zero-pads it to S x S and prefetches. Because
epoch e's order depends only on (seed, e), a run resumed at epoch e sees the same batches as an
uninterrupted one.

Flips: off by default. A dmdt image's axes are dm and dt: a left-right flip reverses time (the
original work did this by accident) and an up-down flip turns brightening into fading, so neither is
a symmetry of the data. ``flip=True`` (meant for ZTF triplets, whose cutouts have no preferred
orientation) flips each pair independently along each axis, before padding.

Many generators (``train_generators``): the jobs of one group share the inputs, so the networks are
built, compiled and traced once per output kind (signed / unsigned) and reused: before each job
their variables (weights, batch-norm statistics, dropout RNG states) and the optimisers' slots are
reset to the snapshot taken right after seeding and building, which is exactly the state a fresh
``train_generator`` call would start from. Every job therefore gives the same generator as its own
``train_generator`` call with the same seed, at the cost of one model build and one tf.function
trace per kind instead of per job.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import shutil
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import keras
import numpy as np
import tensorflow as tf

from pix2pixai.atomic import write_json
from pix2pixai.trainers.determinism import enable_determinism
from pix2pixai.trainers.distribute import replicas
from pix2pixai.trainers.pix2pix.architecture import GeneratorConfig, build_discriminator, build_generator
from pix2pixai.trainers.pix2pix.bundle import GeneratorBundle
from pix2pixai.trainers.pix2pix.callbacks import EpochCheckpoint, GanHealthMonitor, read_history
from pix2pixai.trainers.pix2pix.model import Pix2Pix
from pix2pixai.trainers.pix2pix.padding import pow2_side, valid_mask
from pix2pixai.trainers.pix2pix.scaling import MapScale

CHECKPOINT_DIR = "checkpoints"
HISTORY_FILE = "history.json"
SETTINGS_FILE = "settings.json"


@dataclass(frozen=True)
class GeneratorJob:
    """One (group, method) generator of ``train_generators``: raw target maps [N, H, W, 1] and where to save."""

    targets: np.ndarray
    signed: bool
    out_dir: Path


def epoch_batches(inputs: np.ndarray, targets: np.ndarray, *, batch_size: int, seed: int, first_epoch: int,
                  epochs: int, flip: bool) -> tuple[tf.data.Dataset, int]:
    """Batches of padded (input, unit target) pairs for epochs ``first_epoch .. epochs - 1``, and steps per epoch."""
    n = len(inputs)
    batch = min(batch_size, n)
    drop = n > batch
    steps = n // batch if drop else 1
    side = pow2_side(inputs.shape[1:3])
    pad = [[0, 0], [0, side - inputs.shape[1]], [0, side - inputs.shape[2]], [0, 0]]
    x_all, y_all = tf.constant(inputs, tf.float32), tf.constant(targets, tf.float32)

    def one_epoch(epoch: tf.Tensor) -> tf.data.Dataset:
        order = tf.random.experimental.stateless_shuffle(tf.range(n), seed=tf.stack([tf.cast(seed, tf.int64), epoch]))
        return tf.data.Dataset.from_tensor_slices(order).batch(batch, drop_remainder=drop).enumerate().map(
            lambda step, idx: _pair(idx, tf.stack([epoch, step])))

    def _pair(idx: tf.Tensor, flip_seed: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        x, y = tf.gather(x_all, idx), tf.gather(y_all, idx)
        if flip:
            x, y = _random_flips(x, y, flip_seed + tf.cast(seed, tf.int64))
        return tf.pad(x, pad), tf.pad(y, pad)

    dataset = tf.data.Dataset.range(first_epoch, epochs).flat_map(one_epoch)
    return dataset.prefetch(tf.data.AUTOTUNE), steps


def _random_flips(x: tf.Tensor, y: tf.Tensor, seed: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """Flip each (x, y) pair up-down and/or left-right with probability 1/2 each (same flips for both)."""
    coins = tf.random.stateless_uniform([tf.shape(x)[0], 2], seed=seed) < 0.5
    for axis, coin in ((1, coins[:, 0]), (2, coins[:, 1])):
        where = coin[:, None, None, None]
        x = tf.where(where, tf.reverse(x, [axis]), x)
        y = tf.where(where, tf.reverse(y, [axis]), y)
    return x, y


def _digest(*arrays: np.ndarray) -> str:
    """SHA-256 of the arrays' shapes and bytes: which data a checkpoint was trained on."""
    sha = hashlib.sha256()
    for array in arrays:
        sha.update(str(array.shape).encode())
        sha.update(np.ascontiguousarray(array).tobytes())
    return sha.hexdigest()


def _read_json(path: Path) -> object:
    return json.loads(path.read_text()) if path.exists() else None


def _validate(inputs: np.ndarray, targets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x, y = np.asarray(inputs, np.float32), np.asarray(targets, np.float32)
    if x.ndim != 4:
        raise ValueError(f"inputs must be [N, H, W, C], got shape {x.shape}")
    if y.shape != (*x.shape[:3], 1):
        raise ValueError(f"targets must be [N, H, W, 1] = {(*x.shape[:3], 1)} to match inputs, got shape {y.shape}")
    if len(x) < 2:
        raise ValueError(f"need >= 2 training pairs, got {len(x)}")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"inputs contain {int(np.sum(~np.isfinite(x)))} non-finite values")
    return x, y


class _GanTrainer:
    """Seeded, compiled Pix2Pix for one (input shape, signed) kind, resettable to its initial state."""

    def __init__(self, hw: tuple[int, int], in_channels: int, *, signed: bool, seed: int, config: GeneratorConfig,
                 strategy: tf.distribute.Strategy | None) -> None:
        enable_determinism(seed)
        self.signed = signed
        side = pow2_side(hw)
        with strategy.scope() if strategy is not None else contextlib.nullcontext():
            sync = replicas(strategy) > 1
            generator = build_generator(side, in_channels, signed=signed, config=config, seed=seed, synchronized=sync)
            discriminator = build_discriminator(side, in_channels, config=config, seed=seed, synchronized=sync)
            self.model = Pix2Pix(generator, discriminator, valid_mask(hw, side))
            self.model.compile(
                keras.optimizers.Adam(config.g_learning_rate, beta_1=config.beta_1),
                keras.optimizers.Adam(config.d_learning_rate, beta_1=config.beta_1),
                loss=config.loss, l1_weight=config.l1_weight)
        self.epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="epoch")
        self.checkpoint = tf.train.Checkpoint(
            generator=generator, discriminator=discriminator, g_optimizer=self.model.g_optimizer,
            d_optimizer=self.model.d_optimizer, epoch=self.epoch,
            dropout_rng=[layer.seed_generator.state for layer in generator.layers
                         if isinstance(layer, keras.layers.Dropout)])
        self._initial = [v.numpy() for v in self._state_variables()]

    def _state_variables(self) -> list:
        m = self.model
        return [*m.generator.variables, *m.discriminator.variables, *m.g_optimizer.variables,
                *m.d_optimizer.variables, self.epoch]

    def reset(self) -> None:
        """Back to the freshly built, seeded state (weights, statistics, RNG states, optimiser slots)."""
        for variable, value in zip(self._state_variables(), self._initial):
            variable.assign(value)

    def start_at(self, level: float) -> None:
        """Set the output layer's bias so that an untrained generator outputs about ``level``.

        Why: the output is ``sigmoid`` (unsigned maps) or ``tanh`` (signed) of a zero-initialised
        bias, so an untrained generator starts at 0.5 (unsigned) or 0 (signed). Grad-CAM and
        saliency maps in unit range are sparse, with a mean near 0.01-0.05, and a small group's few
        hundred steps at the pix2pix learning rate do not move a sigmoid from 0.5 down to there: the
        demo's ZTF Grad-CAM / saliency generators all output ~0.37 everywhere (held-out SSIM < 0.08,
        worse than an all-zero map). Starting at the training maps' mean level spends the steps on
        structure instead. ``level`` is clipped away from the asymptotes.
        """
        bias = self.model.generator.get_layer("output").bias
        if self.signed:
            value = np.arctanh(np.clip(level, -0.95, 0.95))
        else:
            value = np.log(np.clip(level, 1e-3, 0.95) / (1.0 - np.clip(level, 1e-3, 0.95)))
        bias.assign(np.full(bias.shape, value, dtype=bias.dtype))

    def fit(self, inputs: np.ndarray, unit_targets: np.ndarray, out_dir: Path, *, epochs: int, batch_size: int,
            seed: int, flip: bool, resume: bool, verbose: int, log_dir: str | Path | None,
            callbacks: Sequence[keras.callbacks.Callback], run_settings: dict) -> dict[str, list[float]]:
        """Train into ``out_dir`` (resuming from its checkpoints if asked); return the per-epoch history.

        Checkpoints are only resumed when ``run_settings`` (everything but the epoch count) and a
        digest of the data match those they were written with; otherwise training starts over
        with a warning, since continuing another run's optimiser state would be wrong.
        """
        ckpt_dir = out_dir / CHECKPOINT_DIR
        settings = {**run_settings, "data_sha256": _digest(inputs, unit_targets)}
        if resume and ckpt_dir.exists() and _read_json(ckpt_dir / SETTINGS_FILE) != settings:
            warnings.warn(f"{ckpt_dir}: checkpoints were written with other settings or data; starting over",
                          stacklevel=3)
            resume = False
        if not resume and ckpt_dir.exists():
            shutil.rmtree(ckpt_dir)
        write_json(ckpt_dir / SETTINGS_FILE, settings)
        manager = tf.train.CheckpointManager(self.checkpoint, str(ckpt_dir), max_to_keep=1)
        if resume and manager.latest_checkpoint:
            self.checkpoint.restore(manager.latest_checkpoint).assert_existing_objects_matched()
        first = int(self.epoch.numpy())
        history = read_history(out_dir / HISTORY_FILE, first)
        if first >= epochs:
            return history
        dataset, steps = epoch_batches(inputs, unit_targets, batch_size=batch_size, seed=seed, first_epoch=first,
                                       epochs=epochs, flip=flip)
        all_callbacks = [EpochCheckpoint(self.checkpoint, manager, out_dir / HISTORY_FILE, history),
                         GanHealthMonitor()]
        if log_dir is not None:
            all_callbacks.append(keras.callbacks.TensorBoard(log_dir=str(log_dir), write_graph=False))
        self.model.fit(dataset, epochs=epochs, initial_epoch=first, steps_per_epoch=steps, shuffle=False, verbose=verbose,
                       callbacks=[*all_callbacks, *callbacks])
        return history


def train_generator(inputs: np.ndarray, targets: np.ndarray, *, signed: bool, out_dir: str | Path,
                    epochs: int = 40, batch_size: int = 8, seed: int = 0, flip: bool = False,
                    config: GeneratorConfig | None = None, resume: bool = True,
                    strategy: tf.distribute.Strategy | None = None, verbose: int = 0,
                    percentile: float = 99.5, log_dir: str | Path | None = None,
                    callbacks: Sequence[keras.callbacks.Callback] = ()) -> GeneratorBundle:
    """Fit a ``MapScale``, train one pix2pix generator input -> map, save and return it.

    Parameters
    ----------
    inputs : np.ndarray
        [N, H, W, C] raw classifier inputs (dmdt [22, 24, 1] / [26, 26, 2], triplets [63, 63, 3]).
    targets : np.ndarray
        [N, H, W, 1] raw explanation maps of those inputs (one method, one group).
    signed : bool
        True for signed methods (blanking, SHAP: tanh, [-1, 1]); False for Grad-CAM / saliency.
    out_dir : path
        Receives ``generator.keras``, ``generator.json``, ``history.json`` and ``checkpoints/``.
    resume : bool
        Continue from the last epoch checkpoint in ``out_dir`` (False: start over).
    strategy : tf.distribute.Strategy, optional
        Networks and optimisers are built in its scope, batch norm synchronised across its replicas,
        losses divided by the replica count before the (summed) gradients.
    log_dir : path, optional
        TensorBoard scalars (d_loss, g_gan, g_l1, g_batch_std) per epoch.
    callbacks : sequence of keras callbacks
        Run after the checkpoint callback of each epoch.
    """
    job = GeneratorJob(targets=targets, signed=signed, out_dir=Path(out_dir))
    return train_generators(inputs, [job], epochs=epochs, batch_size=batch_size, seed=seed, flip=flip,
                            config=config, resume=resume, strategy=strategy, verbose=verbose,
                            percentile=percentile, log_dir=log_dir, callbacks=callbacks)[0]


def train_generators(inputs: np.ndarray, jobs: Sequence[GeneratorJob], *, epochs: int = 40, batch_size: int = 8,
                     seed: int = 0, flip: bool = False, config: GeneratorConfig | None = None, resume: bool = True,
                     strategy: tf.distribute.Strategy | None = None, verbose: int = 0, percentile: float = 99.5,
                     log_dir: str | Path | None = None,
                     callbacks: Sequence[keras.callbacks.Callback] = ()) -> list[GeneratorBundle]:
    """Train one generator per job on the same inputs (one group's methods), sharing built models.

    Each job's result equals ``train_generator(inputs, job.targets, signed=job.signed, ...)`` with
    the same settings; see the module docstring for what is shared. ``log_dir`` gets one
    sub-directory per job (named after the job's ``out_dir``).
    """
    config = config or GeneratorConfig()
    if log_dir is not None and importlib.util.find_spec("tensorboard") is None:
        raise ValueError(f"log_dir={str(log_dir)!r} needs the tensorboard package (pip install tensorboard); "
                         "pass log_dir=None to train without TensorBoard scalars")
    if epochs < 1 or batch_size < 1:
        raise ValueError(f"epochs and batch_size must be >= 1, got epochs={epochs}, batch_size={batch_size}")
    trainers: dict[bool, _GanTrainer] = {}
    bundles = []
    for job in jobs:
        x, y = _validate(inputs, job.targets)
        scale = MapScale.fit(y, signed=job.signed, percentile=percentile)
        hw = (int(x.shape[1]), int(x.shape[2]))
        if job.signed in trainers:
            trainers[job.signed].reset()
        else:
            trainers[job.signed] = _GanTrainer(hw, x.shape[3], signed=job.signed, seed=seed, config=config,
                                               strategy=strategy)
        trainer = trainers[job.signed]
        unit_y = scale.to_unit(y)
        start_level = float(unit_y.mean())
        trainer.start_at(start_level)
        out_dir = Path(job.out_dir)
        job_log = None if log_dir is None else Path(log_dir) / out_dir.name
        run_settings = {"config": config.to_dict(), "scale": scale.to_dict(), "seed": int(seed),
                        "batch_size": int(batch_size), "flip": bool(flip), "start_level": start_level}
        history = trainer.fit(x, unit_y, out_dir, epochs=epochs, batch_size=batch_size, seed=seed,
                              flip=flip, resume=resume, verbose=verbose, log_dir=job_log, callbacks=callbacks,
                              run_settings=run_settings)
        generator = keras.models.clone_model(trainer.model.generator)
        generator.set_weights(trainer.model.generator.get_weights())
        bundle = GeneratorBundle(generator=generator, scale=scale, config=config, original_hw=hw, seed=seed,
                                 history=history)
        bundle.save(out_dir)
        bundles.append(bundle)
    return bundles
