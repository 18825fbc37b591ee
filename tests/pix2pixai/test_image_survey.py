"""Any labelled image survey: the simulated three-class patches, the .npz / HDF5 image-set reader
with its errors, the config sources ``images`` and ``simulate`` of kind ``image``, and (slow) the whole
chain on a tiny simulated patch set."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest

from pix2pixai.data.images import read_image_set, write_image_set
from pix2pixai.data.synthetic.patches import MASK_FRACTION, PATCH_CLASSES, simulate_patches
from pix2pixai.errors import InputError
from pix2pixai.rundir.config import config_from_dict, load_config
from pix2pixai.rundir.surveys import load_survey
from tests.pix2pixai.conftest import SURVEY, write_tiny_config


@pytest.fixture(scope="module")
def patches():
    return simulate_patches(20, seed=4)


def test_simulated_patches_shapes_order_and_seed(patches):
    assert patches.images.shape == (60, 64, 64, 1) and patches.images.dtype == np.float32
    assert patches.masks.shape == (60, 64, 64) and patches.masks.dtype == bool
    assert patches.class_names == PATCH_CLASSES
    np.testing.assert_array_equal(patches.labels, np.repeat([0, 1, 2], 20))
    again = simulate_patches(20, seed=4)
    np.testing.assert_array_equal(patches.images, again.images)
    np.testing.assert_array_equal(patches.masks, again.masks)
    assert not np.array_equal(simulate_patches(20, seed=5).images, patches.images)


def test_masks_mark_the_class_feature(patches):
    """Every patch has a mask; the masked pixels are brighter than the sky (0 after median subtraction)
    by more than the noise (0.1 in these units); echoes cover the most area, point sources the least."""
    area = patches.masks.mean(axis=(1, 2))
    assert np.all(area > 0)
    inside = np.array([img[..., 0][m].mean() for img, m in zip(patches.images, patches.masks)])
    outside = np.array([np.median(img[..., 0][~m]) for img, m in zip(patches.images, patches.masks)])
    assert np.all(inside - outside > 0.1)
    per_class = [area[patches.labels == k].mean() for k in range(3)]
    echo, point, streak = per_class
    assert echo > streak > point
    assert 0 < MASK_FRACTION < 1


def test_simulator_refuses_unknown_classes():
    with pytest.raises(InputError, match="galaxy"):
        simulate_patches(2, classes=("galaxy",))


@pytest.mark.parametrize("suffix", [".npz", ".h5"])
def test_image_set_round_trip_npz_and_hdf5(tmp_path, patches, suffix):
    path = write_image_set(tmp_path / f"set{suffix}", patches.images, patches.labels,
                           class_names=patches.class_names, masks=patches.masks)
    back = read_image_set(path)
    np.testing.assert_array_equal(back.images, patches.images)
    np.testing.assert_array_equal(back.y, patches.labels)
    np.testing.assert_array_equal(back.masks, patches.masks)
    assert back.class_names == PATCH_CLASSES


def test_string_labels_map_to_class_names_order(tmp_path):
    images = np.zeros((4, 8, 8, 2), np.float32)
    labels = np.array(["b", "a", "b", "c"])
    np.savez(tmp_path / "s.npz", images=images, labels=labels)
    back = read_image_set(tmp_path / "s.npz")
    assert back.class_names == ("a", "b", "c") and back.y.tolist() == [1, 0, 1, 2]
    with h5py.File(tmp_path / "s.h5", "w") as fh:  # as another tool writes it: byte strings
        fh["images"], fh["labels"], fh["class_names"] = images, labels.astype("S"), np.array([b"c", b"b", b"a"])
    back = read_image_set(tmp_path / "s.h5")
    assert back.class_names == ("c", "b", "a") and back.y.tolist() == [1, 2, 1, 0]


def _npz(path: Path, **arrays) -> Path:
    np.savez(path, **arrays)
    return path


@pytest.mark.parametrize("arrays, fragment", [
    ({"labels": np.zeros(3, int)}, "missing array 'images'"),
    ({"images": np.zeros((3, 8, 8, 1))}, "missing array 'labels'"),
    ({"images": np.zeros((3, 8, 8, 1)), "labels": np.zeros(4, int)}, "labels has shape (4,) for 3 images"),
    ({"images": np.zeros((3, 8, 8)), "labels": np.zeros(3, int)}, "expected 4 axes [N,H,W,C] (add a channel axis"),
    ({"images": np.zeros((8, 8)), "labels": np.zeros(8, int)}, "images has shape (8, 8)"),
    ({"images": np.zeros((2, 8, 8, 1)), "labels": np.array([0, 3]), "class_names": np.array(["a", "b"])},
     "labels range 0..3: expected 0..1"),
    ({"images": np.zeros((2, 8, 8, 1)), "labels": np.array(["a", "z"]), "class_names": np.array(["a", "b"])},
     "labels ['z'] not in class_names"),
    ({"images": np.zeros((2, 8, 8, 1)), "labels": np.zeros(2, int), "masks": np.zeros((2, 8, 7), bool)},
     "masks has shape (2, 8, 7): expected (2, 8, 8)"),
    ({"images": np.full((2, 8, 8, 1), np.nan), "labels": np.zeros(2, int)}, "128 non-finite values"),
])
def test_bad_npz_is_an_input_error_naming_file_and_array(tmp_path, arrays, fragment):
    path = _npz(tmp_path / "bad.npz", **arrays)
    with pytest.raises(InputError) as err:
        read_image_set(path)
    assert str(path) in str(err.value) and fragment in str(err.value)


def test_bad_hdf5_and_unreadable_files_are_input_errors(tmp_path):
    with h5py.File(tmp_path / "bad.h5", "w") as fh:
        fh["images"] = np.zeros((3, 8, 8, 1))
        fh["labels"] = np.zeros(2, int)
    with pytest.raises(InputError, match=r"bad.h5: labels has shape \(2,\) for 3 images"):
        read_image_set(tmp_path / "bad.h5")
    (tmp_path / "text.npz").write_text("not an archive")
    with pytest.raises(InputError, match="text.npz: not a readable"):
        read_image_set(tmp_path / "text.npz")
    (tmp_path / "text.h5").write_text("not hdf5")
    with pytest.raises(InputError, match="text.h5: not a readable HDF5"):
        read_image_set(tmp_path / "text.h5")
    np.save(tmp_path / "one.npy", np.zeros(3))
    with pytest.raises(InputError, match="single .npy array"):
        read_image_set(tmp_path / "one.npy")
    with pytest.raises(InputError, match="not found"):
        read_image_set(tmp_path / "missing.npz")


@pytest.mark.parametrize("suffix", [".npz", ".hdf5"])
def test_images_source_builds_survey_data_with_groups_chosen_by_config(tmp_path, patches, suffix):
    write_image_set(tmp_path / f"patches{suffix}", patches.images, patches.labels,
                    class_names=patches.class_names, masks=patches.masks)
    config = config_from_dict({"survey": {"name": "p", "kind": "image", "source": "images",
                                          "path": f"patches{suffix}", "groups": ["streak", "light_echo"]}},
                              origin=str(tmp_path / "c.toml"))
    data = load_survey(config)
    assert data.class_names == data.group_names == ("streak", "light_echo")
    assert data.x.shape == (40, 64, 64, 1) and data.masks.shape == (40, 64, 64)
    np.testing.assert_array_equal(data.x[data.y == 0], patches.images[patches.labels == 2])
    np.testing.assert_array_equal(data.masks[data.y == 1], patches.masks[patches.labels == 0])
    assert data.group_class == (0, 1) and data.meta["kind"] == "image"
    bad = config_from_dict({"survey": {"name": "p", "kind": "image", "source": "images", "path": f"patches{suffix}",
                                       "groups": ["streak", "ghost"]}}, origin=str(tmp_path / "c.toml"))
    with pytest.raises(InputError, match=r"survey.groups: classes \['ghost'\] not in the image set"):
        load_survey(bad)


def test_sim_patches_preset_simulates_three_classes_with_masks():
    config = load_config("sim-patches", profile="demo", overrides={"survey": {"n_per_group": 5}})
    assert (config.survey.kind, config.classifier.architecture) == ("image", "generic_cnn")
    data = load_survey(config)
    assert data.x.shape == (15, 64, 64, 1) and data.group_names == PATCH_CLASSES
    assert data.masks is not None and data.masks.any(axis=(1, 2)).all()


@pytest.mark.slow
def test_tiny_patch_chain_runs_end_to_end(tmp_path):
    """data -> generic CNN -> explain -> classlevel -> generators -> classmaps -> compare -> figures ->
    report on 3 x 40 simulated patches (~4 min on a busy 2-core CPU)."""
    from pix2pixai.pipeline.runner import run_chain
    from pix2pixai.report import write_report

    path = write_tiny_config(tmp_path, survey={"kind": "image", "source": "simulate", "n_per_group": 40,
                                               "groups": list(PATCH_CLASSES)},
                             classifier={"architecture": "generic_cnn", "epochs": 15, "patience": 15},
                             explain={"methods": ["gradcam", "blanking"], "blanking_patch": 8})
    out = tmp_path / "run"
    run_chain([load_config(path)], out, echo=lambda _: None)
    root = out / SURVEY
    report = json.loads((root / "classifier" / "report.json").read_text())
    assert report["accuracy"] > 0.5  # chance is 1/3
    index = json.loads((root / "classmaps" / "index.json").read_text())
    assert any(entry["reason"] is None for entry in index), "no class map was made"
    for entry in (e for e in index if e["reason"] is None):
        assert entry["skill"] is not None and len(entry["skill_ci"]) == 2
        with np.load(root / "classmaps" / f"{entry['group']}__{entry['method']}.npz") as stored:
            assert stored["class_map"].shape == (64, 64) and np.all(np.isfinite(stored["class_map"]))
    rows = json.loads((root / "compare" / "comparison.json").read_text())
    assert rows and all("energy_in_mask" in s for r in rows for s in r["scores"].values())
    figures = out / "figures" / SURVEY
    for name in ("class_maps", "confusion", "comparison", "inspection/tsne", "inspection/patches"):
        assert (figures / f"{name}.png").stat().st_size > 5000, name
    page = write_report(out).read_text()
    assert f"Figures: {SURVEY}" in page and f"Inspection: {SURVEY}" in page and "light_echo" in page


def test_curves_of_unknown_classes_are_dropped_with_one_warning_naming_them(tmp_path, caplog):
    """18 curves, 6 of them Cepheids: 12 kept, and the warning names the class and its count."""
    rng = np.random.default_rng(0)
    labels = ["EW", "RRab", "EA"] * 4 + ["Cepheid"] * 6
    per = 20
    np.savez(tmp_path / "curves.npz", ids=np.array([f"c{k}" for k in range(18)]), offsets=np.arange(19) * per,
             mjd=np.concatenate([np.sort(rng.uniform(0, 500, per)) for _ in range(18)]),
             mag=15 + rng.normal(0, 0.2, 18 * per), magerr=np.full(18 * per, 0.05), labels=np.array(labels))
    config = config_from_dict({"survey": {"name": "mine", "kind": "dmdt", "source": "lightcurves_npz",
                                          "path": str(tmp_path / "curves.npz")}})
    with caplog.at_level("WARNING", logger="pix2pixai.rundir.surveys"):
        data = load_survey(config)
    assert len(data.x) == 12
    assert "dropped 6 of 18" in caplog.text and "Cepheid (6)" in caplog.text
