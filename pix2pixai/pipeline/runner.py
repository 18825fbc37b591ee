"""Run whole chains: one or more surveys into one run directory, then figures, report, manifest.

The top of the package: it runs the steps of ``pipeline.steps`` per survey, then renders the
figures and the report, and refuses or resumes a run directory that already holds a run.

The run-directory rule, applied by every command that writes into one (``run``, ``demo`` and each
step command, through :func:`check_run_dir`): the folder is new, empty, or carries this toolkit's
run marker (``pix2pixai-run.json``, written when the runner creates it) with the same config
recorded for each survey; it is none of the run's inputs and holds none of them where the run
writes. A folder of the user's own files is refused and left as it was, ``--force`` included.
"""

from __future__ import annotations

import contextlib
import json
import logging
import platform
import shutil
import time
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

from pix2pixai import __version__, atomic
from pix2pixai.digests import file_digest
from pix2pixai.errors import InputError
from pix2pixai.output_safety import check_output_folder, inside
from pix2pixai.pipeline.steps import STEP_NAMES, run_step, step_status
from pix2pixai.rundir.config import RunConfig, classifier_files, config_from_dict, load_config, survey_files
from pix2pixai.rundir.layout import RUN_MARKER, RunDir, SurveyDir

log = logging.getLogger(__name__)

DEMO_CONFIGS: tuple[str, ...] = ("sim-crts", "sim-ztf")


def run_survey(config: RunConfig, out: Path, *, steps: Sequence[str] = STEP_NAMES, force: bool = False,
               echo=print) -> dict[str, Any]:
    """Run ``steps`` of one survey's chain under ``out/<survey name>``; return each step's state.

    The caller has checked ``out`` (:func:`check_run_dir`). A run that fails before any step of a
    new survey finished leaves nothing behind: no ``<survey>/`` folder, no marker in a new folder.
    """
    from pix2pixai.producers import autotune

    sdir = RunDir(out).survey(config.survey.name)
    states = {}
    with _claimed(Path(out)), _recorded_config(config, sdir), autotune.configured(pinned=_recorded_choices(out)):
        for step in steps:
            start = time.perf_counter()
            state = run_step(step, config, sdir, force=force)
            states[step] = state
            verb = "unchanged, skipped" if state.get("skipped") else f"done in {time.perf_counter() - start:.1f} s"
            echo(f"[{config.survey.name}] {step}: {verb}")
    return states


def _recorded_choices(out: Path) -> dict[str, Any]:
    """The producer paths an earlier run in ``out`` chose (its manifest's ``producer_choices``), so
    that a resumed or re-run step computes with them; none when there is no readable manifest."""
    path = RunDir(out).manifest
    try:
        return dict(json.loads(path.read_text()).get("producer_choices", {}))
    except (OSError, ValueError, AttributeError, TypeError):
        return {}


@contextlib.contextmanager
def _claimed(out: Path) -> Iterator[None]:
    """Mark ``out`` as a run (creating it); if the work fails and left nothing else, undo both."""
    run = RunDir(out)
    created, marked = not out.exists(), run.is_marked()
    if not marked:
        run.write_marker()
    try:
        yield
    except BaseException:
        if not marked and [p.name for p in out.iterdir()] == [RUN_MARKER]:
            run.marker.unlink()
            if created:
                out.rmdir()
        raise


@contextlib.contextmanager
def _recorded_config(config: RunConfig, sdir: SurveyDir) -> Iterator[None]:
    """Record the survey's config in ``<survey>/config.json``; a new survey folder whose first step
    fails is removed again (nothing was finished, so there is nothing to resume)."""
    created = not sdir.root.exists()
    atomic.write_json(sdir.config, config.to_dict())
    try:
        yield
    except BaseException:
        if created and not any(sdir.step_file(step).exists() for step in STEP_NAMES):
            shutil.rmtree(sdir.root, ignore_errors=True)
        raise


