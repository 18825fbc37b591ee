"""Render every figure of a run directory (what ``pix2pixai figures`` and the report use)."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Callable

import numpy as np

from pix2pixai.errors import InputError
from pix2pixai.figures.classifier import plot_confusion
from pix2pixai.figures.classlevel import plot_class_level
from pix2pixai.figures.classmaps import class_map_notes, plot_class_map_grid
from pix2pixai.figures.comparison import plot_comparison
from pix2pixai.figures.panels import pick_examples, plot_input_panel
from pix2pixai.figures.training import plot_training_curves
from pix2pixai.rundir.layout import RunDir, SurveyDir
from pix2pixai.rundir.readers import load_survey_data, test_split
from pix2pixai.rundir.surveys import SurveyData


def render_all(out: Path, echo: Callable[[str], None] = print) -> list[Path]:
    """Render every figure for every survey into ``out/figures``; return the PNG paths.

    Only into a run directory this toolkit made (``RunDir.surveys`` reads the marker and the
    manifest first, else an ``InputError``): a folder of the user's own figures is never touched."""
    run = RunDir(out)
    pngs: list[Path] = []
    for sdir in run.surveys():
        name = sdir.root.name
        figs = run.survey_figures(name)
        if not sdir.data_meta.exists():
            continue
        data = load_survey_data(sdir)
        pngs += _classifier_figures(sdir, data, figs, name)
        pngs += _class_map_figures(sdir, data, figs, name)
        pngs += _panel_figures(sdir, data, figs, name)
        pngs += _training_figures(sdir, figs, name)
        pngs += _comparison_figures(sdir, figs, name)
        pngs += _class_level_figures(sdir, data, figs)
        pngs += _inspection_figures(sdir, run.inspection_figures(name), echo)
        pngs += _cadence_figures(sdir, run.cadence_figures(name), echo)
        pngs += _gallery_figures(sdir, run.gallery_figures(name), echo)
        echo(f"[{name}] figures: {figs}")
    return pngs


def _class_map(path: Path) -> np.ndarray:
    """The class map stored in ``path``; a damaged or foreign file is an ``InputError`` naming it."""
    try:
        with np.load(path, allow_pickle=False) as stored:
            return stored["class_map"]
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as err:
        raise InputError(f"{path}: unreadable class map ({type(err).__name__}: {err}); re-run "
                         "`pix2pixai class-maps` to rewrite it") from None


def _png(paths: list[Path]) -> list[Path]:
    return [p for p in paths if p.suffix == ".png"]


def _classifier_figures(sdir: SurveyDir, data: SurveyData, figs: Path, name: str) -> list[Path]:
    report = sdir.classifier_report
    if not report.exists():
        return []
    rep = json.loads(report.read_text())
    title = f"{name}: test accuracy {rep['accuracy']:.3f}, macro-F1 {rep['macro_f1']:.3f}"
    return _png(plot_confusion(np.array(rep["confusion_matrix"]), data.class_names, figs / "confusion", title=title))


def _class_map_figures(sdir: SurveyDir, data: SurveyData, figs: Path, name: str) -> list[Path]:
    """The group x method grid: drawn cells say their out-of-fold skill, cells without a map their reason."""
    index = sdir.classmap_index
    if not index.exists():
        return []
    entries = json.loads(index.read_text())
    if not entries:
        return []
    methods = list(dict.fromkeys(e["method"] for e in entries))
    maps = {(e["group"], e["method"]): _class_map(sdir.classmap_file(e["group"], e["method"]))
            for e in entries if not e.get("reason")}
    title = f"{name}: pix2piXAI class maps (fidelity-ranked top generated map; skill = out-of-fold gain over the mean map)"
    return _png(plot_class_map_grid(maps, data.group_names, methods, data.meta, figs / "class_maps",
                                    title=title, notes=class_map_notes(entries)))


