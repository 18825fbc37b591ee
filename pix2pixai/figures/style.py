"""One consistent, paper-sized style and atomic PNG + PDF saving.

Importing the figures leaves matplotlib's backend alone (a notebook keeps its inline backend); the
command line picks a non-interactive one for itself.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Iterator

import matplotlib.pyplot as plt

from pix2pixai.atomic import atomic_path

#: Unsigned maps (Grad-CAM, saliency) and signed maps (blanking, SHAP: red = evidence for the class).
UNSIGNED_CMAP = "magma"
SIGNED_CMAP = "RdBu_r"
INPUT_CMAP = "viridis"

RC = {
    "font.size": 8,
    "axes.titlesize": 8,
    "axes.labelsize": 8,
    "xtick.labelsize": 6,
    "ytick.labelsize": 6,
    "legend.fontsize": 7,
    "figure.dpi": 150,
    "savefig.dpi": 150,
    "savefig.bbox": "tight",
    "pdf.fonttype": 42,
    "svg.hashsalt": "pix2pixai",
}


@contextlib.contextmanager
def paper_style() -> Iterator[None]:
    with plt.rc_context(RC):
        yield


def save_figure(fig: plt.Figure, stem: Path) -> list[Path]:
    """Save ``fig`` as ``stem.png`` and ``stem.pdf`` (atomically, no timestamps) and close it."""
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = []
    for ext, meta in ((".png", {"Software": None}), (".pdf", {"CreationDate": None, "ModDate": None})):
        path = stem.with_suffix(ext)
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=ext[1:], metadata=meta)
        paths.append(path)
    plt.close(fig)
    return paths
