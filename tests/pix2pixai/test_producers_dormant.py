"""Dormant filters (producers/dormant.py): left out only where they are exactly off, with the model's own result otherwise."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from pix2pixai.producers import dormant, explain
from pix2pixai.producers.base import score_model
from pix2pixai.producers.dormant import DORMANT_REACH, dormant_filters
from pix2pixai.producers.input_gradient import ChannelWise, Convolution, Expand, MaxPoolRoute, run_steps
from tests.pix2pixai.test_producers_base import crts_cnn, crts_dmdts
from tests.pix2pixai.test_producers_input_gradient import _assert_equals_tape, _cnn, _layer_and_logits

FIRST_DORMANT, SECOND_DORMANT = (1, 4), (0, 5, 6)


def _put_to_sleep(layer, filters, scale=1e-12, bias=-0.05):
    """Weight decay's work on unused filters: weights near zero, a negative bias."""
    kernel, b = layer.get_weights()
    kernel[..., list(filters)] *= scale
    b[list(filters)] = bias
    layer.set_weights([kernel, b])


def _dormant_cnn():
    """conv(6 filters, 2 dormant) -> max pool -> conv(8 filters, 3 dormant) -> Dense: the CRTS CNN's design."""
    model = _cnn((14, 15), (3, 3), "valid", "relu", second=(8, 3, "valid"))
    _put_to_sleep(model.get_layer("first"), FIRST_DORMANT)
    _put_to_sleep(model.get_layer("second"), SECOND_DORMANT)
    return model


def _inputs(scale=1.0):
    return (scale * np.random.default_rng(3).random((6, 14, 15, 1))).astype(np.float32)


def test_dormant_filters_are_read_from_the_weights():
    model = _dormant_cnn()
    assert dormant_filters(model.get_layer("first")) == FIRST_DORMANT
    assert dormant_filters(model.get_layer("second")) == SECOND_DORMANT
    # a positive bias, or weights that an input of magnitude DORMANT_REACH would overcome, keep a filter live
    layer = model.get_layer("second")
    kernel, bias = layer.get_weights()
    bias[0] = 0.01
    kernel[..., 5] = 0.0
    kernel[0, 0, 0, 5] = 0.05 / DORMANT_REACH * 1.01
    layer.set_weights([kernel, bias])
    assert dormant_filters(layer) == (6,)


def test_plan_computes_live_filters_and_reads_live_channels():
    steps = score_model(_dormant_cnn())._fast.chain.steps
    assert [type(s) for s in steps] == [Convolution, MaxPoolRoute, Convolution, Expand]
    assert steps[0].kept_out == (0, 2, 3, 5)
    assert steps[2].kept_in == (0, 2, 3, 5) and steps[2].kept_out == (1, 2, 3, 4, 7)
    assert steps[3].kept == (1, 2, 3, 4, 7) and steps[3].channels == 8


