"""The run directory: where every step reads its inputs and writes its outputs.

Layout (one folder per survey, so a demo holds two surveys side by side)::

    RUN/
      manifest.json            versions, configs, seeds, input hashes, timings, class_maps list
      report.html              self-contained report (figures embedded)
      figures/                 PNG + PDF
      <survey>/
        config.json            the resolved config of this survey
        data.npz, data.json    inputs x [N,H,W,C], labels, groups, masks (if any); metadata
        classifier/            model.keras, split.npz, predictions.npz, report.json
        maps/maps.h5           explanation maps of the test split (MapStore)
        generators/<group>/<method>/   generator.keras + generator.json
        classmaps/<group>__<method>.npz
        compare/comparison.json
        steps/<step>.json      fingerprint of each finished step (skip when unchanged)

A step is skipped when its fingerprint (hash of its config section and of its input files) equals
the recorded one and its outputs exist; ``force`` re-runs it.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from pix2pixai import atomic


def file_digest(path: Path, chunk: int = 1 << 20) -> str:
    """sha256 of a file's bytes (or of every file under a folder, in sorted order)."""
    digest = hashlib.sha256()
    paths = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for item in paths:
        digest.update(str(item.relative_to(path) if path.is_dir() else item.name).encode())
        with open(item, "rb") as fh:
            for block in iter(lambda: fh.read(chunk), b""):
                digest.update(block)
    return digest.hexdigest()


def fingerprint(settings: Any, inputs: Iterable[Path]) -> str:
    """Hash of a step's settings (JSON-able) and the bytes of its input files."""
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode())
    for path in inputs:
        digest.update(file_digest(path).encode() if path.exists() else b"missing")
    return digest.hexdigest()


@dataclass
class SurveyDir:
    """Paths of one survey's part of a run directory."""

    root: Path

    @property
    def data(self) -> Path:
        return self.root / "data.npz"

    @property
    def data_meta(self) -> Path:
        return self.root / "data.json"

    @property
    def classifier(self) -> Path:
        return self.root / "classifier"

    @property
    def maps(self) -> Path:
        return self.root / "maps" / "maps.h5"

    @property
    def generators(self) -> Path:
        return self.root / "generators"

    @property
    def classmaps(self) -> Path:
        return self.root / "classmaps"

    @property
    def compare(self) -> Path:
        return self.root / "compare"

    def generator_dir(self, group: str, method: str) -> Path:
        return self.generators / group / method

    def classmap_file(self, group: str, method: str) -> Path:
        return self.classmaps / f"{group}__{method}.npz"

    def step_file(self, step: str) -> Path:
        return self.root / "steps" / f"{step}.json"

    def is_done(self, step: str, print_: str, outputs: Iterable[Path]) -> bool:
        """True when ``step`` last finished with this fingerprint and its outputs still exist."""
        state = self.step_state(step)
        return bool(state) and state.get("fingerprint") == print_ and all(p.exists() for p in outputs)

    def step_state(self, step: str) -> dict[str, Any]:
        path = self.step_file(step)
        if not path.exists():
            return {}
        try:
            return json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            return {}

    def mark_done(self, step: str, print_: str, seconds: float, **extra: Any) -> None:
        atomic.write_json(self.step_file(step), {"fingerprint": print_, "seconds": round(seconds, 3), **extra})


class StepTimer:
    """Context manager measuring a step's wall time."""

    def __enter__(self) -> "StepTimer":
        self.start = time.perf_counter()
        self.seconds = 0.0
        return self

    def __exit__(self, *exc: Any) -> None:
        self.seconds = time.perf_counter() - self.start
