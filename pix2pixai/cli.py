"""The ``pix2pixai`` command line.

User errors (bad files, fields, config keys, outputs that would harm a file) end with one line on
stderr and exit code 2; anything else is a bug: one line naming the log file that holds its
traceback, exit code 1 (:mod:`pix2pixai.console`). Every command checks its outputs
(:mod:`pix2pixai.output_safety`, the run-directory rule of :mod:`pix2pixai.pipeline.runner`) before
any work starts. Each chain step also runs alone on a run directory.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path
from types import ModuleType
from typing import Callable, NoReturn, Sequence

from pix2pixai import __version__
from pix2pixai.console import internal_error, quiet_import
from pix2pixai.errors import InputError
from pix2pixai.output_safety import check_output_file, check_output_folder

EXIT_INTERNAL_ERROR = 1
EXIT_USER_ERROR = 2


def main(argv: Sequence[str] | None = None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # C++ INFO/WARNING/ERROR chatter; Python errors still raise
    os.environ.setdefault("MPLBACKEND", "Agg")  # figures are files here; the library leaves the backend alone
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    logging.getLogger("tensorflow").setLevel(logging.ERROR)  # retracing notices are not the user's concern
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "func"):
        parser.print_help()
        return EXIT_USER_ERROR
    if args.no_autotune:
        os.environ["PIX2PIXAI_AUTOTUNE"] = "0"
    try:
        with quiet_import("tensorflow", show=args.verbose, then=_start_devices):
            return int(args.func(args) or 0)
    except InputError as exc:
        print(f"pix2pixai {args.command}: error: {' '.join(str(exc).splitlines())}", file=sys.stderr)
        return EXIT_USER_ERROR
    except (FileNotFoundError, PermissionError, IsADirectoryError) as exc:
        print(f"pix2pixai {args.command}: error: {exc.strerror}: {exc.filename}", file=sys.stderr)
        return EXIT_USER_ERROR
    except OSError as exc:
        if exc.errno == 28:  # ENOSPC
            print(f"pix2pixai {args.command}: error: disk full while writing {exc.filename or ''}; "
                  "earlier results are intact", file=sys.stderr)
            return EXIT_USER_ERROR
        raise
    except KeyboardInterrupt:
        print(f"pix2pixai {args.command}: interrupted; re-run the same command to resume", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - a bug: one line, the traceback in the cache folder's log
        print(internal_error(args.command, exc), file=sys.stderr)
        return EXIT_INTERNAL_ERROR


def _start_devices(tf: ModuleType) -> None:
    """Start TensorFlow's devices while its start-up lines are captured (a failed ``cuInit`` says so)."""
    tf.config.list_logical_devices()


