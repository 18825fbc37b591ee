"""Benchmark: training throughput of the floored pix2pix generator and its share of this CPU's matmul FLOP/s.

For each case (input side S and channels, ``--ngf``, batch size) the script builds the generator and
discriminator the trainer builds (``build_generator`` / ``build_discriminator``, GAN on, as in the
full profile), compiles ``Pix2Pix`` and runs ``fit`` on ``data.step_batches`` (the trainer's
pipeline), timing every step with a callback:

* examples/s: batch x steps / seconds over the steps after ``--warmup`` (tracing excluded), with
  ``--steps-per-execution`` train steps per ``tf.function`` call (Keras ``steps_per_execution``);
* FLOPs of one train step, counted from the layer shapes: ``2 * Hout * Wout * k^2 * Cin * Cout`` per
  convolution forward; its input and weight gradients cost the same each, so the generator counts
  3 forwards and the discriminator 7 (two forwards with both gradients for its own loss, one input
  gradient for the generator's). Element-wise ops (norms, activations, Adam) are left out: they
  are memory-bound and < 1% of the FLOPs. TensorFlow's profiler (``float_operation`` on the graph of
  ``tf.function(train_step)``) is reported beside it: it agrees on the forward convolutions but
  over-counts the gradients of the valid-padded (reflect-padded) convolutions, up to 8x on the 2x2
  -> 1x1 bottleneck, from their padded input size;
* the achieved FLOP/s (layer count) as a fraction of a float32 2048 x 2048 matmul's FLOP/s
  (``2 n^3`` per product), measured in the same process.

``--jit`` also times each case with ``jit_compile=True`` (XLA) on the train step; Keras refuses XLA
under op determinism, so those cases run with determinism off (timing only). The machine (CPU
model, logical cores, avx2 / avx512f / amx flags) goes into the JSON and the printout.

    python scripts/bench_pix2pix.py --out bench_results/pix2pix.json
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from tensorflow.python.framework import config as tf_config
from tensorflow.python.profiler import model_analyzer, option_builder

from pix2pixai.atomic import write_json
from pix2pixai.trainers.determinism import enable_determinism
from pix2pixai.trainers.pix2pix import (
    GeneratorConfig, Pix2Pix, build_discriminator, build_generator, step_batches, valid_mask,
)

ISA_FLAGS = ("avx2", "avx512f", "amx_tile", "amx_bf16")


def machine() -> dict[str, object]:
    """CPU model, logical cores and the ISA flags that decide TensorFlow's kernels."""
    model, flags = "unknown", set()
    if Path("/proc/cpuinfo").exists():
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name":
                model = value.strip()
            elif key.strip() == "flags":
                flags = set(value.split())
    return {"cpu": model, "logical_cores": os.cpu_count(), **{flag: flag in flags for flag in ISA_FLAGS},
            "tensorflow": tf.__version__}


def matmul_flops_per_second(n: int = 2048, repeats: int = 10) -> float:
    """FLOP/s of a float32 n x n matmul (2 n^3 per product), best of ``repeats`` after a warm-up."""
    a = tf.random.stateless_normal((n, n), seed=(0, 1))
    b = tf.random.stateless_normal((n, n), seed=(0, 2))
    product = tf.function(lambda: tf.linalg.matmul(a, b))
    product().numpy()
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        product().numpy()
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best


def profiled_flops(model: Pix2Pix, side: int, channels: int, batch: int) -> int:
    """FLOPs of one ``train_step`` counted by TensorFlow's profiler on its graph at static shapes."""
    spec = ({"image": tf.TensorSpec((batch, side, side, channels)), "floor": tf.TensorSpec((batch, side, side, 1))},
            tf.TensorSpec((batch, side, side, 1)))
    graph = tf.function(model.train_step).get_concrete_function(spec).graph
    options = option_builder.ProfileOptionBuilder.float_operation()
    options["output"] = "none"
    return int(model_analyzer.profile(graph, options=options).total_float_ops)


def conv_forward_flops(network: keras.Model) -> int:
    """Multiply-adds x 2 of every convolution's forward pass for one example, from the layer shapes."""
    total = 0
    for layer in network.layers:
        if isinstance(layer, keras.layers.Conv2D):
            k_h, k_w, c_in, c_out = layer.kernel.shape
            h_out, w_out = layer.output.shape[1:3]
            total += 2 * h_out * w_out * k_h * k_w * c_in * c_out
    return total


class StepTimer(keras.callbacks.Callback):
    """(last step index, wall-clock time) at the end of every execution (``steps_per_execution`` steps)."""

    def __init__(self) -> None:
        super().__init__()
        self.ends: list[tuple[int, float]] = []

    def on_train_batch_end(self, batch, logs=None):
        self.ends.append((int(batch), time.perf_counter()))

    def steps_and_seconds(self, warmup: int) -> tuple[int, float]:
        """Steps run after the first execution ending at or past step ``warmup``, and their seconds."""
        start_step, start = next((b, t) for b, t in self.ends if b + 1 >= warmup)
        end_step, end = self.ends[-1]
        return end_step - start_step, end - start


