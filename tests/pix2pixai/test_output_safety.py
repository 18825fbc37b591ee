"""Where commands may write (issue 19): outputs never inputs, run folders only the toolkit's own, names
inside ``--out``, sizes within memory, and a failed first step leaves nothing behind."""

from __future__ import annotations

import pytest

from pix2pixai.errors import InputError
from pix2pixai.output_safety import check_output_file, check_output_folder, inside
from pix2pixai.pipeline import runner
from pix2pixai.pipeline.limits import check_memory, memory_limit
from pix2pixai.rundir.config import config_from_dict, load_config
from pix2pixai.rundir.layout import RUN_MARKER, RunDir, SurveyDir


def test_an_output_file_is_never_an_input_nor_in_an_input_folder(tmp_path):
    (tmp_path / "curves").mkdir()
    curve = tmp_path / "curves" / "a.csv"
    curve.write_text("mjd,mag\n")
    (tmp_path / "link.npy").symlink_to(curve)
    with pytest.raises(InputError, match="is the input"):
        check_output_file(tmp_path / "link.npy", [curve])
    with pytest.raises(InputError, match="is the input"):
        check_output_file(tmp_path / "curves" / ".." / "curves" / "a.csv", [curve])
    with pytest.raises(InputError, match="inside the input folder"):
        check_output_file(tmp_path / "curves" / "x.npy", [tmp_path / "curves"])
    assert check_output_file(tmp_path / "x.npy", [curve, tmp_path / "curves"]) == tmp_path / "x.npy"


def test_an_output_folder_is_creatable_and_holds_no_input_where_it_writes(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(InputError, match="is a file"):
        check_output_folder(tmp_path / "file", [])
    with pytest.raises(InputError, match="which is a file"):
        check_output_folder(tmp_path / "file" / "run", [])
    with pytest.raises(InputError, match="root"):
        check_output_folder("/", [])
    config = tmp_path / "run" / "crts" / "c.toml"
    with pytest.raises(InputError, match="would overwrite the input"):
        check_output_folder(tmp_path / "run", [config], owned=[tmp_path / "run" / "crts"])
    check_output_folder(tmp_path / "run", [config], owned=[tmp_path / "run" / "figures"])


def test_paths_built_from_names_stay_inside_the_run(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "crts").symlink_to(elsewhere)
    with pytest.raises(InputError, match="outside the output folder"):
        inside(tmp_path / "run", tmp_path / "run" / "crts")
    for name in ("../x", "/abs", "", ".."):
        with pytest.raises(InputError, match="plain name"):
            RunDir(tmp_path / "run").survey(name)
        with pytest.raises(InputError, match="plain name"):
            SurveyDir(tmp_path / "run" / "crts").classmap_file(name, "gradcam")
    with pytest.raises(InputError, match="survey.groups"):
        config_from_dict({"survey": {"kind": "image", "groups": ["a/b"]}})


def test_step_commands_join_a_marked_run_beside_its_other_surveys(tmp_path):
    out = tmp_path / "run"
    ztf, crts = load_config("sim-ztf", profile="demo"), load_config("sim-crts", profile="demo")
    RunDir(out).write_marker()
    from pix2pixai import atomic

    atomic.write_json(RunDir(out).survey("ztf").config, ztf.to_dict())
    assert runner.check_run_dir([crts], out, alongside=True) is True
    with pytest.raises(InputError, match="other survey"):
        runner.check_run_dir([crts], out)


def test_a_failed_first_step_leaves_no_config_and_no_folder(tmp_path):
    (tmp_path / "empty.csv").write_text("")
    config = config_from_dict({"survey": {"name": "mine", "source": "lightcurves_csv", "path": "empty.csv"}},
                              origin=str(tmp_path / "c.toml"))
    out = tmp_path / "run"
    with pytest.raises(InputError, match="empty"):
        runner.run_survey(config, out, steps=["data"], echo=lambda _: None)
    assert not out.exists()
    out.mkdir()
    (out / RUN_MARKER).write_text('{"format": "pix2pixai-run/1"}')
    with pytest.raises(InputError, match="empty"):
        runner.run_survey(config, out, steps=["data"], echo=lambda _: None)
    assert [p.name for p in out.iterdir()] == [RUN_MARKER]


def test_simulated_sizes_over_the_memory_limit_are_refused_unless_forced():
    config = load_config("sim-ztf", overrides={"survey": {"n_per_group": 10**9}})
    with pytest.raises(InputError, match=r"n_per_group = 1000000000 .* over the limit of .* physical memory"):
        check_memory([config])
    check_memory([config], force=True)
    check_memory([load_config("sim-crts"), load_config("sim-ztf")])
    assert memory_limit() > 0
