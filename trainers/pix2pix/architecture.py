"""Floored U-Net generator and conditional PatchGAN discriminator sized to a power-of-two square image.

Generator: G(x, floor[, group]) = clip(floor + R(x, floor, coordinates[, group planes]), unit_low, 1),
where ``floor`` [S, S, 1] is the mean unit-range training map of the input's group and R is a U-Net
residual whose last convolution is zero-initialised (kernel and bias), so an untrained generator
returns the floor exactly and any gain over it is information taken from the input. Its input is the
image's C channels, the floor, two coordinate planes (row / column in [-1, 1]: absolute dm / dt
position is easy to express) and, for a class-conditional generator (``n_groups > 1``), the one-hot
group broadcast to G planes. This head replaces the earlier ``sigmoid`` / ``tanh`` output started at
the maps' mean by a bias (a saturating head at the sparse maps' level, ~0.01, damped the L1
gradient ~90x); there is no other head.

U-Net R: ``depth`` encoder blocks, each reflect pad 1 -> 4x4 stride-2 valid convolution (halving
the side) -> norm -> LeakyReLU(0.2), with filters ``ngf * min(2**i, 8)``; then mirrored decoder
blocks, nearest x2 upsampling -> reflect pad 1 -> 3x3 valid convolution (resize-convolution: no
transposed-convolution checkerboard, Odena et al. 2016) -> norm -> dropout (first
``dropout_blocks`` only, and only if ``dropout > 0``: off by default, kept for Monte-Carlo spread)
-> ReLU, each concatenated with the encoder output of the same size (skip connection); the last
block upsamples to S and convolves to one channel (the residual). Reflect padding everywhere in R:
a zero-padded convolution sees the image edge as a step and can paint a frame there. The default
depth, ``log2(S)``, reaches a 1x1 bottleneck (32 -> 5 levels, 64 -> 6). As in the reference
pix2pix, the first encoder block and the bottleneck have no normalisation (instance norm of a 1x1
map would erase it).

Discriminator (PatchGAN, conditional): input and map are concatenated on channels, then ``n``
4x4 stride-2 convolutions (filters ``ndf * min(2**i, 8)``, no norm on the first), one 4x4 stride-1
convolution with norm, and a 4x4 stride-1 convolution to one logit per patch. Receptive field of
one logit: ``RF(n) = 9 * 2**n - 2`` pixels (n=1: 16, n=2: 34, n=3: 70 = the classic 70x70). The
default ``n`` is the largest with ``RF(n) <= S`` (32 -> 16x16 patches, 64 -> 34x34), so each logit
judges a local patch rather than the whole image. It is built only when ``gan_weight > 0``.

Normalisation: ``"batch"`` (BatchNormalization) or ``"instance"`` (GroupNormalization with
``groups=-1``, one group per channel, i.e. per-image per-channel statistics).

Seeds: every random layer (each convolution's initialiser, each dropout) gets its own integer seed
derived from the ``seed`` argument alone (``layer_seeds``). An unseeded Keras initialiser or
dropout takes its seed from Python's global ``random`` when it is constructed, and any other
thread of the process may advance that generator between ``keras.utils.set_random_seed`` and the
build: a Dask worker's event loop does, which made the same generator job start from different
weights on a worker than in a plain process.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any

import keras
import numpy as np

from pix2pixai.trainers.pix2pix.layers import CoordinatePlanes, FlooredOutput, GroupPlanes, ReflectPad

NORMS = ("batch", "instance")
LOSSES = ("vanilla", "lsgan")


@dataclass(frozen=True)
class GeneratorConfig:
    """Architecture and optimisation settings of one pix2pix generator (JSON via ``to_dict``).

    ``depth`` / ``d_layers`` = None pick the size-dependent defaults described in the module doc.
    The generator minimises ``gan_weight * L_gan + l1_weight * L1``: ``l1_weight`` is pix2pix's
    lambda (100); ``gan_weight = 0`` is the L1-only control, trained without a discriminator.
    ``dropout`` (off by default) applies to the first ``dropout_blocks`` decoder blocks. ``norm``
    defaults to instance normalisation: a generator trained for a few hundred steps has batch-norm
    running statistics far from its training batches' ones, so its inference output (the one that is
    validated and kept) lags its training output (measured on the synthetic two-group task of
    ``tests/trainers/test_pix2pix_skill.py``: validation L1 rising from the first evaluation with
    batch norm, held-out skill 0.01 vs 0.77 with instance norm at 200-300 steps).
    """

    ngf: int = 32
    ndf: int = 32
    depth: int | None = None
    d_layers: int | None = None
    norm: str = "instance"
    dropout: float = 0.0
    dropout_blocks: int = 3
    loss: str = "vanilla"
    l1_weight: float = 100.0
    gan_weight: float = 1.0
    g_learning_rate: float = 2e-4
    d_learning_rate: float = 2e-4
    beta_1: float = 0.5

    def __post_init__(self) -> None:
        if self.norm not in NORMS:
            raise ValueError(f"GeneratorConfig.norm must be one of {NORMS}, got {self.norm!r}")
        if self.loss not in LOSSES:
            raise ValueError(f"GeneratorConfig.loss must be one of {LOSSES}, got {self.loss!r}")
        for name in ("ngf", "ndf"):
            if getattr(self, name) < 1:
                raise ValueError(f"GeneratorConfig.{name} must be >= 1, got {getattr(self, name)}")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"GeneratorConfig.dropout must be in [0, 1), got {self.dropout}")
        for name in ("l1_weight", "gan_weight"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"GeneratorConfig.{name} must be >= 0, got {getattr(self, name)}")

    def generator_depth(self, side: int) -> int:
        """U-Net levels for a side-S image: ``depth`` or log2(S) (1x1 bottleneck)."""
        max_depth = int(math.log2(side))
        depth = max_depth if self.depth is None else self.depth
        if not 1 <= depth <= max_depth:
            raise ValueError(f"GeneratorConfig.depth must be in [1, {max_depth}] for side {side}, got {depth}")
        return depth

    def discriminator_layers(self, side: int) -> int:
        """Stride-2 PatchGAN layers: ``d_layers`` or the largest n >= 1 with RF(n) <= S."""
        if self.d_layers is not None:
            if not 1 <= self.d_layers <= int(math.log2(side)):
                raise ValueError(f"GeneratorConfig.d_layers must be in [1, log2({side})], got {self.d_layers}")
            return self.d_layers
        n = 1
        while patch_receptive_field(n + 1) <= side:
            n += 1
        return n

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for ``generator.json``."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GeneratorConfig:
        """Inverse of ``to_dict``."""
        return cls(**data)


def patch_receptive_field(n_stride2: int) -> int:
    """Receptive field (pixels) of one PatchGAN logit: ``1 + 3 (2**n - 1) + 2 * 3 * 2**n``."""
    return 9 * 2**n_stride2 - 2


def layer_seeds(seed: int, network: str) -> Iterator[int]:
    """Endless distinct per-layer seeds of one network (``"generator"`` / ``"discriminator"``),
    a function of ``(seed, network, layer number)`` only (see the module docstring for why)."""
    stream = int.from_bytes(network.encode(), "little")
    for k in itertools.count():
        yield int(np.random.SeedSequence([int(seed), stream, k]).generate_state(1)[0] % 2**31)


def _norm(kind: str, name: str, synchronized: bool) -> keras.layers.Layer:
    if kind == "batch":
        return keras.layers.BatchNormalization(synchronized=synchronized, name=name)
    return keras.layers.GroupNormalization(groups=-1, name=name)


def _filters(base: int, level: int) -> int:
    return base * min(2**level, 8)


def _init(seeds: Iterator[int]) -> keras.initializers.Initializer:
    """pix2pix's N(0, 0.02) weight initialiser with the next layer seed."""
    return keras.initializers.RandomNormal(0.0, 0.02, seed=next(seeds))


