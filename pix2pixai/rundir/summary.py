"""The summary of a finished run read from its manifest: the table printed at the end of a run, whose
rows the report shows too."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from pix2pixai.rundir.layout import RunDir


def summary_rows(manifest: dict[str, Any]) -> list[tuple[str, str, str, str, str, str]]:
    """(survey, group, method, held-out SSIM, deletion AUC class map, deletion AUC mean map) rows."""
    rows = []
    for entry in manifest.get("class_maps", []):
        scores = entry.get("comparison") or {}
        fid = scores.get("fidelity_top1", {}).get("deletion_auc")
        mean = scores.get("mean_input", {}).get("deletion_auc")
        rows.append((entry["survey"], entry["group"], entry["method"], _fmt(entry.get("heldout_ssim")),
                     _fmt(fid), _fmt(mean)))
    return rows


def print_summary(manifest: dict[str, Any], out: Path, echo: Callable[[str], None] = print) -> None:
    """Print classifier quality, the class-map table and where the report is."""
    echo("")
    for survey, steps in manifest.get("steps", {}).items():
        clf = steps.get("classifier", {})
        if clf:
            echo(f"{survey}: classifier accuracy {_fmt(clf.get('accuracy'))}, macro-F1 {_fmt(clf.get('macro_f1'))} "
                 f"on {clf.get('n_test')} test inputs")
        skipped = steps.get("generators", {}).get("skipped", {})
        for group, why in skipped.items():
            echo(f"{survey}: {group}: no generator ({why})")
    header = ("survey", "group", "method", "heldout SSIM", "del.AUC class map", "del.AUC mean map")
    rows = summary_rows(manifest)
    if rows:
        widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
        echo("  ".join(h.ljust(w) for h, w in zip(header, widths)))
        for row in rows:
            echo("  ".join(c.ljust(w) for c, w in zip(row, widths)))
    total = manifest.get("timings", {}).get("total_seconds")
    echo(f"\nreport: {RunDir(out).report}" + (f"  (total {total:.0f} s)" if total else ""))


def _fmt(value: Any) -> str:
    return "-" if value is None else f"{value:.3f}"
