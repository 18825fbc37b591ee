"""Every file name of a run directory, in one place.

Layout (one folder per survey, so a demo holds two surveys side by side)::

    RUN/
      manifest.json            versions, configs, seeds, input hashes, timings, class_maps list
      report.html              self-contained report (figures embedded)
      figures/<survey>/        PNG + PDF (cadence/, gallery/, inspection/ views in subfolders)
      <survey>/
        config.json            the resolved config of this survey
        data.npz, data.json    inputs x [N,H,W,C], labels, groups, masks (if any); metadata
        cadence.json           cadence diagnostics (dmdt surveys)
        classifier/            model.keras, split.npz, predictions.npz, report.json, training/
        maps/maps.h5           explanation maps of the test split (MapStore)
        classlevel.npz         lighting and activation-maximisation maps per class
        generators/            splits.json, <group>/<method>/ (generator.keras + generator.json),
                               stability/seed_K/<group>/<method>/
        classmaps/             index.json, <group>__<method>.npz
        compare/               comparison.json, stability/seed_K/<group>__<method>.npz
        steps/<step>.json      fingerprint of each finished step (skip when unchanged)

Steps, figures, the report and scripts ask :class:`RunDir` / :class:`SurveyDir` for a path instead
of spelling a name, so that a file is renamed in one place.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from pix2pixai import atomic

#: Name of the resolved config each survey folder records (read back by `run --resume`).
_CONFIG_FILE = "config.json"


@dataclass(frozen=True)
class SurveyDir:
    """Paths of one survey's part of a run directory, and the record of its finished steps."""

    root: Path

    @property
    def config(self) -> Path:
        """The resolved config this survey was run with (written by the runner)."""
        return self.root / _CONFIG_FILE

    @property
    def data(self) -> Path:
        return self.root / "data.npz"

    @property
    def data_meta(self) -> Path:
        return self.root / "data.json"

    @property
    def cadence(self) -> Path:
        """Cadence diagnostics of a dmdt survey's light curves (written by the data step)."""
        return self.root / "cadence.json"

    @property
    def classifier(self) -> Path:
        return self.root / "classifier"

    @property
    def model(self) -> Path:
        """The trained (or legacy, or fine-tuned) classifier."""
        return self.classifier / "model.keras"

    @property
    def split(self) -> Path:
        """Training and test indices into ``data.npz``."""
        return self.classifier / "split.npz"

    @property
    def predictions(self) -> Path:
        """The classifier's class probabilities on the test split."""
        return self.classifier / "predictions.npz"

    @property
    def classifier_report(self) -> Path:
        """Accuracy, macro-F1 and confusion matrix on the test split."""
        return self.classifier / "report.json"

    @property
    def classifier_training(self) -> Path:
        """Checkpoints, logs and the epoch backup of classifier training."""
        return self.classifier / "training"

    @property
    def classifier_backup(self) -> Path:
        """What an interrupted classifier training continues from (exists only while it runs)."""
        return self.classifier_training / "backup"

    @property
    def maps(self) -> Path:
        return self.root / "maps" / "maps.h5"

    @property
    def classlevel(self) -> Path:
        """Class-level maps: lighting and activation maximisation, one per class."""
        return self.root / "classlevel.npz"

    @property
    def generators(self) -> Path:
        return self.root / "generators"

    @property
    def generator_splits(self) -> Path:
        """Per-group counts of generator-training, held-out and class-map inputs (or why skipped)."""
        return self.generators / "splits.json"

    def generator_dir(self, group: str, method: str) -> Path:
        return self.generators / group / method

    def stability_generator_dir(self, k: int, group: str, method: str) -> Path:
        """The generator of the k-th extra seed of the comparison's stability check."""
        return self.generators / "stability" / f"seed_{k}" / group / method

    def generator_files(self) -> list[Path]:
        """Every trained generator's network and metadata (the run's own, not the stability ones)."""
        from pix2pixai.trainers.pix2pix.bundle import META_FILE, MODEL_FILE

        return sorted([*self.generators.glob(f"*/*/{MODEL_FILE}"), *self.generators.glob(f"*/*/{META_FILE}")])

    def generator_histories(self) -> list[Path]:
        """Per-epoch losses of every trained generator (``<group>/<method>/history.json``)."""
        from pix2pixai.trainers.pix2pix.training import HISTORY_FILE

        return sorted(self.generators.glob(f"*/*/{HISTORY_FILE}"))

    def generator_checkpoints(self) -> list[Path]:
        """Epoch checkpoints an interrupted generators step continues from."""
        from pix2pixai.trainers.pix2pix.training import CHECKPOINT_DIR

        return sorted(self.generators.glob(f"*/*/{CHECKPOINT_DIR}"))

    @property
    def classmaps(self) -> Path:
        return self.root / "classmaps"

    @property
    def classmap_index(self) -> Path:
        """One entry per class map: group, method, held-out SSIM / L1, split counts."""
        return self.classmaps / "index.json"

    def classmap_file(self, group: str, method: str) -> Path:
        return self.classmaps / f"{group}__{method}.npz"

    @property
    def compare(self) -> Path:
        return self.root / "compare"

    @property
    def comparison(self) -> Path:
        """The aggregation comparison's rows, one per (group, method)."""
        return self.compare / "comparison.json"

    def stability_classmap_file(self, k: int, group: str, method: str) -> Path:
        """The class map built from the k-th extra seed's generator."""
        return self.compare / "stability" / f"seed_{k}" / f"{group}__{method}.npz"

    def step_file(self, step: str) -> Path:
        return self.root / "steps" / f"{step}.json"

    def is_done(self, step: str, print_: str, outputs: Iterable[Path]) -> bool:
        """True when ``step`` last finished with this fingerprint and its outputs still exist."""
        state = self.step_state(step)
        return bool(state) and state.get("fingerprint") == print_ and all(p.exists() for p in outputs)

    def step_state(self, step: str) -> dict[str, Any]:
        """What ``steps/<step>.json`` recorded ({} when absent or unreadable)."""
        path = self.step_file(step)
        if not path.exists():
            return {}
        try:
            return json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            return {}

    def mark_done(self, step: str, print_: str, seconds: float, **extra: Any) -> None:
        atomic.write_json(self.step_file(step), {"fingerprint": print_, "seconds": round(seconds, 3), **extra})


@dataclass(frozen=True)
class RunDir:
    """Run-level paths: the manifest, the report, the figures, and each survey's folder."""

    root: Path

    @property
    def manifest(self) -> Path:
        return self.root / "manifest.json"

    @property
    def report(self) -> Path:
        return self.root / "report.html"

    @property
    def figures(self) -> Path:
        return self.root / "figures"

    def survey(self, name: str) -> SurveyDir:
        return SurveyDir(self.root / name)

    def survey_figures(self, name: str) -> Path:
        """Figures of one survey (``figures/<survey>/``)."""
        return self.figures / name

    def cadence_figures(self, name: str) -> Path:
        return self.survey_figures(name) / "cadence"

    def gallery_figures(self, name: str) -> Path:
        return self.survey_figures(name) / "gallery"

    def inspection_figures(self, name: str) -> Path:
        return self.survey_figures(name) / "inspection"

    def recorded_config_files(self) -> list[Path]:
        """``<survey>/config.json`` of every survey run into this directory, sorted."""
        return sorted(self.root.glob(f"*/{_CONFIG_FILE}"))

    def surveys(self) -> list[SurveyDir]:
        """Surveys of a finished run, in the manifest's order."""
        manifest = json.loads(self.manifest.read_text())
        return [self.survey(name) for name in manifest.get("configs", {})]