def run_chain(configs: Sequence[RunConfig], out: Path, *, force: bool = False, echo=print,
              steps: Sequence[str] = STEP_NAMES, render: bool = True) -> dict[str, Any]:
    """Run every survey, then figures and the report; write ``manifest.json``."""
    started = time.perf_counter()
    with _claimed(Path(out)):
        all_states = {c.survey.name: run_survey(c, out, steps=steps, force=force, echo=echo) for c in configs}
    manifest = build_manifest(configs, out, all_states, time.perf_counter() - started)
    atomic.write_json(RunDir(out).manifest, manifest)
    if render:
        from pix2pixai.figures.all import render_all
        from pix2pixai.report import write_report

        render_all(out, echo=echo)
        write_report(out)
        manifest["timings"]["total_seconds"] = round(time.perf_counter() - started, 2)
        atomic.write_json(RunDir(out).manifest, manifest)
    return manifest


#: Per-cell numbers of ``classmaps/index.json`` a manifest's ``class_maps[]`` entry carries.
CLASS_MAP_KEYS: tuple[str, ...] = ("skill", "skill_ci", "knn_skill", "knn_skill_ci", "skill_positive", "skill_reason",
                                   "n_inputs", "threshold_used", "heldout_ssim", "reason")

#: Keys that do not change results: where the config file lies, and how generator jobs are scheduled.
_IGNORED_KEYS: frozenset[str] = frozenset({"source_file", "generator.scheduler"})


def recorded_configs(out: Path) -> dict[str, dict[str, Any]]:
    """Survey name -> the config a run directory recorded for it (``<survey>/config.json``)."""
    recorded = {}
    for path in RunDir(Path(out)).recorded_config_files():
        try:
            data = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise InputError(f"{path}: unreadable recorded config ({exc}); use another --out") from None
        if isinstance(data, dict) and isinstance(data.get("survey"), dict):
            recorded[str(data["survey"].get("name", path.parent.name))] = data
    return recorded


def config_differences(given: dict[str, Any], recorded: dict[str, Any], prefix: str = "") -> list[str]:
    """Dotted keys whose values differ between a config and a recorded one.

    Keys that do not change results are excluded, and so are keys the recorded config lacks: they
    were added to the schema after that run was made (their steps still re-run by fingerprint if
    the new settings change them).
    """
    keys = sorted(recorded)
    out = []
    for key in keys:
        dotted = f"{prefix}{key}"
        if dotted in _IGNORED_KEYS:
            continue
        a, b = given.get(key), recorded.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            out.extend(config_differences(a, b, prefix=f"{dotted}."))
        elif a != b:
            out.append(dotted)
    return out


def _run_inputs(configs: Sequence[RunConfig]) -> list[Path]:
    """Every file a run of ``configs`` reads: the config files, the surveys' files, the classifiers'."""
    inputs = []
    for config in configs:
        if config.source_file and not config.source_file.startswith("<"):
            inputs.append(Path(config.source_file))
        inputs += survey_files(config) + classifier_files(config)
    return inputs


def check_run_dir(configs: Sequence[RunConfig], out: Path, *, force: bool = False, alongside: bool = False) -> bool:
    """Refuse to write a run where it would harm files: ``out`` may only hold earlier runs of these configs.

    ``out`` must be new, empty, or carry the run marker (a folder of anything else is refused, even
    with ``force``); it must not be, lie in, or hold where the run writes, one of the run's inputs.
    Returns True when ``out`` already holds a run of the same configs (its finished steps are kept).
    A run of another config, or of other surveys unless ``alongside`` (a step command adding one
    survey to a run), is an ``InputError`` naming what differs, unless ``force`` (every step is then
    re-run with the given configs), so that a mistyped ``--out`` never silently overwrites another
    experiment's results. Nothing is written here.
    """
    run = RunDir(Path(out))
    check_output_folder(out, _run_inputs(configs), owned=run.owned_paths(c.survey.name for c in configs))
    for config in configs:  # a survey folder that is a link to elsewhere would take the run outside --out
        inside(out, run.survey(config.survey.name).root, what=f"survey folder of {config.survey.name!r}")
    if not run.root.exists() or not any(run.root.iterdir()):
        return False
    if not run.is_marked():
        raise InputError(f"{out}: not empty and not a pix2pixai run directory (no {RUN_MARKER}); choose another "
                         "--out (the files in it are left as they are)")
    recorded = recorded_configs(out)
    if not recorded or force:
        return bool(recorded)
    names = {c.survey.name for c in configs}
    others = sorted(set(recorded) - names)
    if others and not alongside:
        raise InputError(f"{out} holds a run of other survey(s) {', '.join(others)}; choose another --out "
                         f"(or --force to run {', '.join(sorted(names))} beside them)")
    for config in configs:
        if config.survey.name not in recorded:
            continue
        differ = config_differences(config.to_dict(), recorded[config.survey.name])
        if differ:
            shown = ", ".join(differ[:8]) + (f" and {len(differ) - 8} more" if len(differ) > 8 else "")
            raise InputError(f"{RunDir(out).survey(config.survey.name).config} records another config (differs in "
                             f"{shown}); choose another --out, or --force to redo every step with this config")
    return True


