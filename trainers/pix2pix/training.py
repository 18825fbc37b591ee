"""Train pix2pix generators: one (group, method) with ``train_generator``, many with ``train_generators``.

Budget and stopping: ``steps`` generator updates (rounded up to a whole number of evaluations), a
seeded validation part of the given pairs (``validation_fraction`` of each group, see
``data.validation_split``) scored every ``eval_every`` steps by its L1 on the original pixels, the
weights of the best score kept, and training stopped after ``patience`` evaluations without
improvement. The untrained generator (the floor) is scored first and counts as step 0, so a
generator that never beats its floor on validation is returned as the floor (``best_step`` 0).
Keras runs it as ``fit(steps_per_epoch=eval_every)`` with validation data, one Keras epoch per
evaluation, checkpointed after each, so a killed training resumes where it stopped and ends with
the same generator as an uninterrupted one. ``history.json`` holds per evaluation ``step``, the
training losses and ``val_g_l1``, and ``best_step``, ``best_val_g_l1``, ``floor_val_g_l1`` (the
floor's validation L1: ``1 - best / floor`` is the validation skill) and ``stopped_early``.

Floors: the unit-range targets of the *training* part give each group's floor (its mean map,
``data.group_floors``); the generator predicts ``floor + residual``, so the validation pairs never
enter what the floor knows. ``groups`` [N] (any integers, e.g. class indices) trains one
class-conditional generator on all groups (group one-hot planes as an input); None is one group.
Group labels are integers or strings (class / subcategory names); the sorted distinct labels are
the bundle's ``group_ids``.
The ``MapScale`` is fitted on the training part too.

Many generators (``train_generators``): the jobs share the inputs, groups and split, so the networks
are built, compiled and traced once per output kind (signed / unsigned) and reused: before each job
their variables (weights, batch-norm statistics, dropout RNG states, best-weights state) and the
optimisers' slots are reset to the snapshot taken right after seeding and building, which is exactly
the state a fresh ``train_generator`` call would start from. Every job therefore gives the same
generator as its own ``train_generator`` call with the same seed, at the cost of one model build
and one tf.function trace per kind instead of per job.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import math
import shutil
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import keras
import numpy as np
import tensorflow as tf

from pix2pixai.atomic import write_json
from pix2pixai.trainers.determinism import enable_determinism
from pix2pixai.trainers.distribute import replicas
from pix2pixai.trainers.pix2pix.architecture import GeneratorConfig, build_discriminator, build_generator
from pix2pixai.trainers.pix2pix.bundle import HISTORY_FILE, GeneratorBundle
from pix2pixai.trainers.pix2pix.callbacks import (
    MONITOR, BestWeights, EvaluationCheckpoint, GanHealthMonitor, read_history,
)
from pix2pixai.trainers.pix2pix.data import generator_inputs, group_floors, step_batches, validation_split
from pix2pixai.trainers.pix2pix.model import Pix2Pix
from pix2pixai.trainers.pix2pix.padding import pad_to_pow2, pow2_side, valid_mask
from pix2pixai.trainers.pix2pix.scaling import MapScale

CHECKPOINT_DIR = "checkpoints"
SETTINGS_FILE = "settings.json"
VALIDATION_BATCH = 64


@dataclass(frozen=True)
class GeneratorJob:
    """One (group, method) generator of ``train_generators``: raw target maps [N, H, W, 1] and where to save."""

    targets: np.ndarray
    signed: bool
    out_dir: Path


@dataclass(frozen=True)
class _Split:
    """The pairs' group positions [N] (0..G-1), the sorted group labels [G], and the train / validation indices."""

    group_index: np.ndarray
    group_ids: np.ndarray
    train: np.ndarray
    validation: np.ndarray


def _digest(*arrays: np.ndarray) -> str:
    """SHA-256 of the arrays' shapes and bytes: which data a checkpoint was trained on."""
    sha = hashlib.sha256()
    for array in arrays:
        sha.update(str(array.shape).encode())
        sha.update(np.ascontiguousarray(array).tobytes())
    return sha.hexdigest()


def _read_json(path: Path) -> object:
    return json.loads(path.read_text()) if path.exists() else None