class _Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line on stderr (exit 2), like every other error."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USER_ERROR, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """Every command; the step commands from the step records (``pix2pixai.pipeline.steps.STEPS``)."""
    from pix2pixai.pipeline.steps import STEPS

    parser = _Parser(
        prog="pix2pixai",
        description="Class-level explanation maps for CNN classifiers with pix2pix generators "
                    "(dmdt light-curve images, ZTF real/bogus triplets, any labelled image set).",
        epilog="Start with `pix2pixai demo`; then `pix2pixai run crts` or your own CONFIG.toml.",
    )
    parser.add_argument("--version", action="version", version=f"pix2pixai {__version__}")
    parser.add_argument("--no-autotune", action="store_true",
                        help="use the producers' fixed default paths instead of timing the candidates on first use")
    parser.add_argument("--verbose", action="store_true",
                        help="also show what libraries print while loading (TensorFlow's start-up lines)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def add(name: str, help_: str, func: Callable, aliases: Sequence[str] = ()) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_, description=help_, aliases=list(aliases))
        p.set_defaults(func=func, command=name)
        return p

    p = add("demo", "run the whole chain on the embedded simulated CRTS and ZTF data", _cmd_demo)
    p.add_argument("--out", type=Path, default=None,
                   help="run directory (default runs/demo, or runs/demo-full with --profile full)")
    p.add_argument("--profile", default="demo", choices=("demo", "full"), help="budget profile (default demo)")
    p.add_argument("--force", action="store_true", help="re-run steps whose inputs are unchanged")

    p = add("run", "run the whole chain for one survey config (a TOML file or a shipped preset)", _cmd_run)
    p.add_argument("config", nargs="?", default=None,
                   help="CONFIG.toml or a preset name (crts, ztf-scope, ztf-braai, sim-crts, sim-ztf); "
                        "may be left out with --resume (the run directory's recorded config is used)")
    p.add_argument("--out", type=Path, default=None, help="run directory (default runs/<config name>)")
    p.add_argument("--profile", choices=("demo", "full"), default=None, help="override the config's profile")
    p.add_argument("--resume", action="store_true",
                   help="continue the run in --out: finished steps are kept, interrupted ones continue from "
                        "their checkpoints; refused if CONFIG differs from the recorded one (unless --force)")
    p.add_argument("--force", action="store_true",
                   help="re-run every step, even over a run of another config in --out")

    for step in STEPS:
        p = add(step.command, f"step `{step.name}` alone on a run directory: {step.help}", _cmd_step, step.aliases)
        if step.name == "explain":
            p.description = ("run the `explain` step of CONFIG in a run directory (explain CONFIG --out RUN), or "
                             "explain any model's inputs into a map store (explain --model M --inputs X "
                             "--method gradcam,saliency --out maps.h5)")
            p.set_defaults(func=_cmd_explain)
            _add_explain_file_arguments(p)
        p.add_argument("config", nargs="?" if step.name == "explain" else None, help="CONFIG.toml or a preset name")
        p.add_argument("--out", type=Path, required=True,
                       help="run directory (or, with --model, the map store .h5 to write)")
        p.add_argument("--force", action="store_true", help="re-run even if inputs are unchanged")
        p.set_defaults(step=step.name)

    p = add("figures", "render every figure of a run directory (PNG + PDF)", _cmd_figures)
    p.add_argument("--out", type=Path, required=True, help="run directory")
    p = add("report", "write the self-contained report.html of a run directory", _cmd_report)
    p.add_argument("--out", type=Path, required=True, help="run directory")

    p = add("dmdt", "bin light curves into dmdt images (.npy)", _cmd_dmdt)
    p.add_argument("lightcurves", nargs="+", type=Path, help="light-curve tables (CSV, ECSV, FITS, Parquet) or folders of them")
    p.add_argument("--preset", default="crts", help="dmdt bin preset: crts or scope (default crts)")
    p.add_argument("--out", type=Path, required=True, help="output .npy: [N, n_dm, n_dt] (or [n_dm, n_dt] for one curve)")
    p.add_argument("--force", action="store_true", help="replace existing output files")

    p = add("classify", "light curves -> class probabilities through dmdt and a trained CNN", _cmd_classify)
    p.add_argument("lightcurves", nargs="+", type=Path, help="light-curve tables (CSV, ECSV, FITS, Parquet) or folders of them")
    p.add_argument("--model", type=Path, required=True, help=".keras model, or a legacy Keras-2 .h5 (crts_cnn)")
    p.add_argument("--preset", default="crts", help="dmdt preset the model was trained on (default crts)")
    p.add_argument("--out", type=Path, required=True, help="output predictions.csv")
    p.add_argument("--force", action="store_true", help="replace existing output files")

    p = add("plot", "draw a map store written by `explain --model`: one figure per method (PNG + PDF)", _cmd_plot)
    p.add_argument("store", type=Path, help="map store (.h5)")
    p.add_argument("--out", type=Path, required=True, help="folder for the figures")
    p.add_argument("--inputs", type=Path, default=None, help="the explained inputs (.npy), drawn beside the maps")
    p.add_argument("--rows", type=int, default=8, help="maps per figure (default 8)")
    p.add_argument("--force", action="store_true", help="replace existing output files")

    p = add("cadence", "time-gap diagnostics of a survey and suggested dt bin edges", _cmd_cadence)
    p.add_argument("lightcurves", nargs="+", type=Path, help="light-curve tables (CSV, ECSV, FITS, Parquet) or folders of them, or a lightcurves .npz")
    p.add_argument("--preset", default="crts", help="dmdt preset whose dt bins are checked (default crts)")
    p.add_argument("--bins", type=int, default=24, help="number of suggested dt bins (default 24)")
    p.add_argument("--out", type=Path, default=None, help="figure path (PNG); default: none")
    p.add_argument("--force", action="store_true", help="replace existing output files")

    p = add("inspect", "look inside a classifier: activation grid, first-layer filters, max-activating patches, "
                       "t-SNE feature map, nearest neighbours (of a run's classifier, or MODEL on INPUTS)", _cmd_inspect)
    p.add_argument("model", nargs="?", type=Path, default=None,
                   help="a .keras model or legacy Keras-2 .h5 (leave out to inspect the classifiers of run --out)")
    p.add_argument("inputs", nargs="?", type=Path, default=None,
                   help="labelled image set for MODEL: .npz or .h5 with images [N,H,W,C] and labels [N]")
    p.add_argument("--out", type=Path, required=True,
                   help="run directory (figures go to RUN/figures/<survey>/inspection), or the output folder "
                        "with MODEL INPUTS")
    p.add_argument("--survey", default=None, help="only this survey of the run (default: every survey)")
    p.add_argument("--legacy-kind", default="crts_cnn", help="architecture of a legacy .h5 MODEL (default crts_cnn)")
    p.add_argument("--index", type=int, default=None,
                   help="input whose activations and neighbours are shown (default: the most confident correct one)")
    p.add_argument("--layer", default=None, help="conv layer for the top patches (default: the last conv layer)")
    p.add_argument("--channel", type=int, default=None,
                   help="channel of --layer (default: the one with the highest mean peak activation)")
    p.add_argument("--max-inputs", type=int, default=500, help="most inputs in the t-SNE map (default 500)")
    return parser


def _echo(msg: str) -> None:
    print(msg, flush=True)


def _cmd_demo(args: argparse.Namespace) -> int:
    """``demo``: each profile has its own default run directory, guarded like ``run``'s."""
    from pix2pixai.pipeline.limits import check_memory
    from pix2pixai.pipeline.runner import check_run_dir, configs_for_demo, run_chain
    from pix2pixai.rundir.summary import print_summary

    out = args.out or Path("runs/demo" if args.profile == "demo" else f"runs/demo-{args.profile}")
    configs = configs_for_demo(args.profile)
    check_memory(configs, force=args.force)
    if check_run_dir(configs, out, force=args.force) and not args.force:
        _echo(f"{out} holds an earlier demo run: finished steps are kept (--force redoes them)")
    manifest = run_chain(configs, out, force=args.force, echo=_echo)
    print_summary(manifest, out, echo=_echo)
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    """``run``: a new run refuses a run directory holding another config; ``--resume`` continues one."""
    from pix2pixai.pipeline.limits import check_memory
    from pix2pixai.pipeline.runner import check_run_dir, configs_from_run, resume_plan, run_chain
    from pix2pixai.rundir.config import load_config
    from pix2pixai.rundir.summary import print_summary

    if args.config is None and not args.resume:
        raise InputError("CONFIG is required (a TOML file or a preset name); `--resume --out RUN` alone "
                         "continues a run with the config it recorded")
    out = args.out or (Path("runs") / Path(args.config).stem if args.config else None)
    if out is None:
        raise InputError("--resume without CONFIG needs --out RUN (the run directory to continue)")
    if args.resume:
        recorded = configs_from_run(out)  # InputError when there is nothing to resume
        if args.config is None and args.profile is not None:
            raise InputError("--profile changes the config; give CONFIG with it, or leave it out to resume as recorded")
        configs = [load_config(args.config, profile=args.profile)] if args.config else recorded
    else:
        configs = [load_config(args.config, profile=args.profile)]
    check_memory(configs, force=args.force)
    earlier = check_run_dir(configs, out, force=args.force)
    if args.resume and not args.force:
        for line in resume_plan(configs, out):
            _echo(line)
    elif earlier and not args.force:
        _echo(f"{out} holds an earlier run of this config: finished steps are kept (--force redoes them)")
    manifest = run_chain(configs, out, force=args.force, echo=_echo)
    print_summary(manifest, out, echo=_echo)
    return 0