def _panel_figures(sdir: SurveyDir, data: SurveyData, figs: Path, name: str) -> list[Path]:
    if not sdir.maps.exists():
        return []
    from pix2pixai.stores import MapStore

    split = test_split(sdir)
    data, test_idx, probs = split.data, split.test, split.probs
    pred = probs.argmax(axis=1)
    correct = pred == data.y[test_idx]
    groups = data.group[test_idx]
    out: list[Path] = []
    with MapStore.open(sdir.maps) as store:
        methods = store.methods()
        for misclassified in (False, True):
            for i in pick_examples(correct, groups, len(data.group_names), misclassified=misclassified)[:3]:
                maps = {m: store.read(m, indices=np.array([i]))[0] for m in methods}
                label = data.group_names[groups[i]]
                title = (f"{name} #{data.ids[test_idx[i]]}: label {label} ({data.class_names[data.y[test_idx[i]]]}), "
                         f"predicted {data.class_names[pred[i]]} (p={probs[i, pred[i]]:.2f})")
                kind = "misclassified" if misclassified else "input"
                out += _png(plot_input_panel(data.x[test_idx[i]], maps, data.meta, figs / f"{kind}_{label}", title=title))
    return out


def _training_figures(sdir: SurveyDir, figs: Path, name: str) -> list[Path]:
    histories = {}
    for path in sdir.generator_histories():
        histories[f"{path.parent.parent.name}/{path.parent.name}"] = json.loads(path.read_text())
    if not histories:
        return []
    return _png(plot_training_curves(histories, figs / "gan_training", title=f"{name}: pix2pix training"))


def _comparison_figures(sdir: SurveyDir, figs: Path, name: str) -> list[Path]:
    path = sdir.comparison
    if not path.exists():
        return []
    rows = json.loads(path.read_text())
    if not rows:
        return []
    return _png(plot_comparison(rows, figs / "comparison", title=f"{name}: which class map is most faithful?"))


def _class_level_figures(sdir: SurveyDir, data: SurveyData, figs: Path) -> list[Path]:
    path = sdir.classlevel
    if not path.exists():
        return []
    with np.load(path) as stored:
        return _png(plot_class_level(stored["lighting"], stored["actmax"], data.class_names, data.meta,
                                     figs / "class_level"))


def _inspection_figures(sdir: SurveyDir, folder: Path, echo: Callable[[str], None]) -> list[Path]:
    """Activation grid, filters, top patches, t-SNE and neighbours of the classifier on its test split
    (``figures/<survey>/inspection/``, the report's "Inspection" section)."""
    from pix2pixai.figures.inspection_views import inspect_survey

    return _classifier_views(sdir, "inspection figures", lambda: inspect_survey(sdir, folder).paths, echo)


def _classifier_views(sdir: SurveyDir, what: str, render: Callable[[], list[Path]],
                      echo: Callable[[str], None]) -> list[Path]:
    """Figures drawn from the trained classifier, once it has predictions. A model they cannot be drawn
    for (no convolution, too few test inputs) is said and skipped: the other figures stand."""
    if not sdir.predictions.exists():
        return []
    from pix2pixai.errors import InputError

    try:
        return _png(render())
    except InputError as exc:
        echo(f"[{sdir.root.name}] {what} skipped: {exc}")
        return []


def _cadence_figures(sdir: SurveyDir, folder: Path, echo: Callable[[str], None]) -> list[Path]:
    """Time lags of a dmdt survey's light curves against its preset's dt bins, from the data step's
    ``cadence.json`` (``figures/<survey>/cadence/``, the report's "Cadence" subsection)."""
    if not sdir.cadence.exists():
        return []
    from pix2pixai.data.cadence import CadenceReport
    from pix2pixai.figures.cadence import plot_cadence

    record = json.loads(sdir.cadence.read_text())
    if "unavailable" in record:
        echo(f"[{sdir.root.name}] cadence figure skipped: {record['unavailable']}")
        return []
    return [plot_cadence(CadenceReport.from_dict(record), folder / "cadence.png")]


def _gallery_figures(sdir: SurveyDir, folder: Path, echo: Callable[[str], None]) -> list[Path]:
    """Every registered producer on one confident correct test input per class
    (``figures/<survey>/gallery/``, the report's "Producer gallery" subsection)."""
    from pix2pixai.figures.gallery import producer_gallery

    return _classifier_views(sdir, "producer gallery", lambda: producer_gallery(sdir, folder).paths, echo)