def _validate_inputs(inputs: np.ndarray) -> np.ndarray:
    x = np.asarray(inputs, np.float32)
    if x.ndim != 4:
        raise ValueError(f"inputs must be [N, H, W, C], got shape {x.shape}")
    if len(x) < 2:
        raise ValueError(f"need >= 2 training pairs, got {len(x)}")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"inputs contain {int(np.sum(~np.isfinite(x)))} non-finite values")
    return x


def _validate_targets(x: np.ndarray, targets: np.ndarray) -> np.ndarray:
    y = np.asarray(targets, np.float32)
    if y.shape != (*x.shape[:3], 1):
        raise ValueError(f"targets must be [N, H, W, 1] = {(*x.shape[:3], 1)} to match inputs, got shape {y.shape}")
    return y


def _split(n: int, groups: np.ndarray | None, fraction: float, seed: int) -> _Split:
    """Group positions and the stratified, seeded validation split of ``n`` pairs."""
    groups = np.zeros(n, np.int64) if groups is None else np.asarray(groups)
    if groups.shape != (n,) or groups.dtype.kind not in "iuU":
        raise ValueError(f"groups must be [N] = [{n}] integers or strings, got shape {groups.shape} "
                         f"dtype {groups.dtype}")
    group_ids, group_index = np.unique(groups, return_inverse=True)
    train, validation = validation_split(group_index, fraction, seed)
    return _Split(group_index, group_ids, train, validation)


