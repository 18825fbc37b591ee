"""Regenerate every number a reader sees from one finished run and from ``PROFILES``.

Why a script: numbers typed by hand into the README drifted from the code and from fresh runs (the
profile table, the demo's time, accuracy, skipped classes, the hero picture). This script rewrites
them from their sources, so they cannot drift:

* README.md: the profile table (from ``pix2pixai.rundir.config.PROFILES`` and the schema's defaults),
  the demo's measured time (from RUN/manifest.json) and, with ``--test-seconds``, the tests' time;
* docs/results.md: the run's provenance and wall time, classifier accuracy per survey, one class-map
  table per survey (group x method: held-out SSIM, split counts, comparison scores) and the groups
  that got no generator, with the reason;
* the hero figure: the run's class maps, one panel per survey (rows = groups, columns = methods).

Only the text between marker comments ``<!-- make_results:NAME -->`` and
``<!-- /make_results:NAME -->`` is replaced; everything outside them is kept byte for byte. Every
generated block names the run it came from (folder, date, pix2pixai version). A missing marker is an
error naming the file and the marker, so a block is never silently skipped.

Usage: ``python scripts/make_results.py RUN [--readme README.md] [--results docs/results.md]
[--hero docs/images/demo_class_maps.png] [--test-seconds S] [--cpus N]``
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import textwrap
from pathlib import Path
from typing import Any, Callable, NamedTuple, Sequence

import numpy as np

from pix2pixai.atomic import atomic_path, write_text

KINDS: tuple[str, ...] = ("dmdt", "triplet", "image")
#: Comparison candidates as the tables name them (keys of ``pix2pixai.compare.CANDIDATES``).
CANDIDATE_LABELS: dict[str, str] = {
    "fidelity_top1": "class map", "medoid_top1": "medoid map", "mean_input": "mean input map",
    "median_input": "median input map", "mean_generated": "mean generated map", "random": "random map",
}
PLAIN_AGGREGATES: frozenset[str] = frozenset({"mean_input", "median_input"})


# ------------------------------------------------------------------------------------- markers
def marker_pattern(name: str) -> re.Pattern[str]:
    """The begin marker, the body and the end marker of block ``name`` (body in group 2)."""
    return re.compile(rf"(<!-- make_results:{re.escape(name)} -->\n)(.*?)(<!-- /make_results:{re.escape(name)} -->)",
                      re.DOTALL)


def replace_block(text: str, name: str, body: str, *, origin: str = "<text>") -> str:
    """``text`` with block ``name``'s body replaced by ``body`` (one trailing newline); text outside
    the markers is unchanged. Raises ``SystemExit`` naming ``origin`` when the markers are missing."""
    pattern = marker_pattern(name)
    if len(pattern.findall(text)) != 1:
        raise SystemExit(f"{origin}: needs exactly one <!-- make_results:{name} --> ... "
                         f"<!-- /make_results:{name} --> pair")
    body = body.rstrip("\n") + "\n"
    return pattern.sub(lambda m: m.group(1) + body + m.group(3), text)


def read_block(text: str, name: str) -> str | None:
    """The current body of block ``name``, or None if ``text`` has no such block."""
    match = marker_pattern(name).search(text)
    return match.group(2) if match else None


# -------------------------------------------------------------------------------- profile table
def _budget(profile: str, kind: str) -> Any:
    from pix2pixai.rundir.config import config_from_dict

    return config_from_dict({"survey": {"kind": kind}}, profile=profile)


def _per_kind(get: Callable[[Any], Any]) -> Callable[[dict[str, Any]], str]:
    def cell(configs: dict[str, Any]) -> str:
        values = [str(get(configs[k])) for k in KINDS]
        return values[0] if len(set(values)) == 1 else " / ".join(values)
    return cell


def _same(get: Callable[[Any], Any]) -> Callable[[dict[str, Any]], str]:
    return lambda configs: str(get(configs["dmdt"]))


def _stability(c: Any) -> str:
    cc = c.compare
    n = cc.stability_groups
    groups = "every group" if n == 0 else ("first group" if n == 1 else f"first {n} groups")
    return f"{cc.stability_seeds} ({groups}) / {cc.cascading_inputs}"


def _test_split(c: Any) -> str:
    fraction, n = c.classifier.test_fraction, c.survey.n_per_group
    return f"{fraction:.0%} ({round(fraction * n)})"


#: Rows of the profile table: (what, cell from the effective config of each survey kind).
PROFILE_ROWS: tuple[tuple[str, Callable[[dict[str, Any]], str]], ...] = (
    ("simulated inputs per group (dmdt / triplet / image)", _per_kind(lambda c: f"{c.survey.n_per_group:,}")),
    ("test split, which explain and the generators see (dmdt / triplet / image; per group)",
     _per_kind(_test_split)),
    ("classifier epochs (early-stopping patience)",
     _same(lambda c: f"{c.classifier.epochs} ({c.classifier.patience})")),
    ("SHAP samples / background size", _same(lambda c: f"{c.explain.shap_samples} / {c.explain.shap_background}")),
    ("blanking patch, stride = patch (dmdt / triplet / image; px)", _per_kind(lambda c: c.explain.blanking_patch)),
    ("activation maximisation steps / restarts",
     _same(lambda c: f"{c.explain.actmax_steps} / {c.explain.actmax_restarts}")),
    ("generator width ngf / ndf", _same(lambda c: f"{c.generator.ngf} / {c.generator.ndf}")),
    ("generator mode / cross-fitting folds", _same(lambda c: f"{c.generator.mode} / {c.generator.folds}")),
    ("generator steps (evaluated every, patience) / batch",
     _same(lambda c: f"{c.generator.steps:,} ({c.generator.eval_every}, {c.generator.patience}) / "
                     f"{c.generator.batch_size}")),
    ("class-map inputs: threshold (else the most confident correct, at least)",
     _same(lambda c: f"p >= {c.classmaps.classmap_threshold} ({c.classmaps.min_inputs})")),
    ("comparison: extra generator seeds (groups) / cascading-randomisation inputs per group", _same(_stability)),
)


def render_profile_table() -> str:
    """The README's profile table: every budget of ``PROFILES`` as the runs see it (schema defaults,
    then the profile's ``"*"`` entry, then its survey kind's entry)."""
    from pix2pixai.rundir.config import PROFILES

    profiles = list(PROFILES)
    configs = {p: {k: _budget(p, k) for k in KINDS} for p in profiles}
    lines = ["| budget | " + " | ".join(profiles) + " |", "|---" * (len(profiles) + 1) + "|"]
    for label, cell in PROFILE_ROWS:
        lines.append(f"| {label} | " + " | ".join(cell(configs[p]) for p in profiles) + " |")
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------------- the run
class SurveyRecord(NamedTuple):
    """What the tables need of one survey of a run (manifest entries plus the files they point at)."""

    name: str
    profile: str
    steps: dict[str, Any]
    seconds: dict[str, float]
    classifier: dict[str, Any]
    groups: list[str]
    cells: list[dict[str, Any]]
    skipped: dict[str, str]
    meta: dict[str, Any]


class RunRecord(NamedTuple):
    """One finished run directory as make_results reads it."""

    path: Path
    label: str
    version: str
    date: str
    chain_seconds: float | None
    total_seconds: float | None
    surveys: list[SurveyRecord]

    @property
    def provenance(self) -> str:
        return (f"run `{self.label}` of {self.date}, pix2pixai {self.version} "
                f"(generated by `scripts/make_results.py`; do not edit by hand)")


def _read_json(path: Path, default: Any) -> Any:
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else default


def run_date(manifest: dict[str, Any], path: Path) -> str:
    """The run's date (UTC): the manifest's own ``created`` field if it has one, else its file time."""
    if manifest.get("created"):
        return str(manifest["created"])[:10]
    return datetime.datetime.fromtimestamp(path.stat().st_mtime, datetime.timezone.utc).date().isoformat()


def read_run(run: Path, label: str | None = None) -> RunRecord:
    """Read RUN/manifest.json and, per survey, the classifier report, the class-map index (split
    counts per cell) and the data description (for the figure's axes)."""
    from pix2pixai.rundir.layout import RunDir

    rundir = RunDir(run)
    manifest_path = rundir.manifest
    if not manifest_path.exists():
        raise SystemExit(f"{run}: no manifest.json (is this a finished run directory?)")
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    timings = manifest.get("timings", {})
    cells_by_survey: dict[str, list[dict[str, Any]]] = {}
    for entry in manifest.get("class_maps", []):
        cells_by_survey.setdefault(entry["survey"], []).append(entry)
    surveys = []
    for name, config in manifest.get("configs", {}).items():
        sdir = rundir.survey(name)
        steps = manifest.get("steps", {}).get(name, {})
        counts = {(e["group"], e["method"]): e for e in _read_json(sdir.classmap_index, [])}
        cells = []
        for entry in cells_by_survey.get(name, []):
            cell = dict(entry)
            cell["counts"] = counts.get((entry["group"], entry["method"]), {})
            cell["path"] = run / entry["file"] if entry.get("file") else None
            cells.append(cell)
        meta = _read_json(sdir.data_meta, {})
        groups = list(meta.get("group_names") or steps.get("data", {}).get("groups", {}))
        surveys.append(SurveyRecord(
            name=name, profile=config.get("profile", ""), steps=steps,
            seconds=timings.get("surveys", {}).get(name, {}),
            classifier=_read_json(sdir.classifier_report, steps.get("classifier", {})),
            groups=groups, cells=cells, skipped=dict(steps.get("generators", {}).get("skipped", {})), meta=meta,
        ))
    return RunRecord(path=run, label=label or _display_path(run), version=str(manifest.get("pix2pixai", "?")),
                     date=run_date(manifest, manifest_path), chain_seconds=timings.get("chain_seconds"),
                     total_seconds=timings.get("total_seconds"), surveys=surveys)


def _display_path(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


# ------------------------------------------------------------------------------ README blocks
def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f} min"


def render_skill_summary(run: RunRecord) -> str:
    """One line: in how many cells the generator's out-of-fold skill interval lies above 0 (it knows
    more about an input's map than the class's mean map does), and the same for the kNN reference."""
    cells = [c for s in run.surveys for c in s.cells]
    scored = [c for c in cells if c.get("skill_ci")]
    generator = sum(c["skill_ci"][0] > 0 for c in scored)
    knn = sum(bool(c.get("knn_skill_ci")) and c["knn_skill_ci"][0] > 0 for c in scored)
    per_survey = ", ".join(f"{s.name} {sum(bool(c.get('skill_ci')) and c['skill_ci'][0] > 0 for c in s.cells)} "
                           f"of {len(s.cells)}" for s in run.surveys)
    return (f"Class maps: {sum(bool(c.get('path')) for c in cells)} of {len(cells)} cells (class x method) have one; "
            f"the generator's out-of-fold skill is above 0 (95% interval) in {generator} of {len(scored)} "
            f"({per_survey}), the kNN reference's in {knn}; {run.provenance}.\n")


def render_demo_time(run: RunRecord, cpus: int) -> str:
    """The README's measured demo time: the whole command (figures and report included) when the
    manifest has it, else the chain."""
    seconds = run.total_seconds if run.total_seconds is not None else run.chain_seconds
    if seconds is None:
        raise SystemExit(f"{run.path}/manifest.json: no timings (is this a finished run directory?)")
    profiles = sorted({s.profile for s in run.surveys if s.profile})
    chain = (f" ({run.chain_seconds:,.0f} s for the surveys' steps)"
             if run.total_seconds is not None and run.chain_seconds is not None else "")
    return (f"Measured: **{_minutes(seconds)}**{chain} on {cpus} CPU cores, after the install, "
            f"{' / '.join(profiles) or '?'} profile; {run.provenance}.\n")


def render_test_time(seconds: float, cpus: int) -> str:
    """The README's measured time of ``bash scripts/test.sh`` (given on the command line)."""
    today = datetime.datetime.now(datetime.timezone.utc).date().isoformat()
    return (f"Measured: **{_minutes(seconds)}** on {cpus} CPU cores, after the install ({today}; "
            f"written by `scripts/make_results.py --test-seconds`).\n")


# ---------------------------------------------------------------------------- results blocks
def _num(value: Any, digits: int = 2) -> str:
    return "-" if value is None or (isinstance(value, float) and np.isnan(value)) else f"{value:.{digits}f}"


def render_run_block(run: RunRecord) -> str:
    """Provenance and wall time per survey and step (steps in the chain's order)."""
    from pix2pixai.pipeline.steps import STEP_NAMES

    timed = {step for s in run.surveys for step in s.seconds}
    steps = [step for step in STEP_NAMES if step in timed] + sorted(timed - set(STEP_NAMES))
    lines = [f"From {run.provenance}.", ""]
    if run.total_seconds is not None:
        lines.append(f"Wall time of the whole command: {run.total_seconds:,.0f} s ({_minutes(run.total_seconds)}); "
                     f"the surveys' steps: {_num(run.chain_seconds, 0)} s.")
    elif run.chain_seconds is not None:
        lines.append(f"Wall time of the surveys' steps: {run.chain_seconds:,.0f} s ({_minutes(run.chain_seconds)}).")
    lines += ["", "| survey | profile | " + " | ".join(steps) + " |", "|---" * (len(steps) + 2) + "|"]
    for s in run.surveys:
        lines.append(f"| {s.name} | {s.profile} | " + " | ".join(
            f"{s.seconds[k]:,.0f} s" if k in s.seconds else "-" for k in steps) + " |")
    return "\n".join(lines) + "\n"


def render_classifier_block(run: RunRecord) -> str:
    """Test-split accuracy and macro-F1 (with standard errors where the report has them) per survey."""
    lines = [f"From {run.provenance}.", "",
             "| survey | test inputs | accuracy | macro-F1 | lowest recall |", "|---|---|---|---|---|"]
    for s in run.surveys:
        report = s.classifier
        if not report:
            lines.append(f"| {s.name} | - | - | - | - |")
            continue

        def with_se(key: str) -> str:
            se = report.get(f"{key}_se")
            return _num(report.get(key), 3) + (f" +- {se:.3f}" if se is not None else "")

        recalls = {k: v["recall"] for k, v in report.get("per_class", {}).items() if v.get("support")}
        worst = min(recalls, key=recalls.get) if recalls else None
        lowest = f"{worst} {recalls[worst]:.2f}" if worst else "-"
        lines.append(f"| {s.name} | {report.get('n', report.get('n_test', '-'))} | {with_se('accuracy')} | "
                     f"{with_se('macro_f1')} | {lowest} |")
    return "\n".join(lines) + "\n"


def _best(scores: dict[str, dict[str, float]], key: str, lowest: bool) -> str | None:
    present = {k: v[key] for k, v in scores.items() if v.get(key) is not None}
    if not present:
        return None
    return (min if lowest else max)(present, key=present.get)


def render_classmap_block(run: RunRecord) -> str:
    """One table per survey, a row per (group, method): held-out SSIM, the split counts, and the
    comparison of the class map with the plain mean input map and the random floor."""
    parts = [f"From {run.provenance}.", ""]
    for s in run.surveys:
        parts.append(f"### {s.name}\n")
        if not s.cells:
            parts.append("No class maps in this run.\n")
            continue
        has = {key: any(key in c.get("comparison", {}).get("fidelity_top1", {}) for c in s.cells)
               for key in ("energy_in_mask", "sanity_ssim_to_randomised", "stability_ssim_mean")}
        head = ["group", "method", "skill [95% CI]", "kNN skill [95% CI]", "held-out SSIM",
                "class-map inputs (threshold)",
                "deletion AUC: class map / mean input / random", "most faithful by deletion",
                "insertion AUC: class map / mean input"]
        head += ["energy in mask: class map / mean input / random"] if has["energy_in_mask"] else []
        head += ["SSIM to randomised model: class map"] if has["sanity_ssim_to_randomised"] else []
        head += ["stability SSIM over seeds: class map"] if has["stability_ssim_mean"] else []
        lines = ["| " + " | ".join(head) + " |", "|---" * len(head) + "|"]
        order = {g: i for i, g in enumerate(s.groups)}
        wins = plain = compared = 0
        for c in sorted(s.cells, key=lambda c: (order.get(c["group"], len(order)), c["group"])):
            scores = c.get("comparison", {})
            threshold = c.get("threshold_used")
            inputs = (f"{c.get('n_inputs', '-')} (p >= {threshold:.2f})" if threshold is not None
                      else c.get("reason") or "-")

            def triple(key: str, names: tuple[str, ...], digits: int = 3) -> str:
                return " / ".join(_num(scores.get(k, {}).get(key), digits) for k in names)

            best = _best(scores, "deletion_auc", lowest=True)
            if best:
                compared += 1
                wins += best == "fidelity_top1"
                plain += best in PLAIN_AGGREGATES
            row = [c["group"], c["method"], _with_interval(c.get("skill"), c.get("skill_ci")),
                   _with_interval(c.get("knn_skill"), c.get("knn_skill_ci")), _num(c.get("heldout_ssim")), inputs,
                   triple("deletion_auc", ("fidelity_top1", "mean_input", "random")),
                   CANDIDATE_LABELS.get(best, best) if best else "-",
                   triple("insertion_auc", ("fidelity_top1", "mean_input"))]
            if has["energy_in_mask"]:
                row.append(triple("energy_in_mask", ("fidelity_top1", "mean_input", "random")))
            if has["sanity_ssim_to_randomised"]:
                row.append(_num(scores.get("fidelity_top1", {}).get("sanity_ssim_to_randomised")))
            if has["stability_ssim_mean"]:
                row.append(_num(scores.get("fidelity_top1", {}).get("stability_ssim_mean")))
            lines.append("| " + " | ".join(row) + " |")
        parts.append("\n".join(lines) + "\n")
        if compared:
            parts.append(f"By deletion AUC the class map is the most faithful candidate in {wins} of {compared} "
                         f"cells; the plain mean or median of the input-specific maps in {plain}.\n")
    return "\n".join(parts)


def _with_interval(value: float | None, interval: Sequence[float] | None) -> str:
    """``0.12 [0.05, 0.19]``, or ``-`` when there is no number."""
    if value is None:
        return "-"
    return f"{value:.2f}" + (f" [{interval[0]:.2f}, {interval[1]:.2f}]" if interval else "")


def render_skipped_block(run: RunRecord) -> str:
    """Groups left out of generator training, and cells without a class map, with the reason."""
    lines = [f"From {run.provenance}.", ""]
    rows = [(s.name, g, reason) for s in run.surveys for g, reason in s.skipped.items()]
    rows += [(s.name, f"{c['group']} / {c['method']}", c["reason"]) for s in run.surveys for c in s.cells
             if c.get("reason")]
    if not rows:
        lines.append("Every group of every survey has a class map for every method.")
    else:
        lines += ["| survey | group (/ method) | why no class map |", "|---|---|---|"]
        lines += [f"| {name} | {group} | {reason} |" for name, group, reason in rows]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------- hero figure
def _unit_display(image: np.ndarray, signed: bool) -> np.ndarray:
    """A map on the figure's common scale: signed maps divided by their largest |value| (-1..1),
    unsigned maps stretched to their own min..max (0..1)."""
    image = np.asarray(image, dtype=np.float64)
    if signed:
        bound = float(np.max(np.abs(image)))
        return image / bound if bound > 0 else image
    lo, hi = float(image.min()), float(image.max())
    return (image - lo) / (hi - lo) if hi > lo else np.zeros_like(image)


def plot_hero(run: RunRecord, path: Path) -> Path:
    """The run's class maps side by side per survey (rows = groups with a class map, columns =
    methods), each cell with its held-out SSIM, one labelled colour bar per kind of map, and the
    groups without a class map named under their survey with the reason. Written atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib import cm, colors

    from pix2pixai.figures.maps import draw_map
    from pix2pixai.figures.style import SIGNED_CMAP, UNSIGNED_CMAP, paper_style

    panels = []
    for s in run.surveys:
        methods = list(dict.fromkeys(c["method"] for c in s.cells))
        drawn = [g for g in s.groups if any(c["group"] == g for c in s.cells)]
        drawn += [g for g in dict.fromkeys(c["group"] for c in s.cells) if g not in drawn]
        if methods:
            panels.append((s, methods, drawn))
    if not panels:
        raise SystemExit(f"{run.path}: no class maps in the manifest; nothing to draw")
    n_rows = max(len(drawn) for _, _, drawn in panels)
    widths = [len(methods) for _, methods, _ in panels]
    kinds_seen: set[bool] = set()
    with paper_style():
        width = 1.3 * sum(widths) + 0.5 * len(panels)
        fig = plt.figure(figsize=(width, 1.25 * n_rows + 2.0), layout="constrained")
        body, foot = fig.subfigures(2, 1, height_ratios=(1.25 * n_rows + 1.2, 0.8))
        subfigs = np.atleast_1d(body.subfigures(1, len(panels), width_ratios=widths, wspace=0.03))
        for sub, (s, methods, drawn) in zip(subfigs, panels):
            axes = sub.subplots(n_rows, len(methods), squeeze=False)
            cells = {(c["group"], c["method"]): c for c in s.cells}
            for r in range(n_rows):
                for col, method in enumerate(methods):
                    ax = axes[r, col]
                    cell = cells.get((drawn[r], method)) if r < len(drawn) else None
                    if cell is None or cell["path"] is None:
                        ax.axis("off")
                        if cell is not None:
                            ax.text(0.5, 0.5, textwrap.fill(str(cell.get("reason")), 18), ha="center",
                                    va="center", fontsize=5, color="0.3", transform=ax.transAxes)
                        continue
                    with np.load(cell["path"]) as stored:
                        image, signed = stored["class_map"], float(stored["data_range"]) > 1.0
                    kinds_seen.add(signed)
                    draw_map(ax, _unit_display(image, signed), signed=signed, meta=s.meta, colorbar=False,
                             vlim=(-1.0, 1.0) if signed else (0.0, 1.0))
                    ax.set_xticks([])
                    ax.set_yticks([])
                    ax.set_xlabel("")
                    ax.set_ylabel(drawn[r] if col == 0 else "", fontweight="bold")
                    if r == 0:
                        ax.set_title(method)
                    if cell.get("skill") is not None:
                        ax.text(0.03, 0.97, f"skill {cell['skill']:.2f}", transform=ax.transAxes, ha="left",
                                va="top", fontsize=5.5,
                                bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.8})
            axes_note = ": dt across, dm up" if s.meta.get("kind") == "dmdt" else ""
            sub.suptitle(f"{s.name}{axes_note}", fontsize=8, fontweight="bold")
            if s.skipped:
                note = "No class map: " + "; ".join(f"{g} ({reason})" for g, reason in s.skipped.items())
                sub.supxlabel(textwrap.fill(note, 26 * len(methods)), fontsize=5.5, color="0.3")
        bars = [(signed, SIGNED_CMAP if signed else UNSIGNED_CMAP, colors.Normalize(-1.0 if signed else 0.0, 1.0),
                 "signed maps (blanking, SHAP): evidence against (blue) or for (red) the class, each map divided "
                 "by its largest |value|" if signed else
                 "unsigned maps (Grad-CAM, saliency): low to high importance, each map stretched to its own range")
                for signed in sorted(kinds_seen)]
        for holder, (_, cmap, norm, label) in zip(np.atleast_1d(foot.subplots(1, len(bars))), bars):
            holder.axis("off")
            cax = holder.inset_axes((0.1, 0.72, 0.8, 0.14))
            bar = fig.colorbar(cm.ScalarMappable(norm=norm, cmap=cmap), cax=cax, orientation="horizontal")
            bar.set_label(textwrap.fill(label, int(16 * width / len(bars))), fontsize=6)
            bar.ax.tick_params(labelsize=5.5)
        title = (f"Class maps of {run.label} ({run.date}, pix2pixai {run.version}): the fidelity-ranked generated "
                 "map of each class (rows) and explanation method (columns). Skill: 1 - L1(generated, own map) / "
                 "L1(out-of-fold mean map, own map) over the class's inputs; > 0 means the generator knows more "
                 "about an input's map than the class average does")
        fig.suptitle(textwrap.fill(title, int(15 * width)), fontsize=7)
        path = Path(path)
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="png", metadata={"Software": None}, dpi=130)
        plt.close(fig)
    return path


# ---------------------------------------------------------------------------------------- main
def rewrite(path: Path, blocks: dict[str, str]) -> bool:
    """Replace ``blocks`` (name -> body) in the file at ``path``; write it (atomically) only if it changed."""
    text = path.read_text(encoding="utf-8")
    new = text
    for name, body in blocks.items():
        new = replace_block(new, name, body, origin=str(path))
    if new != text:
        write_text(path, new)
    return new != text


def make_results(run: Path, *, readme: Path, results: Path, hero: Path, cpus: int,
                 test_seconds: float | None = None, label: str | None = None) -> RunRecord:
    """Rewrite the README's and the results page's generated blocks and the hero figure from ``run``."""
    record = read_run(run, label)
    readme_blocks = {"profiles": render_profile_table(), "demo-time": render_demo_time(record, cpus),
                     "skill": render_skill_summary(record)}
    if test_seconds is not None:
        readme_blocks["test-time"] = render_test_time(test_seconds, cpus)
    rewrite(readme, readme_blocks)
    rewrite(results, {"run": render_run_block(record), "classifiers": render_classifier_block(record),
                      "class-maps": render_classmap_block(record), "skipped": render_skipped_block(record)})
    plot_hero(record, hero)
    return record


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="a finished run directory (e.g. runs/demo)")
    parser.add_argument("--readme", type=Path, default=Path("README.md"))
    parser.add_argument("--results", type=Path, default=Path("docs/results.md"))
    parser.add_argument("--hero", type=Path, default=Path("docs/images/demo_class_maps.png"))
    parser.add_argument("--test-seconds", type=float, default=None,
                        help="measured wall time of `bash scripts/test.sh` for the README (default: leave it)")
    parser.add_argument("--cpus", type=int, default=len(os.sched_getaffinity(0)),
                        help="CPU cores the run had (default: this process's)")
    parser.add_argument("--label", default=None, help="how the run is named in the text (default: its path)")
    args = parser.parse_args()
    record = make_results(args.run, readme=args.readme, results=args.results, hero=args.hero, cpus=args.cpus,
                          test_seconds=args.test_seconds, label=args.label)
    print(f"make_results: {args.readme}, {args.results} and {args.hero} from {record.provenance}")


if __name__ == "__main__":
    main()
