"""Same config and seed -> the same results, step by step, in two run directories."""

from __future__ import annotations

import pytest

from pix2pixai.pipeline.runner import run_chain
from pix2pixai.rundir.config import load_config
from tests.pix2pixai.conftest import assert_same_runs, run_arrays

EARLY_STEPS = ("data", "classifier", "explain", "classlevel")


def _quiet(_: str) -> None:
    """Swallow progress lines."""


def test_first_steps_repeat_exactly(tiny_config, tmp_path):
    config = load_config(tiny_config)
    for out in ("a", "b"):
        run_chain([config], tmp_path / out, steps=EARLY_STEPS, render=False, echo=_quiet)
    arrays = run_arrays(tmp_path / "a")
    for key in ("data.npz:x", "classifier/predictions.npz:probs", "maps.h5:gradcam/maps", "maps.h5:saliency/maps",
                "classlevel.npz:actmax", "classifier/model.keras:weight0"):
        assert key in arrays
    assert_same_runs(tmp_path / "a", tmp_path / "b")


@pytest.mark.slow
def test_whole_chain_and_figures_repeat_exactly(tiny_config, tmp_path):
    config = load_config(tiny_config)
    for out in ("a", "b"):
        run_chain([config], tmp_path / out, echo=_quiet)
    arrays = run_arrays(tmp_path / "a")
    assert "compare/comparison.json" in arrays
    # 2 groups x 2 methods; per method 3 fold generators and the kept one, and the stability seed's
    # retrained kept generator (one class-conditional generator per method serves both groups).
    assert sum(key.endswith(".npz:class_map") and "stability" not in key for key in arrays) == 4
    assert sum(key.endswith("generator.keras:weight0") and "stability" not in key for key in arrays) == 2 * 4
    assert sum(key.startswith("compare/stability/seed_1/generators/") and key.endswith(":weight0")
               for key in arrays) == 2
    assert {"classmaps/oof_gradcam.npz:generated", "classmaps/oof_saliency.npz:generated"} <= set(arrays)
    assert_same_runs(tmp_path / "a", tmp_path / "b")
    figures = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a" / "figures").rglob("*.png"))
    assert figures
    differ = [str(p) for p in figures if (tmp_path / "a" / p).read_bytes() != (tmp_path / "b" / p).read_bytes()]
    assert not differ, f"figures differ: {differ}"
