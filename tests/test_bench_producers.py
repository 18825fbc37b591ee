"""scripts/bench_producers.py names its machine and lists every autotuner candidate it can force."""

from __future__ import annotations

import sys

import pytest

from pix2pixai.producers.path_choice import ROUTES, Override, PathChoice, Route
from tests.conftest import REPO, load_script


@pytest.fixture(scope="module")
def bench():
    sys.path.insert(0, str(REPO / "scripts"))  # the script imports its sibling xplique_compare
    try:
        yield load_script("bench_producers")
    finally:
        sys.path.remove(str(REPO / "scripts"))


def test_machine_description_names_cpu_flags_cores_tensorflow_and_onednn(bench):
    machine = bench.machine_description()
    assert set(machine["cpu"]) == {"model", "flags", "cores"}
    assert {"tensorflow", "onednn", "threads", "device", "load_average"} <= set(machine)
    line = bench.header(machine)
    assert machine["cpu"]["model"] in line and machine["tensorflow"] in line and "oneDNN" in line


def test_candidates_are_every_route_and_every_call_size(bench):
    choice = PathChoice(Route("framework", False), Route("fused", True), 70)
    overrides = bench.candidate_overrides(choice, default_rows=35)
    assert [overrides[f"{r.name}@70"] for r in ROUTES] == [Override(r, r, 70) for r in ROUTES]
    assert {o.rows_per_call for name, o in overrides.items() if name.startswith("framework/fused+dormant@")} == {
        35, 9, 18, 70, 140}


def test_spread_reports_best_median_worst(bench):
    assert bench.spread([3.0, 1.0, 2.0], forward=0.5) == {"best_s": 1.0, "median_s": 2.0, "worst_s": 3.0,
                                                           "x_forward": 2.0}
