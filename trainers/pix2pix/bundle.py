"""A trained generator with everything needed to use it: scale, floors, config, seed, original size.

On disk (one directory per generator): ``generator.keras`` (the floored U-Net), ``generator.json``
(``scale``, ``config``, ``seed``, ``original_hw``, ``in_channels``), ``floors.npz`` (``floors``
[G, H, W, 1] float32, the unit-range mean training map of each group, and ``group_ids`` [G], the
group label, integer or string, each floor belongs to), ``history.json`` (per-evaluation losses and
validation L1, ``best_step``, ``best_val_g_l1``, ``floor_val_g_l1``, ``stopped_early``), all written
atomically, and ``checkpoints/`` (for resuming).

``predict_unit(x, groups)`` feeds each input with the floor of its group (and, for a
class-conditional generator, its one-hot group). Inference is deterministic by default
(``training=False``: dropout off, batch-norm running statistics). ``mc_samples=k`` turns on
Monte-Carlo dropout (for a generator built with ``dropout > 0``): k stochastic passes with dropout on
and normalisation still in inference mode, returning the per-pixel mean and standard deviation; the
dropout RNG is re-seeded from ``seed`` first, so the same call gives the same samples.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from pix2pixai.atomic import save_npz, write_file, write_json
from pix2pixai.trainers.pix2pix.architecture import GeneratorConfig
from pix2pixai.trainers.pix2pix.data import generator_inputs
from pix2pixai.trainers.pix2pix.padding import crop
from pix2pixai.trainers.pix2pix.scaling import MapScale

MODEL_FILE = "generator.keras"
META_FILE = "generator.json"
FLOORS_FILE = "floors.npz"
HISTORY_FILE = "history.json"


@dataclass
class GeneratorBundle:
    """Generator + its ``MapScale`` and floors; ``predict`` maps raw inputs [N, H, W, C] to raw maps [N, H, W, 1].

    ``floors`` [G, H, W, 1] unit-range mean training maps of the groups ``group_ids`` [G] (sorted labels:
    integers or strings).
    """

    generator: keras.Model
    scale: MapScale
    config: GeneratorConfig
    original_hw: tuple[int, int]
    seed: int
    floors: np.ndarray
    group_ids: np.ndarray
    history: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.in_channels = int(self.generator.get_layer("image").output.shape[-1])
        self.floors = np.asarray(self.floors, np.float32)
        self.group_ids = np.asarray(self.group_ids)
        if self.floors.shape != (len(self.group_ids), *self.original_hw, 1):
            raise ValueError(f"floors must be [G, H, W, 1] = {(len(self.group_ids), *self.original_hw, 1)}, "
                             f"got shape {self.floors.shape}")
        self._mc_forward = tf.function(self._stochastic_pass)

    def group_index(self, n: int, groups: np.ndarray | None) -> np.ndarray:
        """Positions [n] in ``group_ids`` of ``groups`` [n]; None means the single group of a one-group bundle."""
        if groups is None:
            if len(self.group_ids) != 1:
                raise ValueError(f"this generator is class-conditional over groups {self.group_ids.tolist()}: "
                                 "pass groups=[N] with each input's group")
            return np.zeros(n, np.int64)
        groups = np.asarray(groups)
        if groups.shape != (n,):
            raise ValueError(f"groups must be [N] = [{n}], got shape {groups.shape}")
        index = np.searchsorted(self.group_ids, groups).clip(0, len(self.group_ids) - 1)
        unknown = self.group_ids[index] != groups
        if unknown.any():
            raise ValueError(f"groups {np.unique(groups[unknown]).tolist()} have no floor; this generator knows "
                             f"{self.group_ids.tolist()}")
        return index

    def unit_floors(self, n: int, groups: np.ndarray | None = None) -> np.ndarray:
        """The floor of each input's group [n, H, W, 1]: what the untrained generator predicts."""
        return self.floors[self.group_index(n, groups)]

    def predict_unit(self, inputs: np.ndarray, groups: np.ndarray | None = None, *, mc_samples: int = 0,
                     batch_size: int = 256, seed: int | None = None) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        """Unit-range maps [N, H, W, 1] of raw ``inputs`` [N, H, W, C] of groups ``groups`` [N]
        (None for a one-group generator); with ``mc_samples=k > 0`` the (mean, std) of k dropout passes."""
        x = self._check(inputs)
        padded = generator_inputs(x, self.floors, self.group_index(len(x), groups), len(self.group_ids))
        if mc_samples <= 0:
            out = self.generator.predict(padded, batch_size=batch_size, verbose=0)
            return crop(out, self.original_hw)
        self._seed_dropout(self.seed if seed is None else seed)
        samples = np.stack([crop(self._stochastic_maps(padded, batch_size), self.original_hw)
                            for _ in range(mc_samples)])
        return samples.mean(axis=0), samples.std(axis=0)

    def predict(self, inputs: np.ndarray, groups: np.ndarray | None = None, *, mc_samples: int = 0,
                batch_size: int = 256, seed: int | None = None) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        """Raw-scale maps (``scale.from_unit`` of ``predict_unit``); MC: (mean, std) in raw units."""
        unit = self.predict_unit(inputs, groups, mc_samples=mc_samples, batch_size=batch_size, seed=seed)
        if mc_samples <= 0:
            return self.scale.from_unit(unit)
        mean, std = unit
        return self.scale.from_unit(mean), self.scale.from_unit(std)

    def save(self, out_dir: Path) -> None:
        """Write ``generator.keras``, ``generator.json``, ``floors.npz`` and ``history.json`` atomically."""
        out_dir = Path(out_dir)
        write_file(out_dir / MODEL_FILE, self.generator.save, suffix=".keras")
        save_npz(out_dir / FLOORS_FILE, floors=self.floors, group_ids=self.group_ids)
        write_json(out_dir / HISTORY_FILE, self.history)
        write_json(out_dir / META_FILE, {
            "scale": self.scale.to_dict(), "config": self.config.to_dict(), "seed": self.seed,
            "original_hw": list(self.original_hw), "in_channels": self.in_channels,
        })

    def _check(self, inputs: np.ndarray) -> np.ndarray:
        x = np.asarray(inputs, dtype=np.float32)
        expected = (*self.original_hw, self.in_channels)
        if x.ndim != 4 or x.shape[1:] != expected:
            raise ValueError(f"generator inputs must be [N, {expected[0]}, {expected[1]}, {expected[2]}], "
                             f"got shape {x.shape}")
        return x

    def _stochastic_pass(self, x: dict[str, tf.Tensor]) -> tf.Tensor:
        """Dropout on, batch norm frozen: Keras 3 BatchNormalization uses running statistics when
        ``trainable`` is False even under ``training=True`` (see ``_seed_dropout``)."""
        return self.generator(x, training=True)

    def _stochastic_maps(self, padded: dict[str, np.ndarray], batch_size: int) -> np.ndarray:
        """One Monte-Carlo dropout pass over all inputs, in batches: [N, S, S, 1]."""
        starts = range(0, len(padded["image"]), batch_size)
        batches = ({key: tf.constant(value[i:i + batch_size]) for key, value in padded.items()} for i in starts)
        return np.concatenate([self._mc_forward(batch).numpy() for batch in batches])

    def _seed_dropout(self, seed: int) -> None:
        """Freeze the (inference-only) generator and set every dropout RNG state from ``seed``."""
        self.generator.trainable = False
        for k, layer in enumerate(self.generator.layers):
            if isinstance(layer, keras.layers.Dropout):
                state = layer.seed_generator.state
                state.assign(np.array([seed, k], dtype=state.dtype))


def load_generator(directory: str | Path) -> GeneratorBundle:
    """Reload a bundle written by ``GeneratorBundle.save`` (identical outputs to the saved one)."""
    directory = Path(directory)
    model_path, meta_path, floors_path = directory / MODEL_FILE, directory / META_FILE, directory / FLOORS_FILE
    for path in (model_path, meta_path, floors_path):
        if not path.exists():
            raise FileNotFoundError(f"{path}: missing; expected a generator directory written by train_generator")
    meta: dict[str, Any] = json.loads(meta_path.read_text())
    history_path = directory / HISTORY_FILE
    with np.load(floors_path) as floors:
        floor_maps, group_ids = floors["floors"], floors["group_ids"]
    return GeneratorBundle(
        generator=keras.models.load_model(model_path, compile=False),
        scale=MapScale.from_dict(meta["scale"]),
        config=GeneratorConfig.from_dict(meta["config"]),
        original_hw=(int(meta["original_hw"][0]), int(meta["original_hw"][1])),
        seed=int(meta["seed"]),
        floors=floor_maps,
        group_ids=group_ids,
        history=json.loads(history_path.read_text()) if history_path.exists() else {},
    )
