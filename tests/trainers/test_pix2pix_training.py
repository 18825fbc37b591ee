"""pix2pixai.trainers.pix2pix training: step batches, validation split, floors, best weights, resume,
save/load, shared multi-job training, L1-only control, inference."""

from __future__ import annotations

import importlib.util
import json
import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

from pix2pixai.trainers.determinism import enable_determinism
from pix2pixai.trainers.pix2pix import (
    BestWeights, GeneratorBundle, GeneratorConfig, GeneratorJob, MapScale, Pix2Pix, build_discriminator,
    build_generator, load_generator, step_batches, train_generator, train_generators, valid_mask, validation_split,
)

#: Two U-Net levels keep tracing (the dominant cost on a loaded CPU) short; depth defaults are unit-tested.
TINY = GeneratorConfig(ngf=4, ndf=4, depth=2)
FAST = dict(steps=6, eval_every=3, batch_size=4, config=TINY)


def _pairs(n: int = 12, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.random((n, 22, 24, 1)).astype(np.float32)
    return x, (x > 0.6).astype(np.float32) * x


class _Kill(keras.callbacks.Callback):
    """Stops the process-equivalent after the first evaluation (its checkpoint is already written)."""

    def on_epoch_end(self, epoch, logs=None):
        raise KeyboardInterrupt


def _weights(bundle):
    return bundle.generator.get_weights()


def _same(a, b):
    return len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b))


def _numbered(n: int) -> np.ndarray:
    return np.arange(n, dtype=np.float32)[:, None, None, None] * np.ones((n, 22, 24, 1), np.float32)


def test_step_batches_cover_each_pass_once_differ_between_passes_and_resume_at_any_step():
    n = 12
    x = _numbered(n)
    floors = np.stack([np.full((22, 24, 1), 0.25, np.float32), np.full((22, 24, 1), 0.75, np.float32)])
    groups = np.arange(n) % 2
    batches = list(step_batches(x, x, floors, groups, batch_size=4, seed=3, first_step=0, steps=6, flip=False))
    assert len(batches) == 6
    for inputs, y in batches:
        assert inputs["image"].shape == (4, 32, 32, 1) and np.array_equal(inputs["image"], y)
        ids = inputs["image"].numpy()[:, 0, 0, 0].astype(int)
        np.testing.assert_array_equal(inputs["group"].numpy(), np.eye(2)[ids % 2])
        np.testing.assert_array_equal(inputs["floor"].numpy()[:, 0, 0, 0], np.where(ids % 2, 0.75, 0.25))
        assert np.count_nonzero(inputs["floor"].numpy()[:, 22:]) == 0
    orders = [np.concatenate([b[1].numpy()[:, 0, 0, 0] for b in batches[p * 3:(p + 1) * 3]]) for p in range(2)]
    assert all(sorted(order) == list(range(n)) for order in orders) and not np.array_equal(*orders)
    resumed = list(step_batches(x, x, floors, groups, batch_size=4, seed=3, first_step=4, steps=6, flip=False))
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(resumed, batches[4:]))
    one_group = next(iter(step_batches(x, x, floors[:1], groups * 0, batch_size=4, seed=3, first_step=0, steps=1,
                                       flip=False)))[0]
    assert set(one_group) == {"image", "floor"}


def test_flips_move_image_floor_and_target_together_inside_the_original_pixels():
    x = np.random.default_rng(0).random((16, 22, 24, 1)).astype(np.float32) + 1.0
    floors = x[:1] * 3
    inputs, y = next(iter(step_batches(x, x, floors, np.zeros(16, int), batch_size=16, seed=0, first_step=0, steps=1,
                                       flip=True)))
    bx, bf, by = inputs["image"].numpy(), inputs["floor"].numpy(), y.numpy()
    assert np.array_equal(bx, by) and np.count_nonzero(bx[:, 22:]) == 0
    candidates = [f[None] for f in (floors[0], floors[0, ::-1], floors[0, :, ::-1], floors[0, ::-1, ::-1])]
    flipped = 0
    for k in range(16):
        variants = [c[0] for c in candidates]
        which = next(v for v in range(4) if np.array_equal(bf[k, :22, :24], variants[v]))
        flipped += which > 0
        assert any(np.array_equal(bx[k, :22, :24], [x[j], x[j, ::-1], x[j, :, ::-1], x[j, ::-1, ::-1]][which])
                   for j in range(16))
    assert 0 < flipped < 16


