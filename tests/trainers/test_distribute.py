"""Strategies by name and synchronised batch norm; a pix2pix generator trained under MirroredStrategy on
two logical CPUs matches the one-device run (the classifier's twin is in test_training.py)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

from tests.conftest import REPO
from pix2pixai.trainers.distribute import clone_with_synchronized_batch_norm, replicas, strategy_from_name


def test_default_strategy_is_none_and_unknown_names_are_refused():
    assert strategy_from_name("default") is None and replicas(None) == 1
    with pytest.raises(ValueError, match="'mirroredd'.*default, mirrored, multiworker"):
        strategy_from_name("mirroredd")


def test_clone_synchronises_batch_norm_and_keeps_weights():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((6, 6, 1))
    h = keras.layers.BatchNormalization(name="bn")(keras.layers.Conv2D(2, 3, name="conv")(inputs))
    model = keras.Model(inputs, keras.layers.Dense(2)(keras.layers.Flatten()(h)))
    model.get_layer("bn").moving_mean.assign([0.5, -0.5])
    clone = clone_with_synchronized_batch_norm(model)
    assert clone.get_layer("bn").synchronized and not model.get_layer("bn").synchronized
    assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), clone.get_weights()))
    x = np.random.default_rng(0).random((3, 6, 6, 1)).astype(np.float32)
    np.testing.assert_array_equal(model.predict_on_batch(x), clone.predict_on_batch(x))


@pytest.mark.slow
def test_generator_under_mirrored_strategy_matches_one_device(tmp_path):
    """Held-out L1 of a batch-norm generator within 0.02 of the one-device run; batch norm synchronised."""
    script = textwrap.dedent(f"""
        import tensorflow as tf
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
        import keras, numpy as np
        from pix2pixai.trainers.distribute import strategy_from_name
        from pix2pixai.trainers.pix2pix import GeneratorConfig, train_generator
        rng = np.random.default_rng(0)
        x = rng.random((40, 22, 24, 1)).astype(np.float32)
        y = (x > 0.6).astype(np.float32) * x
        config = GeneratorConfig(ngf=4, ndf=4, depth=2, norm="batch")
        strategy = strategy_from_name("mirrored")
        assert strategy.num_replicas_in_sync == 2
        for label, chosen in (("one", None), ("mirrored", strategy)):
            bundle = train_generator(x[:32], y[:32], signed=False, out_dir={str(tmp_path)!r} + label, steps=16,
                                     eval_every=4, validation_fraction=0.0, batch_size=8, seed=0, config=config, strategy=chosen, resume=False)
            l1 = np.abs(bundle.predict_unit(x[32:])[..., 0] - bundle.scale.to_unit(y[32:, ..., 0])).mean()
            sync = {{l.synchronized for l in bundle.generator.layers if isinstance(l, keras.layers.BatchNormalization)}}
            print("L1", label, l1, sorted(sync))
    """)
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    rows = {w[1]: (float(w[2]), " ".join(w[3:])) for w in (line.split() for line in done.stdout.splitlines())
            if w and w[0] == "L1"}
    assert abs(rows["mirrored"][0] - rows["one"][0]) <= 0.02, rows
    assert rows["one"][1] == "[False]" and rows["mirrored"][1] == "[True]", rows