class _GanTrainer:
    """Seeded, compiled Pix2Pix for one (input shape, groups, signed) kind, resettable to its initial state."""

    def __init__(self, hw: tuple[int, int], in_channels: int, *, n_groups: int, signed: bool, seed: int,
                 config: GeneratorConfig, eval_every: int, patience: int | None,
                 strategy: tf.distribute.Strategy | None) -> None:
        enable_determinism(seed)
        side = pow2_side(hw)
        with strategy.scope() if strategy is not None else contextlib.nullcontext():
            sync = replicas(strategy) > 1
            generator = build_generator(side, in_channels, signed=signed, config=config, seed=seed,
                                        n_groups=n_groups, synchronized=sync)
            discriminator = (build_discriminator(side, in_channels, config=config, seed=seed, synchronized=sync)
                             if config.gan_weight > 0 else None)
            self.model = Pix2Pix(generator, discriminator, valid_mask(hw, side))
            self.model.compile(
                keras.optimizers.Adam(config.g_learning_rate, beta_1=config.beta_1),
                None if discriminator is None else keras.optimizers.Adam(config.d_learning_rate, beta_1=config.beta_1),
                loss=config.loss, l1_weight=config.l1_weight, gan_weight=config.gan_weight)
        self.epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="epoch")
        self.best = BestWeights(generator, eval_every=eval_every, patience=patience)
        parts: dict[str, Any] = {
            "generator": generator, "g_optimizer": self.model.g_optimizer, "epoch": self.epoch,
            "best": self.best.state,
            "dropout_rng": [layer.seed_generator.state for layer in generator.layers
                            if isinstance(layer, keras.layers.Dropout)]}
        if discriminator is not None:
            parts.update(discriminator=discriminator, d_optimizer=self.model.d_optimizer)
        self.checkpoint = tf.train.Checkpoint(**parts)
        self._initial = [v.numpy() for v in self._state_variables()]

    def _state_variables(self) -> list:
        m = self.model
        networks = [*m.generator.variables, *m.g_optimizer.variables]
        if m.discriminator is not None:
            networks += [*m.discriminator.variables, *m.d_optimizer.variables]
        return [*networks, *self.best.state, self.epoch]

    def reset(self) -> None:
        """Back to the freshly built, seeded state (weights, statistics, RNG states, optimiser slots, best)."""
        for variable, value in zip(self._state_variables(), self._initial):
            variable.assign(value)

    def fit(self, x: np.ndarray, unit_y: np.ndarray, floors: np.ndarray, split: _Split, out_dir: Path, *,
            steps: int, eval_every: int, batch_size: int, seed: int, flip: bool, resume: bool, verbose: int,
            log_dir: str | Path | None, callbacks: Sequence[keras.callbacks.Callback],
            run_settings: dict) -> dict[str, Any]:
        """Train into ``out_dir`` (resuming from its checkpoints if asked), load the best weights into
        the generator and return the history (per-evaluation lists and the best step).

        Checkpoints are only resumed when ``run_settings`` (everything but the step budget) and a
        digest of the data match those they were written with; otherwise training starts over
        with a warning, since continuing another run's optimiser state would be wrong.
        """
        ckpt_dir = out_dir / CHECKPOINT_DIR
        settings = {**run_settings, "data_sha256": _digest(x, unit_y, split.group_index)}
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
        evaluations = math.ceil(steps / eval_every)
        history = read_history(out_dir / HISTORY_FILE, first)
        validation = self._validation_data(x, unit_y, floors, split)
        if first == 0 and validation is not None:
            self.best.start(self.model.evaluate(validation, verbose=0, return_dict=True)["g_l1"])
        if first < evaluations and not self.best.stopped:
            train = split.train
            dataset = step_batches(x[train], unit_y[train], floors, split.group_index[train], batch_size=batch_size,
                                   seed=seed, first_step=first * eval_every, steps=evaluations * eval_every, flip=flip)
            all_callbacks = [self.best, EvaluationCheckpoint(self.checkpoint, manager, out_dir / HISTORY_FILE, history,
                                                             eval_every), GanHealthMonitor()]
            if log_dir is not None:
                all_callbacks.append(keras.callbacks.TensorBoard(log_dir=str(log_dir), write_graph=False))
            self.model.fit(dataset, epochs=evaluations, initial_epoch=first, steps_per_epoch=eval_every, shuffle=False,
                           validation_data=validation, verbose=verbose,
                           callbacks=[*all_callbacks, *callbacks])
        self.best.restore()
        scores = {f"best_{MONITOR}": float(self.best.best_score.numpy()),
                  f"floor_{MONITOR}": float(self.best.floor_score.numpy())}
        return {**history, "best_step": int(self.best.best_step.numpy()), "stopped_early": self.best.stopped,
                **{key: value if math.isfinite(value) else None for key, value in scores.items()}}

    @staticmethod
    def _validation_data(x: np.ndarray, unit_y: np.ndarray, floors: np.ndarray,
                         split: _Split) -> tf.data.Dataset | None:
        """The validation pairs, padded and batched (None without any)."""
        val = split.validation
        if len(val) == 0:
            return None
        inputs = generator_inputs(x[val], floors, split.group_index[val], len(floors))
        return tf.data.Dataset.from_tensor_slices((inputs, pad_to_pow2(unit_y[val])[0])).batch(VALIDATION_BATCH)


def train_generator(inputs: np.ndarray, targets: np.ndarray, *, signed: bool, out_dir: str | Path,
                    groups: np.ndarray | None = None, **options: Any) -> GeneratorBundle:
    """Train one generator input -> map (``train_generators`` with one job); ``options`` as there."""
    return train_generators(inputs, [GeneratorJob(targets=targets, signed=signed, out_dir=Path(out_dir))],
                            groups=groups, **options)[0]


