"""The autotuner (producers/autotune.py): fastest choice by measurement, cached per machine, equal results."""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest

from pix2pixai.cache import ENV_CACHE_DIR
from pix2pixai.producers import autotune, explain
from pix2pixai.producers.base import score_model
from pix2pixai.producers.path_choice import DEFAULT_ROUTE, ROUTES, Override, PathChoice, Route
from tests.pix2pixai.test_producers_base import braai, crts_cnn, crts_dmdts, tiny_cnn
from tests.pix2pixai.test_producers_dormant import _dormant_cnn

FUSED, FRAMEWORK = Route("fused", True), Route("framework", False)


@pytest.fixture
def tuning(monkeypatch, tmp_path):
    """Autotuning on, a fresh cache folder, and no choice made yet in this process."""
    monkeypatch.setenv(autotune.ENV_SWITCH, "1")
    monkeypatch.setenv(ENV_CACHE_DIR, str(tmp_path / "cache"))
    monkeypatch.setattr(autotune, "_TUNED", {})
    monkeypatch.setattr(autotune, "_USED", {})
    return tmp_path / "cache" / autotune.CACHE_FILE


def _table(winner_forward: Route, winner_gradient: Route, winner_rows: int):
    """A fake :data:`autotune.Measure`: every candidate 10 ms, the named winners 1 ms."""
    calls = []

    def measure(stage, candidates):
        calls.append(stage)
        winner = {"forward": (winner_forward, None), "gradient": (winner_gradient, None),
                  "rows": (None, winner_rows)}[stage]
        return [0.001 if (stage == "rows" and rows == winner[1]) or route == winner[0] else 0.010
                for route, rows in candidates]

    measure.calls = calls
    return measure


def _failing_measure(stage, candidates):
    raise AssertionError("measured although a choice was available")


def _model_and_inputs():
    model = _dormant_cnn()
    return model, np.random.default_rng(0).random((5, 14, 15, 1), np.float32)


# ------------------------------------------------------------------------------------ decision
def test_the_fastest_candidate_wins_and_the_default_wins_ties():
    assert autotune.fastest({"a": 2.0, "b": 1.0, "c": 1.5}) == "b"
    assert autotune.fastest({DEFAULT_ROUTE: 1.0, FRAMEWORK: 1.0}) == DEFAULT_ROUTE


def test_on_a_gpu_like_timing_table_the_framework_path_is_chosen():
    """A GPU runs TF's own kernels fastest; the same rule then picks them for both routes."""
    choice, timings = autotune.tune(35, _table(FRAMEWORK, FRAMEWORK, 70))
    assert choice == PathChoice(FRAMEWORK, FRAMEWORK, 70)
    assert set(timings["gradient"]) == {r.name for r in ROUTES}
    assert set(timings["rows_per_call"]) == {str(n) for n in autotune.rows_candidates(35)}


def test_on_a_cpu_like_timing_table_the_fused_kernels_are_chosen():
    choice, _ = autotune.tune(256, _table(Route("fused", False), FUSED, 128))
    assert choice == PathChoice(Route("fused", False), FUSED, 128)


def test_call_sizes_tried_stay_within_bounds_default_first():
    assert autotune.rows_candidates(35) == [35, 9, 18, 70, 140]
    assert autotune.rows_candidates(364) == [364, 91, 182, 512]
    assert autotune.rows_candidates(1) == [1, 2, 4]


# --------------------------------------------------------------------------------------- cache
def test_choice_is_measured_once_cached_and_read_back(tuning):
    model, x = _model_and_inputs()
    sm = score_model(model)
    measure = _table(FRAMEWORK, FUSED, 128)
    autotune.prepare(sm, sm.inputs(x), measure)
    assert sm.choice == PathChoice(FRAMEWORK, FUSED, 128)
    assert measure.calls == ["forward", "gradient", "rows"]
    entry = json.loads(tuning.read_text())["entries"][sm.tuning_id]
    assert entry["key"] == sm.tuning_key and entry["choice"] == sm.choice.as_dict()
    made = autotune.choices_made()[sm.tuning_id]
    assert made["source"] == "measured" and made["choice"] == sm.choice.as_dict()

    autotune._TUNED.clear()  # a new process on the same machine
    autotune.prepare(sm, sm.inputs(x), _failing_measure)
    assert sm.choice == PathChoice(FRAMEWORK, FUSED, 128)
    assert autotune.choices_made()[sm.tuning_id]["source"] == "cache"


