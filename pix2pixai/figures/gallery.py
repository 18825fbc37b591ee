"""Producer gallery: every registered input-specific producer on one clear example of each class.

A run explains with the few methods its config names; choosing them (or judging them) needs every
method side by side on the same inputs. The gallery takes, per class, the test input the classifier
is most confident about among those it gets right (rows), and draws the input and each producer's map
of that class (columns), computed at figures time with small budgets (integrated gradients 16 steps,
SHAP 32 draws from 16 training backgrounds), so it costs seconds, not a second explain step. A method
that does not apply to the model (CAM on a Flatten head, guided backpropagation without ReLU, CAM
with a probability score) gets one text panel over its column with the reason its ``InputError`` gives.
"""

from __future__ import annotations

import dataclasses
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import matplotlib.pyplot as plt
import numpy as np

from pix2pixai import atomic
from pix2pixai.errors import InputError
from pix2pixai.figures.maps import draw_map
from pix2pixai.figures.style import paper_style, save_figure
from pix2pixai.producers.registry import INPUT_METHODS, ParamContext, default_params, is_signed

#: Small, fixed budgets: the gallery is for looking, the run's maps come from the explain step.
IG_STEPS = 16
SHAP_SAMPLES = 32
SHAP_BACKGROUND = 16
#: Characters per line of a not-applicable panel (fits a column of the figure at 6 pt).
_WRAP = 26


@dataclass
class Gallery:
    """What the gallery shows: per row the class, the test-split position, id and probability of its
    input; per method either ``None`` (drawn) or the reason it does not apply; the files written."""

    rows: list[dict[str, Any]]
    reasons: dict[str, str | None]
    params: dict[str, dict[str, Any]]
    paths: list[Path] = field(default_factory=list)


def gallery_inputs(labels: np.ndarray, probs: np.ndarray) -> dict[int, int]:
    """Per class ``k``: the position of the correctly classified input with the highest ``p_k``.

    Classes with no correctly classified input are absent (there is no clear example to explain).
    """
    pred = probs.argmax(axis=1)
    chosen = {}
    for k in range(probs.shape[1]):
        hits = np.flatnonzero((labels == k) & (pred == k))
        if hits.size:
            chosen[k] = int(hits[np.argmax(probs[hits, k])])
    return chosen


def gallery_params(explain: dict[str, Any], x: np.ndarray, train_idx: np.ndarray, seed: int) -> dict[str, dict[str, Any]]:
    """Parameters per producer: the registry's defaults under the run's explain settings (``explain``:
    its recorded config section), with the gallery's small budgets for the sampling methods."""
    from pix2pixai.rundir.config import ExplainConfig

    known = {f.name for f in dataclasses.fields(ExplainConfig)}
    settings = dataclasses.replace(ExplainConfig(**{k: v for k, v in explain.items() if k in known}),
                                   shap_samples=SHAP_SAMPLES, shap_background=SHAP_BACKGROUND)
    context = ParamContext(settings, seed, x, train_idx)
    params = {method: default_params(method, context) for method in INPUT_METHODS}
    params["integrated-gradients"]["steps"] = IG_STEPS
    return params


def gallery_maps(model: Any, x: np.ndarray, targets: np.ndarray, params: dict[str, dict[str, Any]],
                 score: str = "logit") -> dict[str, np.ndarray | str]:
    """Every registered producer on ``x`` [K, H, W, C] for ``targets`` [K]: reduced maps [K, H, W]
    (each method's channel reduction), or the message of the ``InputError`` that says why the
    method does not apply to ``model``. Other exceptions propagate: they are bugs, not model limits."""
    from pix2pixai.producers import explain, reduce_maps

    out: dict[str, np.ndarray | str] = {}
    for method in INPUT_METHODS:
        try:
            maps = explain(method, model, x, targets=targets, score=score, **params.get(method, {}))
        except InputError as exc:
            out[method] = str(exc)
            continue
        out[method] = reduce_maps(maps, method=method)
    return out


