"""Importing the figures leaves matplotlib's backend as the user (a notebook) chose it."""

from __future__ import annotations

import subprocess
import sys


def test_importing_every_figure_module_keeps_the_chosen_backend():
    code = ("import matplotlib; matplotlib.use('svg'); "
            "import pix2pixai.figures.style, pix2pixai.figures.maps, pix2pixai.figures.classmaps, "
            "pix2pixai.figures.panels, pix2pixai.figures.gallery; print(matplotlib.get_backend())")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          env={"PATH": "/usr/bin:/bin", "HOME": "/tmp"})
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "svg"
