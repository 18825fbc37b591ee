"""Cadence diagnostics of a survey: where its time lags fall, and how a preset's dt bins fill."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import EngFormatter

from pix2pixai.figures.style import paper_style, save_figure


def plot_cadence(report, out: Path) -> Path:
    """Three panels: all-pair lags and consecutive gaps per log-day (log axis), pairs per preset dt
    bin against the suggested equal-count edges. Writes ``out`` (PNG) and a PDF beside it."""
    with paper_style():
        fig, axes = plt.subplots(1, 3, figsize=(10, 2.8))
        for ax, edges, counts, label in (
            (axes[0], report.fine_pair_edges, report.fine_pair_counts, "all-pair lags"),
            (axes[1], report.fine_gap_edges, report.fine_gap_counts, "consecutive gaps"),
        ):
            coarse, density = _per_dex(np.asarray(edges, float), np.asarray(counts, float))
            ax.stairs(density, coarse, fill=True, alpha=0.6)
            ax.set_xscale("log")
            ax.set_xlabel("lag (days)")
            ax.set_ylabel("count per dex")
            ax.yaxis.set_major_formatter(EngFormatter(sep=""))  # "4M", not a "1e6" offset under the title
            ax.set_title(f"{label} (KL vs log-uniform {report.kl_pairs_log_uniform if 'pair' in label else report.kl_gaps_log_uniform:.2f} nats)")
        ax = axes[2]
        shares = 100 * np.asarray(report.pairs_per_dt_bin, float) / max(report.n_pairs, 1)
        ax.bar(np.arange(len(shares)), shares, color="0.6")
        ax.axhline(100 / len(shares), color="C3", lw=0.8, ls="--", label="equal share")
        ax.set_xticks(np.arange(len(shares))[::3], [f"{e:.3g}" for e in report.dt_edges[:-1][::3]], rotation=60)
        ax.set_xlabel(f"'{report.preset}' dt bin (left edge, days)")
        ax.set_ylabel("% of pairs")
        ax.set_title(f"out of range: {100 * report.pairs_out_of_range / max(report.n_pairs, 1):.1f}% of pairs")
        ax.legend(frameon=False)
        fig.tight_layout()
        paths = save_figure(fig, Path(out).with_suffix(""))
    return next(p for p in paths if p.suffix == ".png")


def _per_dex(edges: np.ndarray, counts: np.ndarray, n_bins: int = 60) -> tuple[np.ndarray, np.ndarray]:
    """Regroup the report's fine positive-lag histogram (bin 0 holds dt = 0) into ``n_bins``
    log-spaced bins for display, as counts per dex."""
    lo, hi = edges[1:-1], edges[2:]
    coarse = np.geomspace(lo[0], hi[-1], n_bins + 1)
    which = np.clip(np.searchsorted(coarse, np.sqrt(lo * hi)) - 1, 0, n_bins - 1)
    summed = np.bincount(which, weights=counts[1:], minlength=n_bins)
    return coarse, summed / np.log10(coarse[1:] / coarse[:-1])
