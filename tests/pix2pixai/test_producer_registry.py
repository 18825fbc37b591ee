"""Every method is one record: it runs through the one entry point, reduces to [N, H, W], and every
other fact about it (sign, parameters, defaults) is read from its record."""

from __future__ import annotations

import subprocess
import sys
from types import SimpleNamespace

import keras
import numpy as np
import pytest

from pix2pixai.errors import InputError
from pix2pixai.producers import explain, explain_class, reduce_maps
from pix2pixai.producers.graph import IDENTITY
from pix2pixai.producers.input_gradient import Identity
from pix2pixai.producers.registry import (
    CLASS_METHODS,
    INPUT_METHODS,
    RECORDS,
    ParamContext,
    default_params,
    is_signed,
    method_record,
)
from pix2pixai.trainers.classifiers import generic_cnn

METHODS = INPUT_METHODS


def test_registry_is_complete_and_every_method_runs():
    assert set(METHODS) | set(CLASS_METHODS) == set(RECORDS) and not set(METHODS) & set(CLASS_METHODS)
    assert all(r.reduction in ("sum", "max", "mean") and r.level in ("input", "class") for r in RECORDS.values())
    keras.utils.set_random_seed(0)
    model = generic_cnn((16, 16, 2), 3, width=4)
    x = np.random.default_rng(0).random((3, 16, 16, 2)).astype("float32")
    params = {"shap": {"background": x, "n_samples": 8}, "integrated-gradients": {"steps": 8}}
    for method in METHODS:
        maps = explain(method, model, x, targets=np.array([0, 1, 2]), **params.get(method, {}))
        assert maps.shape == x.shape and maps.dtype == np.float32, method
        assert np.isfinite(maps).all(), method
        assert reduce_maps(maps, method=method).shape == (3, 16, 16), method


def test_importing_the_registry_imports_no_tensorflow():
    """Figures ask the registry whether a method is signed: that must not cost a TensorFlow import."""
    code = ("import sys; import pix2pixai.producers.registry; "
            "print(sorted(m for m in ('tensorflow', 'keras') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_signs_and_reductions_of_the_published_methods():
    assert [m for m in RECORDS if is_signed(m)] == ["integrated-gradients", "blanking", "shap", "guided-backprop",
                                                    "guided-gradcam"]
    maps = np.arange(24, dtype=np.float32).reshape(1, 2, 4, 3)
    np.testing.assert_array_equal(reduce_maps(maps, "shap"), maps.sum(axis=-1))
    np.testing.assert_array_equal(reduce_maps(maps, "saliency"), maps.max(axis=-1))
    np.testing.assert_array_equal(reduce_maps(maps, "gradcam"), maps.mean(axis=-1))
    with pytest.raises(InputError, match="expected one of"):
        is_signed("gradcam+")


def test_gradcam_plusplus_is_gradcam_with_its_weighting_fixed():
    record = method_record("gradcam++")
    assert record.parameters() == method_record("gradcam").parameters() - {"weighting"}
    with pytest.raises(InputError, match="gradcam\\+\\+ fixes weighting='plusplus': use method 'gradcam'"):
        explain("gradcam++", generic_cnn((8, 8, 1), 2, width=2), np.zeros((1, 8, 8, 1), np.float32), weighting="mean")


def test_each_entry_point_refuses_the_other_level():
    with pytest.raises(InputError, match="go through explain_class"):
        explain("lighting", None, None)
    with pytest.raises(InputError, match="go through explain"):
        explain_class("gradcam", None)


def test_default_params_follow_the_run_settings():
    settings = SimpleNamespace(gradcam_weighting="mean", blanking_patch=3, shap_samples=16, shap_background=4,
                               actmax_steps=40, actmax_restarts=2)
    x = np.random.default_rng(1).random((20, 5, 5, 1)).astype(np.float32)
    train_idx = np.arange(2, 20, 2)
    context = ParamContext(settings, seed=7, x=x, train_idx=train_idx)
    assert default_params("gradcam", ParamContext(settings, seed=7)) == {"weighting": "mean"}
    assert default_params("blanking", context) == {"patch": 3, "stride": 3}
    assert default_params("integrated-gradients", context) == {"seed": 7}
    assert default_params("saliency", context) == {} == default_params("gradcam++", context)
    shap = default_params("shap", context)
    pick = np.sort(np.random.default_rng(7).choice(train_idx, size=4, replace=False))
    np.testing.assert_array_equal(shap.pop("background"), x[pick])
    assert shap == {"n_samples": 16, "seed": 7}
    train = x[train_idx]
    assert default_params("lighting", context) == {"value": float(np.percentile(train[train > 0], 99))}
    actmax = default_params("actmax", context)
    lo, hi = actmax.pop("bounds")
    np.testing.assert_array_equal(lo, train.min(axis=0))
    np.testing.assert_array_equal(hi, train.max(axis=0))
    assert actmax == {"steps": 40, "restarts": 2, "seed": 7}
    with pytest.raises(InputError, match="'shap': its default parameters need the training inputs"):
        default_params("shap", ParamContext(settings, seed=7))


def test_activity_regularization_is_an_identity_layer_for_the_input_gradient_and_cam():
    """One list of inference-time identity layers serves the hand-written backward pass and CAM's head walk."""
    from pix2pixai.producers.base import score_model
    from pix2pixai.producers.cam import pooled_layer
    from tests.pix2pixai.test_producers_input_gradient import _assert_equals_tape

    assert {"Dropout", "SpatialDropout2D", "ActivityRegularization"} <= IDENTITY
    keras.utils.set_random_seed(0)
    inp = keras.Input((12, 12, 1))
    h = keras.layers.Conv2D(4, 3, activation="relu", name="first")(inp)
    h = keras.layers.ActivityRegularization(l1=0.1)(h)
    h = keras.layers.MaxPooling2D(2)(h)
    h = keras.layers.Conv2D(3, 3, activation="relu", name="maps")(h)
    h = keras.layers.ActivityRegularization(l2=0.1)(h)
    model = keras.Model(inp, keras.layers.Dense(2)(keras.layers.GlobalAveragePooling2D()(h)))
    x = np.random.default_rng(0).random((3, 12, 12, 1)).astype(np.float32)
    assert any(isinstance(step, Identity) for step in score_model(model)._fast.chain.steps)
    _assert_equals_tape(model, x, np.array([0, 1, 0]))
    assert pooled_layer(model) == "maps"
