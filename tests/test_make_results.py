"""scripts/make_results.py: the README's profile table is PROFILES, and the generated blocks and the
hero figure come from a run directory without touching the hand-written text around them."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import REPO, load_script

README = REPO / "README.md"


@pytest.fixture(scope="module")
def make_results():
    return load_script("make_results")


def fake_run(root: Path) -> Path:
    """A finished-looking run directory of two surveys: ``crts`` (dmdt, 3 groups, EW skipped) and
    ``ztf`` (triplet, 2 groups), two methods each (one unsigned, one signed), with the manifest and
    the few files make_results reads (data description, classifier report, class-map index and files)."""
    from pix2pixai.rundir.layout import RunDir

    run = root / "run"
    surveys = {
        "crts": {"kind": "dmdt", "groups": ["EW", "EA", "LPV"], "skipped": {"EW": "3 generator-training pairs < 20"},
                 "shape": (22, 24)},
        "ztf": {"kind": "triplet", "groups": ["real_central", "bogus_blanked"], "skipped": {}, "shape": (63, 63)},
    }
    rng = np.random.default_rng(0)
    class_maps, configs, steps, timings = [], {}, {}, {}
    for name, spec in surveys.items():
        sdir = RunDir(run).survey(name)
        meta = {"kind": spec["kind"], "group_names": spec["groups"], "class_names": spec["groups"]}
        if spec["kind"] == "dmdt":
            meta.update(dm_edges=list(np.linspace(-8, 8, 23)), dt_edges=list(np.linspace(0, 3000, 25)))
        for path in (sdir.classifier_report, sdir.classmap_index):
            path.parent.mkdir(parents=True, exist_ok=True)
        sdir.data_meta.write_text(json.dumps(meta))
        per_class = {g: {"precision": 0.9, "recall": 0.8 - 0.1 * i, "f1": 0.85, "support": 10}
                     for i, g in enumerate(spec["groups"])}
        sdir.classifier_report.write_text(json.dumps(
            {"n": 30, "accuracy": 0.8, "accuracy_se": 0.073, "macro_f1": 0.79, "macro_f1_se": 0.08,
             "per_class": per_class}))
        index = []
        for group in spec["groups"]:
            if group in spec["skipped"]:
                continue
            for method, data_range in (("gradcam", 1.0), ("shap", 2.0)):
                cmap = rng.random(spec["shape"]) * (2 * data_range) - (data_range - 1.0)
                file = sdir.classmap_file(group, method)
                np.savez(file, class_map=cmap, data_range=np.float64(data_range))
                cell = {"group": group, "method": method, "heldout_ssim": 0.61, "skill": 0.12,
                        "skill_ci": [0.05, 0.19], "knn_skill": 0.2, "knn_skill_ci": [0.1, 0.3], "n_inputs": 7,
                        "threshold_used": 0.95, "reason": None}
                index.append(cell)
                scores = {c: {"deletion_auc": d, "insertion_auc": 1 - d}
                          for c, d in (("fidelity_top1", 0.2), ("mean_input", 0.3), ("median_input", 0.35),
                                       ("random", 0.5))}
                if spec["kind"] == "triplet":
                    for c in scores:
                        scores[c]["energy_in_mask"] = 0.1
                class_maps.append({"survey": name, **cell, "file": str(file.relative_to(run)), "ranking": "fidelity",
                                   "comparison": scores})
        sdir.classmap_index.write_text(json.dumps(index))
        configs[name] = {"profile": "demo", "survey": {"name": name, "kind": spec["kind"]}}
        steps[name] = {"classifier": {"accuracy": 0.8, "macro_f1": 0.79, "n_test": 30},
                       "generators": {"skipped": spec["skipped"], "trained": []}}
        timings[name] = {"data": 1.0, "classifier": 20.0, "generators": 100.0}
    manifest = {"pix2pixai": "9.9.9", "configs": configs, "steps": steps, "class_maps": class_maps,
                "timings": {"surveys": timings, "chain_seconds": 242.0, "total_seconds": 300.0}}
    RunDir(run).manifest.write_text(json.dumps(manifest))
    return run


MARKED = """# Title

