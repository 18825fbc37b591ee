"""``report.html``: one self-contained file with every figure (embedded), the summary tables and
the manifest, readable offline and in any browser."""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path
from typing import Any

from pix2pixai import atomic
from pix2pixai.rundir.layout import RunDir
from pix2pixai.rundir.summary import summary_rows

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222}
h1{font-size:1.6em}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;font-size:.85em;margin:.5em 0}
th,td{border:1px solid #ccc;padding:.25em .5em;text-align:right}th{background:#f3f3f3}
td:first-child,th:first-child{text-align:left}
figure{margin:1em 0}figure img{max-width:100%;border:1px solid #eee}
figcaption{font-size:.85em;color:#555}
details pre{background:#f7f7f7;padding:1em;overflow:auto;font-size:.75em}
"""


def write_report(out: Path) -> Path:
    """Write ``out/report.html`` from the run directory's manifest, tables and PNG figures.

    Only into a run directory this toolkit made (its marker and a readable manifest, else an
    ``InputError``): a folder of the user's own ``report.html`` is never replaced."""
    run = RunDir(out)
    manifest = run.read_manifest()
    parts = [f"<h1>pix2pixai report</h1><p>Run directory <code>{html.escape(str(out))}</code>, "
             f"pix2pixai {html.escape(str(manifest.get('pix2pixai')))}.</p>"]
    parts.append(_classifier_table(run, manifest))
    parts.append(_classmap_table(manifest))
    parts.append(_comparison_tables(run, manifest))
    for survey in manifest.get("configs", {}):
        figs = sorted(run.survey_figures(survey).glob("*.png"), key=_figure_order)
        if figs:
            parts.append(f"<h2>Figures: {html.escape(survey)}</h2>")
            parts += [_figure(p) for p in figs]
        parts.append(_cadence_section(run.survey(survey).cadence, run.cadence_figures(survey), survey))
        parts.append(_gallery_section(run.gallery_figures(survey), survey))
        parts.append(_inspection_section(run.inspection_figures(survey), survey))
    parts.append("<h2>Manifest</h2><details><summary>manifest.json</summary><pre>"
                 + html.escape(json.dumps(manifest, indent=2)) + "</pre></details>")
    page = ("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>pix2pixai report</title>"
            f"<style>{_CSS}</style></head><body>" + "\n".join(parts) + "</body></html>\n")
    return atomic.write_text(run.report, page)


def _inspection_section(folder: Path, survey: str) -> str:
    """The classifier seen from inside (``pix2pixai.figures.inspection_views``), with the choices made."""
    order = ["activations", "filters", "patches", "tsne", "neighbours"]
    figs = sorted(folder.glob("*.png"), key=lambda p: (order.index(p.stem) if p.stem in order else len(order), p.stem))
    if not figs:
        return ""
    note = ""
    if (folder / "inspection.json").exists():
        rec = json.loads((folder / "inspection.json").read_text())
        note = (f"<p>Classifier on its test split: activations of input #{rec['index']} (the most confident "
                f"correct one unless chosen), patches of {html.escape(str(rec['layer']))} channel {rec['channel']} "
                f"(receptive field {rec['receptive_field'][0]}x{rec['receptive_field'][1]} px), t-SNE of "
                f"{rec['n_tsne']} of {rec['n_inputs']} inputs' penultimate features. Re-draw with other "
                "choices: <code>pix2pixai inspect --out RUN --index I --layer L --channel C</code>.</p>")
    return f"<h2>Inspection: {html.escape(survey)}</h2>" + note + "".join(_figure(p) for p in figs)


def _cadence_section(record_file: Path, folder: Path, survey: str) -> str:
    """How the survey's time lags fill the dmdt preset's dt bins (``pix2pixai.data.cadence``, computed
    by the data step from the light curves): KL divergences, pairs per dt bin, suggested edges."""
    if not record_file.exists():
        return ""
    rec = json.loads(record_file.read_text())
    head = f"<h2>Cadence: {html.escape(survey)}</h2>"
    if "unavailable" in rec:
        return head + f"<p>No cadence diagnostics: {html.escape(rec['unavailable'])}</p>"
    what = "single-band curves" if rec.get("curves") == "per band" else "light curves"
    summary = (f"<p>{rec['n_curves']} {what}, {rec['n_points']} "
               f"points, {rec['n_pairs']} pairs ({rec['n_zero_lag_pairs']} with dt = 0); smallest positive lag "
               f"{rec['dt_min']:.4g} d, longest {rec['dt_max']:.4g} d, median consecutive gap "
               f"{rec['median_gap']:.4g} d. KL divergence in nats from a uniform / log-uniform distribution "
               "over the observed range (0 = exactly that shape). Re-compute from light curves with "
               f"<code>pix2pixai cadence LIGHTCURVES --preset {html.escape(rec['preset'])}</code>.</p>")
    kl = _table(["lags", "KL vs uniform", "KL vs log-uniform"], [
        ["all pairs", rec["kl_pairs_uniform"], rec["kl_pairs_log_uniform"]],
        ["consecutive gaps", rec["kl_gaps_uniform"], rec["kl_gaps_log_uniform"]]])
    total = max(rec["n_pairs"], 1)
    edges, counts = rec["dt_edges"], rec["pairs_per_dt_bin"]
    bins = [[f"[{lo:.4g}, {hi:.4g})", n, f"{100 * n / total:.1f}%"] for lo, hi, n in zip(edges[:-1], edges[1:], counts)]
    bins.append(["out of range", rec["pairs_out_of_range"], f"{100 * rec['pairs_out_of_range'] / total:.1f}%"])
    population = (f"<details><summary>pairs per '{html.escape(rec['preset'])}' dt bin ({len(counts)} bins, "
                  f"{sum(1 for n in counts if n == 0)} empty)</summary>"
                  + _table(["dt bin (days)", "pairs", "share"], bins) + "</details>")
    suggested = ("<p>Suggested dt edges (about equal pairs per bin): "
                 + html.escape(", ".join(f"{e:.4g}" for e in rec["suggested_dt_edges"])) + "</p>")
    figs = "".join(_figure(p) for p in sorted(folder.glob("*.png")))
    return head + summary + kl + population + suggested + figs


def _gallery_section(folder: Path, survey: str) -> str:
    """Every registered producer side by side (``pix2pixai.figures.gallery``), with its inputs and budgets."""
    figs = sorted(folder.glob("*.png"))
    if not figs:
        return ""
    note = ""
    if (folder / "gallery.json").exists():
        rec = json.loads((folder / "gallery.json").read_text())
        skipped = [f"{html.escape(m)} ({html.escape(r)})" for m, r in rec["reasons"].items() if r]
        note = ("<p>Every registered per-input producer on the most confident correctly classified test input of "
                "each class, computed when the figures are drawn with small budgets (integrated gradients "
                f"{rec['params'].get('integrated-gradients', {}).get('steps', '')} steps, SHAP "
                f"{rec['params'].get('shap', {}).get('n_samples', '')} draws); the run's own maps are those of the "
                "explain step."
                + (" Not applicable to this classifier: " + "; ".join(skipped) + "." if skipped else "") + "</p>")
    return f"<h2>Producer gallery: {html.escape(survey)}</h2>" + note + "".join(_figure(p) for p in figs)


def _figure_order(path: Path) -> tuple[int, str]:
    order = ["class_maps", "comparison", "confusion", "gan_training", "input", "misclassified"]
    rank = next((i for i, key in enumerate(order) if path.stem.startswith(key)), len(order))
    return rank, path.stem


def _figure(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode()
    caption = html.escape(path.stem.replace("_", " "))
    return f'<figure><img alt="{caption}" src="data:image/png;base64,{data}"><figcaption>{caption}</figcaption></figure>'


def _table(header: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(_cell(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def _classifier_table(run: RunDir, manifest: dict[str, Any]) -> str:
    rows = []
    for survey in manifest.get("configs", {}):
        path = run.survey(survey).classifier_report
        if path.exists():
            rep = json.loads(path.read_text())
            rows.append([survey, rep.get("n", rep.get("support_total", "")), rep["accuracy"],
                         rep.get("accuracy_se", ""), rep["macro_f1"], rep.get("macro_f1_se", "")])
    if not rows:
        return ""
    return "<h2>Classifier quality (test split)</h2>" + _table(
        ["survey", "n", "accuracy", "s.e.", "macro-F1", "s.e."], rows)


def _classmap_table(manifest: dict[str, Any]) -> str:
    rows = [list(r) for r in summary_rows(manifest)]
    if not rows:
        return ""
    return ("<h2>Class maps and held-out generator quality</h2><p>Held-out SSIM: SSIM between G(x) and the "
            "true map e(x) on the group's held-out inputs (unit range, fixed data range). Deletion AUC: "
            "target probability as the map's top pixels are removed, lower is more faithful.</p>"
            + _table(["survey", "group", "method", "held-out SSIM", "del. AUC class map", "del. AUC mean map"], rows))


def _comparison_tables(run: RunDir, manifest: dict[str, Any]) -> str:
    parts = []
    for survey in manifest.get("configs", {}):
        path = run.survey(survey).comparison
        if not path.exists():
            continue
        rows = json.loads(path.read_text())
        if not rows:
            continue
        metrics = list(dict.fromkeys(k for r in rows for s in r["scores"].values() for k in s))
        candidates = list(rows[0]["scores"])
        table_rows = []
        for metric in metrics:
            for cand in candidates:
                vals = [r["scores"][cand][metric] for r in rows if metric in r["scores"][cand]]
                wins = sum(1 for r in rows if _best(r["scores"], metric) == cand)
                table_rows.append([metric, cand, sum(vals) / len(vals) if vals else "", f"{wins}/{len(rows)}"])
        parts.append(f"<h2>Aggregation comparison: {html.escape(survey)}</h2><p>Mean over (group, method); "
                     "'best in' counts the (group, method) pairs where the candidate is best. "
                     "sanity_ssim_to_randomised: SSIM to the mean map after cascading randomisation of every "
                     "classifier layer (lower better; per-layer curve in the figure). stability_ssim_mean/min: "
                     "SSIM between class maps from generators trained with different seeds (higher better; "
                     "none for the input aggregates, which use no generator).</p>"
                     + _table(["metric", "candidate", "mean", "best in"], table_rows))
    return "\n".join(parts)


def _best(scores: dict[str, dict[str, float]], metric: str) -> str:
    lower_better = metric in ("deletion_auc", "sanity_ssim_to_randomised")
    present = {k: v[metric] for k, v in scores.items() if metric in v}
    return (min if lower_better else max)(present, key=present.get) if present else ""