def build_generator(side: int, in_channels: int, *, signed: bool, config: GeneratorConfig, seed: int = 0,
                    n_groups: int = 1, synchronized: bool = False) -> keras.Model:
    """Floored U-Net: inputs ``image`` [B, S, S, in_channels], ``floor`` [B, S, S, 1] and, when
    ``n_groups > 1``, ``group`` [B, n_groups] (one-hot); output [B, S, S, 1] in [-1, 1] (``signed``)
    or [0, 1], equal to ``floor`` until trained. Initial weights and dropout streams depend on
    ``seed`` only. ``synchronized``: batch norm all-reduces its moments across the replicas of a
    ``tf.distribute`` strategy (see :mod:`pix2pixai.trainers.distribute`)."""
    depth = config.generator_depth(side)
    seeds = layer_seeds(seed, "generator")
    inputs = {"image": keras.Input((side, side, in_channels), name="image"),
              "floor": keras.Input((side, side, 1), name="floor")}
    h = keras.layers.Concatenate(name="image_floor")([inputs["image"], inputs["floor"]])
    h = CoordinatePlanes(name="coordinates")(h)
    if n_groups > 1:
        inputs["group"] = keras.Input((n_groups,), name="group")
        h = keras.layers.Concatenate(name="with_group")([h, GroupPlanes(name="group_planes")([h, inputs["group"]])])
    skips = []
    for i in range(depth):
        h = ReflectPad(1, name=f"enc{i}_pad")(h)
        h = keras.layers.Conv2D(_filters(config.ngf, i), 4, strides=2, kernel_initializer=_init(seeds),
                                use_bias=i in (0, depth - 1), name=f"enc{i}_conv")(h)
        if 0 < i < depth - 1:
            h = _norm(config.norm, f"enc{i}_norm", synchronized)(h)
        h = keras.layers.LeakyReLU(0.2, name=f"enc{i}_act")(h)
        skips.append(h)
    for j, i in enumerate(range(depth - 2, -1, -1)):
        h = _resize_conv(h, _filters(config.ngf, i), f"dec{i}", _init(seeds), use_bias=False)
        h = _norm(config.norm, f"dec{i}_norm", synchronized)(h)
        if j < config.dropout_blocks and config.dropout > 0:
            h = keras.layers.Dropout(config.dropout, seed=next(seeds), name=f"dec{i}_dropout")(h)
        h = keras.layers.ReLU(name=f"dec{i}_act")(h)
        h = keras.layers.Concatenate(name=f"dec{i}_skip")([h, skips[i]])
    residual = _resize_conv(h, 1, "residual", keras.initializers.Zeros(), use_bias=True)
    outputs = FlooredOutput(-1.0 if signed else 0.0, 1.0, name="output")([inputs["floor"], residual])
    return keras.Model(inputs, outputs, name="floored_unet_generator")