def _cmd_step(args: argparse.Namespace) -> int:
    """A step alone: into a new folder, or a run holding this config's survey (or other surveys beside it)."""
    from pix2pixai.pipeline.limits import check_memory
    from pix2pixai.pipeline.runner import check_run_dir, run_survey
    from pix2pixai.rundir.config import load_config

    config = load_config(args.config)
    check_memory([config], force=args.force)
    check_run_dir([config], args.out, force=args.force, alongside=True)
    run_survey(config, args.out, steps=[args.step], force=args.force, echo=_echo)
    return 0


def _add_explain_file_arguments(p: argparse.ArgumentParser) -> None:
    """Options of ``explain --model``: explanation maps of any model's inputs, outside a run directory."""
    g = p.add_argument_group("outside a run directory (with --model)")
    g.add_argument("--model", type=Path, help=".keras model, or an .h5 (Keras 3 or legacy crts_cnn / braai)")
    g.add_argument("--inputs", type=Path, help="inputs [N, H, W(, C)] as .npy, .npz or .h5 (one array per model "
                   "input name for multi-input models)")
    g.add_argument("--method", help="comma-separated producers, e.g. gradcam,saliency,blanking,shap")
    g.add_argument("--targets", default=None, help="'predicted' (default), a class index, or a .npy/.txt of one "
                   "class per input")
    g.add_argument("--score", choices=("logit", "probability"), default="logit", help="explained score (default logit)")
    g.add_argument("--image-input", default=None, help="multi-input models: the input to attribute")
    g.add_argument("--inputs-key", default=None, help="array to read from an .npz/.h5 holding several "
                   "(also picks the --background array)")
    g.add_argument("--background", type=Path, default=None, help="shap: reference inputs (.npy/.npz/.h5)")
    g.add_argument("--param", action="append", default=[], metavar="[METHOD.]NAME=VALUE",
                   help="producer parameter, e.g. patch=3 or shap.n_samples=256 (repeatable)")
    g.add_argument("--legacy-kind", "--legacy", dest="legacy_kind", default=None,
                   help="architecture of a legacy Keras-2 .h5 MODEL: crts_cnn or braai (default: tried)")
    g.add_argument("--chunk", type=int, default=256, help="inputs per written chunk (default 256)")


