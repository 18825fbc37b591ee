"""Every file name of a run directory, in one place.

Layout (one folder per survey, so a demo holds two surveys side by side)::

    RUN/
      pix2pixai-run.json       the run marker: this folder is a pix2pixai run (written when it is created)
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
        generators/            splits.json; the kept generators <method>/ (class-conditional) or
                               <group>/<method>/ (per group): generator.keras + generator.json;
                               folds/fold_K/[<group>/]<method>/ (cross-fitting)
        classmaps/             index.json, <group>__<method>.npz, oof_<method>.npz
        compare/               comparison.json, stability/seed_K/<group>__<method>.npz,
                               stability/seed_K/generators/[<group>/]<method>/
        steps/<step>.json      fingerprint of each finished step (skip when unchanged)

Steps, figures, the report and scripts ask :class:`RunDir` / :class:`SurveyDir` for a path instead
of spelling a name, so that a file is renamed in one place. Survey, group and method names are
checked as plain names (:func:`pix2pixai.rundir.config.plain_name`) before they become paths, so no
name from a config or a data file reaches outside the run directory.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from pix2pixai import __version__, atomic
from pix2pixai.errors import InputError
from pix2pixai.rundir.config import plain_name

#: Name of the resolved config each survey folder records (read back by `run --resume`).
_CONFIG_FILE = "config.json"

#: The run marker: a folder holding it was created by this toolkit as a run directory, so the toolkit
#: may write into it (a folder of the user's own files, even one with a manifest.json, lacks it).
RUN_MARKER = "pix2pixai-run.json"
_MARKER_FORMAT = "pix2pixai-run/1"


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
        """Per group: explained inputs, how many fall in each fold, and why it trains no generator
        (``skipped``, empty when it does)."""
        return self.generators / "splits.json"

    def generator_dir(self, method: str, group: str | None = None) -> Path:
        """The generator kept for later use, trained on every fold: one class-conditional generator
        per method (``group`` None), or one per (group, method) in ``per_group`` mode."""
        return _cell_dir(self.generators, method, group)

    @property
    def fold_generators(self) -> Path:
        """The cross-fitting generators, one folder per fold."""
        return self.generators / "folds"

    def fold_generator_dir(self, fold: int, method: str, group: str | None = None) -> Path:
        """The generator trained on every fold but ``fold``, which predicts ``fold``'s maps."""
        return _cell_dir(self.fold_generators / f"fold_{fold}", method, group)

    def stability_generator_dir(self, k: int, method: str, group: str | None = None) -> Path:
        """The kept generator retrained with the k-th extra seed of the comparison's stability check."""
        return _cell_dir(self.compare / "stability" / f"seed_{k}" / "generators", method, group)

    def generator_files(self) -> list[Path]:
        """Every trained generator's network and metadata: the kept ones and the fold ones."""
        from pix2pixai.trainers.pix2pix.bundle import META_FILE, MODEL_FILE

        return sorted([*self.generators.rglob(MODEL_FILE), *self.generators.rglob(META_FILE)])

    def generator_histories(self) -> list[Path]:
        """Per-evaluation losses of every kept generator (``[<group>/]<method>/history.json``)."""
        from pix2pixai.trainers.pix2pix.training import HISTORY_FILE

        return sorted(p for p in self.generators.rglob(HISTORY_FILE) if self.fold_generators not in p.parents)

    def generator_checkpoints(self) -> list[Path]:
        """Evaluation checkpoints an interrupted generators step continues from (kept and fold generators)."""
        from pix2pixai.trainers.pix2pix.training import CHECKPOINT_DIR

        return sorted(p for p in self.generators.rglob(CHECKPOINT_DIR) if p.is_dir())

    @property
    def classmaps(self) -> Path:
        return self.root / "classmaps"

    @property
    def classmap_index(self) -> Path:
        """One entry per (group, method) cell: skill and its interval, kNN skill, class-map input
        counts, threshold used, held-out SSIM, and the reason when the cell has no class map."""
        return self.classmaps / "index.json"

    def classmap_file(self, group: str, method: str) -> Path:
        return self.classmaps / f"{_name(group, 'group')}__{_name(method, 'method')}.npz"

    def out_of_fold(self, method: str) -> Path:
        """The method's out-of-fold arrays: every input skill is computed over, its target map, its
        out-of-fold generated map, group, fold and class probability."""
        return self.classmaps / f"oof_{_name(method, 'method')}.npz"

    @property
    def compare(self) -> Path:
        return self.root / "compare"

    @property
    def comparison(self) -> Path:
        """The aggregation comparison's rows, one per (group, method)."""
        return self.compare / "comparison.json"

    def stability_classmap_file(self, k: int, group: str, method: str) -> Path:
        """The class map built from the k-th extra seed's generator."""
        return self.compare / "stability" / f"seed_{k}" / f"{_name(group, 'group')}__{_name(method, 'method')}.npz"

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
    def marker(self) -> Path:
        """The run marker (:data:`RUN_MARKER`)."""
        return self.root / RUN_MARKER

    @property
    def manifest(self) -> Path:
        return self.root / "manifest.json"

    def is_marked(self) -> bool:
        """True when the folder carries this toolkit's run marker."""
        try:
            return json.loads(self.marker.read_text()).get("format") == _MARKER_FORMAT
        except (OSError, ValueError, AttributeError):
            return False

    def write_marker(self) -> None:
        """Mark the folder as a pix2pixai run (creating it), so later commands may write into it."""
        atomic.write_json(self.marker, {"format": _MARKER_FORMAT, "created_by": f"pix2pixai {__version__}"})

    def owned_paths(self, surveys: Iterable[str]) -> list[Path]:
        """What a run writes at its top level and per survey (for the output-safety check)."""
        return [self.marker, self.manifest, self.report, self.figures, *(self.survey(s).root for s in surveys)]

    def read_manifest(self) -> dict[str, Any]:
        """The manifest of a finished run; a missing marker, a missing or damaged manifest is an
        ``InputError`` (``figures``, ``report`` and ``inspect`` write only into the toolkit's own runs)."""
        if not self.is_marked():
            raise InputError(f"{self.root}: not a pix2pixai run directory (no {RUN_MARKER}); run `pix2pixai demo` "
                             "or `pix2pixai run` first (files in it are left as they are)")
        try:
            manifest = json.loads(self.manifest.read_text())
        except FileNotFoundError:
            raise InputError(f"{self.manifest}: missing; the run did not finish (re-run it to resume)") from None
        except (OSError, ValueError) as exc:
            raise InputError(f"{self.manifest}: damaged manifest ({exc}); re-run the run to rewrite it") from None
        entries = manifest.get("class_maps", []) if isinstance(manifest, dict) else None
        if (not isinstance(manifest, dict) or not isinstance(manifest.get("configs", {}), dict)
                or not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries)):
            raise InputError(f"{self.manifest}: damaged manifest (expected an object with a 'configs' object and a "
                             "'class_maps' list of objects); re-run the run to rewrite it")
        return manifest

    @property
    def report(self) -> Path:
        return self.root / "report.html"

    @property
    def figures(self) -> Path:
        return self.root / "figures"

    def survey(self, name: str) -> SurveyDir:
        return SurveyDir(self.root / _name(name, "survey"))

    def survey_figures(self, name: str) -> Path:
        """Figures of one survey (``figures/<survey>/``)."""
        return self.figures / _name(name, "survey")

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
        return [self.survey(name) for name in self.read_manifest().get("configs", {})]


def _cell_dir(root: Path, method: str, group: str | None) -> Path:
    """``root/<method>`` for a class-conditional generator, ``root/<group>/<method>`` for a group's own."""
    return (root if group is None else root / _name(group, "group")) / _name(method, "method")


def _name(value: str, what: str) -> str:
    """A survey / group / method name checked as a plain name before it becomes part of a path."""
    return plain_name(value, f"{what} name")
