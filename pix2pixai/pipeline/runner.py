"""Run whole chains: one or more surveys into one run directory, then figures, report, manifest."""

from __future__ import annotations

import logging
import platform
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from pix2pixai import __version__, atomic
from pix2pixai.pipeline.config import RunConfig, load_config
from pix2pixai.pipeline.rundir import SurveyDir, file_digest
from pix2pixai.pipeline.steps import STEPS, run_step

log = logging.getLogger(__name__)

DEMO_CONFIGS: tuple[str, ...] = ("sim-crts", "sim-ztf")


def run_survey(config: RunConfig, out: Path, *, steps: Sequence[str] = STEPS, force: bool = False,
               echo=print) -> dict[str, Any]:
    """Run ``steps`` of one survey's chain under ``out/<survey name>``; return each step's state."""
    sdir = SurveyDir(out / config.survey.name)
    sdir.root.mkdir(parents=True, exist_ok=True)
    atomic.write_json(sdir.root / "config.json", config.to_dict())
    states = {}
    for step in steps:
        start = time.perf_counter()
        state = run_step(step, config, sdir, force=force)
        states[step] = state
        verb = "unchanged, skipped" if state.get("skipped") else f"done in {time.perf_counter() - start:.1f} s"
        echo(f"[{config.survey.name}] {step}: {verb}")
    return states


def run_chain(configs: Sequence[RunConfig], out: Path, *, force: bool = False, echo=print,
              steps: Sequence[str] = STEPS, render: bool = True) -> dict[str, Any]:
    """Run every survey, then figures and the report; write ``manifest.json``."""
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    all_states = {c.survey.name: run_survey(c, out, steps=steps, force=force, echo=echo) for c in configs}
    manifest = build_manifest(configs, out, all_states, time.perf_counter() - started)
    atomic.write_json(out / "manifest.json", manifest)
    if render:
        from pix2pixai.figures.all import render_all
        from pix2pixai.report import write_report

        render_all(out, echo=echo)
        write_report(out)
        manifest["timings"]["total_seconds"] = round(time.perf_counter() - started, 2)
        atomic.write_json(out / "manifest.json", manifest)
    return manifest


def configs_for_demo(profile: str = "demo") -> list[RunConfig]:
    return [load_config(name, profile=profile) for name in DEMO_CONFIGS]


def build_manifest(configs: Sequence[RunConfig], out: Path, states: dict[str, Any], seconds: float) -> dict[str, Any]:
    """The run's manifest: versions, configs, seeds, input hashes, timings, class maps."""
    import json

    import keras
    import tensorflow as tf

    class_maps = []
    inputs = {}
    for config in configs:
        sdir = SurveyDir(out / config.survey.name)
        if sdir.data.exists():
            inputs[config.survey.name] = {"data.npz": file_digest(sdir.data)}
        index = sdir.classmaps / "index.json"
        comparison = {}
        if (sdir.compare / "comparison.json").exists():
            for row in json.loads((sdir.compare / "comparison.json").read_text()):
                comparison[(row["group"], row["method"])] = row["scores"]
        if index.exists():
            for entry in json.loads(index.read_text()):
                key = (entry["group"], entry["method"])
                class_maps.append({
                    "survey": config.survey.name, "group": entry["group"], "method": entry["method"],
                    "file": str(sdir.classmap_file(*key).relative_to(out)), "ranking": config.classmaps.ranking,
                    "heldout_ssim": entry["heldout_ssim"], "comparison": comparison.get(key, {}),
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
    }