@pytest.mark.parametrize("content", [
    "{not json",
    json.dumps([1, 2]),
    json.dumps({"schema": autotune.SCHEMA + 1, "entries": {}}),
    "BROKEN-ENTRY",
    "BAD-CHOICE",
    "OTHER-KEY",
])
def test_corrupt_or_stale_cache_is_ignored_and_rebuilt(tuning, content):
    model, x = _model_and_inputs()
    sm = score_model(model)
    good = {"key": sm.tuning_key, "choice": PathChoice(FUSED, FUSED, 3).as_dict()}
    entries = {"BROKEN-ENTRY": {sm.tuning_id: "nonsense"},
               "BAD-CHOICE": {sm.tuning_id: {**good, "choice": {"forward": "warp", "gradient": "fused",
                                                                 "rows_per_call": -1}}},
               "OTHER-KEY": {sm.tuning_id: {**good, "key": {**sm.tuning_key, "tensorflow": "0.1"}},
                             "someone-else": good}}
    tuning.parent.mkdir(parents=True)
    tuning.write_text(json.dumps({"schema": autotune.SCHEMA, "entries": entries[content]}) if content in entries
                      else content)
    autotune.prepare(sm, sm.inputs(x), _table(FRAMEWORK, FRAMEWORK, 256))
    assert sm.choice == PathChoice(FRAMEWORK, FRAMEWORK, 256)
    rebuilt = json.loads(tuning.read_text())
    assert rebuilt["schema"] == autotune.SCHEMA
    assert PathChoice.from_dict(rebuilt["entries"][sm.tuning_id]["choice"]) == sm.choice
    if content == "OTHER-KEY":
        assert rebuilt["entries"]["someone-else"] == good  # other machines' entries are kept


def test_an_unwritable_cache_is_no_error(tuning, monkeypatch, tmp_path):
    (tmp_path / "a-file").write_text("")
    monkeypatch.setenv(ENV_CACHE_DIR, str(tmp_path / "a-file"))
    model, x = _model_and_inputs()
    sm = score_model(model)
    autotune.prepare(sm, sm.inputs(x), _table(FRAMEWORK, FUSED, 128))
    assert sm.choice == PathChoice(FRAMEWORK, FUSED, 128)


def test_cache_folder_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv(ENV_CACHE_DIR, str(tmp_path / "mine"))
    assert autotune.cache_path() == tmp_path / "mine" / "autotune.json"
    monkeypatch.delenv(ENV_CACHE_DIR)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert autotune.cache_path() == tmp_path / "xdg" / "pix2pixai" / "autotune.json"


# ------------------------------------------------------------------------------------ switches
@pytest.mark.parametrize("switch", ["env", "context"])
def test_autotune_off_keeps_the_default_choice_and_measures_nothing(tuning, monkeypatch, switch):
    model, x = _model_and_inputs()
    sm = score_model(model)
    if switch == "env":
        monkeypatch.setenv(autotune.ENV_SWITCH, "0")
        autotune.prepare(sm, sm.inputs(x), _failing_measure)
        choice = sm.choice
    else:
        with autotune.configured(enabled=False):
            autotune.prepare(sm, sm.inputs(x), _failing_measure)
            choice = sm.choice
    assert choice == autotune.default_choice(sm) == PathChoice(DEFAULT_ROUTE, DEFAULT_ROUTE, sm.default_rows_per_call)
    assert autotune.choices_made()[sm.tuning_id]["source"] == "default"
    assert not tuning.exists()


def test_pinned_choices_are_reused_without_measuring(tuning):
    """A resumed run passes the choices its manifest recorded: no measurement, same choice."""
    model, x = _model_and_inputs()
    sm = score_model(model)
    autotune.prepare(sm, sm.inputs(x), _table(FRAMEWORK, FUSED, 128))
    recorded = json.loads(json.dumps(autotune.choices_made()))
    autotune._TUNED.clear()
    tuning.unlink()
    with autotune.configured(pinned=recorded, enabled=False):
        autotune.prepare(sm, sm.inputs(x), _failing_measure)
        assert sm.choice == PathChoice(FRAMEWORK, FUSED, 128)
    assert autotune.choices_made()[sm.tuning_id]["source"] == "pinned"


