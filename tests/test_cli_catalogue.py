"""The CLI catalogue (issue 19): hostile and careless uses of every command, run as a user runs them.

Each case runs ``python -m pix2pixai.cli`` in a subprocess, in a copy of one workspace holding a
model, arrays, light curves, configs, a user's own folder, a demo-like run and a finished run, and
asserts the exit code, exactly one line on stderr for an error (TensorFlow's start-up lines
included), no traceback, and that every file in and around the output is byte-identical afterwards
(no partial file, nothing replaced). ``test_malformed_catalogue.py`` proves the same inputs raise an
``InputError`` in-process; the ``MALFORMED`` cases here run some of them once through the CLI.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from tests.test_malformed_catalogue import ROWS, _corrupt_member, _csv, _write

TINY = """\
seed = 1
profile = "demo"
[survey]
name = "tiny"
kind = "dmdt"
source = "simulate"
groups = ["EW", "LPV"]
n_per_group = {n}
"""


@dataclass(frozen=True)
class Case:
    """``args`` of ``pix2pixai``; the exit code and a fragment of the one stderr line expected.
    ``writes``: the command may add files (a success), but never change one that was there."""

    args: tuple[str, ...]
    code: int
    fragment: str
    writes: bool = False


def _explain(*extra: str, model: str = "m.keras", inputs: str = "x.npy", method: str = "saliency") -> tuple[str, ...]:
    return ("explain", "--model", model, "--inputs", inputs, "--method", method, *extra)


CASES: dict[str, Case] = {
    # ------------------------------------------------------------------ outputs that are inputs
    "explain_out_is_the_inputs": Case(_explain("--out", "x.npy"), 2, "is the input x.npy"),
    "explain_out_is_the_model": Case(_explain("--out", "m.keras"), 2, "is the input m.keras"),
    "explain_out_links_to_the_inputs": Case(_explain("--out", "link.h5"), 2, "is the input x.npy"),
    "explain_complex_inputs": Case(_explain("--out", "c.h5", inputs="complex.npy"), 2, "complex numbers"),
    "explain_out_is_a_folder": Case(_explain("--out", "curves"), 2, "is a folder"),
    "dmdt_out_is_the_curve": Case(("dmdt", "a.csv", "--out", "a.csv"), 2, "is the input a.csv"),
    "dmdt_out_inside_the_curve_folder": Case(("dmdt", "curves", "--out", "curves/x.npy"), 2, "inside the input folder"),
    "dmdt_out_is_an_existing_file": Case(("dmdt", "a.csv", "--out", "u/manifest.json"), 2, "exists"),
    "plot_into_a_folder_with_files": Case(("plot", "x.npy", "--out", "u"), 2, "not empty"),
    "classify_out_is_the_model": Case(("classify", "a.csv", "--model", "m.keras", "--out", "m.keras"), 2, "is the input"),
    "inspect_out_is_a_file": Case(("inspect", "m.keras", "x.npy", "--out", "x.npy"), 2, "is a file"),
    # ------------------------------------------------------------ folders that are not our runs
    "run_into_the_users_folder": Case(("run", "tiny.toml", "--out", "u"), 2, "not a pix2pixai run directory"),
    "report_into_the_users_folder": Case(("report", "--out", "u"), 2, "not a pix2pixai run directory"),
    "figures_into_the_users_folder": Case(("figures", "--out", "u"), 2, "not a pix2pixai run directory"),
    "step_into_a_demo_of_another_config": Case(("data", "sim-crts", "--out", "DEMO"), 2, "records another config"),
    "failing_step_into_a_demo": Case(("class-maps", "sim-crts", "--out", "DEMO"), 2, "records another config"),
    "failed_data_step_leaves_nothing": Case(("data", "badcurves.toml", "--out", "NEW"), 2, "empty"),
    # ---------------------------------------------------------------------------------- escapes
    "survey_name_climbs_out": Case(("data", "escape.toml", "--out", "E"), 2, "survey.name = '../x'"),
    "survey_name_absolute": Case(("data", "absolute.toml", "--out", "E"), 2, "survey.name = '/abs'"),
    "out_under_a_regular_file": Case(("data", "tiny.toml", "--out", "x.npy/R"), 2, "which is a file"),
    "out_is_the_root": Case(("data", "tiny.toml", "--out", "/"), 2, "file-system root"),
    "run_out_is_a_file": Case(("run", "tiny.toml", "--out", "x.npy"), 2, "is a file"),
    # --------------------------------------------------------------------------- damaged inputs
    "param_not_json": Case(_explain("--param", "patch=[[[", "--out", "s.h5", method="blanking"), 2, "--param"),
    "corrupt_keras_model": Case(_explain("--out", "s.h5", model="corrupt.keras"), 2, "not a zip archive"),
    "zip_renamed_keras": Case(_explain("--out", "s.h5", model="zip.keras"), 2, "without config.json"),
    "text_file_named_npz": Case(_explain("--out", "s.h5", inputs="text.npz"), 2, "not a readable .npz"),
    "report_damaged_manifest": Case(("report", "--out", "DAMAGED"), 2, "damaged manifest"),
    "figures_damaged_manifest": Case(("figures", "--out", "DAMAGED"), 2, "damaged manifest"),
    "usage_error": Case(("explain", "--model", "m.keras"), 2, "--out"),
    # ---------------------------------------------------------------------------------- limits
    "n_per_group_1e9": Case(("data", "big.toml", "--out", "B"), 2, "over the limit"),
    # --------------------------------------------------------------------------------- success
    "figures_with_zero_class_maps": Case(("figures", "--out", "R"), 0, "", writes=True),
}

#: Cases of ``test_malformed_catalogue.py`` run once through the CLI (its name -> the command).
MALFORMED: dict[str, Case] = {
    "csv_empty_file": Case(("dmdt", "empty.csv", "--out", "o.npy"), 2, "empty file"),
    "csv_latin1": Case(("dmdt", "latin1.csv", "--out", "o.npy"), 2, "not UTF-8"),
    "csv_field_too_long": Case(("dmdt", "long.csv", "--out", "o.npy"), 2, "field larger than field limit"),
    "curves_folder_fifo": Case(("dmdt", "fifo", "--out", "o.npy"), 2, "FIFO"),
    "npz_text_file": Case(("dmdt", "text.npz", "--out", "o.npy"), 2, "not an .npz (zip) archive"),
    "npz_bad_crc": Case(("cadence", "crc/curves.npz"), 2, "CRC"),
    "cadence_zero_bins": Case(("cadence", "a.csv", "--bins", "0"), 2, "from 1 to 2048"),
    "config_not_toml": Case(("data", "nottoml.toml", "--out", "C"), 2, "not valid TOML"),
    "config_unknown_key": Case(("run", "unknown.toml", "--out", "C"), 2, "unknown key generator.epochz"),
    "corrupt_keras_model": Case(("classify", "a.csv", "--model", "corrupt.keras", "--out", "p.csv"), 2,
                                "not a loadable model"),
    "csv_header_only": Case(("dmdt", "header_only.csv", "--out", "o.npy"), 2, "header only"),
    "csv_wrong_columns": Case(("dmdt", "wrong_columns.csv", "--out", "o.npy"), 2, "missing column"),
    "csv_not_a_number": Case(("dmdt", "not_a_number.csv", "--out", "o.npy"), 2, "'bright' is not a number"),
    "csv_one_point": Case(("dmdt", "one_point.csv", "--out", "o.npy"), 2, "1 usable point"),
    "csv_negative_error": Case(("dmdt", "negative_error.csv", "--out", "o.npy"), 2, "negative error"),
    "csv_huge_magnitudes": Case(("dmdt", "huge.csv", "--out", "o.npy"), 2, "beyond +-50"),
    "csv_duplicate_columns": Case(("dmdt", "dup_columns.csv", "--out", "o.npy"), 2, "more than once"),
    "curves_folder_symlink_loop": Case(("dmdt", "loop", "--out", "o.npy"), 2, "link loop"),
    "curves_path_missing": Case(("dmdt", "nowhere.csv", "--out", "o.npy"), 2, "no such file"),
    "npz_missing_arrays": Case(("cadence", "missing_arrays.npz"), 2, "missing array"),
    "npz_complex_times": Case(("cadence", "complex_times.npz"), 2, "real numbers"),
    "config_unknown_section": Case(("run", "unknown_section.toml", "--out", "C"), 2, "'generators'"),
    "config_wrong_type": Case(("run", "wrong_type.toml", "--out", "C"), 2, "classifier.epochs"),
    "config_bad_choice": Case(("run", "bad_choice.toml", "--out", "C"), 2, "survey.kind"),
    "store_truncated": Case(("plot", "cut.h5", "--out", "figs"), 2, "cut.h5"),
}


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Path:
    """Every input the cases need, built once (copied per case)."""
    import keras

    from pix2pixai import atomic
    from pix2pixai.pipeline.runner import run_chain
    from pix2pixai.rundir.config import load_config
    from pix2pixai.rundir.layout import RunDir

    ws = tmp_path_factory.mktemp("workspace")
    inputs = keras.Input((6, 6, 1))
    hidden = keras.layers.Conv2D(2, 3, name="conv")(inputs)
    keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(keras.layers.Flatten()(hidden))).save(ws / "m.keras")
    np.save(ws / "x.npy", np.random.default_rng(0).random((5, 6, 6, 1), dtype=np.float32))
    np.save(ws / "complex.npy", np.ones((5, 6, 6, 1), dtype=np.complex64))
    (ws / "link.h5").symlink_to("x.npy")
    _write(ws, "corrupt.keras", (ws / "m.keras").read_bytes()[:200])
    with zipfile.ZipFile(ws / "zip.keras", "w") as archive:
        archive.writestr("notes.txt", "not a model")
    _write(ws, "text.npz", "id,mjd\n")
    _csv(ws, ROWS, name="a.csv")
    (ws / "curves").mkdir()
    _csv(ws / "curves", ROWS, name="b.csv")
    _write(ws, "empty.csv", "")
    _write(ws, "header_only.csv", "mjd,mag,magerr\n")
    _write(ws, "wrong_columns.csv", "time,flux,err\n1,2,3\n")
    _write(ws, "not_a_number.csv", "mjd,mag,magerr\n" + "\n".join([*ROWS, "50010,bright,0.05"]) + "\n")
    _write(ws, "one_point.csv", "mjd,mag,magerr\n" + ROWS[0] + "\n")
    _write(ws, "negative_error.csv", "mjd,mag,magerr\n" + "\n".join([*ROWS, "50010,15,-0.1"]) + "\n")
    _write(ws, "huge.csv", "mjd,mag,magerr\n" + "\n".join([*ROWS, "50010,1e30,0.05"]) + "\n")
    _write(ws, "dup_columns.csv", "mjd,mag,mag,magerr\n1,15,15,0.1\n")
    (ws / "loop").mkdir()
    (ws / "loop" / "loop.csv").symlink_to("loop.csv")
    np.savez(ws / "missing_arrays.npz", mjd=np.zeros(3))
    np.savez(ws / "complex_times.npz", ids=np.array(["a"]), offsets=np.array([0, 2]), mjd=np.zeros(2) + 1j,
             mag=np.zeros(2), magerr=np.zeros(2))
    _write(ws, "unknown_section.toml", "[generators]\nsteps = 3\n")
    _write(ws, "wrong_type.toml", "[classifier]\nepochs = \"ten\"\n")
    _write(ws, "bad_choice.toml", "[survey]\nkind = \"spectra\"\n")
    _write(ws, "cut.h5", b"\x89HDF\r\n\x1a\n" + bytes(200))
    _write(ws, "latin1.csv", "mjd,mag,magerr\n1,15,0.1 \xe9\n".encode("latin-1"))
    _csv(ws, ["1,15," + "9" * 200_000], name="long.csv")
    (ws / "fifo").mkdir()  # gets its FIFO per case (copytree cannot copy one)
    (ws / "crc").mkdir()
    _corrupt_member(ws / "crc")
    _write(ws, "nottoml.toml", "seed = = 3\n")
    _write(ws, "unknown.toml", "[generator]\nepochz = 3\n")
    _write(ws, "tiny.toml", TINY.format(n=10))
    _write(ws, "big.toml", TINY.format(n=1_000_000_000))
    _write(ws, "escape.toml", TINY.format(n=10).replace('"tiny"', '"../x"'))
    _write(ws, "absolute.toml", TINY.format(n=10).replace('"tiny"', '"/abs"'))
    _write(ws, "badcurves.toml", TINY.format(n=10).replace('"simulate"', '"lightcurves_csv"\npath = "empty.csv"'))
    for name, content in (("manifest.json", "{}\n"), ("report.html", "<p>mine</p>\n"), ("figures/x.png", "png")):
        (ws / "u" / name).parent.mkdir(parents=True, exist_ok=True)
        _write(ws / "u", name, content)
    demo = RunDir(ws / "DEMO")
    demo.write_marker()
    for preset in ("sim-crts", "sim-ztf"):
        config = load_config(preset, profile="demo")
        atomic.write_json(demo.survey(config.survey.name).config, config.to_dict())
    run_chain([load_config(ws / "tiny.toml")], ws / "R", steps=["data"], render=False, echo=lambda _: None)
    (ws / "R" / "tiny" / "classmaps").mkdir()
    _write(ws / "R" / "tiny" / "classmaps", "index.json", "[]\n")  # no group reached the class-map thresholds
    shutil.copytree(ws / "R", ws / "DAMAGED")
    _write(ws / "DAMAGED", "manifest.json", '{"configs": {"tiny": ')
    return ws


def _snapshot(root: Path) -> dict[str, str]:
    """Relative path -> content hash (or kind) of everything under ``root``."""
    found = {}
    for path in sorted(root.rglob("*")):
        key = str(path.relative_to(root))
        if path.is_symlink():
            found[key] = f"link to {os.readlink(path)}"
        elif path.is_dir() or path.is_fifo():
            found[key] = "folder" if path.is_dir() else "fifo"
        else:
            found[key] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def _check(case: Case, workspace: Path, tmp_path: Path, tf_log_level: str | None = None) -> None:
    """Run ``case`` in a copy of the workspace (``tf_log_level``: the user's TF_CPP_MIN_LOG_LEVEL, if set)."""
    ws = tmp_path / "ws"
    shutil.copytree(workspace, ws, symlinks=True)
    os.mkfifo(ws / "fifo" / "pipe.csv")
    before = _snapshot(ws)
    env = {**os.environ, "PIX2PIXAI_CACHE_DIR": str(tmp_path / "cache")}
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)  # the CLI's own setting, not the test runner's ...
    if tf_log_level is not None:
        env["TF_CPP_MIN_LOG_LEVEL"] = tf_log_level  # ... or the user's
    done = subprocess.run([sys.executable, "-m", "pix2pixai.cli", *case.args], cwd=ws, env=env, capture_output=True,
                          text=True, timeout=300)
    after = _snapshot(ws)
    assert done.returncode == case.code, done.stderr
    assert "Traceback" not in done.stderr
    if case.code:
        lines = done.stderr.splitlines()
        assert len(lines) == 1, done.stderr
        assert case.fragment in lines[0]
    changed = sorted(k for k in before if after.get(k) != before[k])
    assert changed == [], f"changed or removed: {changed}"
    added = sorted(set(after) - set(before))
    assert case.writes or added == [], f"left behind: {added}"


