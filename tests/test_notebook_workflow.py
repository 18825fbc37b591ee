"""The astronomer's notebook, run as a script in a fresh virtual environment with the wheel installed:
light curves from ECSV, FITS and a ZTF-named CSV, classified to a Table, explained with two producers,
Figures back, and matplotlib's backend as the notebook chose it. The wheel claims only ``pix2pixai``."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

from tests.conftest import REPO, shared_path

NOTEBOOK = textwrap.dedent('''
    import matplotlib
    matplotlib.use("svg")  # the notebook's own choice; the toolkit must leave it alone
    import numpy as np
    from astropy.table import Table
    from pix2pixai.data import read_lightcurves, dmdt
    from pix2pixai.classify import classify_lightcurves
    from pix2pixai.producers import explain
    from pix2pixai.figures import plot_maps, plot_observation_importance
    from pix2pixai.data import observation_importance
    from pix2pixai.trainers import load_legacy_model
    import sys
    import pix2pixai.metrics

    assert "/venv/" in pix2pixai.metrics.__file__, pix2pixai.metrics.__file__  # the installed wheel, not the checkout
    folder, model_path = sys.argv[1], sys.argv[2]
    rng = np.random.default_rng(0)
    t = np.sort(rng.uniform(53500, 56500, 120))
    mag = 15 + 0.4 * np.sin(2 * np.pi * t / 0.55) + rng.normal(0, 0.03, t.size)
    table = Table({"mjd": t, "mag": mag, "magerr": np.full(t.size, 0.03)})
    table.write(f"{folder}/a.ecsv")
    table.write(f"{folder}/b.fits")
    ztf = Table({"oid": ["ZTF1"] * t.size, "hjd": t, "magpsf": mag, "sigmapsf": np.full(t.size, 0.03),
                 "filtercode": ["zg"] * t.size, "catflags": np.zeros(t.size, int)})
    ztf.write(f"{folder}/c.csv", format="ascii.csv")
    curves = read_lightcurves([f"{folder}/a.ecsv", f"{folder}/b.fits", f"{folder}/c.csv"])
    probs = classify_lightcurves(curves, model_path)
    assert isinstance(probs, Table) and len(probs) == 3 and "RRab" in probs.colnames
    model = load_legacy_model(model_path, "crts_cnn")
    x = np.stack([dmdt(c.mjd, c.mag, preset="crts") for c in curves])[..., None]
    figures = []
    for method in ("gradcam", "saliency"):
        maps = explain(method, model, x)
        figures.append(plot_maps(maps, x, method=method))
    importance = observation_importance(curves[0].mjd, curves[0].mag, explain("gradcam", model, x[:1])[0])
    figures.append(plot_observation_importance(curves[0].mjd, curves[0].mag, importance, magerr=curves[0].magerr))
    assert all(type(f).__name__ == "Figure" for f in figures)
    print("backend", matplotlib.get_backend())
''')


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(REPO)],
                   check=True, capture_output=True, timeout=600)
    return next(out.glob("pix2pixai-*.whl"))


@pytest.mark.slow
def test_the_wheel_claims_only_the_pix2pixai_name(wheel):
    with zipfile.ZipFile(wheel) as archive:
        tops = {name.split("/")[0] for name in archive.namelist()}
    assert {top for top in tops if not top.endswith(".dist-info")} == {"pix2pixai"}
    assert any(name.startswith("pix2pixai/metrics/") for name in zipfile.ZipFile(wheel).namelist())


@pytest.mark.slow
def test_notebook_workflow_in_a_fresh_venv(wheel, tmp_path):
    model = shared_path("reproducibility_periodic_cnn", "model.h5")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True, timeout=300)
    python = venv / "bin" / "python"
    site = next((venv / "lib").glob("python*/site-packages"))
    before = {p.name for p in site.iterdir()}
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", "--force-reinstall", str(wheel)],
                   check=True, capture_output=True, timeout=600)
    added = {p.name for p in site.iterdir()} - before
    assert {name for name in added if not name.endswith(".dist-info")} == {"pix2pixai"}
    (tmp_path / "metrics.py").write_text("raise ImportError('the user module was imported')\n")  # a research folder
    (tmp_path / "trainers.py").write_text("raise ImportError('the user module was imported')\n")
    (tmp_path / "notebook.py").write_text(NOTEBOOK)
    done = subprocess.run([str(python), "notebook.py", str(tmp_path), str(model)], cwd=tmp_path,
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().splitlines()[-1] == "backend svg"
