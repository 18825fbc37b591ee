"""What a reader needs on the run's figures: each class map's held-out SSIM in its cell, and GAN
training curves whose colours say which method a line belongs to."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from pix2pixai.figures import classmaps, training  # noqa: E402


@pytest.fixture
def kept_figures(monkeypatch) -> list:
    """Figures are captured instead of saved, so the test can read their artists."""
    figures: list = []

    def keep(fig, stem):
        figures.append(fig)
        return []

    monkeypatch.setattr(classmaps, "save_figure", keep)
    monkeypatch.setattr(training, "save_figure", keep)
    return figures


def test_class_map_cells_show_their_note(kept_figures, tmp_path):
    rng = np.random.default_rng(0)
    maps = {("EW", "gradcam"): rng.random((8, 8)), ("LPV", "shap"): rng.standard_normal((8, 8))}
    notes = {("EW", "gradcam"): "held-out SSIM 0.12", ("LPV", "shap"): "held-out SSIM 0.87"}
    classmaps.plot_class_map_grid(maps, ["EW", "LPV"], ["gradcam", "shap"], {"kind": "image"}, tmp_path / "grid",
                                  skipped={}, notes=notes)
    (fig,) = kept_figures
    texts = {t.get_text() for ax in fig.axes for t in ax.texts}
    assert {"held-out SSIM 0.12", "held-out SSIM 0.87"} <= texts


def test_training_curves_colour_by_method_with_one_legend_entry_each(kept_figures, tmp_path):
    hist = {"d_loss": [0.7, 0.6], "g_gan": [0.7, 0.8], "g_l1": [0.4, 0.3]}
    histories = {f"{g}/{m}": hist for g in ("a", "b", "c", "d", "e") for m in ("gradcam", "saliency", "shap")}
    training.plot_training_curves(histories, tmp_path / "curves")
    (fig,) = kept_figures
    legend = fig.axes[-1].get_legend()
    assert [t.get_text() for t in legend.get_texts()] == ["gradcam", "saliency", "shap"]
    colours = {}
    for line in fig.axes[0].get_lines():
        colours.setdefault(tuple(line.get_color()), 0)
        colours[tuple(line.get_color())] += 1
    assert sorted(colours.values()) == [5, 5, 5]  # 15 generators, 3 colours, one per method


def test_groups_without_class_maps_get_a_row_of_panels_saying_why(kept_figures, tmp_path):
    rng = np.random.default_rng(1)
    maps = {("EA", m): rng.random((6, 6)) for m in ("gradcam", "saliency")}
    entries = [{"group": "EA", "method": m, "reason": None, "skill": 0.123, "skill_ci": [0.05, 0.2]}
               for m in ("gradcam", "saliency")]
    entries += [{"group": "EW", "method": m, "reason": "3 correctly classified test inputs < 5", "skill": None}
                for m in ("gradcam", "saliency")]
    classmaps.plot_class_map_grid(maps, ["EW", "EA", "RRd"], ["gradcam", "saliency"], {"kind": "image"},
                                  tmp_path / "grid", skipped={"RRd": "2 explained inputs < 5"},
                                  notes=classmaps.class_map_notes(entries))
    (fig,) = kept_figures
    assert len([ax for ax in fig.axes if ax.images]) == 2  # EA's two maps (+ their colour bars) ...
    assert len(fig.axes) == 3 * 2 + 2  # ... and a panel for every other cell: no group loses its row
    texts = [t.get_text().replace("\n", " ") for ax in fig.axes for t in ax.texts]
    assert texts.count("skill 0.12 [0.05, 0.20]") == 2
    assert sum("3 correctly classified test inputs < 5" in t for t in texts) == 2
    assert sum("2 explained inputs < 5" in t for t in texts) == 2


def test_comparison_marks_candidates_without_a_metric(monkeypatch, tmp_path):
    from pix2pixai.figures import comparison

    figures: list = []
    monkeypatch.setattr(comparison, "save_figure", lambda fig, stem: figures.append(fig) or [])
    scores = {"fidelity_top1": {"deletion_auc": 0.2, "stability_ssim_mean": 0.7},
              "mean_input": {"deletion_auc": 0.3}}  # input aggregates use no generator: no stability
    comparison.plot_comparison([{"group": "EA", "method": "shap", "scores": scores}], tmp_path / "cmp")
    (fig,) = figures
    stability = next(ax for ax in fig.axes if ax.get_title().startswith("stability"))
    assert [t.get_text() for t in stability.texts] == ["n/a"]
    deletion = next(ax for ax in fig.axes if ax.get_title().startswith("deletion"))
    assert len(deletion.texts) == 0
