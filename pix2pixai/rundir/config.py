"""Run configuration: one TOML file describes one survey's whole chain.

The schema is a tree of frozen dataclasses; unknown keys, wrong types and bad values raise
:class:`~pix2pixai.errors.InputError` naming the file and the dotted key, so a typo in a config
never silently falls back to a default. Profiles (``demo``, ``full``) supply the budget defaults
that a config may override.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from dataclasses import dataclass, field, fields
from importlib import resources
from pathlib import Path
from typing import Any, get_origin, get_type_hints

from pix2pixai.errors import InputError

CORE_METHODS: tuple[str, ...] = ("gradcam", "saliency", "blanking", "shap")


@dataclass(frozen=True)
class SurveyConfig:
    """What the inputs are and where they come from.

    ``kind``: ``dmdt`` (light curves binned to dmdt images), ``triplet`` (ZTF SCI/REF/DIFF cutouts)
    or ``image`` (any labelled image set). ``source``: ``simulate`` (embedded default generators),
    ``lightcurves_npz`` (offsets format), ``lightcurves_csv`` (a CSV folder plus ``labels`` table),
    ``fink_npz`` (raw cutouts + alerts.csv, drb pseudo-labels), ``braai_training_set``, ``images`` (an
    .npz / HDF5 image set, :mod:`pix2pixai.data.images`). ``simulate`` with kind ``image`` gives the
    simulated three-class patches of :mod:`pix2pixai.data.synthetic.patches`.
    """

    name: str = "crts"
    kind: str = "dmdt"
    source: str = "simulate"
    path: str = ""
    labels: str = ""
    preset: str = "crts"
    bands: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    n_per_group: int = 200
    normalisation: str = "image"
    max_per_group: int = 0


@dataclass(frozen=True)
class ClassifierConfig:
    """How the classifier is obtained: trained, fine-tuned from a previous survey's model, or legacy.

    ``strategy``: how training spreads over devices, ``"default"`` (one device), ``"mirrored"``
    (every visible GPU, else every logical CPU) or ``"multiworker"`` (machines named by TF_CONFIG);
    see :mod:`pix2pixai.trainers.distribute`.
    """

    mode: str = "train"
    architecture: str = "dmdt_cnn"
    legacy_path: str = ""
    legacy_kind: str = ""
    finetune_from: str = ""
    epochs: int = 30
    batch_size: int = 64
    test_fraction: float = 0.3
    patience: int = 5
    strategy: str = "default"


@dataclass(frozen=True)
class ExplainConfig:
    """Which producers run on the classifier's test split and with which budget.

    ``gradcam_weighting``: ``elementwise`` (default; exact for Flatten heads, see
    :mod:`pix2pixai.producers.gradcam`), ``mean`` (classic Grad-CAM, what the original work used
    through keras-vis on the softmax output) or ``plusplus``.
    """

    methods: tuple[str, ...] = CORE_METHODS
    score: str = "logit"
    gradcam_weighting: str = "elementwise"
    shap_samples: int = 256
    shap_background: int = 64
    blanking_patch: int = 1
    actmax_steps: int = 200
    actmax_restarts: int = 4
    batch_size: int = 256


@dataclass(frozen=True)
class GeneratorConfigSection:
    """pix2pix settings shared by every (group, method) generator.

    ``norm`` defaults to instance normalisation: a per-class generator gets only a few hundred
    steps, too few for batch-norm running statistics to converge, so a batch-norm generator's
    inference output (running statistics) differs grossly from its training output (measured on
    the demo's LPV Grad-CAM generator: held-out SSIM 0.18 with batch norm, 0.70 with instance norm).

    Training is a budget of ``steps`` generator updates; every ``eval_every`` steps the L1 on a seeded
    ``validation_fraction`` of the training pairs is scored, the best weights are kept and training
    stops after ``patience`` evaluations without improvement. ``gan_weight = 0`` trains with the L1
    term alone (the control for the adversarial term, weighted ``gan_weight`` against ``l1_weight``).

    ``mode``: ``"conditional"`` (default) trains one class-conditional generator per method on the
    pairs of every group (the group as an input, so rare groups borrow strength); ``"per_group"``
    trains one generator per (group, method) on that group's pairs. ``folds`` K: the explained inputs
    are cross-fitted over K seeded folds stratified by group (every input's map is predicted by a
    generator that never saw it), and the generator kept for later use is trained on all folds.

    ``scheduler`` fans the generator jobs out (``pix2pixai.pipeline.fanout.run_jobs``):
    ``"serial"`` (default, with a progress bar), ``"local:N"`` (a Dask LocalCluster of N processes) or
    a Dask scheduler address; every job is trained from the same seed either way.
    ``strategy`` spreads each generator's training over devices, as ``classifier.strategy``.
    """

    mode: str = "conditional"
    folds: int = 5
    ngf: int = 32
    ndf: int = 32
    steps: int = 2000
    eval_every: int = 100
    patience: int = 5
    validation_fraction: float = 0.2
    batch_size: int = 8
    norm: str = "instance"
    loss: str = "vanilla"
    l1_weight: float = 100.0
    gan_weight: float = 1.0
    flip: bool = False
    scheduler: str = "serial"
    strategy: str = "default"


@dataclass(frozen=True)
class ClassMapConfig:
    """Which out-of-fold inputs make a class map, and how it is ranked (see ``pix2pixai.classmaps``).

    Class-map inputs are the group's correctly classified inputs with p >= ``classmap_threshold``;
    when fewer than ``min_inputs`` reach it, the ``min_inputs`` most confident correct ones. A group
    with fewer than ``min_inputs`` explained inputs gets no skill, one with fewer correct ones no map.
    """

    classmap_threshold: float = 0.95
    min_inputs: int = 5
    ranking: str = "fidelity"
    top_k: int = 5


@dataclass(frozen=True)
class CompareConfig:
    """Budget of the aggregation comparison's stability and sanity checks (see ``pix2pixai.compare``).

    ``stability_seeds``: extra generator seeds per (group, method), each a full generator training
    with the run's settings (0 disables stability). ``stability_groups``: in ``per_group`` generator
    mode only the first N groups with class maps get them (0 = every group), because each extra seed
    costs a generator per group; a class-conditional generator serves every group at once.
    ``cascading_inputs``: evaluation inputs per group whose explanations are recomputed at each stage
    of the cascading layer randomisation (0 disables it).
    """

    stability_seeds: int = 2
    stability_groups: int = 0
    cascading_inputs: int = 8


@dataclass(frozen=True)
class RunConfig:
    """One survey's chain. ``profile`` names the budget defaults (``demo`` or ``full``)."""

    seed: int = 0
    profile: str = "full"
    survey: SurveyConfig = field(default_factory=SurveyConfig)
    classifier: ClassifierConfig = field(default_factory=ClassifierConfig)
    explain: ExplainConfig = field(default_factory=ExplainConfig)
    generator: GeneratorConfigSection = field(default_factory=GeneratorConfigSection)
    classmaps: ClassMapConfig = field(default_factory=ClassMapConfig)
    compare: CompareConfig = field(default_factory=CompareConfig)
    source_file: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (tuples as lists) for the manifest and hashing."""
        return _to_plain(dataclasses.asdict(self))


#: Budgets per profile: ``"*"`` applies to every survey kind, then the kind's own entry; a config
#: file's keys win over both. ``demo`` must run both simulated surveys end to end in <= 10 minutes
#: on a 2-core CPU; ``full`` is what real results use.
PROFILES: dict[str, dict[str, dict[str, dict[str, Any]]]] = {
    "demo": {
        "*": {
            "classifier": {"epochs": 30, "patience": 5},
            "explain": {"shap_samples": 16, "shap_background": 16, "actmax_steps": 40, "actmax_restarts": 2},
            "generator": {"folds": 3, "ngf": 8, "ndf": 8, "steps": 200, "eval_every": 50, "patience": 2,
                          "batch_size": 8},
            "compare": {"stability_seeds": 1, "stability_groups": 1, "cascading_inputs": 4},
        },
        "dmdt": {"survey": {"n_per_group": 200}, "classifier": {"test_fraction": 0.4}},
        "triplet": {"survey": {"n_per_group": 150}, "explain": {"blanking_patch": 7}},
        "image": {"survey": {"n_per_group": 150}, "explain": {"blanking_patch": 4}},
    },
    "full": {
        "*": {
            "classifier": {"epochs": 40, "patience": 6},
            # 256 samples: completeness error 2.4% on the real CRTS CNN (8.3% at 64; see gradient_shap.py)
            "explain": {"shap_samples": 256, "shap_background": 64},
            "generator": {"folds": 5, "ngf": 32, "ndf": 32, "steps": 2000, "eval_every": 100, "patience": 5,
                          "batch_size": 8},
            "compare": {"stability_seeds": 2, "stability_groups": 0, "cascading_inputs": 8},
        },
        # simulated dmdts: the CNN's accuracy is limited by its training-set size (sim-crts held-out
        # accuracy 0.858 with 240 training curves per class, 0.896 with 700, 0.911 with 1,800), so
        # more curves are simulated and a smaller fraction held out: the test split, which explain
        # and the generators work on, stays about the same size (200 per class; was 160). Real-data
        # presets set their own test_fraction (file keys win).
        "dmdt": {"survey": {"n_per_group": 2000}, "classifier": {"test_fraction": 0.1}},
        "triplet": {"survey": {"n_per_group": 300}, "explain": {"blanking_patch": 3}},
        "image": {"survey": {"n_per_group": 300}, "explain": {"blanking_patch": 2}},
    },
}

_SECTIONS = {
    "survey": SurveyConfig,
    "classifier": ClassifierConfig,
    "explain": ExplainConfig,
    "generator": GeneratorConfigSection,
    "classmaps": ClassMapConfig,
    "compare": CompareConfig,
}

_CHOICES = {
    "survey.kind": ("dmdt", "triplet", "image"),
    "survey.source": ("simulate", "lightcurves_npz", "lightcurves_csv", "fink_npz", "braai_training_set", "images"),
    "survey.normalisation": ("image", "row"),
    "classifier.mode": ("train", "finetune", "legacy"),
    "classifier.architecture": ("dmdt_cnn", "braai_vgg6", "generic_cnn"),
    "explain.score": ("logit", "probability"),
    "explain.gradcam_weighting": ("elementwise", "mean", "plusplus"),
    "generator.mode": ("conditional", "per_group"),
    "generator.norm": ("batch", "instance"),
    "generator.loss": ("vanilla", "lsgan"),
    "classifier.strategy": ("default", "mirrored", "multiworker"),
    "generator.strategy": ("default", "mirrored", "multiworker"),
    "classmaps.ranking": ("fidelity", "medoid"),
    "profile": tuple(PROFILES),
}


def load_config(source: str | Path, *, profile: str | None = None, overrides: dict | None = None) -> RunConfig:
    """Read a TOML config file, or a shipped preset by name (``crts``, ``ztf-scope``, ...).

    The profile's budget is applied first, then the file's keys, then ``overrides``.
    """
    path = _resolve_config_path(source)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{path}: not valid TOML ({exc})") from None
    except UnicodeDecodeError:
        raise InputError(f"{path}: not a UTF-8 text file (expected a TOML config)") from None
    return config_from_dict(data, origin=str(path), profile=profile, overrides=overrides)


def config_from_dict(
    data: dict[str, Any], *, origin: str = "<config>", profile: str | None = None, overrides: dict | None = None
) -> RunConfig:
    """Validate a nested dict against the schema (unknown keys are errors) and build a RunConfig."""
    data = _merge({}, data)
    if overrides:
        data = _merge(data, overrides)
    chosen = profile or data.get("profile", "full")
    if not isinstance(chosen, str) or chosen not in PROFILES:
        raise InputError(f"{origin}: profile {chosen!r} unknown; expected one of {', '.join(PROFILES)}")
    kind = data.get("survey", {}).get("kind", SurveyConfig.kind) if isinstance(data.get("survey"), dict) else "dmdt"
    if not isinstance(kind, str):  # a list or table here would fail the budget lookup below
        raise InputError(f"{origin}: survey.kind must be str, got {type(kind).__name__} {kind!r}")
    budget = _merge(PROFILES[chosen]["*"], PROFILES[chosen].get(kind, {}))
    merged = _merge(budget, data)
    merged["profile"] = chosen
    for key in merged:
        if key not in _SECTIONS and key not in ("seed", "profile"):
            raise InputError(f"{origin}: unknown key {key!r}; expected seed, profile or sections {', '.join(_SECTIONS)}")
    kwargs: dict[str, Any] = {"source_file": origin, "profile": chosen}
    if "seed" in merged:
        kwargs["seed"] = _coerce(merged["seed"], int, origin, "seed")
    for name, cls in _SECTIONS.items():
        section = merged.get(name, {})
        if not isinstance(section, dict):
            raise InputError(f"{origin}: [{name}] must be a table, got {type(section).__name__}")
        kwargs[name] = _build_section(cls, section, origin, name)
    config = RunConfig(**kwargs)
    _validate(config, origin)
    return config


def expand_path(value: str, config: RunConfig) -> Path:
    """Expand ``{shared}`` (env PIX2PIXAI_SHARED_DATA, default ../shared/data) and make the path
    relative to the config file's folder when it is not absolute."""
    shared = os.environ.get("PIX2PIXAI_SHARED_DATA", str(Path.cwd().parent / "shared" / "data"))
    text = value.replace("{shared}", shared)
    path = Path(text).expanduser()
    if not path.is_absolute() and config.source_file and not config.source_file.startswith("<"):
        origin = Path(config.source_file)
        if not _is_shipped(origin):
            path = origin.parent / path
    return path


def survey_files(config: RunConfig) -> list[Path]:
    """The files (or folders) a survey's data step reads: its ``path`` and ``labels`` when set.
    Simulated surveys read none."""
    if config.survey.source == "simulate":
        return []
    return [expand_path(value, config) for value in (config.survey.path, config.survey.labels) if value]


def classifier_files(config: RunConfig) -> list[Path]:
    """The model files the classifier step reads: the legacy model or the one fine-tuned from, when set."""
    cc = config.classifier
    chosen = cc.legacy_path if cc.mode == "legacy" else cc.finetune_from if cc.mode == "finetune" else ""
    return [expand_path(chosen, config)] if chosen else []


def plain_name(value: str, what: str) -> str:
    """``value`` when it can name a file or folder inside a run directory; an ``InputError`` otherwise.

    Survey, group and method names become paths (``RUN/<survey>/``, ``classmaps/<group>__<method>.npz``):
    a separator, ``..``, an absolute path, an empty name or a NUL would put files outside ``--out``.
    """
    if (not isinstance(value, str) or value in ("", ".", "..") or "/" in value or "\\" in value or "\0" in value
            or value != value.strip()):
        raise InputError(f"{what} = {value!r}: expected a plain name (no '/', '\\', '..', leading or trailing "
                         "spaces, not empty), since it names a folder of the run")
    return value


def preset_names() -> list[str]:
    """Names of the configs shipped in ``pix2pixai/configs``."""
    return sorted(p.name[:-5] for p in resources.files("pix2pixai.configs").iterdir() if p.name.endswith(".toml"))


def _resolve_config_path(source: str | Path) -> Path:
    path = Path(source)
    if path.exists():
        if path.is_dir():
            raise InputError(f"{path}: is a directory, expected a TOML config file")
        return path
    name = str(source)
    if name in preset_names():
        return Path(str(resources.files("pix2pixai.configs") / f"{name}.toml"))
    raise InputError(f"{source}: no such config file or preset; presets: {', '.join(preset_names())}")


def _is_shipped(path: Path) -> bool:
    try:
        return path.resolve().parent == Path(str(resources.files("pix2pixai.configs"))).resolve()
    except OSError:
        return False


def _build_section(cls: type, values: dict[str, Any], origin: str, section: str) -> Any:
    hints = get_type_hints(cls)
    known = {f.name for f in fields(cls)}
    out = {}
    for key, value in values.items():
        if key not in known:
            raise InputError(
                f"{origin}: unknown key {section}.{key}; expected one of {', '.join(sorted(known))}"
            )
        out[key] = _coerce(value, hints[key], origin, f"{section}.{key}")
    return cls(**out)


def _coerce(value: Any, hint: Any, origin: str, key: str) -> Any:
    if get_origin(hint) is tuple:
        if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
            raise InputError(f"{origin}: {key} must be a list of strings, got {value!r}")
        return tuple(value)
    expected = {int: int, float: (int, float), bool: bool, str: str}[hint]
    if isinstance(value, bool) and hint is not bool:
        raise InputError(f"{origin}: {key} must be {hint.__name__}, got a boolean")
    if not isinstance(value, expected):
        raise InputError(f"{origin}: {key} must be {hint.__name__}, got {type(value).__name__} {value!r}")
    return float(value) if hint is float else value


def _validate(config: RunConfig, origin: str) -> None:
    flat = {"profile": config.profile}
    for name in _SECTIONS:
        for key, value in dataclasses.asdict(getattr(config, name)).items():
            flat[f"{name}.{key}"] = value
    plain_name(config.survey.name, f"{origin}: survey.name")
    for group in config.survey.groups:
        plain_name(group, f"{origin}: survey.groups entry")
    for method in config.explain.methods:
        plain_name(method, f"{origin}: explain.methods entry")
    for key, allowed in _CHOICES.items():
        if flat[key] not in allowed:
            raise InputError(f"{origin}: {key} = {flat[key]!r}; expected one of {', '.join(allowed)}")
    for key in ("classmaps.classmap_threshold", "classifier.test_fraction"):
        if not 0.0 < flat[key] < 1.0 and not (key.endswith("threshold") and flat[key] == 1.0):
            raise InputError(f"{origin}: {key} = {flat[key]} must lie in (0, 1)")
    for key in ("survey.n_per_group", "classifier.epochs", "classifier.batch_size", "generator.steps",
                "generator.eval_every", "generator.patience", "generator.batch_size", "generator.ngf",
                "generator.ndf", "explain.shap_samples", "explain.blanking_patch"):
        if flat[key] < 1:
            raise InputError(f"{origin}: {key} = {flat[key]} must be >= 1")
    if flat["generator.folds"] < 2:
        raise InputError(f"{origin}: generator.folds = {flat['generator.folds']} must be >= 2 (cross-fitting)")
    if flat["classmaps.min_inputs"] < 2:
        raise InputError(f"{origin}: classmaps.min_inputs = {flat['classmaps.min_inputs']} must be >= 2 (a "
                         "class map needs a selection and an evaluation input)")
    if not 0.0 <= flat["generator.validation_fraction"] < 1.0:
        raise InputError(f"{origin}: generator.validation_fraction = {flat['generator.validation_fraction']} "
                         "must lie in [0, 1)")
    if flat["generator.gan_weight"] < 0:
        raise InputError(f"{origin}: generator.gan_weight = {flat['generator.gan_weight']} must be >= 0")
    for key in ("compare.stability_seeds", "compare.stability_groups", "compare.cascading_inputs"):
        if flat[key] < 0:
            raise InputError(f"{origin}: {key} = {flat[key]} must be >= 0 (0 disables or means all)")


def _merge(base: dict, extra: dict) -> dict:
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _to_plain(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _to_plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_to_plain(v) for v in obj]
    return obj

