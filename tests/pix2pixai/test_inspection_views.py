"""Inspection views as product: the defaults they pick (checked against independent Keras / numpy
computations), the files and record they write, ``pix2pixai inspect`` in both forms, the report's
Inspection section, and the real CRTS CNN on real CRTS dmdts."""

from __future__ import annotations

import json
from pathlib import Path

import keras
import numpy as np
import pytest

from pix2pixai import atomic
from pix2pixai.cli import main
from pix2pixai.data.images import write_image_set
from pix2pixai.errors import InputError
from pix2pixai.figures.inspection_views import inspection_views
from pix2pixai.rundir.layout import RunDir, SurveyDir
from pix2pixai.rundir.surveys import SurveyData
from tests.conftest import shared_path

VIEWS = ("activations", "filters", "patches", "tsne", "neighbours")


@pytest.fixture(scope="module")
def small():
    """A generic CNN (random weights) on 30 random 16x16 one-channel inputs with 3 labels."""
    from pix2pixai.trainers.classifiers import generic_cnn

    keras.utils.set_random_seed(11)
    model = generic_cnn((16, 16, 1), 3, width=4)
    rng = np.random.default_rng(11)
    x = rng.random((30, 16, 16, 1)).astype(np.float32)
    return model, x, rng.integers(0, 3, 30)


def _outputs(model, layer: str, x: np.ndarray) -> np.ndarray:
    return keras.Model(model.inputs, model.get_layer(layer).output).predict(x, verbose=0)


def test_defaults_match_independent_computations(tmp_path, small):
    model, x, labels = small
    views = inspection_views(model, x, labels, ("a", "b", "c"), tmp_path, max_inputs=12, seed=2)
    probs = model.predict(x, verbose=0)
    correct = probs.argmax(1) == labels
    assert correct.any()
    expected_index = np.flatnonzero(correct)[np.argmax(probs[correct, labels[correct]])]
    assert views.index == expected_index
    assert views.layer == "last_conv"  # the deepest convolution
    peaks = _outputs(model, "last_conv", x).max(axis=(1, 2)).mean(axis=0)
    assert views.channel == int(np.argmax(peaks))
    assert views.receptive_field == (18, 18)  # conv3 -> pool2 -> conv3 -> pool2 -> conv3: 3, 4, 8, 10, 18
    gap = _outputs(model, "gap", x)
    distance = np.linalg.norm(gap - gap[views.index], axis=1)
    distance[views.index] = np.inf
    np.testing.assert_array_equal(views.neighbours, np.argsort(distance, kind="stable")[:6])
    assert views.n_tsne == 12
    for stem in VIEWS:
        assert (tmp_path / f"{stem}.png").stat().st_size > 3000 and (tmp_path / f"{stem}.pdf").exists()
    record = json.loads((tmp_path / "inspection.json").read_text())
    assert record["index"] == views.index and record["n_inputs"] == 30 and record["layer"] == "last_conv"


@pytest.mark.parametrize("kwargs, fragment", [
    ({"index": 30}, "index=30: expected an input index in 0..29"),
    ({"layer": "gap"}, "gap"),
    ({"channel": 99}, "channel=99: layer 'last_conv' has channels 0..15"),
    ({"max_inputs": 3}, "max_inputs=3"),
])
def test_bad_choices_are_input_errors(tmp_path, small, kwargs, fragment):
    model, x, labels = small
    with pytest.raises(InputError, match=fragment):
        inspection_views(model, x, labels, ("a", "b", "c"), tmp_path, **kwargs)


def test_labels_must_match_inputs(tmp_path, small):
    model, x, labels = small
    with pytest.raises(InputError, match=r"labels has shape \(29,\): expected \(30,\)"):
        inspection_views(model, x, labels[:29], ("a", "b", "c"), tmp_path)


def _fake_run(out: Path, model, x: np.ndarray, labels: np.ndarray) -> None:
    """A run directory holding what inspection reads: data, classifier, split, predictions, manifest."""
    sdir = SurveyDir(out / "toy")
    data = SurveyData(x=x, y=labels, group=labels, class_names=("a", "b", "c"), group_names=("a", "b", "c"),
                      group_class=(0, 1, 2), ids=np.arange(len(x)).astype(str), meta={"kind": "image"})
    data.save(sdir.data, sdir.data_meta)
    sdir.classifier.mkdir(parents=True)
    model.save(sdir.classifier / "model.keras")
    test = np.arange(0, len(x), 2)
    atomic.save_npz(sdir.classifier / "split.npz", train=np.arange(1, len(x), 2), test=test)
    atomic.save_npz(sdir.classifier / "predictions.npz", probs=model.predict(x[test], verbose=0))
    atomic.write_json(sdir.root / "config.json", {"seed": 5})
    atomic.write_json(out / "manifest.json", {"configs": {"toy": {}}, "class_maps": [], "steps": {}})
    RunDir(out).write_marker()