def configs_from_run(out: Path) -> list[RunConfig]:
    """The configs a run directory recorded, rebuilt (for ``run --resume --out RUN`` without CONFIG)."""
    recorded = recorded_configs(out)
    if not recorded:
        raise InputError(f"{out}: nothing to resume (no <survey>/config.json); start it with `pix2pixai run CONFIG`")
    configs = []
    for data in recorded.values():
        data = dict(data)
        origin = str(data.pop("source_file", "") or f"{out}/config.json")
        configs.append(config_from_dict(data, origin=origin))
    return configs


def resume_plan(configs: Sequence[RunConfig], out: Path) -> list[str]:
    """One line per survey saying which steps are kept, continued from checkpoints, or run."""
    words = {"done": "kept", "partial": "continues from its checkpoints", "todo": "runs"}
    lines = []
    for config in configs:
        sdir = RunDir(out).survey(config.survey.name)
        parts, settled = [], True
        for step in STEP_NAMES:
            status = step_status(step, config, sdir)
            if settled and status != "done":
                settled = False
            elif not settled and status == "done":
                status = "kept if its inputs come out unchanged"
            parts.append(f"{step} {words.get(status, status)}")
        lines.append(f"[{config.survey.name}] resume: " + "; ".join(parts))
    return lines


def configs_for_demo(profile: str = "demo") -> list[RunConfig]:
    """The demo's two surveys (``DEMO_CONFIGS``: simulated CRTS and ZTF) at ``profile``'s budget."""
    return [load_config(name, profile=profile) for name in DEMO_CONFIGS]


def build_manifest(configs: Sequence[RunConfig], out: Path, states: dict[str, Any], seconds: float) -> dict[str, Any]:
    """The run's manifest: versions, configs, seeds, input hashes, timings, class maps."""
    import keras
    import tensorflow as tf

    from pix2pixai.producers import autotune

    class_maps = []
    inputs = {}
    for config in configs:
        sdir = RunDir(out).survey(config.survey.name)
        if sdir.data.exists():
            inputs[config.survey.name] = {sdir.data.name: file_digest(sdir.data)}
        index = sdir.classmap_index
        comparison = {}
        if sdir.comparison.exists():
            for row in json.loads(sdir.comparison.read_text()):
                comparison[(row["group"], row["method"])] = row["scores"]
        if index.exists():
            for entry in json.loads(index.read_text()):
                key = (entry["group"], entry["method"])
                class_maps.append({
                    "survey": config.survey.name, "group": entry["group"], "method": entry["method"],
                    "file": None if entry.get("reason") else str(sdir.classmap_file(*key).relative_to(out)),
                    "ranking": config.classmaps.ranking, "comparison": comparison.get(key, {}),
                    **{k: entry.get(k) for k in CLASS_MAP_KEYS},
                })
    return {
        "pix2pixai": __version__,
        "versions": {"python": platform.python_version(), "tensorflow": tf.__version__, "keras": keras.__version__,
                     "numpy": np.__version__},
        "configs": {c.survey.name: c.to_dict() for c in configs},
        "seeds": {c.survey.name: c.seed for c in configs},
        "inputs": inputs,
        "timings": {"surveys": {name: {step: round(s.get("seconds", 0.0), 2) for step, s in st.items()}
                                for name, st in states.items()}, "chain_seconds": round(seconds, 2)},
        "steps": {name: {step: s.get("summary", {}) for step, s in st.items()} for name, st in states.items()},
        "class_maps": class_maps,
        # the compiled producer paths measured fastest on this machine (results equal to round-off)
        "producer_choices": autotune.choices_made(),
    }