def gallery_figure(x: np.ndarray, row_titles: Sequence[str], maps: dict[str, np.ndarray | str],
                   meta: dict[str, Any], title: str) -> plt.Figure:
    """Rows: inputs ``x`` [K, H, W, C]; columns: the input, then each method's map (own colour scale,
    signed maps centred on 0), or one text panel over the column with the reason it does not apply."""
    methods = list(maps)
    n_rows, n_cols = len(x), 1 + len(methods)
    is_dmdt = meta.get("kind") == "dmdt"
    # constrained layout: it spaces rows by their titles even with a panel spanning a column
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(1.45 * n_cols + 0.4, 1.55 * n_rows + 0.6), squeeze=False,
                             layout="constrained")
    label, shown = _input_display(x, meta)
    for r in range(n_rows):
        draw_map(axes[r, 0], shown[r], kind="input", meta=meta, colorbar=False,
                 title=f"{row_titles[r]}\n{label}")
        for c, method in enumerate(methods, start=1):
            if isinstance(maps[method], str):
                continue
            draw_map(axes[r, c], maps[method][r], signed=is_signed(method), meta=meta, colorbar=False,
                     title=method if r == 0 else None)
            if np.ptp(maps[method][r]) == 0:  # say so: one flat colour reads as a drawing failure
                axes[r, c].text(0.5, 0.5, f"constant {float(maps[method][r].flat[0]):.3g}", ha="center",
                                va="center", fontsize=6, color="0.5", transform=axes[r, c].transAxes)
    grid = axes[0, 0].get_gridspec()
    for c, method in enumerate(methods, start=1):
        reason = maps[method]
        if not isinstance(reason, str):
            continue
        for ax in axes[:, c]:
            ax.remove()
        panel = fig.add_subplot(grid[:, c])
        panel.set_axis_off()
        panel.set_title(method)
        panel.text(0.5, 0.5, "does not apply:\n\n" + textwrap.fill(reason, _WRAP, break_long_words=False,
                                                                    break_on_hyphens=False),
                   ha="center", va="center", fontsize=6, color="0.25", transform=panel.transAxes,
                   bbox={"boxstyle": "round", "facecolor": "0.95", "edgecolor": "0.8"})
    if is_dmdt:
        _label_outer(axes, n_rows, maps)
    fig.suptitle(title)
    return fig


def producer_gallery(sdir: Any, out_dir: Path) -> Gallery:
    """The gallery of a run's classifier on its test split (``sdir``: a ``SurveyDir``): writes
    ``producers.png``/``.pdf`` and ``gallery.json`` (inputs, parameters, reasons) into ``out_dir``."""
    from pix2pixai.rundir.readers import load_classifier, recorded_config, test_split

    split = test_split(sdir)
    data, test_idx, probs = split.data, split.test, split.probs
    labels = data.y[test_idx]
    chosen = gallery_inputs(labels, probs)
    if not chosen:
        raise InputError(f"{sdir.root}: the classifier gets no test input right; the producer gallery needs one")
    config = recorded_config(sdir)
    explain, seed = config.get("explain", {}), int(config.get("seed", 0))
    params = gallery_params(explain, data.x, split.train, seed)
    classes = np.array(sorted(chosen))
    positions = np.array([chosen[k] for k in classes])
    x = data.x[test_idx[positions]]
    maps = gallery_maps(load_classifier(sdir), x, classes, params, score=explain.get("score", "logit"))
    rows = [{"class": data.class_names[k], "position": int(p), "id": str(data.ids[test_idx[p]]),
             "probability": float(probs[p, k])} for k, p in zip(classes, positions)]
    missing = [data.class_names[k] for k in range(len(data.class_names)) if k not in chosen]
    title = (f"{sdir.root.name}: every producer on the most confident correct test input per class "
             f"({explain.get('score', 'logit')} score; each panel its own colour scale, signed maps centred on 0)")
    if missing:
        title += f"\nno correctly classified test input of {', '.join(missing)}"
    with paper_style():
        fig = gallery_figure(x, [f"{r['class']} #{r['id']} p={r['probability']:.2f}" for r in rows], maps,
                             data.meta, title)
        paths = save_figure(fig, Path(out_dir) / "producers")
    reasons = {m: (v if isinstance(v, str) else None) for m, v in maps.items()}
    shown = {m: {k: (f"array{list(v.shape)}" if isinstance(v, np.ndarray) else v) for k, v in p.items()}
             for m, p in params.items()}
    atomic.write_json(Path(out_dir) / "gallery.json", {"rows": rows, "missing_classes": missing,
                                                       "reasons": reasons, "params": shown})
    return Gallery(rows=rows, reasons=reasons, params=shown, paths=paths)


def _input_display(x: np.ndarray, meta: dict[str, Any]) -> tuple[str, np.ndarray]:
    """What the input column shows: the one channel, a triplet's difference image, else the channel mean."""
    if x.shape[-1] == 1:
        return "input", x[..., 0]
    if meta.get("kind") == "triplet" and x.shape[-1] == 3:
        return "input (DIFF)", x[..., 2]
    return "input (channel mean)", x.mean(axis=-1)


def _label_outer(axes: np.ndarray, n_rows: int, maps: dict[str, Any]) -> None:
    """dmdt axes: keep tick labels on the left column and bottom row only (the bins are shared)."""
    for r in range(n_rows):
        for c, method in enumerate([None, *maps]):
            if method is not None and isinstance(maps[method], str):
                continue
            ax = axes[r, c]
            if c > 0:
                ax.set_ylabel("")
                ax.tick_params(labelleft=False)
            if r < n_rows - 1:
                ax.set_xlabel("")
                ax.tick_params(labelbottom=False)
