"""A run's figures step shows the cadence diagnostics of a dmdt survey and a gallery of every producer:
the data step's ``cadence.json`` equals :func:`pix2pixai.data.cadence.cadence_report` on the same curves,
both figures are written and the report shows them with their tables, and a method that does not apply
(CAM on the CRTS CNN's Flatten head) is a text panel carrying the reason its ``InputError`` gives."""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path

import keras
import numpy as np
import pytest

from pix2pixai.errors import InputError
from tests.pix2pixai.conftest import SURVEY, write_tiny_config


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> Path:
    """The tiny dmdt chain's data and classifier steps, then figures and report (no generators: fast)."""
    from pix2pixai.pipeline.runner import run_chain
    from pix2pixai.rundir.config import load_config

    folder = tmp_path_factory.mktemp("tiny")
    run_chain([load_config(write_tiny_config(folder))], folder / "run", steps=("data", "classifier"),
              echo=lambda _: None)
    return folder / "run"


def test_cadence_json_equals_cadence_report_on_the_same_curves(tiny_run):
    from pix2pixai.data.cadence import CadenceReport, cadence_report
    from pix2pixai.data.synthetic.periodic import simulate_periodic

    curves = simulate_periodic(40, seed=3, classes=("EW", "LPV"), survey="crts")
    with np.load(tiny_run / SURVEY / "data.npz") as data:
        assert [c.lcid for c in curves] == data["ids"].tolist()  # the very curves the data step binned
    record = json.loads((tiny_run / SURVEY / "cadence.json").read_text())
    assert record["curves"] == "per light curve"
    stored, expected = CadenceReport.from_dict(record), cadence_report(curves, preset="crts")
    for f in fields(CadenceReport):
        a, b = getattr(stored, f.name), getattr(expected, f.name)
        if isinstance(b, np.ndarray):
            assert a.dtype == b.dtype and np.array_equal(a, b), f.name
        else:
            assert a == b, f.name


def test_figures_step_writes_cadence_and_gallery_and_report_shows_them(tiny_run):
    figs = tiny_run / "figures" / SURVEY
    assert (figs / "cadence" / "cadence.png").exists() and (figs / "gallery" / "producers.png").exists()
    page = (tiny_run / "report.html").read_text()
    cadence = page[page.index(f"<h2>Cadence: {SURVEY}</h2>"):page.index(f"<h2>Producer gallery: {SURVEY}</h2>")]
    record = json.loads((tiny_run / SURVEY / "cadence.json").read_text())
    assert "KL vs log-uniform" in cadence and f"{record['kl_pairs_log_uniform']:.3f}" in cadence
    assert f"<td>{record['pairs_per_dt_bin'][-1]}</td>" in cadence and "Suggested dt edges" in cadence
    assert cadence.count("data:image/png;base64,") == 1
    gallery = page[page.index(f"<h2>Producer gallery: {SURVEY}</h2>"):]
    gallery = gallery[:gallery.index("<h2>", 4)]
    assert gallery.count("data:image/png;base64,") == 1 and "Not applicable to this classifier: cam" in gallery


def test_gallery_picks_the_most_confident_correct_input_per_class(tiny_run):
    from pix2pixai.producers.registry import INPUT_METHODS

    sdir = tiny_run / SURVEY
    with np.load(sdir / "data.npz") as data, np.load(sdir / "classifier" / "split.npz") as split, \
            np.load(sdir / "classifier" / "predictions.npz") as pred:
        labels, probs = data["y"][split["test"]], pred["probs"]
    record = json.loads((tiny_run / "figures" / SURVEY / "gallery" / "gallery.json").read_text())
    assert sorted(record["reasons"]) == sorted(INPUT_METHODS)
    for row, name in zip(record["rows"], ("EW", "LPV")):
        k = ("EW", "LPV").index(name)
        ok = [i for i in range(len(labels)) if labels[i] == k and probs[i].argmax() == k]
        assert row["class"] == name and row["position"] == max(ok, key=lambda i: probs[i, k])


def test_gallery_cam_panel_carries_the_reason_for_a_flatten_head(tiny_run):
    """The run's classifier is the CRTS CNN (Conv -> Flatten -> Dense): CAM's own InputError is the
    reason in gallery.json and on the figure's panel; every other registered method is drawn."""
    from pix2pixai.figures.gallery import gallery_figure
    from pix2pixai.producers.cam import cam

    sdir = tiny_run / SURVEY
    model = keras.models.load_model(sdir / "classifier" / "model.keras", compile=False)
    with np.load(sdir / "data.npz") as data:
        x = data["x"][:2]
    with pytest.raises(InputError) as raised:
        cam(model, x, np.array([0, 1]))
    reason = str(raised.value)
    assert "Flatten" in reason
    record = json.loads((tiny_run / "figures" / SURVEY / "gallery" / "gallery.json").read_text())
    assert record["reasons"]["cam"] == reason
    assert [m for m, r in record["reasons"].items() if r] == ["cam"]
    meta = json.loads((sdir / "data.json").read_text())
    fig = gallery_figure(x, ["EW", "LPV"], {"gradcam": np.ones((2, *x.shape[1:3])), "cam": reason}, meta, "t")
    texts = [" ".join(t.get_text().split()) for ax in fig.axes for t in ax.texts]
    assert any(" ".join(reason.split()) in t for t in texts), texts
    assert sum(1 for ax in fig.axes if ax.get_title() == "cam") == 1  # one panel over the whole column


def test_gallery_draws_cam_for_a_global_average_pooling_head():
    from pix2pixai.figures.gallery import gallery_maps
    from pix2pixai.trainers.classifiers import generic_cnn

    keras.utils.set_random_seed(0)
    model = generic_cnn((16, 16, 1), 3, width=4)
    x = np.random.default_rng(0).random((3, 16, 16, 1)).astype(np.float32)
    maps = gallery_maps(model, x, np.arange(3), {"shap": {"background": x, "n_samples": 4},
                                                 "integrated-gradients": {"steps": 4}})
    assert not [m for m, v in maps.items() if isinstance(v, str)]
    assert all(v.shape == (3, 16, 16) for v in maps.values())