def _cmd_explain(args: argparse.Namespace) -> int:
    from pix2pixai.explain_files import explain_files, tqdm_progress

    if args.model is None:
        if args.config is None:
            raise InputError("give CONFIG (run-directory step) or --model with --inputs and --method")
        return _cmd_step(args)
    if args.config is not None:
        raise InputError(f"give either CONFIG ({args.config}) or --model, not both")
    if args.inputs is None or not args.method:
        raise InputError("--model needs --inputs FILE and --method NAME[,NAME...]")
    methods = [m.strip() for m in args.method.split(",") if m.strip()]
    progress, close = tqdm_progress(f"explain {args.inputs.name}")
    try:
        out = explain_files(args.model, args.inputs, methods, args.out, targets=args.targets, score=args.score,
                            image_input=args.image_input, inputs_key=args.inputs_key, background=args.background,
                            params=args.param, legacy=args.legacy_kind, chunk=args.chunk, progress=progress)
    finally:
        close()
    _echo(f"wrote {out}: {', '.join(methods)} maps of {args.inputs}")
    return 0


def _cmd_figures(args: argparse.Namespace) -> int:
    from pix2pixai.figures.all import render_all

    _require_run(args.out)
    for path in render_all(args.out, echo=_echo):
        _echo(str(path))
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from pix2pixai.report import write_report

    _require_run(args.out)
    _echo(str(write_report(args.out)))
    return 0


def _require_run(out: Path) -> None:
    """Refuse a folder that is not a finished run of this toolkit (marker and readable manifest)."""
    from pix2pixai.rundir.layout import RunDir

    RunDir(out).read_manifest()


def _read_curves(paths: Sequence[Path]):
    from pix2pixai.data.lightcurves import read_lightcurves, read_lightcurves_npz

    curves = []
    for path in paths:
        curves.extend(read_lightcurves_npz(path) if path.suffix == ".npz" else read_lightcurves(path))
    return curves