Hand-written prose stays\tbyte-identical, even odd   spacing.
<!-- make_results:{a} -->
stale generated text
<!-- /make_results:{a} -->
Between blocks.
<!-- make_results:{b} -->
<!-- /make_results:{b} -->
tail without newline"""


def marked(*names: str) -> str:
    """A document holding a block per name, hand-written text around them."""
    parts = [MARKED.format(a=names[0], b=names[1])]
    parts += [f"\n<!-- make_results:{n} -->\n<!-- /make_results:{n} -->\nafter {n}" for n in names[2:]]
    return "".join(parts)


def outside_markers(text: str) -> str:
    return re.sub(r"(<!-- make_results:[\w-]+ -->\n).*?(<!-- /make_results:)", r"\1\2", text, flags=re.DOTALL)


def test_readme_profile_table_is_profiles(make_results):
    """The README's profile table is what make_results renders from PROFILES today; a change to
    PROFILES without `python scripts/make_results.py RUN` fails here."""
    block = make_results.read_block(README.read_text(encoding="utf-8"), "profiles")
    assert block is not None, "README.md has no <!-- make_results:profiles --> block"
    assert block == make_results.render_profile_table(), (
        "README's profile table differs from PROFILES: run python3 scripts/make_results.py runs/demo")


def test_profile_table_follows_profiles(make_results, monkeypatch):
    from pix2pixai.rundir import config

    before = make_results.render_profile_table()
    changed = json.loads(json.dumps(config.PROFILES))
    changed["demo"]["*"]["generator"]["steps"] = 99
    monkeypatch.setattr(config, "PROFILES", changed)
    after = make_results.render_profile_table()
    assert after != before and "| generator steps (evaluated every, patience) / batch | 99 (50, 2) / 8 |" in after


def test_readme_is_short():
    assert len(README.read_text(encoding="utf-8").splitlines()) <= 150


def test_readme_links_exist():
    text = README.read_text(encoding="utf-8")
    for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
        if not re.match(r"https?://", target):
            assert (REPO / target).exists(), f"README links to missing {target}"


def test_fake_run_writes_tables_and_figure(make_results, tmp_path):
    run = fake_run(tmp_path)
    readme = tmp_path / "README.md"
    results = tmp_path / "results.md"
    hero = tmp_path / "images" / "hero.png"
    readme.write_text(marked("profiles", "demo-time", "skill", "test-time"), encoding="utf-8")
    results.write_text(marked("run", "classifiers", "class-maps", "skipped"), encoding="utf-8")
    readme_before, results_before = readme.read_text(), results.read_text()

    make_results.make_results(run, readme=readme, results=results, hero=hero, cpus=2, label="runs/fake")

    new_readme, new_results = readme.read_text(), results.read_text()
    assert outside_markers(new_readme) == outside_markers(readme_before)
    assert outside_markers(new_results) == outside_markers(results_before)
    assert new_readme.endswith("<!-- /make_results:test-time -->\nafter test-time")
    assert make_results.read_block(new_readme, "profiles") == make_results.render_profile_table()
    assert "have one; the generator's out-of-fold skill is above 0 (95% interval) in 8 of 8" in \
        make_results.read_block(new_readme, "skill")
    demo_time = make_results.read_block(new_readme, "demo-time")
    assert "**5.0 min**" in demo_time and "2 CPU cores" in demo_time and "runs/fake" in demo_time
    assert "pix2pixai 9.9.9" in demo_time
    assert make_results.read_block(new_readme, "test-time") == "", "no --test-seconds: the block is left alone"

    classifiers = make_results.read_block(new_results, "classifiers")
    assert "| crts | 30 | 0.800 +- 0.073 | 0.790 +- 0.080 | LPV 0.60 |" in classifiers
    maps = make_results.read_block(new_results, "class-maps")
    assert "### crts" in maps and "### ztf" in maps
    assert ("| EA | gradcam | 0.12 [0.05, 0.19] | 0.20 [0.10, 0.30] | 0.61 | 7 (p >= 0.95) | 0.200 / 0.300 / 0.500 "
            "| class map | 0.800 / 0.700 |") in maps
    assert "energy in mask" in maps.split("### ztf")[1] and "energy in mask" not in maps.split("### ztf")[0]
    assert "most faithful candidate in 4 of 4 cells" in maps
    skipped = make_results.read_block(new_results, "skipped")
    assert "| crts | EW | 3 generator-training pairs < 20 |" in skipped
    run_block = make_results.read_block(new_results, "run")
    assert "300 s" in run_block and "| crts | demo | 1 s | 20 s | 100 s |" in run_block
    for block in (classifiers, maps, skipped, run_block):
        assert "run `runs/fake`" in block and "pix2pixai 9.9.9" in block

    assert hero.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not [p for p in hero.parent.iterdir() if p.name.startswith(".")], "no temporary file left behind"


def test_test_time_and_rerun_is_stable(make_results, tmp_path):
    run = fake_run(tmp_path)
    readme, results = tmp_path / "README.md", tmp_path / "results.md"
    readme.write_text(marked("profiles", "demo-time", "skill", "test-time"), encoding="utf-8")
    results.write_text(marked("run", "classifiers", "class-maps", "skipped"), encoding="utf-8")
    kwargs = dict(readme=readme, results=results, hero=tmp_path / "hero.png", cpus=2)
    make_results.make_results(run, test_seconds=150.0, **kwargs)
    assert "**2.5 min**" in make_results.read_block(readme.read_text(), "test-time")
    first = results.read_text()
    os.utime(results, (0, 0))
    make_results.make_results(run, **kwargs)
    assert results.read_text() == first and results.stat().st_mtime == 0, "unchanged text is not rewritten"


def test_missing_marker_names_file_and_block(make_results, tmp_path):
    run = fake_run(tmp_path)
    readme, results = tmp_path / "README.md", tmp_path / "results.md"
    readme.write_text("no markers here\n", encoding="utf-8")
    results.write_text(marked("run", "classifiers", "class-maps", "skipped"), encoding="utf-8")
    with pytest.raises(SystemExit, match=r"README\.md: needs exactly one <!-- make_results:profiles -->"):
        make_results.make_results(run, readme=readme, results=results, hero=tmp_path / "h.png", cpus=2)
    assert readme.read_text() == "no markers here\n"
