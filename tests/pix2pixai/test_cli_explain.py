"""`pix2pixai explain --model M --inputs X --method ... --out maps.h5`: any model's inputs into a map store.

Every stored map is checked against ``pix2pixai.producers.explain`` on the same model and inputs. A
store resumes only on the same content and leaves no partial file behind an input error (issue 19).
"""

from __future__ import annotations

import logging
import subprocess
import sys

import h5py
import numpy as np
import pytest

from pix2pixai.cli import main
from pix2pixai.errors import InputError
from pix2pixai.explain_files import explain_files
from pix2pixai.producers import explain
from pix2pixai.stores import MapStore
from pix2pixai.stores.maps import partial_path
from tests.conftest import shared_path


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A small softmax CNN saved as .keras (loaded back as the CLI will), and 10 inputs as .npy."""
    import keras

    folder = tmp_path_factory.mktemp("tiny")
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((8, 9, 2)), keras.layers.Conv2D(4, 3, activation="relu", name="conv"),
                              keras.layers.Flatten(), keras.layers.Dense(3, activation="softmax")])
    model.save(folder / "tiny.keras")
    x = np.random.default_rng(0).random((10, 8, 9, 2), dtype=np.float32)
    np.save(folder / "x.npy", x)
    return folder, keras.models.load_model(folder / "tiny.keras", compile=False), x


def _stored(path, method):
    with MapStore.open(path) as store:
        return store.read(method), store.targets(method), store.index(method)


def _close(a, b):
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6 * max(1.0, float(np.abs(b).max())))


def test_file_form_streams_chunks_equal_to_python_api(tiny, tmp_path, capsys):
    folder, model, x = tiny
    out = tmp_path / "maps.h5"
    rc = main(["explain", "--model", str(folder / "tiny.keras"), "--inputs", str(folder / "x.npy"),
               "--method", "gradcam,saliency,blanking", "--chunk", "4", "--out", str(out)])
    assert rc == 0
    assert "wrote" in capsys.readouterr().out
    predicted = model.predict(x, verbose=0).argmax(axis=1)
    for method in ("gradcam", "saliency", "blanking"):
        maps, targets, index = _stored(out, method)
        _close(maps, explain(method, model, x))
        np.testing.assert_array_equal(targets, predicted)
        np.testing.assert_array_equal(index, np.arange(10))


def test_npz_h5_inputs_targets_file_and_probability_score(tiny, tmp_path):
    folder, model, x = tiny
    np.savez(tmp_path / "x.npz", ids=np.arange(10), images=x)
    with h5py.File(tmp_path / "x.h5", "w") as h5:
        h5.create_dataset("data/images", data=x)
    np.save(tmp_path / "t.npy", np.arange(10) % 3)
    expected = explain("saliency", model, x, targets=np.arange(10) % 3, score="probability")
    for inputs in ("x.npz", "x.h5"):
        out = tmp_path / f"{inputs}.maps.h5"
        key = "images" if inputs == "x.npz" else "data/images"
        assert main(["explain", "--model", str(folder / "tiny.keras"), "--inputs", str(tmp_path / inputs),
                     "--inputs-key", key, "--method", "saliency", "--targets", str(tmp_path / "t.npy"),
                     "--score", "probability", "--out", str(out)]) == 0
        maps, targets, _ = _stored(out, "saliency")
        _close(maps, expected)
        np.testing.assert_array_equal(targets, np.arange(10) % 3)


def test_shap_background_and_method_parameters(tiny, tmp_path):
    folder, model, x = tiny
    np.save(tmp_path / "bg.npy", x[:4])
    out = tmp_path / "maps.h5"
    assert main(["explain", "--model", str(folder / "tiny.keras"), "--inputs", str(folder / "x.npy"),
                 "--method", "shap,gradcam", "--background", str(tmp_path / "bg.npy"), "--targets", "1",
                 "--param", "shap.n_samples=8", "--param", "seed=3", "--param", "gradcam.weighting=mean",
                 "--chunk", "3", "--out", str(out)]) == 0
    shap_maps, _, _ = _stored(out, "shap")
    _close(shap_maps, explain("shap", model, x, targets=1, background=x[:4], n_samples=8, seed=3))
    cam_maps, _, _ = _stored(out, "gradcam")
    _close(cam_maps, explain("gradcam", model, x, targets=1, weighting="mean"))


def test_multi_input_model_attributes_the_named_input(tmp_path):
    import keras

    keras.utils.set_random_seed(1)
    image = keras.Input((6, 6, 1), name="dmdt")
    features = keras.Input((3,), name="features")
    h = keras.layers.Flatten()(keras.layers.Conv2D(2, 3, activation="relu")(image))
    out = keras.layers.Dense(2, activation="softmax")(keras.layers.Concatenate()([h, features]))
    model = keras.Model([image, features], out)
    model.save(tmp_path / "multi.keras")
    rng = np.random.default_rng(2)
    arrays = {"dmdt": rng.random((5, 6, 6, 1), dtype=np.float32), "features": rng.random((5, 3), dtype=np.float32)}
    np.savez(tmp_path / "x.npz", **arrays)
    assert main(["explain", "--model", str(tmp_path / "multi.keras"), "--inputs", str(tmp_path / "x.npz"),
                 "--image-input", "dmdt", "--method", "saliency", "--out", str(tmp_path / "maps.h5")]) == 0
    maps, _, _ = _stored(tmp_path / "maps.h5", "saliency")
    loaded = keras.models.load_model(tmp_path / "multi.keras", compile=False)
    _close(maps, explain("saliency", loaded, arrays, image_input="dmdt"))


def test_gradcam_of_a_sequential_model_loaded_from_keras_file_equals_the_original(tiny):
    """A loaded Sequential model is built several times; Grad-CAM must use its final graph (was None grads)."""
    import keras

    folder, loaded, x = tiny
    keras.utils.set_random_seed(0)
    original = keras.Sequential([keras.Input((8, 9, 2)), keras.layers.Conv2D(4, 3, activation="relu", name="conv"),
                                 keras.layers.Flatten(), keras.layers.Dense(3, activation="softmax")])
    original.set_weights(loaded.get_weights())
    _close(explain("gradcam", loaded, x, targets=2), explain("gradcam", original, x, targets=2))


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["--inputs", "{folder}/x.npy", "--method", "nope"], "--method nope"),
        (["--inputs", "{folder}/missing.npy", "--method", "gradcam"], "missing.npy"),
        (["--inputs", "{folder}/bad.npy", "--method", "gradcam"], "(10, 8, 9)"),
        (["--inputs", "{folder}/x.npy", "--method", "shap"], "--background"),
        (["--inputs", "{folder}/x.npy", "--method", "gradcam", "--param", "weighting"], "NAME=VALUE"),
        (["--inputs", "{folder}/x.npy", "--method", "gradcam", "--targets", "7"], "targets"),
        (["--method", "gradcam"], "--inputs"),
    ],
    ids=["unknown-method", "missing-inputs", "wrong-shape", "shap-without-background", "bad-param",
         "target-out-of-range", "no-inputs"],
)
def test_bad_input_is_one_line_error_and_no_store(tiny, tmp_path, capsys, args, fragment):
    folder, _, x = tiny
    np.save(folder / "bad.npy", x[..., 0])
    out = tmp_path / "maps.h5"
    argv = ["explain", "--model", str(folder / "tiny.keras"), *[a.format(folder=folder) for a in args], "--out", str(out)]
    assert main(argv) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and fragment in lines[0], lines
    assert not out.exists()


def test_run_directory_form_needs_a_config_or_a_model(tmp_path, capsys):
    assert main(["explain", "--out", str(tmp_path / "run")]) == 2
    assert "CONFIG" in capsys.readouterr().err
    assert main(["explain", str(tmp_path / "nope.toml"), "--out", str(tmp_path / "run")]) == 2
    assert "nope.toml" in capsys.readouterr().err


def test_real_crts_cnn_from_the_command_line(tmp_path):
    from pix2pixai.trainers import load_legacy_model

    model_path = shared_path("reproducibility_periodic_cnn", "model.h5")
    dmdt_path = shared_path("crts-lightcurves-kvmu", "dmdt_reference_subset.npz")
    out = tmp_path / "crts_maps.h5"
    result = subprocess.run([sys.executable, "-m", "pix2pixai.cli", "explain", "--model", str(model_path),
                             "--inputs", str(dmdt_path), "--inputs-key", "dmdt", "--method", "gradcam,saliency",
                             "--out", str(out)], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    model = load_legacy_model(model_path, "crts_cnn")
    with np.load(dmdt_path) as data:
        dmdts = data["dmdt"]
    for method in ("gradcam", "saliency"):
        maps, targets, _ = _stored(out, method)
        assert maps.shape == (len(dmdts), 22, 24, 1)
        _close(maps, explain(method, model, dmdts))
        np.testing.assert_array_equal(targets, model.predict(dmdts[..., None], verbose=0).argmax(axis=1))
    assert np.abs(maps).max() > 0


def _stop_after_first_chunk(done: int, total: int | None) -> None:
    raise KeyboardInterrupt


def _saliency(path):
    with MapStore.open(path) as store:
        return store.read("saliency"), store.targets("saliency")


def test_a_store_started_on_other_rows_restarts_and_equals_a_fresh_run(tiny, tmp_path, caplog):
    """Resume is keyed by content: the inputs rewritten in place (same name and size, rows reversed)
    after one chunk of three restart the store, and every row equals a fresh run on the new file."""
    model_file = tiny[0] / "tiny.keras"
    x = np.random.default_rng(1).random((300, 8, 9, 2), dtype=np.float32)
    inputs, out = tmp_path / "x.npy", tmp_path / "s.h5"
    np.save(inputs, x)
    with pytest.raises(KeyboardInterrupt):
        explain_files(model_file, inputs, ["saliency"], out, chunk=100, progress=_stop_after_first_chunk)
    with h5py.File(partial_path(out), "r") as unfinished:  # one chunk of three done
        assert unfinished["saliency"]["done"][...].tolist() == [True]
    np.save(inputs, x[::-1])  # same name, same size, other content
    with caplog.at_level(logging.WARNING):
        explain_files(model_file, inputs, ["saliency"], out, chunk=100)
    assert "starting again" in caplog.text
    fresh = tmp_path / "fresh.h5"
    explain_files(model_file, inputs, ["saliency"], fresh, chunk=100)
    for resumed_part, fresh_part in zip(_saliency(out), _saliency(fresh)):
        np.testing.assert_array_equal(resumed_part, fresh_part)


def test_the_same_content_resumes_without_restarting(tiny, tmp_path, caplog):
    model_file = tiny[0] / "tiny.keras"
    inputs, out = tmp_path / "x.npy", tmp_path / "s.h5"
    np.save(inputs, np.random.default_rng(2).random((250, 8, 9, 2), dtype=np.float32))
    with pytest.raises(KeyboardInterrupt):
        explain_files(model_file, inputs, ["saliency"], out, chunk=100, progress=_stop_after_first_chunk)
    written = []
    with caplog.at_level(logging.WARNING):
        explain_files(model_file, inputs, ["saliency"], out, chunk=100, progress=lambda d, t: written.append(d))
    assert "starting again" not in caplog.text
    assert written == [2, 3]  # chunk 0 was kept, chunks 1 and 2 computed
    fresh = tmp_path / "fresh.h5"
    explain_files(model_file, inputs, ["saliency"], fresh, chunk=100)
    np.testing.assert_array_equal(_saliency(out)[0], _saliency(fresh)[0])


def test_an_input_error_once_the_store_is_open_leaves_no_partial_file(tiny, tmp_path):
    from pix2pixai.stores.produce import produce_methods

    _, model, _ = tiny
    out = tmp_path / "s.h5"
    with pytest.raises(InputError, match="conv9"):
        produce_methods({"gradcam": {"layer": "conv9"}}, model, np.zeros((4, 8, 9, 2), np.float32),
                        out, chunk=2)
    assert not out.exists() and not partial_path(out).exists()


def test_out_that_is_an_input_or_a_folder_is_refused_before_the_model_is_read(tmp_path):
    inputs = tmp_path / "x.npy"
    np.save(inputs, np.zeros((2, 8, 9, 2), np.float32))
    before = inputs.read_bytes()
    with pytest.raises(InputError, match="is the input"):
        explain_files(tmp_path / "missing.keras", inputs, ["saliency"], inputs)
    with pytest.raises(InputError, match="is a folder"):
        explain_files(tmp_path / "missing.keras", inputs, ["saliency"], tmp_path)
    assert inputs.read_bytes() == before