def _cmd_dmdt(args: argparse.Namespace) -> int:
    from pix2pixai import atomic
    from pix2pixai.data.dmdt_images import DMDT_PRESETS, dmdt_from_lightcurves

    if args.preset not in DMDT_PRESETS:
        raise InputError(f"--preset {args.preset!r} unknown; expected one of {', '.join(DMDT_PRESETS)}")
    check_output_file(args.out, args.lightcurves, replace=args.force)
    curves = _read_curves(args.lightcurves)
    images = dmdt_from_lightcurves(curves, preset=args.preset)
    atomic.save_npy(args.out, images[0] if len(curves) == 1 else images)
    _echo(f"wrote {args.out}: {len(curves)} dmdt image(s) of shape {images.shape[1:]} ({args.preset})")
    return 0


def _cmd_plot(args: argparse.Namespace) -> int:
    """``plot``: figures of a map store, checked like every output (never over the store or the inputs)."""
    import numpy as np

    from pix2pixai.figures.map_grid import plot_map_store

    if args.rows < 1:
        raise InputError(f"--rows {args.rows}: expected a positive number of maps per figure")
    check_output_folder(args.out, [args.store, *([args.inputs] if args.inputs else [])])
    if args.out.is_dir() and any(args.out.iterdir()) and not args.force:
        raise InputError(f"--out {args.out}: not empty; choose a new folder, or pass --force to replace the "
                         "figures in it")
    inputs = None
    if args.inputs is not None:
        try:
            inputs = np.load(args.inputs, allow_pickle=False, mmap_mode="r")
        except (OSError, ValueError) as exc:
            raise InputError(f"{args.inputs}: not a readable .npy array ({exc})") from None
    for path in plot_map_store(args.store, args.out, inputs=inputs, rows=args.rows):
        _echo(str(path))
    return 0


def _cmd_classify(args: argparse.Namespace) -> int:
    from pix2pixai.classify import classify_lightcurves

    check_output_file(args.out, [*args.lightcurves, args.model], replace=args.force)
    curves = _read_curves(args.lightcurves)
    table = classify_lightcurves(curves, args.model, preset=args.preset, out=args.out)
    _echo(f"wrote {args.out}: {len(table)} light curves classified")
    return 0


def _cmd_cadence(args: argparse.Namespace) -> int:
    from pix2pixai.data.cadence import cadence_report

    if args.out is not None:  # the figure is written as PNG and PDF
        for path in (args.out, args.out.with_suffix(".pdf")):
            check_output_file(path, args.lightcurves, replace=args.force)
    report = cadence_report(_read_curves(args.lightcurves), preset=args.preset, n_bins=args.bins)
    _echo(report.to_table())
    if args.out is not None:
        from pix2pixai.figures.cadence import plot_cadence

        _echo(f"figure: {plot_cadence(report, args.out)}")
    return 0


def _cmd_inspect(args: argparse.Namespace) -> int:
    """``inspect``: a run's classifiers on their test splits, or MODEL on a labelled image set."""
    from pix2pixai.figures.inspection_views import inspect_survey, inspection_views
    from pix2pixai.trainers.model_files import load_model_file

    options = {"index": args.index, "layer": args.layer, "channel": args.channel, "max_inputs": args.max_inputs}
    if args.model is not None:
        from pix2pixai.data.images import read_image_set

        if args.inputs is None:
            raise InputError("MODEL needs INPUTS: a labelled image set (.npz or .h5 with images and labels)")
        check_output_folder(args.out, [args.model, args.inputs])
        images = read_image_set(args.inputs)
        model = load_model_file(args.model, args.legacy_kind)
        views = inspection_views(model, images.images, images.y, images.class_names, args.out, **options)
        for path in views.paths:
            _echo(str(path))
        return 0
    from pix2pixai.rundir.layout import RunDir

    _require_run(args.out)
    run = RunDir(args.out)
    dirs = [d for d in run.surveys() if args.survey in (None, d.root.name)]
    if not dirs:
        raise InputError(f"{args.out}: no survey {args.survey!r} in this run "
                         f"(surveys: {', '.join(d.root.name for d in run.surveys())})")
    for sdir in dirs:
        views = inspect_survey(sdir, run.inspection_figures(sdir.root.name), **options)
        _echo(f"[{sdir.root.name}] input #{views.index}, {views.layer} channel {views.channel}, "
              f"t-SNE of {views.n_tsne} inputs:")
        for path in views.paths:
            _echo(str(path))
    _echo(f"`pix2pixai report --out {args.out}` puts them in report.html")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