def train_generators(inputs: np.ndarray, jobs: Sequence[GeneratorJob], *, groups: np.ndarray | None = None,
                     steps: int = 2000, batch_size: int = 8, seed: int = 0, validation_fraction: float = 0.2,
                     eval_every: int = 100, patience: int | None = 5, flip: bool = False,
                     config: GeneratorConfig | None = None, resume: bool = True,
                     strategy: tf.distribute.Strategy | None = None, verbose: int = 0, percentile: float = 99.5,
                     log_dir: str | Path | None = None,
                     callbacks: Sequence[keras.callbacks.Callback] = ()) -> list[GeneratorBundle]:
    """Train one floored generator per job on the same inputs, sharing built models; save and return them.

    Parameters
    ----------
    inputs : np.ndarray
        [N, H, W, C] raw classifier inputs (dmdt [22, 24, 1] / [26, 26, 2], triplets [63, 63, 3]).
    jobs : sequence of GeneratorJob
        Raw target maps [N, H, W, 1] of those inputs (one method each), signed or not, and the folder
        receiving ``generator.keras``, ``generator.json``, ``floors.npz``, ``history.json`` and
        ``checkpoints/``.
    groups : np.ndarray, optional
        [N] group of each pair (integers or strings, e.g. class names): one class-conditional
        generator with a floor per group. None: one group.
    steps : int
        Generator updates, rounded up to a multiple of ``eval_every``.
    batch_size, seed, flip : see ``data.step_batches``; the same seed gives the same generators.
    validation_fraction : float
        Share of each group's pairs held out to score the generator every ``eval_every`` steps
        (0: no validation, the last weights are kept).
    patience : int or None
        Stop after this many evaluations without a lower validation L1 (None: run the budget).
    config : GeneratorConfig, optional
        Networks and losses (``gan_weight = 0``: L1 only, no discriminator).
    resume : bool
        Continue from the last evaluation's checkpoint in each ``out_dir`` (False: start over).
    strategy : tf.distribute.Strategy, optional
        Networks and optimisers are built in its scope, batch norm synchronised across its replicas,
        losses divided by the replica count before the (summed) gradients.
    percentile : float
        Of ``|map|`` over the training maps: the ``MapScale``.
    log_dir : path, optional
        TensorBoard scalars per evaluation, one sub-directory per job (named after its ``out_dir``).
    callbacks : sequence of keras callbacks
        Run after the checkpoint callback of each evaluation.

    Each job's result equals ``train_generator(inputs, job.targets, signed=job.signed, ...)`` with the
    same settings (see the module docstring for what is shared).
    """
    config = config or GeneratorConfig()
    if log_dir is not None and importlib.util.find_spec("tensorboard") is None:
        raise ValueError(f"log_dir={str(log_dir)!r} needs the tensorboard package (pip install tensorboard); "
                         "pass log_dir=None to train without TensorBoard scalars")
    if steps < 1 or batch_size < 1 or eval_every < 1 or (patience is not None and patience < 1):
        raise ValueError(f"steps, batch_size, eval_every and patience must be >= 1, got steps={steps}, "
                         f"batch_size={batch_size}, eval_every={eval_every}, patience={patience}")
    x = _validate_inputs(inputs)
    split = _split(len(x), groups, validation_fraction, seed)
    hw = (int(x.shape[1]), int(x.shape[2]))
    trainers: dict[bool, _GanTrainer] = {}
    bundles = []
    for job in jobs:
        y = _validate_targets(x, job.targets)
        scale = MapScale.fit(y[split.train], signed=job.signed, percentile=percentile)
        unit_y = scale.to_unit(y)
        floors = group_floors(unit_y[split.train], split.group_index[split.train], len(split.group_ids))
        if job.signed in trainers:
            trainers[job.signed].reset()
        else:
            trainers[job.signed] = _GanTrainer(hw, x.shape[3], n_groups=len(split.group_ids), signed=job.signed,
                                               seed=seed, config=config, eval_every=eval_every, patience=patience,
                                               strategy=strategy)
        trainer = trainers[job.signed]
        out_dir = Path(job.out_dir)
        run_settings = {"config": config.to_dict(), "scale": scale.to_dict(), "seed": int(seed),
                        "batch_size": int(batch_size), "flip": bool(flip), "eval_every": int(eval_every),
                        "patience": patience, "validation_fraction": float(validation_fraction)}
        history = trainer.fit(x, unit_y, floors, split, out_dir, steps=steps, eval_every=eval_every,
                              batch_size=batch_size, seed=seed, flip=flip, resume=resume, verbose=verbose,
                              log_dir=None if log_dir is None else Path(log_dir) / out_dir.name,
                              callbacks=callbacks, run_settings=run_settings)
        generator = keras.models.clone_model(trainer.model.generator)
        generator.set_weights(trainer.model.generator.get_weights())
        bundle = GeneratorBundle(generator=generator, scale=scale, config=config, original_hw=hw, seed=seed,
                                 floors=floors, group_ids=split.group_ids, history=history)
        bundle.save(out_dir)
        bundles.append(bundle)
    return bundles