def time_case(side: int, channels: int, batch: int, ngf: int, steps: int, warmup: int, *, jit: bool,
              steps_per_execution: int, seed: int) -> dict[str, float]:
    """Train ``steps`` steps on random pairs; examples/s over the steps after ``warmup``, FLOPs per step."""
    enable_determinism(seed)
    if jit:
        tf_config.disable_op_determinism()
    config = GeneratorConfig(ngf=ngf, ndf=ngf)
    generator = build_generator(side, channels, signed=False, config=config, seed=seed)
    discriminator = build_discriminator(side, channels, config=config, seed=seed)
    model = Pix2Pix(generator, discriminator, valid_mask((side, side), side))
    model.compile(keras.optimizers.Adam(2e-4, beta_1=0.5), keras.optimizers.Adam(2e-4, beta_1=0.5),
                  jit_compile=jit, steps_per_execution=steps_per_execution)
    rng = np.random.default_rng(seed)
    x = rng.random((max(4 * batch, 64), side, side, channels)).astype(np.float32)
    y = np.where(x[..., :1] > 0.6, x[..., :1], 0.0).astype(np.float32)
    floors = y.mean(axis=0, keepdims=True)
    dataset = step_batches(x, y, floors, np.zeros(len(x), np.int64), batch_size=batch, seed=seed, first_step=0,
                           steps=steps, flip=False)
    timer = StepTimer()
    model.fit(dataset, epochs=1, steps_per_epoch=steps, verbose=0, callbacks=[timer])
    timed, seconds = timer.steps_and_seconds(warmup)
    example_flops = 3 * conv_forward_flops(generator) + 7 * conv_forward_flops(discriminator)
    examples_per_s = batch * timed / seconds
    return {"side": side, "channels": channels, "batch": batch, "ngf": ngf, "jit": jit,
            "steps_per_execution": steps_per_execution, "examples_per_s": examples_per_s,
            "seconds_per_100_steps": 100 * seconds / timed,
            "mflop_per_example": example_flops / 1e6,
            "mflop_per_example_profiler": profiled_flops(model, side, channels, batch) / batch / 1e6,
            "gflop_per_s": example_flops * examples_per_s / 1e9}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ngf", type=int, default=32, help="generator / discriminator base filters (full profile: 32)")
    parser.add_argument("--batches", type=int, nargs="+", default=[8, 64])
    parser.add_argument("--sides", type=str, nargs="+", default=["32x1", "64x3"], help="SIDExCHANNELS cases")
    parser.add_argument("--steps", type=int, default=40, help="timed train steps per case (incl. warm-up)")
    parser.add_argument("--warmup", type=int, default=5, help="first steps left out (tracing)")
    parser.add_argument("--jit", action="store_true", help="also time jit_compile=True (XLA) train steps")
    parser.add_argument("--steps-per-execution", type=int, nargs="+", default=[1],
                        help="Keras steps_per_execution values to time (train steps per tf.function call)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("bench_results/pix2pix.json"))
    args = parser.parse_args()

    info = machine()
    print(f"machine: {info['cpu']}, {info['logical_cores']} logical cores, "
          + ", ".join(f"{flag}={'yes' if info[flag] else 'no'}" for flag in ISA_FLAGS))
    matmul = matmul_flops_per_second()
    print(f"float32 2048^2 matmul: {matmul / 1e9:.1f} GFLOP/s")
    cases = []
    for side_channels in args.sides:
        side, channels = (int(v) for v in side_channels.split("x"))
        for batch in args.batches:
            for jit, per_call in [(j, k) for j in ((False, True) if args.jit else (False,))
                                  for k in args.steps_per_execution]:
                case = time_case(side, channels, batch, args.ngf, args.steps, args.warmup, jit=jit,
                                 steps_per_execution=per_call, seed=args.seed)
                case["fraction_of_matmul"] = case["gflop_per_s"] * 1e9 / matmul
                cases.append(case)
                print(f"{side}x{side}x{channels} ngf {args.ngf} batch {batch}{' jit' if jit else ''} "
                      f"steps/execution {per_call}: "
                      f"{case['examples_per_s']:.1f} examples/s, {case['seconds_per_100_steps']:.2f} s / 100 steps, "
                      f"{case['mflop_per_example']:.0f} MFLOP/example (profiler: "
                      f"{case['mflop_per_example_profiler']:.0f}), {case['gflop_per_s']:.1f} GFLOP/s = "
                      f"{100 * case['fraction_of_matmul']:.1f}% of matmul")
    write_json(args.out, {"machine": info, "matmul_gflop_per_s": matmul / 1e9, "cases": cases})
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
