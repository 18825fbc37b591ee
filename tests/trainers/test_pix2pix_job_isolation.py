"""A generator job's result depends only on the job: not on what the process ran before, nor on
other threads drawing from Python's global ``random`` (as a Dask worker's event loop does).

Regression for the fan-out defect of issue #7: unseeded Keras initialisers and dropouts took their
seeds from Python's global ``random`` at build time, so a job on a Dask worker started from other
weights than the same job in a plain process.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import keras
import numpy as np

from pix2pixai.trainers.pix2pix import GeneratorConfig, build_discriminator, build_generator, layer_seeds, train_generator

TINY = GeneratorConfig(ngf=4, ndf=4, depth=2, dropout=0.5)


def _weights(model: keras.Model) -> list[np.ndarray]:
    return model.get_weights()


def _same(a: list[np.ndarray], b: list[np.ndarray]) -> bool:
    return len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b))


@contextmanager
def _busy_python_random() -> Iterator[None]:
    """Another thread advancing Python's global ``random`` the whole time, as a Dask worker's loop does."""
    stop = threading.Event()

    def draw() -> None:
        while not stop.is_set():
            random.random()

    thread = threading.Thread(target=draw, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def test_networks_depend_on_the_seed_argument_only():
    random.seed(1)
    generator = build_generator(32, 1, signed=False, config=TINY, seed=7)
    discriminator = build_discriminator(32, 1, config=TINY, seed=7)
    random.seed(2)
    with _busy_python_random():
        again_g = build_generator(32, 1, signed=False, config=TINY, seed=7)
        again_d = build_discriminator(32, 1, config=TINY, seed=7)
    assert _same(_weights(generator), _weights(again_g))
    assert _same(_weights(discriminator), _weights(again_d))
    other = build_generator(32, 1, signed=False, config=TINY, seed=8)
    assert not _same(_weights(generator), _weights(other))
    dropout_states = [[layer.seed_generator.state.numpy() for layer in g.layers if isinstance(layer, keras.layers.Dropout)]
                      for g in (generator, again_g)]
    assert dropout_states[0] and _same(*dropout_states)


def test_layer_seeds_are_distinct_per_layer_and_network():
    gen, disc = layer_seeds(3, "generator"), layer_seeds(3, "discriminator")
    drawn = [next(gen) for _ in range(20)] + [next(disc) for _ in range(20)]
    assert len(set(drawn)) == 40 and all(0 <= s < 2**31 for s in drawn)
    assert next(layer_seeds(3, "generator")) == drawn[0]


def _job(tmp: Path, name: str, data_seed: int, *, busy: bool = False) -> list[np.ndarray]:
    """Train one tiny generator (its own data) into ``tmp/name`` and return its weights."""
    rng = np.random.default_rng(data_seed)
    x = rng.random((8, 22, 24, 1)).astype(np.float32)
    y = (x > 0.6).astype(np.float32) * x
    if busy:
        with _busy_python_random():
            bundle = train_generator(x, y, signed=False, out_dir=tmp / name, steps=2, eval_every=2, batch_size=4,
                                     seed=5, config=TINY, resume=False)
    else:
        bundle = train_generator(x, y, signed=False, out_dir=tmp / name, steps=2, eval_every=2, batch_size=4, seed=5,
                                 config=TINY, resume=False)
    return _weights(bundle.generator)


def test_consecutive_jobs_in_either_order_and_beside_a_busy_thread_give_the_same_generators(tmp_path):
    a_first = _job(tmp_path, "a1", 0)
    b_after_a = _job(tmp_path, "b1", 1)
    random.seed(12345)  # now like a Dask worker: Python's RNG elsewhere, and moved by another thread
    b_first = _job(tmp_path, "b2", 1, busy=True)
    a_after_b = _job(tmp_path, "a2", 0)
    assert _same(a_first, a_after_b)
    assert _same(b_after_a, b_first)
    assert not _same(a_first, b_first)
