"""Training loop (determinism, resume, best epoch, oversampling, class weights, distribution) and
evaluation (against scikit-learn and a plain-loop bootstrap)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
from sklearn.metrics import confusion_matrix, f1_score, precision_recall_fscore_support
from sklearn.utils.class_weight import compute_class_weight

from tests.conftest import REPO
from pix2pixai.trainers.classifiers import braai_vgg6, dmdt_cnn
from pix2pixai.trainers.determinism import enable_determinism
from pix2pixai.trainers.training import evaluate_classifier, evaluate_predictions, predict_proba, train_classifier

NAMES = ("top", "bottom", "left")


def _easy_dmdts(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Three classes told apart by which half of the image is bright, under unit-scale noise."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    x = rng.normal(0.0, 0.3, (n, 22, 24, 1)).astype(np.float32)
    x[y == 0, :11] += 1.0
    x[y == 1, 11:] += 1.0
    x[y == 2, :, :12] += 1.0
    return x, y


def _train(tmp_path, name, seed=0, epochs=2, n=240, **kwargs):
    x, y = _easy_dmdts(n, seed=1)
    enable_determinism(seed)
    model = dmdt_cnn(n_classes=3)
    defaults = {"epochs": epochs, "batch_size": 32, "patience": 3}
    return train_classifier(model, x, y, class_names=NAMES, out_dir=tmp_path / name, seed=seed,
                            **{**defaults, **kwargs})


def test_dmdt_cnn_learns_easy_problem_and_logs_history(tmp_path):
    result = _train(tmp_path, "run", epochs=4)
    x_test, y_test = _easy_dmdts(200, seed=2)
    report = evaluate_classifier(result.model, x_test, y_test, NAMES)
    assert report["accuracy"] >= 0.95
    saved = json.loads((tmp_path / "run" / "history.json").read_text())
    assert saved["history"]["val_loss"] == result.history["val_loss"]
    assert len(result.history["val_loss"]) == 4
    assert result.best_epoch == int(np.argmin(result.history["val_loss"]))
    assert not (tmp_path / "run" / "backup").exists()  # removed once training finished


def test_same_seed_identical_weights_other_seed_differs(tmp_path):
    a, b = _train(tmp_path, "a", epochs=1, n=96), _train(tmp_path, "b", epochs=1, n=96)
    for wa, wb in zip(a.model.get_weights(), b.model.get_weights()):
        np.testing.assert_array_equal(wa, wb)
    c = _train(tmp_path, "c", seed=1, epochs=1, n=96)
    assert not np.array_equal(a.model.get_weights()[0], c.model.get_weights()[0])


class _Interrupt(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        if epoch == 1:
            raise KeyboardInterrupt


def test_interrupted_training_resumes_and_best_epoch_is_restored(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        _train(tmp_path, "run", epochs=4, n=96, callbacks=[_Interrupt()])
    assert (tmp_path / "run" / "backup").exists()
    result = _train(tmp_path, "run", epochs=4, n=96)
    assert result.history["epoch"] == [0.0, 1.0, 2.0, 3.0]
    best = dmdt_cnn(n_classes=3)
    best.load_weights(tmp_path / "run" / "checkpoints" / f"epoch_{result.best_epoch + 1:03d}.weights.h5")
    for got, want in zip(result.model.get_weights(), best.get_weights()):
        np.testing.assert_array_equal(got, want)


def test_oversampling_tops_classes_up_and_weights_are_sklearn_balanced(tmp_path):
    x, y = _easy_dmdts(240, seed=1)
    keep = (y != 2) | (np.arange(y.size) % 4 == 0)  # make class 2 a minority
    x, y = x[keep], y[keep]
    calls = []

    def jitter(x_class, n_needed, rng):
        calls.append(n_needed)
        return x_class[rng.integers(0, len(x_class), n_needed)] + rng.normal(0, 0.05, (n_needed, *x_class.shape[1:]))

    model = dmdt_cnn(n_classes=3)
    result = train_classifier(model, x, y, class_names=NAMES, out_dir=tmp_path / "o", seed=0, epochs=1,
                              batch_size=64, patience=1, oversample=jitter, class_weight=None)
    assert len(set(result.train_counts)) == 1 and result.n_oversampled == sum(calls) > 0
    assert result.class_weight is None
    result = train_classifier(dmdt_cnn(n_classes=3), x, y, class_names=NAMES, out_dir=tmp_path / "o2", seed=0,
                              epochs=1, batch_size=64, oversample=jitter, oversample_to=100)
    assert result.train_counts == [100, 100, 100]

    result = _train(tmp_path, "w", epochs=1)
    train_counts = np.array(result.train_counts)
    labels = np.repeat(np.arange(3), train_counts)
    expected = compute_class_weight("balanced", classes=np.arange(3), y=labels)
    np.testing.assert_allclose([result.class_weight[k] for k in range(3)], expected)

    with pytest.raises(ValueError, match="oversample returned shape"):
        train_classifier(dmdt_cnn(n_classes=3), x, y, class_names=NAMES, out_dir=tmp_path / "bad", seed=0,
                         epochs=1, batch_size=64, oversample=lambda xc, n, rng: xc[:1])


def test_sigmoid_model_trains_and_predicts_two_columns(tmp_path):
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 48)
    x = rng.normal(0, 0.1, (48, 63, 63, 3)).astype(np.float32)
    x[y == 1, 28:35, 28:35, 2] += 1.0
    model = braai_vgg6(output="sigmoid")
    result = train_classifier(model, x, y, class_names=("bogus", "real"), out_dir=tmp_path / "s", seed=0,
                              epochs=1, batch_size=16, patience=1)
    probs = predict_proba(result.model, x[:5])
    p = result.model.predict(x[:5], verbose=0)[:, 0]
    np.testing.assert_allclose(probs, np.stack([1 - p, p], axis=1), rtol=1e-6)
    assert evaluate_classifier(result.model, x, y, ("bogus", "real"))["n"] == 48


def test_bad_training_inputs_are_named(tmp_path):
    x, y = _easy_dmdts(20, seed=0)
    model = dmdt_cnn(n_classes=3)
    common = {"out_dir": tmp_path, "seed": 0, "epochs": 1, "batch_size": 8}
    with pytest.raises(ValueError, match=r"expects x \[N, 22, 24, 1\], got \(20, 22, 24\)"):
        train_classifier(model, x[..., 0], y, class_names=NAMES, **common)
    with pytest.raises(ValueError, match="3 outputs but class_names has 2"):
        train_classifier(model, x, y, class_names=NAMES[:2], **common)
    with pytest.raises(ValueError, match="integer labels"):
        train_classifier(model, x, y.astype(float), class_names=NAMES, **common)
    with pytest.raises(ValueError, match=r"expects inputs \[N, 22, 24, 1\]"):
        predict_proba(model, x[:, :20])


# ------------------------------------------------------------------------------ evaluation
def test_evaluate_predictions_matches_sklearn_and_loop_bootstrap(tmp_path):
    rng = np.random.default_rng(3)
    y_true = rng.integers(0, 4, 150)
    y_pred = np.where(rng.random(150) < 0.7, y_true, rng.integers(0, 4, 150))
    names = ("a", "b", "c", "d")
    report = evaluate_predictions(y_true, y_pred, names, n_bootstrap=50, seed=5)

    assert report["accuracy"] == pytest.approx(np.mean(y_true == y_pred))
    assert report["accuracy_se"] == pytest.approx(np.sqrt(report["accuracy"] * (1 - report["accuracy"]) / 150))
    assert report["macro_f1"] == pytest.approx(f1_score(y_true, y_pred, average="macro"))
    np.testing.assert_array_equal(report["confusion_matrix"], confusion_matrix(y_true, y_pred))
    precision, recall, f1, support = precision_recall_fscore_support(y_true, y_pred, zero_division=0)
    for c, name in enumerate(names):
        got = report["per_class"][name]
        assert (got["precision"], got["recall"], got["f1"], got["support"]) == pytest.approx(
            (precision[c], recall[c], f1[c], support[c]))

    draws = np.random.default_rng(5).integers(0, 150, size=(50, 150))
    loop = [f1_score(y_true[d], y_pred[d], average="macro", labels=np.unique(y_true[d])) for d in draws]
    assert report["macro_f1_se"] == pytest.approx(np.std(loop, ddof=1), rel=1e-9)


def test_evaluate_classifier_saves_report_json(tmp_path):
    keras.utils.set_random_seed(0)
    model = dmdt_cnn(n_classes=3)
    x, y = _easy_dmdts(30, seed=0)
    report = evaluate_classifier(model, x, y, NAMES, out_path=tmp_path / "eval" / "report.json")
    assert json.loads((tmp_path / "eval" / "report.json").read_text()) == report
    assert [p.name for p in (tmp_path / "eval").iterdir()] == ["report.json"]  # no temp file left behind


def _batch_norm_cnn() -> keras.Model:
    """A small classifier with batch normalisation (the library's CNNs have none), for the strategy test."""
    inputs = keras.Input((22, 24, 1))
    h = keras.layers.Conv2D(8, 3, name="conv")(inputs)
    h = keras.layers.ReLU()(keras.layers.BatchNormalization(name="bn")(h))
    h = keras.layers.MaxPooling2D(4)(h)
    outputs = keras.layers.Dense(3, activation="softmax")(keras.layers.Flatten()(h))
    return keras.Model(inputs, outputs, name="bn_cnn")


@pytest.mark.slow
def test_mirrored_strategy_on_two_logical_cpus_matches_one_device(tmp_path):
    """``classifier.strategy = "mirrored"`` on 2 logical CPUs: held-out accuracy within 0.02 of the
    one-device run, batch norm synchronised. Needs a fresh process: logical devices must be configured
    before TensorFlow initialises."""
    script = textwrap.dedent(f"""
        import tensorflow as tf
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
        import keras
        from tests.trainers.test_training import _batch_norm_cnn, _easy_dmdts, NAMES
        from pix2pixai.trainers.classifiers import dmdt_cnn
        from pix2pixai.trainers.distribute import strategy_from_name
        from pix2pixai.trainers.training import train_classifier, evaluate_classifier
        strategy = strategy_from_name("mirrored")
        assert strategy.num_replicas_in_sync == 2
        synchronised = []
        class SeeBatchNorm(keras.callbacks.Callback):
            def on_train_begin(self, logs=None):
                synchronised.extend(l.synchronized for l in self.model.layers
                                    if isinstance(l, keras.layers.BatchNormalization))
        x, y = _easy_dmdts(240, seed=1)
        xt, yt = _easy_dmdts(200, seed=2)
        for name, build in (("dmdt_cnn", lambda: dmdt_cnn(n_classes=3)), ("bn_cnn", _batch_norm_cnn)):
            for label, chosen in (("one", None), ("mirrored", strategy)):
                keras.utils.set_random_seed(0)  # the same initial weights for both runs
                result = train_classifier(build(), x, y, class_names=NAMES, out_dir={str(tmp_path)!r} + name + label,
                                          seed=0, epochs=4, batch_size=32, strategy=chosen,
                                          callbacks=[SeeBatchNorm()] if chosen else [])
                print("ACCURACY", name, label, evaluate_classifier(result.model, xt, yt, NAMES)["accuracy"])
        print("SYNCHRONISED", synchronised)
    """)
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = [line.split() for line in done.stdout.splitlines()]
    accuracy = {(w[1], w[2]): float(w[3]) for w in lines if w and w[0] == "ACCURACY"}
    assert accuracy["dmdt_cnn", "one"] >= 0.9 and accuracy["bn_cnn", "one"] >= 0.6, accuracy  # chance: 1/3
    for name in ("dmdt_cnn", "bn_cnn"):
        assert abs(accuracy[name, "mirrored"] - accuracy[name, "one"]) <= 0.02, accuracy
    assert [w for w in lines if w and w[0] == "SYNCHRONISED"] == [["SYNCHRONISED", "[True]"]]