def test_gradients_and_forward_equal_keras_while_dormant_filters_sleep():
    model, x = _dormant_cnn(), _inputs()
    sm = score_model(model)
    assert bool(run_steps(sm._fast.chain.steps, tf.constant(x))[2])
    _assert_equals_tape(model, x, np.array([0, 1, 2, 0, 1, 2], np.int32))
    for layer in ("first", "second"):
        activations, logits = sm.with_layer(layer)([tf.constant(x)])
        ref_activations, ref_logits = _layer_and_logits(model, layer, x)
        np.testing.assert_allclose(activations, ref_activations, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(logits, ref_logits, rtol=1e-5, atol=1e-6)


def test_inputs_that_wake_dormant_filters_get_the_models_own_result():
    """Inputs of magnitude 1e11 overcome weights of 1e-12: the check fails and Keras computes the batch."""
    model, x = _dormant_cnn(), _inputs(1e11)
    ref_activations, ref_logits = _layer_and_logits(model, "first", x)
    assert np.abs(ref_activations[..., list(FIRST_DORMANT)]).max() > 0  # really awake
    sm = score_model(model)
    assert not bool(run_steps(sm._fast.chain.steps, tf.constant(x))[2])
    _assert_equals_tape(model, x, np.array([0, 1, 2, 0, 1, 2], np.int32))
    np.testing.assert_allclose(sm.predict(sm.inputs(x)), ref_logits, rtol=1e-5)
    activations, _ = sm.with_layer("first")([tf.constant(x)])
    np.testing.assert_allclose(activations, ref_activations, rtol=1e-5)


def test_weights_trained_after_the_plan_are_checked_on_every_batch():
    """The plan is made once per model; a dormant filter that training woke fails the check, never the result."""
    model, x = _dormant_cnn(), _inputs()
    sm = score_model(model)
    explain("saliency", model, x, targets=0)
    layer = model.get_layer("second")
    kernel, bias = layer.get_weights()
    bias[list(SECOND_DORMANT)] = 0.2
    layer.set_weights([kernel, bias])
    assert not bool(run_steps(sm._fast.chain.steps, tf.constant(x))[2])
    _assert_equals_tape(model, x, np.array([2, 1, 0, 2, 1, 0], np.int32))
    np.testing.assert_allclose(sm.predict(sm.inputs(x)), _layer_and_logits(model, "second", x)[1], rtol=1e-5, atol=1e-6)


def test_a_layer_with_per_channel_parameters_gets_all_channels_back():
    keras.utils.set_random_seed(4)
    inp = keras.Input((12, 12, 1))
    h = keras.layers.Conv2D(5, 3, activation="relu", name="first")(inp)
    h = keras.layers.BatchNormalization()(h)
    h = keras.layers.Conv2D(4, 3, padding="same", activation="relu")(h)  # flipped backward: in the chain
    model = keras.Model(inp, keras.layers.Dense(3, activation="softmax")(keras.layers.Flatten()(h)))
    _put_to_sleep(model.get_layer("first"), (0, 3))
    model.layers[2].moving_mean.assign(np.linspace(-0.5, 0.5, 5).astype(np.float32))
    steps = score_model(model)._fast.chain.steps
    assert [type(s) for s in steps] == [Convolution, Expand, ChannelWise, Convolution]
    _assert_equals_tape(model, np.random.default_rng(5).random((4, 12, 12, 1), np.float32), np.array([0, 1, 2, 0]))


def test_real_crts_cnn_dormant_filters_are_off_on_every_real_dmdt():
    """10 of 16 and 40 of 64 filters: weights ~1e-33, never on for any of the 844 real dmdts (Keras forward)."""
    model, x = crts_cnn(), crts_dmdts()
    first, second = dormant_filters(model.get_layer("conv2d1")), dormant_filters(model.get_layer("conv2d2"))
    assert (len(first), len(second)) == (10, 40)
    for name, dormant in (("conv2d1", first), ("conv2d2", second)):
        activations = keras.Model(model.inputs, model.get_layer(name).output)(x).numpy()
        assert np.all(activations[..., list(dormant)] == 0)
        assert activations.max() > 0
    assert bool(run_steps(score_model(model)._fast.chain.steps, tf.constant(x))[2])


@pytest.mark.parametrize("method", ["gradcam", "saliency"])
def test_real_crts_cnn_maps_equal_those_with_no_filter_left_out(method, monkeypatch):
    model, x = crts_cnn(), crts_dmdts()[:64]
    targets = np.full(len(x), 6, np.int32)  # LPV: non-zero maps for most real dmdts
    ours = explain(method, model, x, targets=targets)
    monkeypatch.setattr(dormant, "dormant_filters", lambda layer: ())
    full = keras.models.clone_model(model)  # a new model: its plan is made with the patch
    full.set_weights(model.get_weights())
    assert not any(isinstance(s, Convolution) and s.dormant for s in score_model(full)._fast.chain.steps)
    np.testing.assert_allclose(ours, explain(method, full, x, targets=targets), rtol=1e-5,
                               atol=1e-5 * np.abs(ours).max())
