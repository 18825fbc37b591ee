"""The command line: readable help, one-line errors with exit code 2, no partial outputs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from pix2pixai.cli import main
from tests.conftest import shared_path


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pix2pixai.cli", *args], capture_output=True, text=True, timeout=300)


def test_help_lists_every_command():
    result = _run("--help")
    assert result.returncode == 0
    for command in ("demo", "run", "simulate", "train-classifier", "explain", "train-gan", "class-maps", "compare",
                    "figures", "report", "dmdt", "classify", "cadence", "inspect"):
        assert command in result.stdout


def _one_line_error(result: subprocess.CompletedProcess, fragment: str) -> None:
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.strip().splitlines() if not line.startswith("WARNING")]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert fragment in lines[0]


def test_missing_config_is_one_line_error(tmp_path):
    _one_line_error(_run("run", str(tmp_path / "nope.toml"), "--out", str(tmp_path / "r")), "nope.toml")


def test_config_with_unknown_key_is_one_line_error(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text("[survey]\ncolour = 'blue'\n")
    _one_line_error(_run("run", str(cfg), "--out", str(tmp_path / "r")), "survey.colour")


def test_figures_on_a_non_run_directory(tmp_path):
    _one_line_error(_run("figures", "--out", str(tmp_path)), "not a pix2pixai run directory")


@pytest.mark.parametrize(
    "content, fragment",
    [
        ("", "empty"),
        ("mjd,magerr\n1,0.1\n3,0.1\n", "['mag']"),
        ("ID,MJD,mag,magerr\n1,50000.0,15.0,0.1\n", "2"),
        ("ID,MJD,mag,magerr\n1,50000.0,15.0,-0.1\n1,50001.0,15.1,0.1\n", "magerr"),
        ("ID,MJD,mag,magerr\n1,50000.0,abc,0.1\n1,50001.0,15.1,0.1\n", "mag"),
    ],
    ids=["empty-file", "missing-mag-column", "one-point", "negative-error", "non-numeric-mag"],
)
def test_dmdt_bad_input_exit_2_and_no_output(tmp_path, content, fragment):
    curve = tmp_path / "curve.csv"
    curve.write_text(content)
    out = tmp_path / "x.npy"
    result = _run("dmdt", str(curve), "--preset", "crts", "--out", str(out))
    _one_line_error(result, "curve.csv")
    assert fragment.lower() in result.stderr.lower()
    assert not out.exists()
    assert not list(tmp_path.glob(".x.npy*"))


def test_dmdt_command_on_a_real_crts_csv(tmp_path):
    folder = shared_path("crts-lightcurves-kvmu", "csv_examples")
    out = tmp_path / "ew.npy"
    assert main(["dmdt", str(folder / "1001006006382-EW.csv"), "--preset", "crts", "--out", str(out)]) == 0
    image = np.load(out)
    assert image.shape == (22, 24)
    assert image.sum() > 0


def test_cadence_command_prints_table_and_writes_figure(tmp_path, capsys):
    folder = shared_path("crts-lightcurves-kvmu", "csv_examples")
    out = tmp_path / "cadence.png"
    assert main(["cadence", str(folder), "--preset", "crts", "--bins", "12", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "KL divergence" in printed and "suggested dt edges" in printed
    assert out.exists() and out.with_suffix(".pdf").exists()


def test_plot_draws_a_map_store_and_refuses_to_write_over_it(tmp_path):
    from pix2pixai.stores import MapStore

    rng = np.random.default_rng(0)
    with MapStore.create(tmp_path / "maps.h5") as store:
        store.write("saliency", np.abs(rng.normal(size=(4, 8, 9, 1))).astype(np.float32), targets=np.zeros(4, int))
    np.save(tmp_path / "x.npy", rng.uniform(size=(4, 8, 9, 1)).astype(np.float32))
    done = _run("plot", str(tmp_path / "maps.h5"), "--inputs", str(tmp_path / "x.npy"), "--out", str(tmp_path / "figs"))
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in (tmp_path / "figs").iterdir()) == ["saliency.pdf", "saliency.png"]
    before = (tmp_path / "maps.h5").read_bytes()
    _one_line_error(_run("plot", str(tmp_path / "maps.h5"), "--out", str(tmp_path / "maps.h5")), "maps.h5")
    assert (tmp_path / "maps.h5").read_bytes() == before


def test_an_existing_output_file_is_replaced_only_with_force(tmp_path):
    curve = tmp_path / "c.csv"
    curve.write_text("mjd,mag,magerr\n1,15,0.1\n2,15.4,0.1\n5,15.1,0.1\n")
    out = tmp_path / "d.npy"
    out.write_bytes(b"the user's own file")
    _one_line_error(_run("dmdt", str(curve), "--out", str(out)), "exists")
    assert out.read_bytes() == b"the user's own file"
    assert _run("dmdt", str(curve), "--out", str(out), "--force").returncode == 0
    assert np.load(out).shape == (22, 24)
