"""Prior shift: Bayes' rule from class likelihoods; the validation callback's logs; the wide dmdt CNN."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from pix2pixai.trainers.classifiers import dmdt_cnn_wide
from pix2pixai.trainers.priors import PriorShiftedValidation, prior_shift


def test_prior_shift_equals_bayes_rule_from_the_likelihoods():
    rng = np.random.default_rng(0)
    likelihood = rng.uniform(0.01, 1.0, (50, 4))  # p(x | k)
    source, target = np.array([0.67, 0.2, 0.1, 0.03]), np.array([0.25, 0.25, 0.4, 0.1])
    posterior_source = likelihood * source / (likelihood * source).sum(1, keepdims=True)
    expected = likelihood * target / (likelihood * target).sum(1, keepdims=True)
    np.testing.assert_allclose(prior_shift(posterior_source, source, target), expected, rtol=1e-12)


def test_prior_shift_refuses_mismatched_priors():
    with pytest.raises(ValueError, match="priors"):
        prior_shift(np.full((2, 3), 1 / 3), np.full(2, 0.5), np.full(3, 1 / 3))


def test_callback_logs_the_shifted_nll_and_accuracy_that_early_stopping_can_monitor():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(40, 5)).astype(np.float32)
    y = rng.integers(0, 3, 40)
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(3, activation="softmax")])
    model.compile(optimizer=keras.optimizers.SGD(0.0), loss="sparse_categorical_crossentropy")
    train_prior, eval_prior = np.full(3, 1 / 3), np.array([0.6, 0.3, 0.1])
    history = model.fit(x, y, epochs=2, verbose=0, callbacks=[
        PriorShiftedValidation(x, y, train_prior, eval_prior, batch_size=16),
        keras.callbacks.EarlyStopping(monitor="val_prior_nll", mode="min", patience=0),
    ])
    probs = np.asarray(model.predict(x, verbose=0), np.float64)
    shifted = probs * eval_prior / (probs * eval_prior).sum(1, keepdims=True)
    nll = -np.log(shifted[np.arange(40), y]).mean()
    np.testing.assert_allclose(history.history["val_prior_nll"], [nll, nll], rtol=1e-5)
    assert history.history["val_prior_accuracy"][0] == pytest.approx((shifted.argmax(1) == y).mean())


def test_wide_dmdt_cnn_outputs_class_probabilities():
    model = dmdt_cnn_wide(n_classes=7)
    probs = np.asarray(model(np.random.default_rng(0).random((3, 22, 24, 1), dtype=np.float32), training=False))
    assert probs.shape == (3, 7)
    np.testing.assert_allclose(probs.sum(1), 1.0, rtol=1e-5)


def test_callback_feeds_a_model_with_named_inputs_from_a_dict():
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=(30, 4)).astype(np.float32), rng.normal(size=(30, 2)).astype(np.float32)
    y = rng.integers(0, 3, 30)
    ia, ib = keras.Input((4,), name="a"), keras.Input((2,), name="b")
    model = keras.Model([ia, ib], keras.layers.Dense(3, activation="softmax")(keras.layers.Concatenate()([ia, ib])))
    callback = PriorShiftedValidation({"a": a, "b": b}, y, np.full(3, 1 / 3), np.full(3, 1 / 3), batch_size=7)
    callback.set_model(model)
    logs: dict = {}
    callback.on_epoch_end(0, logs)
    probs = np.asarray(model.predict({"a": a, "b": b}, verbose=0), np.float64)
    assert logs["val_prior_nll"] == pytest.approx(-np.log(probs[np.arange(30), y]).mean(), rel=1e-5)