def test_validation_split_is_stratified_seeded_and_keeps_a_training_member_per_group():
    groups = np.array([0] * 10 + [1] * 5 + [2])
    train, val = validation_split(groups, 0.2, seed=1)
    assert sorted(np.concatenate([train, val])) == list(range(16))
    assert [int(np.sum(groups[val] == g)) for g in range(3)] == [2, 1, 0]
    np.testing.assert_array_equal(validation_split(groups, 0.2, seed=1)[1], val)
    assert not np.array_equal(validation_split(groups, 0.2, seed=2)[1], val)
    assert len(validation_split(groups, 0.0, seed=1)[1]) == 0


def test_best_weights_keep_the_lowest_validation_score_and_stop_after_patience():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    best = BestWeights(model, eval_every=10, patience=2)
    best.set_model(model)
    model.stop_training = False
    kernels = []
    for epoch, score in enumerate([3.0, 2.0, 2.5, 2.6]):
        model.layers[0].kernel.assign(np.full((2, 1), float(epoch), np.float32))
        kernels.append(model.get_weights())
        best.on_epoch_end(epoch, {"val_g_l1": score})
        assert model.stop_training == (epoch == 3)
    best.restore()
    assert _same(model.get_weights(), kernels[1])
    assert int(best.best_step.numpy()) == 20 and float(best.best_score.numpy()) == 2.0 and best.stopped


def test_a_generator_that_never_beats_its_floor_on_validation_is_returned_as_the_floor(tmp_path):
    """Targets independent of the inputs and a huge learning rate: no evaluation beats the step-0 floor."""
    rng = np.random.default_rng(0)
    x = rng.random((16, 22, 24, 1)).astype(np.float32)
    y = rng.random((16, 22, 24, 1)).astype(np.float32)
    config = GeneratorConfig(ngf=4, ndf=4, depth=2, gan_weight=0.0, g_learning_rate=0.5)
    bundle = train_generator(x, y, signed=False, out_dir=tmp_path, validation_fraction=0.25, patience=1,
                             **{**FAST, "config": config})
    history = bundle.history
    assert history["best_step"] == 0 and history["best_val_g_l1"] == history["floor_val_g_l1"]
    assert history["stopped_early"] and history["step"] == [3] and history["val_g_l1"][0] > history["floor_val_g_l1"]
    np.testing.assert_array_equal(bundle.predict_unit(x), bundle.unit_floors(16))


def test_killed_run_resumes_to_identical_weights_and_history(tmp_path):
    x, y = _pairs()
    kwargs = dict(signed=False, seed=5, groups=np.arange(12) % 2, **FAST)
    full = train_generator(x, y, out_dir=tmp_path / "full", **kwargs)
    with pytest.raises(KeyboardInterrupt):
        train_generator(x, y, out_dir=tmp_path / "killed", callbacks=[_Kill()], **kwargs)
    assert not (tmp_path / "killed" / "generator.keras").exists()
    resumed = train_generator(x, y, out_dir=tmp_path / "killed", **kwargs)
    assert _same(_weights(full), _weights(resumed))
    assert resumed.history == full.history and full.history["step"] == [3, 6]
    assert len(full.history["val_g_l1"]) == 2 and full.history["best_step"] in (3, 6)


def test_same_seed_gives_identical_generators_and_another_seed_does_not(tmp_path):
    x, y = _pairs()
    first, again, other = (train_generator(x, y, signed=False, out_dir=tmp_path / name, seed=seed, resume=False,
                                           **FAST) for name, seed in (("a", 1), ("b", 1), ("c", 2)))
    assert _same(_weights(first), _weights(again)) and not _same(_weights(first), _weights(other))