def test_cli_inspect_run_writes_views_and_report_shows_them(tmp_path, small, capsys):
    from pix2pixai.report import write_report

    model, x, labels = small
    _fake_run(tmp_path, model, x, labels)
    assert main(["inspect", "--out", str(tmp_path), "--index", "3", "--layer", "conv2", "--channel", "2"]) == 0
    folder = tmp_path / "figures" / "toy" / "inspection"
    record = json.loads((folder / "inspection.json").read_text())
    assert (record["index"], record["layer"], record["channel"]) == (3, "conv2", 2)
    assert record["receptive_field"] == [8, 8] and record["n_inputs"] == 15 and record["seed"] == 5
    assert "pix2pixai report" in capsys.readouterr().out
    page = write_report(tmp_path).read_text()
    section = page[page.index("<h2>Inspection: toy</h2>"):]
    assert section.count("data:image/png;base64,") == len(VIEWS) and "channel 2" in section
    assert main(["inspect", "--out", str(tmp_path), "--survey", "nope"]) == 2
    assert "no survey 'nope'" in capsys.readouterr().err


def test_cli_inspect_model_inputs_form_and_errors(tmp_path, small, capsys):
    model, x, labels = small
    model.save(tmp_path / "m.keras")
    write_image_set(tmp_path / "set.h5", x, labels, class_names=["a", "b", "c"])
    assert main(["inspect", str(tmp_path / "m.keras"), str(tmp_path / "set.h5"), "--out", str(tmp_path / "v")]) == 0
    assert all((tmp_path / "v" / f"{stem}.png").exists() for stem in VIEWS)
    assert main(["inspect", str(tmp_path / "m.keras"), "--out", str(tmp_path / "v")]) == 2
    assert "MODEL needs INPUTS" in capsys.readouterr().err
    assert main(["inspect", str(tmp_path / "m.onnx"), str(tmp_path / "set.h5"), "--out", str(tmp_path / "v")]) == 2
    assert main(["inspect", "--out", str(tmp_path / "norun")]) == 2
    assert "not a pix2pixai run directory" in capsys.readouterr().err


def test_real_crts_cnn_on_real_dmdts(tmp_path):
    """The real CNN (Conv5 -> MaxPool2 -> Conv5 -> Flatten -> Dense) on 844 real CRTS dmdts: the last
    conv layer's receptive field is 14 px, the top patch scores are that layer's largest activations,
    and the most confident input's nearest neighbours in feature space share its class."""
    from pix2pixai.trainers import load_legacy_model

    model_path = shared_path("reproducibility_periodic_cnn", "model.h5")
    with np.load(shared_path("crts-lightcurves-kvmu", "dmdt_reference_subset.npz")) as ref:
        names = [str(c) for c in ref["repro_classes"]]
        keep = np.isin(ref["labels"], names)
        x = ref["dmdt"][keep][..., None]
        labels = np.array([names.index(v) for v in ref["labels"][keep]])
        meta = {"kind": "dmdt", "dm_edges": ref["dm_edges"].tolist(), "dt_edges": ref["dt_edges"].tolist()}
    model = load_legacy_model(model_path, "crts_cnn")
    views = inspection_views(model, x, labels, names, tmp_path / "views", meta=meta, max_inputs=200, seed=0)
    assert (views.layer, views.receptive_field, views.n_tsne) == ("conv2d2", (14, 14), 200)
    record = json.loads((tmp_path / "views" / "inspection.json").read_text())
    assert record["n_inputs"] == len(x) == 715
    conv = _outputs(model, "conv2d2", x)[..., views.channel].max(axis=(1, 2))
    from pix2pixai.inspection import max_activating_patches

    _, scores, _ = max_activating_patches(model, x, "conv2d2", views.channel, k=12)
    np.testing.assert_allclose(scores, np.sort(conv)[::-1][:12], rtol=1e-5)
    same = labels[views.neighbours] == labels[views.index]
    assert same.mean() >= 0.5, (names[labels[views.index]], labels[views.neighbours])
    write_image_set(tmp_path / "dmdts.npz", x[:60], labels[:60], class_names=names)
    assert main(["inspect", str(model_path), str(tmp_path / "dmdts.npz"), "--out", str(tmp_path / "cli")]) == 0
    assert all((tmp_path / "cli" / f"{stem}.png").exists() for stem in VIEWS)


def test_run_figures_skip_inspection_of_a_model_without_convolutions(tmp_path, small):
    """A dense-only classifier has nothing to inspect: the figures step says so and goes on."""
    from pix2pixai.figures.all import render_all

    _, x, labels = small
    inputs = keras.Input((16, 16, 1))
    dense = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(keras.layers.Flatten()(inputs)))
    _fake_run(tmp_path, dense, x, labels)
    said: list[str] = []
    assert not [p for p in render_all(tmp_path, echo=said.append) if "inspection" in p.parts]
    assert any("inspection figures skipped" in line and "no conv" in line for line in said), said
