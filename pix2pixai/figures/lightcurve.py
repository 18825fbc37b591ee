"""A light curve coloured by how much each observation mattered to an explanation, raw and folded.

The importances come from :func:`pix2pixai.data.observation_importance` (a dmdt attribution shared
back to the points). The curve is drawn as astronomers read it: magnitude axis inverted (brighter
up), time in MJD, and, when a period is known or can be found (the generalised Lomb-Scargle period
of :mod:`pix2pixai.data.features`), phase-folded over two cycles.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from pix2pixai.errors import InputError
from pix2pixai.figures.style import SIGNED_CMAP, UNSIGNED_CMAP, paper_style, save_figure


def plot_observation_importance(mjd: np.ndarray, mag: np.ndarray, importance: np.ndarray, *,
                                magerr: np.ndarray | None = None, period: float | None = None,
                                method: str | None = None, title: str | None = None,
                                path: str | Path | None = None) -> plt.Figure:
    """Raw and (when a period is given, or found from ``magerr``) phase-folded light curve, each point
    coloured by its importance.

    Parameters
    ----------
    mjd, mag, importance : arrays (n,) in one order (as returned by ``observation_importance``).
    magerr : (n,), optional: error bars, and what the period search weights points by.
    period : days, optional; found by the Lomb-Scargle search when None and ``magerr`` is given.
    method : the producer whose map was shared back (colour-bar label and sign convention).
    title : figure title (e.g. the curve's id and class).
    path : optional stem; the figure is also saved as PNG + PDF there (and closed).
    """
    t, m, w = (np.asarray(a, dtype=np.float64) for a in (mjd, mag, importance))
    if not (t.ndim == 1 and t.shape == m.shape == w.shape):
        raise InputError(f"plot_observation_importance: mjd {t.shape}, mag {m.shape}, importance {w.shape}; "
                         "expected equal 1-D shapes")
    if period is None and magerr is not None and t.size >= 3:
        from pix2pixai.data.features import curve_features

        period = float(10 ** curve_features(t, m, np.asarray(magerr, np.float64))[0])
    signed = bool(np.min(w) < 0)
    bound = float(np.max(np.abs(w))) or 1.0
    colours = {"cmap": SIGNED_CMAP if signed else UNSIGNED_CMAP, "vmin": -bound if signed else 0.0, "vmax": bound}
    label = _label(method, signed)
    panels = 2 if period else 1
    with paper_style():
        fig, axes = plt.subplots(1, panels, figsize=(3.4 * panels + 0.8, 2.6), squeeze=False, layout="constrained")
        order = np.argsort(np.abs(w))  # the most important points drawn last, on top
        raw = axes[0, 0]
        if magerr is not None:
            raw.errorbar(t, m, yerr=np.asarray(magerr), fmt="none", ecolor="0.8", elinewidth=0.5, zorder=0)
        points = raw.scatter(t[order], m[order], c=w[order], s=6, **colours)
        raw.set_xlabel("MJD (days)")
        raw.set_ylabel("magnitude")
        raw.invert_yaxis()
        raw.set_title("light curve")
        if period:
            folded = axes[0, 1]
            phase = ((t - t.min()) / period) % 1.0
            for shift in (0.0, 1.0):
                folded.scatter(phase[order] + shift, m[order], c=w[order], s=6, **colours)
            folded.set_xlabel(f"phase (period {period:.5g} d)")
            folded.invert_yaxis()
            folded.set_title("folded, two cycles")
        fig.colorbar(points, ax=axes[0, -1], fraction=0.05, pad=0.02).set_label(label, fontsize=6)
        fig.suptitle(title or "observation importance", fontsize=8)
    if path is not None:
        save_figure(fig, Path(path))
    return fig


def _label(method: str | None, signed: bool) -> str:
    """Colour-bar label: the importance's source and sign convention."""
    source = f"{method} map" if method else "attribution"
    if signed:
        return f"importance (share of the {source})\nred = evidence for the class"
    return f"importance\n(share of the {source})"