@pytest.mark.slow
def test_stale_checkpoints_are_discarded(tmp_path):
    """Checkpoints of another run (here: another seed) are never resumed: warned (resume=True) or deleted."""
    x, y = _pairs()
    kwargs = dict(signed=False, **FAST)
    fresh = train_generator(x, y, out_dir=tmp_path / "fresh", seed=5, **kwargs)
    for name, resume in (("resumed", True), ("restarted", False)):
        with pytest.raises(KeyboardInterrupt):
            train_generator(x, y, out_dir=tmp_path / name, seed=6, callbacks=[_Kill()], **kwargs)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            again = train_generator(x, y, out_dir=tmp_path / name, seed=5, resume=resume, **kwargs)
        assert any("other settings" in str(w.message) for w in caught) == resume
        assert _same(_weights(fresh), _weights(again))


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """(bundle, its directory, inputs, groups): one signed two-group generator with MC dropout."""
    out_dir = tmp_path_factory.mktemp("generator")
    x, y = _pairs()
    groups = np.where(np.arange(12) < 6, 4, 9)
    config = GeneratorConfig(ngf=4, ndf=4, depth=2, dropout=0.5)
    bundle = train_generator(x, y - 0.3, signed=True, out_dir=out_dir, groups=groups, steps=3, eval_every=3,
                             batch_size=4, seed=0, config=config)
    return bundle, out_dir, x, groups


def test_saved_bundle_reloads_to_identical_outputs(trained):
    bundle, out_dir, x, groups = trained
    meta = json.loads((out_dir / "generator.json").read_text())
    assert meta["original_hw"] == [22, 24] and meta["scale"]["signed"] is True and meta["seed"] == 0
    with np.load(out_dir / "floors.npz") as saved:
        np.testing.assert_array_equal(saved["group_ids"], [4, 9])
        np.testing.assert_array_equal(saved["floors"], bundle.floors)
    loaded = load_generator(out_dir)
    assert loaded.scale == bundle.scale and loaded.config == bundle.config and loaded.history == bundle.history
    raw = bundle.predict(x, groups)
    np.testing.assert_array_equal(loaded.predict(x, groups), raw)
    assert raw.shape == (12, 22, 24, 1)
    np.testing.assert_allclose(raw, bundle.scale.from_unit(bundle.predict_unit(x, groups)), rtol=1e-6)
    assert np.abs(bundle.predict_unit(x, groups)).max() <= 1.0
    with pytest.raises(ValueError, match=r"\[N, 22, 24, 1\]"):
        loaded.predict(np.zeros((2, 26, 26, 2)), groups[:2])
    with pytest.raises(FileNotFoundError, match="generator.keras"):
        load_generator(out_dir / "missing")


def test_floors_are_each_groups_mean_training_map(trained):
    bundle, _, x, groups = trained
    _, y = _pairs()
    train, val = validation_split(np.searchsorted([4, 9], groups), 0.2, seed=0)
    assert len(val) == 2
    unit = bundle.scale.to_unit(y - 0.3)
    for k, group in enumerate((4, 9)):
        members = train[groups[train] == group]
        np.testing.assert_allclose(bundle.floors[k], unit[members].mean(axis=0), atol=1e-6)


def test_inference_is_deterministic_and_mc_dropout_is_seeded(trained):
    bundle, _, x, groups = trained
    np.testing.assert_array_equal(bundle.predict_unit(x, groups), bundle.predict_unit(x, groups))
    mean, std = bundle.predict_unit(x, groups, mc_samples=4, seed=1)
    again, _ = bundle.predict_unit(x, groups, mc_samples=4, seed=1)
    other, _ = bundle.predict_unit(x, groups, mc_samples=4, seed=2)
    assert mean.shape == std.shape == (12, 22, 24, 1) and std.mean() > 0
    np.testing.assert_array_equal(mean, again)
    assert not np.array_equal(mean, other)
    _, raw_std = bundle.predict(x, groups, mc_samples=4, seed=1)
    np.testing.assert_allclose(raw_std, std * bundle.scale.scale, rtol=1e-6)


def test_shared_multi_job_training_equals_separate_runs(tmp_path):
    """Job 2 of a shared run (models reset, not rebuilt) == its own run (built in a strategy scope)."""
    x, y = _pairs()
    other = np.sqrt(y)
    kwargs = dict(seed=2, **FAST)
    jobs = [GeneratorJob(y, False, tmp_path / "a"), GeneratorJob(other, False, tmp_path / "b")]
    first, second = train_generators(x, jobs, **kwargs)
    alone = train_generator(x, other, signed=False, out_dir=tmp_path / "alone",
                            strategy=tf.distribute.OneDeviceStrategy("/cpu:0"), **kwargs)
    assert _same(_weights(alone), _weights(second)) and alone.history == second.history
    assert not _same(_weights(first), _weights(second))
    assert load_generator(tmp_path / "b").scale == second.scale != first.scale


