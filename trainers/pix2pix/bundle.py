"""A trained generator with everything needed to use it: scale, config, seed, original size.

On disk (one directory per (group, method)): ``generator.keras`` (the U-Net) and ``generator.json``
(``scale``, ``config``, ``seed``, ``original_hw``, ``in_channels``), both written atomically, plus
``history.json`` (per-epoch losses) and ``checkpoints/`` (for resuming).

Inference is deterministic by default (``training=False``: dropout off, batch-norm running
statistics). ``mc_samples=k`` turns on Monte-Carlo dropout: k stochastic passes with dropout on and
normalisation still in inference mode, returning the per-pixel mean and standard deviation; the
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

from pix2pixai.atomic import write_file, write_json
from pix2pixai.trainers.pix2pix.architecture import GeneratorConfig
from pix2pixai.trainers.pix2pix.padding import crop, pad_to_pow2
from pix2pixai.trainers.pix2pix.scaling import MapScale

MODEL_FILE = "generator.keras"
META_FILE = "generator.json"


@dataclass
class GeneratorBundle:
    """Generator + its ``MapScale``; ``predict`` maps raw inputs [N, H, W, C] to raw maps [N, H, W, 1]."""

    generator: keras.Model
    scale: MapScale
    config: GeneratorConfig
    original_hw: tuple[int, int]
    seed: int
    history: dict[str, list[float]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.in_channels = int(self.generator.input_shape[-1])
        self._mc_forward = tf.function(self._stochastic_pass)

    def predict_unit(self, inputs: np.ndarray, *, mc_samples: int = 0, batch_size: int = 256,
                     seed: int | None = None) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        """Unit-range maps [N, H, W, 1]; with ``mc_samples=k > 0`` the (mean, std) of k dropout passes."""
        padded = self._pad(inputs)
        if mc_samples <= 0:
            out = self.generator.predict(padded, batch_size=batch_size, verbose=0)
            return crop(out, self.original_hw)
        self._seed_dropout(self.seed if seed is None else seed)
        samples = np.stack([crop(self._stochastic_maps(padded, batch_size), self.original_hw)
                            for _ in range(mc_samples)])
        return samples.mean(axis=0), samples.std(axis=0)

    def predict(self, inputs: np.ndarray, *, mc_samples: int = 0, batch_size: int = 256,
                seed: int | None = None) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        """Raw-scale maps (``scale.from_unit`` of ``predict_unit``); MC: (mean, std) in raw units."""
        unit = self.predict_unit(inputs, mc_samples=mc_samples, batch_size=batch_size, seed=seed)
        if mc_samples <= 0:
            return self.scale.from_unit(unit)
        mean, std = unit
        return self.scale.from_unit(mean), self.scale.from_unit(std)

    def save(self, out_dir: Path) -> None:
        """Write ``generator.keras`` and ``generator.json`` atomically into ``out_dir``."""
        out_dir = Path(out_dir)
        write_file(out_dir / MODEL_FILE, self.generator.save, suffix=".keras")
        write_json(out_dir / META_FILE, {
            "scale": self.scale.to_dict(), "config": self.config.to_dict(), "seed": self.seed,
            "original_hw": list(self.original_hw), "in_channels": self.in_channels,
        })

    def _pad(self, inputs: np.ndarray) -> np.ndarray:
        x = np.asarray(inputs, dtype=np.float32)
        expected = (*self.original_hw, self.in_channels)
        if x.ndim != 4 or x.shape[1:] != expected:
            raise ValueError(f"generator inputs must be [N, {expected[0]}, {expected[1]}, {expected[2]}], "
                             f"got shape {x.shape}")
        return pad_to_pow2(x)[0]

    def _stochastic_pass(self, x: tf.Tensor) -> tf.Tensor:
        """Dropout on, batch norm frozen: Keras 3 BatchNormalization uses running statistics when
        ``trainable`` is False even under ``training=True`` (see ``_seed_dropout``)."""
        return self.generator(x, training=True)

    def _stochastic_maps(self, padded: np.ndarray, batch_size: int) -> np.ndarray:
        """One Monte-Carlo dropout pass over all inputs, in batches: [N, S, S, 1]."""
        return np.concatenate([self._mc_forward(tf.constant(padded[i:i + batch_size])).numpy()
                               for i in range(0, len(padded), batch_size)])

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
    model_path, meta_path = directory / MODEL_FILE, directory / META_FILE
    for path in (model_path, meta_path):
        if not path.exists():
            raise FileNotFoundError(f"{path}: missing; expected a generator directory written by train_generator")
    meta: dict[str, Any] = json.loads(meta_path.read_text())
    history_path = directory / "history.json"
    return GeneratorBundle(
        generator=keras.models.load_model(model_path, compile=False),
        scale=MapScale.from_dict(meta["scale"]),
        config=GeneratorConfig.from_dict(meta["config"]),
        original_hw=(int(meta["original_hw"][0]), int(meta["original_hw"][1])),
        seed=int(meta["seed"]),
        history=json.loads(history_path.read_text()) if history_path.exists() else {},
    )
