"""Run configs: shipped presets load, profiles apply, and every mistake names file and key."""

from __future__ import annotations

import pytest

from pix2pixai.errors import InputError
from pix2pixai.rundir.config import config_from_dict, load_config, preset_names
from pix2pixai.producers.registry import INPUT_METHODS


def test_every_shipped_preset_loads():
    names = preset_names()
    assert {"crts", "ztf-scope", "ztf-braai", "sim-crts", "sim-ztf"} <= set(names)
    for name in names:
        config = load_config(name)
        assert config.survey.name
        assert set(config.explain.methods) <= set(INPUT_METHODS), name


def test_documented_configs_load():
    """The configs docs/ points readers to (e.g. the all-classes sim-crts run) stay valid."""
    from pathlib import Path

    configs = sorted((Path(__file__).resolve().parents[2] / "docs" / "configs").glob("*.toml"))
    assert configs
    for path in configs:
        config = load_config(path)
        assert config.survey.name, path


def test_demo_profile_shrinks_budget_but_file_keys_win(tmp_path):
    full = load_config("sim-crts")
    demo = load_config("sim-crts", profile="demo")
    assert demo.profile == "demo"
    assert demo.generator.steps < full.generator.steps
    assert demo.survey.n_per_group < full.survey.n_per_group
    # budgets follow the survey kind: triplets get patch blanking, dmdts per-bin blanking
    assert load_config("sim-ztf", profile="demo").explain.blanking_patch > 1
    assert demo.explain.blanking_patch == 1
    # a key the file sets wins over the profile
    tuned = config_from_dict({"generator": {"steps": 99}}, profile="demo")
    assert tuned.generator.steps == 99


def test_full_sim_crts_trains_on_more_curves_but_keeps_the_test_split_size():
    # the full profile simulates 2,000 curves per class and holds out 10% (200 per class, what explain
    # and the generators see), the demo 200 with 40%; real-data presets keep their own test_fraction
    full, demo = load_config("sim-crts"), load_config("sim-crts", profile="demo")
    assert full.survey.n_per_group * full.classifier.test_fraction == pytest.approx(200)
    assert full.survey.n_per_group * (1 - full.classifier.test_fraction) >= 1800
    assert (demo.survey.n_per_group, demo.classifier.test_fraction) == (200, 0.4)
    assert load_config("crts").classifier.test_fraction == 0.4


@pytest.mark.parametrize(
    "data, fragment",
    [
        ({"survey": {"nmae": "x"}}, "survey.nmae"),
        ({"surveys": {}}, "'surveys'"),
        ({"classifier": {"epochs": "ten"}}, "classifier.epochs must be int"),
        ({"classifier": {"epochs": 0}}, "classifier.epochs = 0"),
        ({"explain": {"score": "softmax"}}, "explain.score"),
        ({"classmaps": {"classmap_threshold": 1.5}}, "classmaps.classmap_threshold"),
        ({"classmaps": {"min_inputs": 1}}, "classmaps.min_inputs = 1"),
        ({"generator": {"mode": "pooled"}}, "generator.mode"),
        ({"generator": {"folds": 1}}, "generator.folds = 1"),
        ({"generator": {"norm": "layer"}}, "generator.norm"),
        ({"explain": {"methods": "gradcam"}}, "explain.methods must be a list"),
        ({"seed": True}, "seed must be int"),
        ({"profile": "huge"}, "profile 'huge' unknown"),
    ],
)
def test_bad_config_names_the_key(data, fragment):
    with pytest.raises(InputError, match=None) as info:
        config_from_dict(data, origin="my.toml")
    assert "my.toml" in str(info.value)
    assert fragment in str(info.value)


def test_unreadable_config_files(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[survey\nname = 1")
    with pytest.raises(InputError, match="not valid TOML"):
        load_config(bad)
    binary = tmp_path / "bin.toml"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(InputError, match="bin.toml"):
        load_config(binary)
    with pytest.raises(InputError, match="no such config file or preset"):
        load_config(tmp_path / "missing.toml")
    with pytest.raises(InputError, match="is a directory"):
        load_config(tmp_path)


def test_relative_paths_resolve_against_config_folder(tmp_path):
    from pix2pixai.rundir.config import expand_path

    cfg_file = tmp_path / "sub" / "survey.toml"
    cfg_file.parent.mkdir()
    cfg_file.write_text('[survey]\nkind = "dmdt"\nsource = "lightcurves_csv"\npath = "curves"\n')
    config = load_config(cfg_file)
    assert expand_path(config.survey.path, config) == tmp_path / "sub" / "curves"


def test_crts_original_preset_explains_like_the_published_maps():
    """The original model with the original's Grad-CAM (classic mean weighting of the softmax output)."""
    from pix2pixai.producers.registry import ParamContext, default_params

    config = load_config("crts-original")
    assert config.classifier.mode == "legacy" and config.classifier.legacy_kind == "crts_cnn"
    assert config.explain.methods == ("gradcam", "blanking", "shap")
    assert config.explain.score == "probability"
    assert default_params("gradcam", ParamContext(config.explain, config.seed)) == {"weighting": "mean"}
    crts = load_config("crts")
    assert default_params("gradcam", ParamContext(crts.explain, crts.seed)) == {"weighting": "elementwise"}
    with pytest.raises(InputError, match="explain.gradcam_weighting"):
        config_from_dict({"explain": {"gradcam_weighting": "max"}})
