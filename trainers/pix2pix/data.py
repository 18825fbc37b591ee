"""Generator data: the seeded validation split, the per-group floors, and the training batches by step.

* ``validation_split``: per group, ``round(fraction * n_g)`` members (at most ``n_g - 1``, so every
  group keeps a training member) drawn with ``default_rng(seed)``; the rest train.
* ``group_floors``: ``floor_g = mean_{i in train, g(i) = g} u_i`` [G, H, W, 1], the pixel-wise mean
  unit-range training map of each group; the generator predicts ``floor_g + residual``.
* ``step_batches``: the batch of step s is a pure function of (seed, s): pass ``p = s // P``
  (P = batches per pass over the training set) draws the permutation
  ``stateless_shuffle(range(n), seed=(seed, p))`` and step s takes its slice ``s % P``
  (``drop_remainder`` when there is more than one batch, so every step has the same shape: one
  trace, no size-1 batch-norm batches); it is gathered, optionally flipped, zero-padded to S x S and
  prefetched. A run resumed at step s therefore sees the same batches as an uninterrupted one.

Flips: off by default. A dmdt image's axes are dm and dt: a left-right flip reverses time and an
up-down flip turns brightening into fading, so neither is a symmetry of the data. ``flip=True``
(meant for ZTF triplets, whose cutouts have no preferred orientation) flips each (image, floor,
map) triple independently along each axis, before padding; the floor flips with the pair because
it is the prior of the map in the orientation the generator sees.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from pix2pixai.trainers.pix2pix.padding import pow2_side


def validation_split(group_index: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train, validation) sorted index arrays of ``group_index`` [N] (values 0..G-1), stratified by group."""
    if not 0 <= fraction < 1:
        raise ValueError(f"validation_fraction must be in [0, 1), got {fraction}")
    rng = np.random.default_rng(seed)
    validation = []
    for group in np.unique(group_index):
        members = np.flatnonzero(group_index == group)
        n_val = min(int(round(fraction * len(members))), len(members) - 1)
        validation.append(rng.permutation(members)[:n_val])
    val = np.sort(np.concatenate(validation)).astype(np.int64)
    return np.setdiff1d(np.arange(len(group_index)), val), val


def group_floors(unit_targets: np.ndarray, group_index: np.ndarray, n_groups: int) -> np.ndarray:
    """[G, H, W, 1] float32: the mean unit-range map of each group's members (every group needs one)."""
    floors = []
    for group in range(n_groups):
        members = unit_targets[group_index == group]
        if len(members) == 0:
            raise ValueError(f"group {group} has no training pairs: cannot compute its floor")
        floors.append(members.astype(np.float64).mean(axis=0))
    return np.stack(floors).astype(np.float32)


def generator_inputs(images: np.ndarray, floors: np.ndarray, group_index: np.ndarray,
                     n_groups: int) -> dict[str, np.ndarray]:
    """The generator's padded input dict for raw ``images`` [N, H, W, C] of groups ``group_index`` [N]:
    ``image`` [N, S, S, C], ``floor`` [N, S, S, 1] (the group's floor), ``group`` [N, G] one-hot if G > 1."""
    side = pow2_side(images.shape[1:3])
    pad = ((0, 0), (0, side - images.shape[1]), (0, side - images.shape[2]), (0, 0))
    inputs = {"image": np.pad(images.astype(np.float32, copy=False), pad),
              "floor": np.pad(floors[group_index], pad)}
    if n_groups > 1:
        inputs["group"] = np.eye(n_groups, dtype=np.float32)[group_index]
    return inputs


def step_batches(images: np.ndarray, unit_targets: np.ndarray, floors: np.ndarray, group_index: np.ndarray, *,
                 batch_size: int, seed: int, first_step: int, steps: int, flip: bool) -> tf.data.Dataset:
    """Batches ({``image``, ``floor``[, ``group``]}, map) of steps ``first_step .. steps - 1``, padded to S x S.

    ``images`` [N, H, W, C], ``unit_targets`` [N, H, W, 1], ``floors`` [G, H, W, 1], ``group_index`` [N].
    """
    n, n_groups = len(images), len(floors)
    batch = min(batch_size, n)
    per_pass = n // batch if n > batch else 1
    side = pow2_side(images.shape[1:3])
    pad = [[0, 0], [0, side - images.shape[1]], [0, side - images.shape[2]], [0, 0]]
    x_all, y_all = tf.constant(images, tf.float32), tf.constant(unit_targets, tf.float32)
    floor_all, g_all = tf.constant(floors, tf.float32), tf.constant(group_index, tf.int32)
    seed64 = tf.constant(seed, tf.int64)

    def one_step(step: tf.Tensor) -> tuple[dict[str, tf.Tensor], tf.Tensor]:
        order = tf.random.experimental.stateless_shuffle(tf.range(n), seed=tf.stack([seed64, step // per_pass]))
        idx = order[(step % per_pass) * batch:(step % per_pass + 1) * batch]
        groups = tf.gather(g_all, idx)
        x, floor, y = tf.gather(x_all, idx), tf.gather(floor_all, groups), tf.gather(y_all, idx)
        if flip:
            x, floor, y = _random_flips((x, floor, y), tf.stack([seed64, -1 - step]))
        inputs = {"image": tf.pad(x, pad), "floor": tf.pad(floor, pad)}
        if n_groups > 1:
            inputs["group"] = tf.one_hot(groups, n_groups)
        return inputs, tf.pad(y, pad)

    return tf.data.Dataset.range(first_step, steps).map(one_step).prefetch(tf.data.AUTOTUNE)


def _random_flips(arrays: tuple[tf.Tensor, ...], seed: tf.Tensor) -> tuple[tf.Tensor, ...]:
    """Flip each example up-down and/or left-right with probability 1/2 each (the same flips for every array)."""
    coins = tf.random.stateless_uniform([tf.shape(arrays[0])[0], 2], seed=seed) < 0.5
    for axis, coin in ((1, coins[:, 0]), (2, coins[:, 1])):
        where = coin[:, None, None, None]
        arrays = tuple(tf.where(where, tf.reverse(a, [axis]), a) for a in arrays)
    return arrays
