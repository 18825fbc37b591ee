"""Benchmark: our pix2pix trainer vs a tutorial-style loop (batch 1, per-step tf.function), same process.

Both train the same U-Net / PatchGAN (``build_generator`` / ``build_discriminator``, same config) on
the same ``--n`` synthetic dmdt-sized pairs (22x24 -> padded 32x32) for ``--epochs`` epochs:

* tutorial: the TensorFlow pix2pix tutorial's structure: a ``tf.data`` pipeline batched by 1, a
  Python loop calling a ``@tf.function`` train step (two tapes, two Adam) once per image;
* ours: ``train_generator`` (``Pix2Pix.fit`` on a prefetched, seeded pipeline with ``--batch-size``,
  per-epoch checkpoints and the final atomic save included).

Throughput = training images / second over the epochs after the first (steady state; the first
epoch holds the tracing), plus the whole-run figure including tracing, checkpoints and saving.
Peak memory is the process's maximum resident set size (``resource.getrusage``) after each phase;
the tutorial runs first, so its figure is its own peak and ours is the peak of both. ``--jobs K``
also times K generators of one group via ``train_generators`` (one build and trace) against K
separate ``train_generator`` calls.

    python scripts/bench_pix2pix.py --n 256 --epochs 3 --out bench_results/pix2pix.json
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from pix2pixai.atomic import write_json
from pix2pixai.trainers.determinism import enable_determinism
from pix2pixai.trainers.pix2pix import (
    GeneratorConfig, GeneratorJob, build_discriminator, build_generator, pad_to_pow2, train_generator,
    train_generators,
)


def synthetic_pairs(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Random 22x24 inputs; target = input where it is above 0.6, else 0 (unsigned, in [0, 1])."""
    x = np.random.default_rng(seed).random((n, 22, 24, 1)).astype(np.float32)
    return x, np.where(x > 0.6, x, 0).astype(np.float32)


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class EpochTimer(keras.callbacks.Callback):
    """Wall-clock seconds of every epoch."""

    def __init__(self) -> None:
        super().__init__()
        self.seconds: list[float] = []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self._start)


def tutorial_loop(x: np.ndarray, y: np.ndarray, epochs: int, config: GeneratorConfig, seed: int) -> list[float]:
    """The tutorial's trainer with our architecture; returns the wall seconds of every epoch."""
    enable_determinism(seed)
    xp, _ = pad_to_pow2(x)
    yp, _ = pad_to_pow2(y)
    generator = build_generator(xp.shape[1], xp.shape[3], signed=False, config=config)
    discriminator = build_discriminator(xp.shape[1], xp.shape[3], config=config)
    g_opt = keras.optimizers.Adam(config.g_learning_rate, beta_1=config.beta_1)
    d_opt = keras.optimizers.Adam(config.d_learning_rate, beta_1=config.beta_1)
    bce = keras.losses.BinaryCrossentropy(from_logits=True)

    @tf.function
    def train_step(inp, tar):
        with tf.GradientTape() as g_tape, tf.GradientTape() as d_tape:
            fake = generator(inp, training=True)
            real_logits = discriminator([inp, tar], training=True)
            fake_logits = discriminator([inp, fake], training=True)
            g_loss = bce(tf.ones_like(fake_logits), fake_logits) + config.l1_weight * tf.reduce_mean(tf.abs(tar - fake))
            d_loss = bce(tf.ones_like(real_logits), real_logits) + bce(tf.zeros_like(fake_logits), fake_logits)
        g_opt.apply_gradients(zip(g_tape.gradient(g_loss, generator.trainable_variables),
                                  generator.trainable_variables))
        d_opt.apply_gradients(zip(d_tape.gradient(d_loss, discriminator.trainable_variables),
                                  discriminator.trainable_variables))

    dataset = tf.data.Dataset.from_tensor_slices((xp, yp)).shuffle(len(xp), seed=seed).batch(1)
    seconds = []
    for _ in range(epochs):
        start = time.perf_counter()
        for inp, tar in dataset:
            train_step(inp, tar)
        seconds.append(time.perf_counter() - start)
    return seconds


def throughput(n: int, seconds: list[float]) -> dict[str, float]:
    """Images/s over all epochs and over the epochs after the first."""
    steady = seconds[1:] or seconds
    return {"images_per_s_total": n * len(seconds) / sum(seconds),
            "images_per_s_steady": n * len(steady) / sum(steady), "epoch_seconds": seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=256, help="training pairs")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=8, help="our trainer's batch (the pipeline default)")
    parser.add_argument("--ngf", type=int, default=32, help="generator and discriminator base filters")
    parser.add_argument("--jobs", type=int, default=3, help="generators for the shared-vs-separate timing (0: skip)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("bench_results/pix2pix.json"))
    args = parser.parse_args()

    config = GeneratorConfig(ngf=args.ngf, ndf=args.ngf)
    x, y = synthetic_pairs(args.n, args.seed)
    result: dict = {"n": args.n, "epochs": args.epochs, "batch_size": args.batch_size, "ngf": args.ngf}

    result["tutorial"] = throughput(args.n, tutorial_loop(x, y, args.epochs, config, args.seed))
    result["tutorial"]["peak_rss_mb"] = peak_rss_mb()

    timer = EpochTimer()
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        train_generator(x, y, signed=False, out_dir=tmp, epochs=args.epochs, batch_size=args.batch_size,
                        seed=args.seed, config=config, callbacks=[timer])
        whole = time.perf_counter() - start
    result["ours"] = {**throughput(args.n, timer.seconds), "whole_run_seconds": whole,
                      "images_per_s_whole_run": args.n * args.epochs / whole, "peak_rss_mb": peak_rss_mb()}
    result["speedup_steady"] = result["ours"]["images_per_s_steady"] / result["tutorial"]["images_per_s_steady"]
    result["speedup_total"] = result["ours"]["images_per_s_whole_run"] / result["tutorial"]["images_per_s_total"]
    print(f"tutorial (batch 1): {result['tutorial']['images_per_s_steady']:.1f} img/s steady, "
          f"{result['tutorial']['images_per_s_total']:.1f} img/s with tracing; peak RSS "
          f"{result['tutorial']['peak_rss_mb']:.0f} MiB")
    print(f"ours (batch {args.batch_size}): {result['ours']['images_per_s_steady']:.1f} img/s steady, "
          f"{result['ours']['images_per_s_whole_run']:.1f} img/s whole run; peak RSS {result['ours']['peak_rss_mb']:.0f} MiB")
    print(f"speed-up: {result['speedup_steady']:.2f}x steady, {result['speedup_total']:.2f}x whole run")

    if args.jobs > 0:
        targets = [np.where(x > t, x, 0).astype(np.float32) for t in np.linspace(0.5, 0.7, args.jobs)]
        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            for k, target in enumerate(targets):
                train_generator(x, target, signed=False, out_dir=Path(tmp) / f"alone{k}", epochs=1,
                                batch_size=args.batch_size, seed=args.seed, config=config)
            separate = time.perf_counter() - start
            start = time.perf_counter()
            train_generators(x, [GeneratorJob(t, False, Path(tmp) / f"shared{k}") for k, t in enumerate(targets)],
                             epochs=1, batch_size=args.batch_size, seed=args.seed, config=config)
            shared = time.perf_counter() - start
        result["jobs"] = {"k": args.jobs, "epochs": 1, "separate_seconds": separate, "shared_seconds": shared,
                          "speedup": separate / shared}
        print(f"{args.jobs} generators x 1 epoch: separate {separate:.1f} s, shared {shared:.1f} s "
              f"({separate / shared:.2f}x)")
    write_json(args.out, result)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