def test_an_override_forces_parts_of_the_choice(tuning):
    model, x = _model_and_inputs()
    sm = score_model(model)
    with autotune.configured(enabled=False, override=Override(gradient=FRAMEWORK, rows_per_call=2)):
        assert sm.choice == PathChoice(DEFAULT_ROUTE, FRAMEWORK, 2)
        assert sm._fast.chain is None  # TF's tape through the model's own layers
    assert sm.choice == PathChoice(DEFAULT_ROUTE, DEFAULT_ROUTE, sm.default_rows_per_call)


def test_the_timer_measures_every_candidate_on_a_real_model(tuning):
    """The default measurement runs end to end (no timing asserted: the machine may be loaded)."""
    model, x = _model_and_inputs()
    sm = score_model(model)
    autotune.prepare(sm, sm.inputs(x))
    made = autotune.choices_made()[sm.tuning_id]
    assert made["source"] == "measured"
    assert all(t > 0 for stage in made["timings"].values() for t in stage.values())
    assert PathChoice.from_dict(made["choice"]) == sm.choice


# -------------------------------------------------------------------------------------- keys
def test_model_signature_ignores_names_and_sees_shapes_and_dormant_filters():
    first, again, wider = tiny_cnn(seed=0), tiny_cnn(seed=0), tiny_cnn(n_classes=5)
    assert autotune.model_signature(first) == autotune.model_signature(again)  # layer names differ
    assert autotune.model_signature(first) != autotune.model_signature(wider)
    asleep = _dormant_cnn()
    awake = keras.models.clone_model(asleep)
    assert autotune.model_signature(asleep) != autotune.model_signature(awake)
    assert score_model(tiny_cnn()).tuning_id == score_model(tiny_cnn()).tuning_id  # unnamed inputs named anew


def test_machine_key_names_device_isa_threads_onednn_and_tensorflow():
    key = autotune.machine_key()
    assert {"device", "isa", "cores", "usable_cores", "threads", "onednn", "tensorflow"} <= set(key)
    assert key["device"] == "cpu" or key["device"]
    assert set(autotune.cpu_description()) == {"model", "flags", "cores"}


# -------------------------------------------------------------------- equal results per choice
FORCED = [Override(route, route, rows) for route in ROUTES for rows in (None, 3)]


def _maps_of(model, x, background):
    return {"gradcam": explain("gradcam", model, x), "saliency": explain("saliency", model, x),
            "shap": explain("shap", model, x, background=background, n_samples=8)}


def _assert_equal_under_every_choice(model, x, background, forced=tuple(FORCED), shap_atol=2e-5):
    """Maps under every forced choice equal the default choice's, to ``2e-5`` of the largest value
    (``shap_atol`` for SHAP)."""
    with autotune.configured(enabled=False):
        reference = _maps_of(model, x, background)
        for override in forced:
            with autotune.configured(override=override):
                maps = _maps_of(model, x, background)
            for method, ref in reference.items():
                scale = max(float(np.abs(ref).max()), 1e-12)
                atol = (shap_atol if method == "shap" else 2e-5) * scale
                np.testing.assert_allclose(maps[method], ref, rtol=1e-5, atol=atol, err_msg=f"{method} under {override}")


def test_every_choice_gives_the_same_maps_on_a_small_conv_model():
    model, x = _model_and_inputs()
    _assert_equal_under_every_choice(model, x, np.random.default_rng(1).random((4, 14, 15, 1), np.float32))


def test_every_choice_gives_the_same_maps_on_the_real_crts_cnn():
    dmdts = crts_dmdts()
    _assert_equal_under_every_choice(crts_cnn(), dmdts[:40], dmdts[-16:])


def test_every_route_gives_the_same_maps_on_the_real_braai_vgg6():
    """SHAP to 1e-4 of its largest value: among its thousands of interpolated path points a few put a
    ReLU input or two maxima of a pooling window within rounding of each other, and each route's
    rounding decides the gate or route there (seen: 4 of 71,442 values off by up to 6.4e-5 of the maximum)."""
    model, triplets = braai()
    _assert_equal_under_every_choice(model, triplets[:6], triplets[-4:], [Override(r, r) for r in ROUTES[1:]],
                                     shap_atol=1e-4)
