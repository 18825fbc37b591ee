"""``pix2pixai run`` and ``run --resume`` on existing run directories, through the CLI.

A new run refuses a directory holding a run of another config (exit 2, naming the differing keys,
nothing written); ``--resume`` continues a run with its recorded config, says which steps are kept,
continued from checkpoints or run, and refuses another config unless ``--force``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pix2pixai import atomic
from pix2pixai.cli import main
from pix2pixai.pipeline import runner
from pix2pixai.rundir.config import load_config
from pix2pixai.rundir.layout import RunDir, SurveyDir
from pix2pixai.stores.maps import partial_path
from tests.pix2pixai.conftest import SURVEY, write_tiny_config


def _record(out: Path, config_path: Path) -> None:
    """Make ``out`` look like a run of ``config_path`` that has not finished any step yet."""
    RunDir(out).write_marker()
    atomic.write_json(out / SURVEY / "config.json", load_config(config_path).to_dict())


@pytest.fixture
def captured_chain(monkeypatch) -> list[list]:
    """Replace the chain by a recorder, so the CLI's decisions are tested without training anything."""
    calls: list[list] = []

    def fake_chain(configs, out, **kwargs):
        calls.append(list(configs))
        return {"class_maps": [], "timings": {}, "steps": {}}

    monkeypatch.setattr(runner, "run_chain", fake_chain)
    monkeypatch.setattr("pix2pixai.rundir.summary.print_summary", lambda *a, **k: None)
    return calls


def _plain(config) -> dict:
    data = config.to_dict()
    data.pop("source_file")
    return data


def test_run_refuses_a_run_dir_of_another_config(tmp_path, capsys, captured_chain):
    (tmp_path / "other").mkdir()
    other = write_tiny_config(tmp_path / "other", classifier={"epochs": 5}, generator={"ngf": 8})
    out = tmp_path / "run"
    _record(out, other)
    config = write_tiny_config(tmp_path)
    assert main(["run", str(config), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "classifier.epochs" in err[0] and "generator.ngf" in err[0] and "--force" in err[0]
    assert captured_chain == []
    assert sorted(p.name for p in (out / SURVEY).iterdir()) == ["config.json"]


def test_run_refuses_a_run_dir_of_another_survey(tmp_path, capsys, captured_chain):
    out = tmp_path / "run"
    ztf = load_config("sim-ztf")
    RunDir(out).write_marker()
    atomic.write_json(out / ztf.survey.name / "config.json", ztf.to_dict())
    assert main(["run", str(write_tiny_config(tmp_path)), "--out", str(out)]) == 2
    assert f"other survey(s) {ztf.survey.name}" in capsys.readouterr().err
    assert captured_chain == []


def test_force_runs_over_another_config(tmp_path, captured_chain):
    (tmp_path / "other").mkdir()
    out = tmp_path / "run"
    _record(out, write_tiny_config(tmp_path / "other", classifier={"epochs": 5}))
    config = write_tiny_config(tmp_path)
    assert main(["run", str(config), "--out", str(out), "--force"]) == 0
    assert [_plain(c) for c in captured_chain[0]] == [_plain(load_config(config))]


def test_rerun_of_the_same_config_keeps_finished_steps(tmp_path, capsys, captured_chain):
    config = write_tiny_config(tmp_path)
    out = tmp_path / "run"
    _record(out, config)
    assert main(["run", str(config), "--out", str(out)]) == 0
    assert "finished steps are kept" in capsys.readouterr().out
    assert len(captured_chain) == 1


def test_resume_needs_a_run(tmp_path, capsys, captured_chain):
    assert main(["run", "--resume", "--out", str(tmp_path / "empty")]) == 2
    assert "nothing to resume" in capsys.readouterr().err
    assert main(["run"]) == 2
    assert "CONFIG is required" in capsys.readouterr().err
    assert captured_chain == []


def test_resume_refuses_another_config_unless_forced(tmp_path, capsys, captured_chain):
    (tmp_path / "other").mkdir()
    out = tmp_path / "run"
    _record(out, write_tiny_config(tmp_path / "other", explain={"methods": ["saliency"]}))
    config = write_tiny_config(tmp_path)
    assert main(["run", str(config), "--out", str(out), "--resume"]) == 2
    assert "explain.methods" in capsys.readouterr().err
    assert captured_chain == []
    assert main(["run", str(config), "--out", str(out), "--resume", "--force"]) == 0
    assert len(captured_chain) == 1


def test_resume_without_config_uses_the_recorded_one_and_says_what_is_kept(tmp_path, capsys, captured_chain):
    config = write_tiny_config(tmp_path)
    out = tmp_path / "run"
    expected = _plain(load_config(config))
    runner.run_survey(load_config(config), out, steps=("data", "classifier"), echo=lambda _msg: None)
    partial = partial_path(SurveyDir(out / SURVEY).maps)  # what an explain step killed mid-store leaves
    partial.parent.mkdir(parents=True)
    partial.write_bytes(b"")
    config.unlink()  # the recorded config is all that is needed
    assert main(["run", "--resume", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert f"[{SURVEY}] resume: data kept; classifier kept; explain continues from its checkpoints; " \
           "classlevel runs; generators runs" in printed
    assert [_plain(c) for c in captured_chain[0]] == [expected]


def test_recorded_config_round_trips(tmp_path):
    config = load_config(write_tiny_config(tmp_path, generator={"steps": 6}))
    atomic.write_json(tmp_path / "run" / SURVEY / "config.json", config.to_dict())
    (rebuilt,) = runner.configs_from_run(tmp_path / "run")
    assert _plain(rebuilt) == _plain(config)
    assert json.loads((tmp_path / "run" / SURVEY / "config.json").read_text())["generator"]["steps"] == 6


@pytest.mark.slow
def test_resume_finishes_a_partial_run_keeping_its_steps(tmp_path, capsys):
    """The real chain: data and classifier from a first run are kept, the rest runs to the report."""
    config = load_config(write_tiny_config(tmp_path))
    out = tmp_path / "run"
    runner.run_survey(config, out, steps=("data", "classifier"), echo=lambda _msg: None)
    model_time = (out / SURVEY / "classifier" / "model.keras").stat().st_mtime_ns
    assert main(["run", "--resume", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert f"[{SURVEY}] data: unchanged, skipped" in printed and f"[{SURVEY}] classifier: unchanged, skipped" in printed
    assert (out / SURVEY / "classifier" / "model.keras").stat().st_mtime_ns == model_time
    assert (out / "report.html").exists() and (out / SURVEY / "compare" / "comparison.json").exists()


def test_demo_of_another_profile_refuses_the_run_dir_and_defaults_elsewhere(tmp_path, capsys, captured_chain,
                                                                             monkeypatch):
    """`demo --profile full` never mixes into a demo-profile run: its own default directory, and the guard."""
    out = tmp_path / "run"
    RunDir(out).write_marker()
    for config in runner.configs_for_demo("demo"):
        atomic.write_json(out / config.survey.name / "config.json", config.to_dict())
    assert main(["demo", "--profile", "full", "--out", str(out)]) == 2
    assert "profile" in capsys.readouterr().err
    assert captured_chain == []
    monkeypatch.chdir(tmp_path)
    recorded: list[Path] = []
    monkeypatch.setattr(runner, "check_run_dir", lambda configs, out, force: recorded.append(out) or False)
    assert main(["demo", "--profile", "full"]) == 0
    assert recorded == [Path("runs/demo-full")] and len(captured_chain) == 1