@pytest.mark.parametrize("name", sorted(CASES))
def test_cli_case(name, workspace, tmp_path):
    _check(CASES[name], workspace, tmp_path)


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_malformed_input_through_the_cli(name, workspace, tmp_path):
    from tests.test_malformed_catalogue import CATALOGUE

    assert name in CATALOGUE
    _check(MALFORMED[name], workspace, tmp_path)


@pytest.mark.parametrize("level", ["0", "1"])
def test_one_line_whatever_tensorflow_log_level(level, workspace, tmp_path):
    """TensorFlow's start-up lines (more of them at lower levels) never reach the user's stderr."""
    _check(CASES["text_file_named_npz"], workspace, tmp_path, tf_log_level=level)


def test_verbose_shows_what_tensorflow_printed_while_loading(workspace, tmp_path):
    args = ("--verbose", *CASES["text_file_named_npz"].args)
    done = subprocess.run([sys.executable, "-m", "pix2pixai.cli", *args], cwd=workspace, capture_output=True, text=True,
                          timeout=300, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "0"})
    lines = done.stderr.splitlines()
    assert done.returncode == 2 and len(lines) > 1 and "not a readable .npz" in lines[-1]


def test_internal_error_is_one_line_and_a_logged_traceback(tmp_path, monkeypatch, capsys):
    """A bug (not an input error) exits 1 with one line naming the log that holds the traceback."""
    from pix2pixai import cli

    def broken(args):
        raise RuntimeError("boom\nsecond line")

    monkeypatch.setenv("PIX2PIXAI_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(cli, "_cmd_dmdt", broken)
    assert cli.main(["dmdt", "a.csv", "--out", str(tmp_path / "o.npy")]) == 1
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("pix2pixai dmdt: internal error: RuntimeError: boom; traceback in ")
    log = Path(lines[0].rsplit("traceback in ", 1)[1])
    assert log.parent == tmp_path / "cache" and "Traceback" in log.read_text() and "second line" in log.read_text()
