"""The observation-importance figure: raw and folded panels, the sign convention, inverted magnitudes."""

from __future__ import annotations

import numpy as np
import pytest

from pix2pixai.errors import InputError
from pix2pixai.figures.lightcurve import plot_observation_importance


def _curve():
    rng = np.random.default_rng(0)
    t = np.sort(rng.uniform(0, 400, 150))
    return t, 15 + 0.3 * np.sin(2 * np.pi * t / 0.61) + rng.normal(0, 0.02, t.size), np.full(t.size, 0.02)


def test_folded_at_the_found_period_with_signed_colours(tmp_path):
    t, m, e = _curve()
    importance = np.random.default_rng(1).normal(size=t.size)
    fig = plot_observation_importance(t, m, importance, magerr=e, method="shap", path=tmp_path / "curve")
    raw, folded = fig.axes[0], fig.axes[1]
    assert "0.61" in folded.get_xlabel()  # the Lomb-Scargle period of the sinusoid
    assert raw.yaxis_inverted() and folded.yaxis_inverted()
    low, high = raw.collections[-1].get_clim()
    assert low == pytest.approx(-high)
    assert "red = evidence for the class" in fig.axes[-1].get_ylabel()
    assert (tmp_path / "curve.png").exists()


def test_without_errors_or_period_only_the_raw_curve_is_drawn():
    t, m, _ = _curve()
    fig = plot_observation_importance(t, m, np.abs(np.sin(t)))
    assert len([ax for ax in fig.axes if ax.get_title()]) == 1


def test_mismatched_lengths_are_refused():
    with pytest.raises(InputError, match="equal 1-D shapes"):
        plot_observation_importance(np.arange(3.0), np.arange(3.0), np.arange(4.0))
