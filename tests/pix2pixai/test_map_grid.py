"""plot_maps: a Figure back (notebook-first), the sign convention, labels, and shape errors."""

from __future__ import annotations

import numpy as np
import pytest

from pix2pixai.data.dmdt_images import DMDT_PRESETS
from pix2pixai.errors import InputError
from pix2pixai.figures.map_grid import MAX_ROWS, plot_maps


def test_signed_maps_are_centred_on_zero_and_labelled_by_the_method():
    rng = np.random.default_rng(0)
    maps = rng.normal(size=(2, 22, 24, 1)) + 0.5
    crts = DMDT_PRESETS["crts"]
    fig = plot_maps(maps, rng.uniform(size=(2, 22, 24, 1)), method="shap", titles=["a", "b"],
                    bin_edges={"dm": crts.dm_edges, "dt": crts.dt_edges})
    map_axes = fig.axes[1]
    low, high = map_axes.images[0].get_clim()
    assert low == pytest.approx(-high)
    title = " ".join(map_axes.get_title().split())
    assert "SHAP value" in title and "red = evidence for the class" in title
    assert "dm (mag)" in fig.axes[0].get_ylabel() and fig.axes[0].get_ylabel().startswith("a")


def test_triplet_inputs_are_named_by_channel_and_many_maps_are_cut(tmp_path):
    rng = np.random.default_rng(1)
    n = MAX_ROWS + 3
    fig = plot_maps(rng.uniform(size=(n, 63, 63, 1)), rng.normal(size=(n, 63, 63, 3)), method="gradcam",
                    path=tmp_path / "grid")
    assert [fig.axes[k].get_title() for k in range(4)] == ["SCI", "REF", "DIFF", fig.axes[3].get_title()]
    assert f"{MAX_ROWS} of {n}" in fig._suptitle.get_text()
    assert (tmp_path / "grid.png").exists() and (tmp_path / "grid.pdf").exists()


def test_shapes_that_do_not_fit_are_refused():
    with pytest.raises(InputError, match=r"expected \[N, H, W\]"):
        plot_maps(np.zeros((4, 5)))
    with pytest.raises(InputError, match="inputs of shape"):
        plot_maps(np.zeros((2, 4, 5)), np.zeros((2, 4, 6, 1)))


def test_a_map_store_renders_one_figure_per_method(tmp_path):
    from pix2pixai.figures.map_grid import plot_map_store
    from pix2pixai.stores import MapStore

    crts = DMDT_PRESETS["crts"]
    rng = np.random.default_rng(2)
    with MapStore.create(tmp_path / "maps.h5", bin_edges={"dm": crts.dm_edges, "dt": crts.dt_edges}) as store:
        for method in ("gradcam", "shap"):
            maps = rng.normal(size=(5, 22, 24, 1)).astype(np.float32)
            store.write(method, np.abs(maps) if method == "gradcam" else maps, targets=np.arange(5) % 2)
    paths = plot_map_store(tmp_path / "maps.h5", tmp_path / "figs", inputs=rng.uniform(size=(5, 22, 24)), rows=3)
    assert sorted(p.name for p in paths) == ["gradcam.pdf", "gradcam.png", "shap.pdf", "shap.png"]