def _resize_conv(h: keras.KerasTensor, filters: int, name: str, initializer: keras.initializers.Initializer, *,
                 use_bias: bool) -> keras.KerasTensor:
    """Nearest x2 upsampling -> reflect pad 1 -> 3x3 valid convolution: [B, s, s, c] -> [B, 2s, 2s, filters]."""
    h = keras.layers.UpSampling2D(2, interpolation="nearest", name=f"{name}_up")(h)
    h = ReflectPad(1, name=f"{name}_pad")(h)
    return keras.layers.Conv2D(filters, 3, kernel_initializer=initializer, use_bias=use_bias,
                               bias_initializer="zeros", name=f"{name}_conv")(h)


def build_discriminator(side: int, in_channels: int, *, config: GeneratorConfig, seed: int = 0,
                        synchronized: bool = False) -> keras.Model:
    """Conditional PatchGAN: ([B, S, S, in_channels], [B, S, S, 1]) -> logits [B, S/2**n, S/2**n, 1];
    initial weights depend on ``seed`` only; ``synchronized`` as for :func:`build_generator`."""
    n = config.discriminator_layers(side)
    seeds = layer_seeds(seed, "discriminator")
    image = keras.Input((side, side, in_channels), name="input")
    target = keras.Input((side, side, 1), name="map")
    h = keras.layers.Concatenate(name="pair")([image, target])
    for i in range(n):
        h = keras.layers.Conv2D(_filters(config.ndf, i), 4, strides=2, padding="same", kernel_initializer=_init(seeds),
                                use_bias=i == 0, name=f"d{i}_conv")(h)
        if i > 0:
            h = _norm(config.norm, f"d{i}_norm", synchronized)(h)
        h = keras.layers.LeakyReLU(0.2, name=f"d{i}_act")(h)
    h = keras.layers.Conv2D(_filters(config.ndf, n), 4, padding="same", kernel_initializer=_init(seeds), use_bias=False,
                            name=f"d{n}_conv")(h)
    h = _norm(config.norm, f"d{n}_norm", synchronized)(h)
    h = keras.layers.LeakyReLU(0.2, name=f"d{n}_act")(h)
    logits = keras.layers.Conv2D(1, 4, padding="same", kernel_initializer=_init(seeds), name="patch_logits")(h)
    return keras.Model([image, target], logits, name="patchgan_discriminator")