def test_string_group_labels_are_stored_and_looked_up(tmp_path):
    x, y = _pairs()
    labels = np.array(["RRab", "EA", "LPV"])[np.arange(12) % 3]
    bundle = train_generator(x, y, signed=False, out_dir=tmp_path, groups=labels, **{**FAST, "steps": 3})
    loaded = load_generator(tmp_path)
    assert loaded.group_ids.tolist() == ["EA", "LPV", "RRab"]
    np.testing.assert_array_equal(loaded.predict_unit(x, labels), bundle.predict_unit(x, labels))
    with pytest.raises(ValueError, match="no floor"):
        loaded.predict_unit(x[:1], np.array(["EW"]))


def test_l1_only_control_builds_no_discriminator(tmp_path):
    x, y = _pairs()
    config = GeneratorConfig(ngf=4, ndf=4, depth=2, gan_weight=0.0)
    bundle = train_generator(x, y, signed=False, out_dir=tmp_path, **{**FAST, "config": config})
    assert "d_loss" not in bundle.history and len(bundle.history["g_l1"]) == 2
    assert not _same(_weights(bundle), build_generator(32, 1, signed=False, config=config).get_weights())


def test_test_step_l1_is_mean_abs_error_over_original_pixels():
    enable_determinism(0)
    x, y = _pairs(8)
    pad = ((0, 0), (0, 10), (0, 8), (0, 0))
    inputs = {"image": np.pad(x, pad), "floor": np.pad(np.full_like(y, 0.2), pad)}
    yp = np.pad(y, pad)
    model = Pix2Pix(build_generator(32, 1, signed=False, config=TINY), build_discriminator(32, 1, config=TINY),
                    valid_mask((22, 24), 32))
    model.compile(keras.optimizers.Adam(), keras.optimizers.Adam())
    logs = model.evaluate(inputs, yp, batch_size=8, verbose=0, return_dict=True)
    assert logs["g_l1"] == pytest.approx(np.mean(np.abs(0.2 - y)), rel=1e-5)


@pytest.mark.parametrize("targets, groups, match", [(np.zeros((12, 22, 24)), None, r"\[N, H, W, 1\]"),
                                                    (np.zeros((12, 22, 24, 1)), None, "zero"),
                                                    (np.ones((12, 22, 24, 1)), np.zeros(12), "integers or strings")])
def test_bad_training_data_is_rejected(tmp_path, targets, groups, match):
    x, _ = _pairs()
    with pytest.raises(ValueError, match=match):
        train_generator(x, targets, signed=False, out_dir=tmp_path, groups=groups, steps=1, config=TINY)


def test_tensorboard_scalars_or_a_clear_error(tmp_path):
    x, y = _pairs()
    kwargs = dict(signed=False, out_dir=tmp_path / "gen", steps=2, eval_every=2, batch_size=4, config=TINY,
                  log_dir=tmp_path / "tb")
    if importlib.util.find_spec("tensorboard") is None:
        with pytest.raises(ValueError, match="tensorboard"):
            train_generator(x, y, **kwargs)
    else:
        train_generator(x, y, **kwargs)
        assert list((tmp_path / "tb").rglob("events.out.tfevents.*"))


def test_mc_passes_without_dropout_equal_deterministic_inference_with_batch_norm():
    """Without dropout layers, MC passes must equal deterministic inference (running BN statistics)."""
    config = GeneratorConfig(ngf=4, depth=3, norm="batch")
    generator = build_generator(32, 1, signed=False, config=config)
    generator.get_layer("residual_conv").kernel.assign(np.full((3, 3, 8, 1), 0.01, np.float32))
    floors = np.full((1, 22, 24, 1), 0.5, np.float32)
    bundle = GeneratorBundle(generator=generator, scale=MapScale(scale=1.0, signed=False), config=config,
                             original_hw=(22, 24), seed=0, floors=floors, group_ids=np.array([0]))
    x, _ = _pairs(6)
    mean, std = bundle.predict_unit(x, mc_samples=2)
    deterministic = bundle.predict_unit(x)
    assert not np.array_equal(deterministic, np.broadcast_to(floors, deterministic.shape))
    np.testing.assert_allclose(mean, deterministic, atol=1e-6)
    assert std.max() <= 1e-6
