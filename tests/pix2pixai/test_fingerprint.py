"""Step fingerprints identify a model by its content: re-saving identical weights keeps downstream
steps skipped; a changed weight (classifier or generator) re-runs them."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import keras
import numpy as np
import pytest

from pix2pixai.pipeline.runner import run_chain
from pix2pixai.pipeline.steps import run_step
from pix2pixai.rundir.config import load_config
from pix2pixai.digests import file_digest, keras_model_digest
from pix2pixai.rundir.layout import SurveyDir
from tests.pix2pixai.conftest import SURVEY


def _small_model(seed: int = 0) -> keras.Model:
    """Auto-named layers: a second call in the same process gets other names (``dense_1``...)."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((6, 6, 1))
    x = keras.layers.Conv2D(2, 3, activation="relu")(inputs)
    x = keras.layers.Dropout(0.5)(keras.layers.Flatten()(x))
    return keras.Model(inputs, keras.layers.Dense(3)(x))


def _stamp(path: Path, date: str) -> None:
    """Rewrite the save date Keras keeps in ``metadata.json`` (what a later re-save changes)."""
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    meta = json.loads(members["metadata.json"])
    members["metadata.json"] = json.dumps({**meta, "date_saved": date}).encode()
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def _resave(path: Path, *, change_weight: bool = False) -> None:
    """Load ``path`` (uncompiled) and save it again in place, optionally nudging one weight."""
    model = keras.models.load_model(path, compile=False)
    if change_weight:
        kernel = model.weights[0]
        value = np.array(kernel.numpy())
        value.flat[0] += 0.25
        kernel.assign(value)
    model.save(path)
    _stamp(path, "1999-01-01@00:00:00")


def test_model_digest_ignores_save_noise_and_sees_weights(tmp_path):
    first, again = _small_model(), _small_model()  # equal weights, different auto-numbered layer names
    assert [layer.name for layer in first.layers] != [layer.name for layer in again.layers]
    a, b = tmp_path / "a" / "model.keras", tmp_path / "b" / "model.keras"  # file_digest also hashes the name
    a.parent.mkdir()
    b.parent.mkdir()
    first.save(a)
    again.save(b)
    _stamp(b, "1999-01-01@00:00:00")
    assert a.read_bytes() != b.read_bytes()
    assert keras_model_digest(a) == keras_model_digest(b)
    assert file_digest(a) == file_digest(b)

    other = _small_model(seed=1)  # same architecture, other weights
    c = tmp_path / "c.keras"
    other.save(c)
    assert keras_model_digest(c) != keras_model_digest(a)

    nudged = tmp_path / "d.keras"
    shutil.copy(a, nudged)
    _resave(nudged, change_weight=True)
    assert keras_model_digest(nudged) != keras_model_digest(a)


def test_model_digest_sees_architecture(tmp_path):
    model = _small_model()
    inputs = keras.Input((6, 6, 1))
    x = keras.layers.Conv2D(2, 3, activation="tanh")(inputs)  # same weights, other activation
    x = keras.layers.Dropout(0.5)(keras.layers.Flatten()(x))
    changed = keras.Model(inputs, keras.layers.Dense(3)(x))
    changed.set_weights(model.get_weights())
    model.save(tmp_path / "a.keras")
    changed.save(tmp_path / "b.keras")
    assert keras_model_digest(tmp_path / "a.keras") != keras_model_digest(tmp_path / "b.keras")


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> tuple[Path, Path]:
    """The tiny chain through class maps (no compare, no figures): (config, run directory)."""
    from tests.pix2pixai.conftest import write_tiny_config

    folder = tmp_path_factory.mktemp("fingerprint")
    config = write_tiny_config(folder)
    out = folder / "run"
    run_chain([load_config(config)], out, steps=("data", "classifier", "explain", "generators", "classmaps"),
              render=False, echo=lambda _msg: None)
    return config, out


@pytest.fixture
def run_copy(tiny_run, tmp_path) -> tuple[object, SurveyDir]:
    """A private copy of the tiny run (each test may damage it): (RunConfig, SurveyDir)."""
    config, out = tiny_run
    copy = tmp_path / "run"
    shutil.copytree(out, copy)
    return load_config(config), SurveyDir(copy / SURVEY)


def test_resaved_classifier_keeps_explain_skipped(run_copy):
    config, sdir = run_copy
    model = sdir.classifier / "model.keras"
    before = model.read_bytes()
    _resave(model)
    assert model.read_bytes() != before
    assert run_step("explain", config, sdir)["skipped"]


def test_changed_classifier_weight_reruns_explain(run_copy):
    config, sdir = run_copy
    _resave(sdir.classifier / "model.keras", change_weight=True)
    assert not run_step("explain", config, sdir)["skipped"]


def test_resaved_generator_keeps_classmaps_skipped(run_copy):
    config, sdir = run_copy
    generator = sorted(sdir.generators.rglob("generator.keras"))[0]
    _resave(generator)
    assert run_step("classmaps", config, sdir)["skipped"]


def test_changed_generator_weight_reruns_classmaps(run_copy):
    config, sdir = run_copy
    generator = sorted(sdir.generators.rglob("generator.keras"))[0]
    _resave(generator, change_weight=True)
    assert not run_step("classmaps", config, sdir)["skipped"]


def _curves_npz(path: Path, reverse_first: bool = False) -> None:
    rng = np.random.default_rng(0)
    n, per = 12, 30
    mjd = np.concatenate([np.sort(rng.uniform(0, 900, per)) for _ in range(n)])
    mag = 15 + rng.normal(0, 0.3, n * per)
    if reverse_first:
        mag[:per] = mag[:per][::-1].copy()  # same size, same bytes count: one curve edited in place
    np.savez(path, ids=np.array([f"c{k}" for k in range(n)]), offsets=np.arange(n + 1) * per, mjd=mjd, mag=mag,
             magerr=np.full(n * per, 0.05), labels=np.array(["EW", "RRab", "EA"] * (n // 3)))


def test_an_input_file_edited_in_place_re_runs_the_data_step(tmp_path):
    from pix2pixai.rundir.config import config_from_dict

    curves = tmp_path / "curves.npz"
    _curves_npz(curves)
    config = config_from_dict({"survey": {"name": "mine", "kind": "dmdt", "source": "lightcurves_npz",
                                          "path": str(curves)}}, profile="demo")
    sdir = SurveyDir(tmp_path / "run" / "mine")
    sdir.root.mkdir(parents=True)
    first = run_step("data", config, sdir)
    assert run_step("data", config, sdir)["skipped"]
    before = np.load(sdir.data)["x"]
    _curves_npz(curves, reverse_first=True)
    again = run_step("data", config, sdir)
    assert not again["skipped"] and again["fingerprint"] != first["fingerprint"]
    after = np.load(sdir.data)["x"]
    assert not np.array_equal(before[0], after[0]) and np.array_equal(before[1:], after[1:])


def test_the_toolkit_version_is_part_of_every_fingerprint(tmp_path, monkeypatch):
    from pix2pixai.pipeline import steps

    config = load_config("sim-crts", profile="demo")
    sdir = SurveyDir(tmp_path / "s")
    record = steps.step_named("explain")
    now = steps.step_fingerprint(record, config, sdir)
    monkeypatch.setattr(steps, "__version__", "99.0")
    assert steps.step_fingerprint(record, config, sdir) != now
