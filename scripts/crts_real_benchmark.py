"""Real CRTS light curves: the original CNN as is, prior-corrected, and our retrained dmdt CNN.

On the 4,463 real labelled CRTS curves of the 7 classes the original CNN knows
(``../shared/data/crts-lightcurves-kvmu``), with a stratified 20% test split (seed 0):

(a) ``original``: the real Keras-2 CNN (Mahabal et al. 2017) as is;
(b) ``prior_corrected``: its probabilities re-weighted from its training prior pi_o (67% EW; estimated
    from the 15,459 training-population labels in ``reproducibility_periodic_cnn/crts_classes.txt``)
    to this data set's prior pi_t (class frequencies of the training split), the Bayes-optimal
    correction for a pure prior shift: p'_k = p_k pi_t[k] / pi_o[k] / sum_j p_j pi_t[j] / pi_o[j];
(c) our ``dmdt_cnn`` trained on the 80% training split (10% of it for validation) with the original
    augmentation: every class topped up to ``--oversample-factor`` times the largest class's count
    with noise-augmented re-binned curves (mag + N(0, magerr / 3)), so the training prior is uniform;
    ``scratch`` from a fresh initialisation, ``finetune`` from the original weights with the output
    bias shifted by log(uniform / pi_o) (the prior correction of (b), built into the weights, so
    fine-tuning starts from the corrected model). Each is also reported with its own uniform training
    prior corrected to pi_t (``..._prior_corrected``), the same Bayes step as (b).

(d) ``finetune_resampled`` and ``wide``: trained on a fresh class-balanced set of resampled curves every
    epoch (:class:`pix2pixai.data.augment.BalancedResampledEpochs`: noise + each point kept with
    probability ``--keep-fraction``), the epoch chosen by the prior-corrected validation NLL
    (:class:`pix2pixai.trainers.priors.PriorShiftedValidation`, the metric that matches the evaluation);
    ``finetune_resampled`` starts from the original weights (as ``finetune``), ``wide`` is
    :func:`pix2pixai.trainers.classifiers.dmdt_cnn_wide` from scratch. With both, ``ensemble_original_finetune_wide``
    averages the prior-corrected original (to uniform), ``finetune_resampled`` and ``wide``
    (seed-averaged) probabilities.

(e) ``features``: :func:`pix2pixai.trainers.classifiers.dmdt_features_cnn`, the dmdt CNN with a second input of
    per-curve features (generalised Lomb-Scargle period and power, power at the 2P / P/2 aliases,
    folded-curve scatter and Fourier shape at P and 2P, amplitude, skewness...:
    :func:`pix2pixai.data.features.lightcurve_features`, computed once per curve, ~25 ms each),
    standardised with training-split statistics. It starts from the original weights (its ``preds``
    kernel rows for the features zero, so it starts as the prior-corrected original) and is trained
    as ``finetune_resampled`` (each resampled dmdt paired with its curve's features) at
    ``--features-lr`` 1e-3 (the new feature branch; 1e-4 / 3e-4 / 1e-3 gave validation NLL 0.445 /
    0.443 / 0.437, best epoch 36 / 11 / 10, seed 0).
    ``ensemble_original_features`` averages it (seed-averaged) with the prior-corrected original, and
    ``ensemble_original_finetune_wide_features`` adds it to the three-member ensemble of (d).

With ``--train-seeds 0,1,2`` each variant is trained once per seed (same split) and the mean of the
seeds' probabilities is scored too (``ensemble_<variant>``, also prior-corrected): averaging seeds
removes part of the variance of one fine-tuning run on ~3,600 curves.

Accuracy and macro-F1 with standard errors (binomial; seeded bootstrap) for each, and the
differences to (b) with their paired standard errors (:func:`paired_difference_se`: both scored on
the same items), are printed and written as JSON to ``--out`` (with each one's test predictions).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import keras
import numpy as np

from pix2pixai import atomic
from pix2pixai.data.augment import BalancedResampledEpochs
from pix2pixai.data.classes import CRTS_CLASSES, canonical_class
from pix2pixai.data.dmdt_images import augment_noise, dmdt, dmdt_from_lightcurves
from pix2pixai.data.features import lightcurve_features
from pix2pixai.data.lightcurves import LightCurve, read_lightcurves_npz
from pix2pixai.trainers.classifiers import dmdt_cnn, dmdt_cnn_wide, dmdt_features_cnn
from pix2pixai.trainers.priors import PriorShiftedValidation, prior_shift
from pix2pixai.trainers.determinism import enable_determinism
from pix2pixai.trainers.legacy import load_legacy_model
from pix2pixai.trainers.splits import stratified_split
from pix2pixai.trainers.training import Oversampler, evaluate_predictions, predict_proba, train_classifier

REPO = Path(__file__).resolve().parents[1]
#: Drake et al. (2014) type ids of the original CNN's outputs, in CRTS_CLASSES order.
CRTS_TYPE_IDS = (1, 2, 4, 5, 6, 8, 13)


def original_prior(classes_txt: Path) -> np.ndarray:
    """Class frequencies [7] of the original CNN's training population (``lcid typeid`` rows)."""
    type_ids = np.loadtxt(classes_txt, dtype=np.int64, usecols=1)
    counts = np.array([np.count_nonzero(type_ids == t) for t in CRTS_TYPE_IDS], dtype=np.float64)
    return counts / counts.sum()


def train_resampled(model, curves: list[LightCurve], y: np.ndarray, *, seed: int, epochs: int, patience: int,
                    batch_size: int, learning_rate: float, keep_fraction: float, eval_prior: np.ndarray,
                    work: Path, features: np.ndarray | None = None) -> dict[str, float]:
    """Fit ``model`` in place on class-balanced resampled curves, redrawn every epoch; keep the epoch
    with the lowest prior-corrected validation NLL (10% of each class held out, seeded). With
    ``features`` (one row per curve) the model takes {"dmdt", "features"}. Returns the best epoch and
    its validation scores (the numbers to choose between variants on, never the test split)."""
    fit_idx, val_idx = stratified_split(y, 0.1, seed)
    train = BalancedResampledEpochs([curves[k] for k in fit_idx], y[fit_idx], seed=seed, batch_size=batch_size,
                                    per_class=int(np.bincount(y[fit_idx]).max()), keep_fraction=keep_fraction,
                                    features=None if features is None else features[fit_idx])
    x_val = dmdt_from_lightcurves([curves[k] for k in val_idx], "crts")[..., None].astype(np.float32)
    if features is not None:
        x_val = {"dmdt": x_val, "features": features[val_idx]}
    n_classes = int(y.max()) + 1
    best = work / "best.weights.h5"
    work.mkdir(parents=True, exist_ok=True)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="sparse_categorical_crossentropy")
    history = model.fit(train, epochs=epochs, verbose=0, callbacks=[
        PriorShiftedValidation(x_val, y[val_idx], np.full(n_classes, 1.0 / n_classes), eval_prior),
        keras.callbacks.ModelCheckpoint(str(best), monitor="val_prior_nll", mode="min", save_best_only=True,
                                        save_weights_only=True),
        keras.callbacks.EarlyStopping(monitor="val_prior_nll", mode="min", patience=patience),
    ])
    model.load_weights(best)
    nll = history.history["val_prior_nll"]
    k = int(np.argmin(nll))
    return {"best_epoch": k, "epochs_run": len(nll), "val_prior_nll": nll[k],
            "val_prior_accuracy": history.history["val_prior_accuracy"][k]}


def paired_difference_se(y: np.ndarray, pred_a: np.ndarray, pred_b: np.ndarray, *, seed: int,
                         n_bootstrap: int = 1000) -> tuple[float, float]:
    """Standard errors of accuracy(a) - accuracy(b) and macro-F1(a) - macro-F1(b) on the *same* test items.

    Pairing removes the items both get right or wrong from the noise, so the difference is far better
    determined than the two separate standard errors suggest: the accuracy difference's is
    std(correct_a - correct_b) / sqrt(N); the macro-F1 difference's the spread over seeded bootstrap
    resamples of the items (both scored on each resample).
    """
    gain = (pred_a == y).astype(np.float64) - (pred_b == y)
    acc_se = float(gain.std(ddof=1) / np.sqrt(y.size))
    samples = np.random.default_rng(seed).integers(0, y.size, size=(n_bootstrap, y.size))
    diffs = _macro_f1_rows(y[samples], pred_a[samples]) - _macro_f1_rows(y[samples], pred_b[samples])
    return acc_se, float(np.std(diffs, ddof=1))


def _macro_f1_rows(y: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """Macro-F1 [B] of each row of [B, N] labels / predictions over the classes present in the row
    (sklearn's ``f1_score(average="macro", labels=present)``), from one batched confusion count."""
    k = int(max(y.max(), pred.max())) + 1
    offsets = np.arange(len(y))[:, None] * k * k
    confusion = np.bincount((offsets + y * k + pred).ravel(), minlength=len(y) * k * k).reshape(len(y), k, k)
    tp = np.diagonal(confusion, axis1=1, axis2=2).astype(np.float64)
    actual, predicted = confusion.sum(axis=2), confusion.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        f1 = np.where(actual + predicted > 0, 2 * tp / (actual + predicted), 0.0)
    present = actual > 0
    return (f1 * present).sum(axis=1) / present.sum(axis=1)


def curve_features_cached(curves: list[LightCurve], cache: Path | None) -> np.ndarray:
    """:func:`lightcurve_features` of ``curves``, read from / written to ``cache`` (.npz: ids, features)."""
    ids = np.array([c.lcid for c in curves])
    if cache is not None and cache.exists():
        with np.load(cache) as stored:
            if stored["ids"].shape == ids.shape and np.array_equal(stored["ids"], ids):
                print(f"features read from {cache}")
                return stored["features"]
    t0 = time.perf_counter()
    features = lightcurve_features(curves)
    print(f"features of {len(curves)} curves in {time.perf_counter() - t0:.1f} s")
    if cache is not None:
        atomic.save_npz(cache, ids=ids, features=features)
    return features


def predict_inputs(model, x: np.ndarray, features: np.ndarray | None, batch_size: int = 256) -> np.ndarray:
    """Probabilities [N, K] of a dmdt model (``features`` None) or of a dmdt + features model."""
    if features is None:
        return predict_proba(model, x, batch_size)
    return np.concatenate([np.asarray(model.predict_on_batch({"dmdt": x[i : i + batch_size],
                                                              "features": features[i : i + batch_size]}))
                           for i in range(0, len(x), batch_size)])


def rebinning_oversampler(curves: list[LightCurve], images: np.ndarray) -> Oversampler:
    """Oversampler that draws members of a class and re-bins a noisy copy of each one's light curve.

    ``train_classifier`` hands over a class's images only; each image is mapped back to its curve
    through its bytes (``images`` are the same float32 dmdts, in ``curves`` order).
    """
    curve_of = {img.tobytes(): k for k, img in enumerate(images)}

    def oversample(x_class: np.ndarray, n_needed: int, rng: np.random.Generator) -> np.ndarray:
        members = np.array([curve_of[img.tobytes()] for img in x_class])
        picks = rng.choice(members, size=n_needed)
        mags = [augment_noise(curves[k].mag, curves[k].magerr, rng) for k in picks]
        return dmdt([curves[k].mjd for k in picks], mags, preset="crts")[..., None]

    return oversample


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=REPO / "bench_results" / "crts_real_benchmark.json")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--patience", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--oversample-factor", type=float, default=2.0)
    parser.add_argument("--finetune-lr", type=float, default=1e-4)
    parser.add_argument("--features-lr", type=float, default=1e-3,
                        help="learning rate of the features variant (1e-3: lowest validation NLL of 1e-4, 3e-4, 1e-3)")
    parser.add_argument("--variants", default="scratch,finetune",
                        help="comma-separated: scratch, finetune, finetune_resampled, wide, features")
    parser.add_argument("--keep-fraction", type=float, default=0.8,
                        help="resampled variants: probability that each point of a curve is kept")
    parser.add_argument("--train-seeds", default="0",
                        help="comma-separated training seeds per variant (initialisation, oversampling, batch "
                             "order; the split stays --seed); with several, their mean probabilities are also "
                             "scored as an ensemble (default 0)")
    parser.add_argument("--work-dir", type=Path, default=None, help="checkpoints (default: a temporary folder)")
    parser.add_argument("--features-cache", type=Path, default=None,
                        help="features variant: .npz of the curves' features (ids + features), read when its ids "
                             "are these curves', else computed (~2 min) and written there")
    args = parser.parse_args()

    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    try:
        train_seeds = [int(v) for v in args.train_seeds.split(",") if v.strip()]
    except ValueError:
        parser.error(f"--train-seeds: {args.train_seeds!r}; expected comma-separated integers")
    known = ("scratch", "finetune", "finetune_resampled", "wide", "features")
    unknown = sorted(set(variants) - set(known))
    if unknown:
        parser.error(f"--variants: unknown {unknown}; expected {', '.join(known)}")

    started = time.perf_counter()
    curves = [c for c in read_lightcurves_npz(args.data / "crts-lightcurves-kvmu" / "lightcurves.npz")
              if c.label in CRTS_CLASSES or c.label == "RSCVn"]
    y = np.array([CRTS_CLASSES.index(canonical_class(c.label)) for c in curves])
    x = dmdt_from_lightcurves(curves, "crts")[..., None].astype(np.float32)
    train_idx, test_idx = stratified_split(y, 0.2, args.seed)
    x_test, y_test = x[test_idx], y[test_idx]
    print(f"{len(curves)} curves, {train_idx.size} train / {test_idx.size} test; dmdts in "
          f"{time.perf_counter() - started:.1f} s")
    features = None
    if "features" in variants:
        features = curve_features_cached(curves, args.features_cache)

    cnn_path = args.data / "reproducibility_periodic_cnn" / "model.h5"
    original = load_legacy_model(cnn_path, "crts_cnn")
    pi_source = original_prior(args.data / "reproducibility_periodic_cnn" / "crts_classes.txt")
    pi_target = np.bincount(y[train_idx], minlength=len(CRTS_CLASSES)) / train_idx.size
    probs = predict_proba(original, x_test)

    def score(pred: np.ndarray) -> dict:
        """Test-split report of predicted classes, which it keeps (paired differences need them)."""
        report = evaluate_predictions(y_test, pred, CRTS_CLASSES, seed=args.seed)
        report["predictions"] = pred.tolist()
        return report

    results = {
        "original": score(probs.argmax(1)),
        "prior_corrected": score(prior_shift(probs, pi_source, pi_target).argmax(1)),
    }

    oversample = rebinning_oversampler([curves[k] for k in train_idx], x[train_idx])
    oversample_to = int(args.oversample_factor * np.bincount(y[train_idx]).max())
    pi_uniform = np.full(len(CRTS_CLASSES), 1.0 / len(CRTS_CLASSES))
    mean_probs_of = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = args.work_dir or Path(tmp)
        for variant in variants:
            seed_probs = []
            for train_seed in train_seeds:
                t0 = time.perf_counter()
                enable_determinism(train_seed)
                kernel, bias = original.get_layer("preds").get_weights()
                if variant == "features":
                    # standardisation statistics from the training split only
                    model = dmdt_features_cnn(features[train_idx].mean(0), features[train_idx].std(0) + 1e-6,
                                              n_classes=len(CRTS_CLASSES))
                    for name in ("conv2d1", "conv2d2"):
                        model.get_layer(name).set_weights(original.get_layer(name).get_weights())
                    extra = model.get_layer("preds").get_weights()[0].shape[0] - kernel.shape[0]
                    model.get_layer("preds").set_weights([
                        np.concatenate([kernel, np.zeros((extra, kernel.shape[1]), kernel.dtype)]),
                        bias + np.log(pi_uniform / pi_source)])
                else:
                    model = dmdt_cnn_wide() if variant == "wide" else dmdt_cnn()
                if variant.startswith("finetune"):
                    model.set_weights(original.get_weights())
                    model.get_layer("preds").set_weights([kernel, bias + np.log(pi_uniform / pi_source)])
                if variant in ("scratch", "finetune"):
                    fit = train_classifier(
                        model, x[train_idx], y[train_idx], class_names=CRTS_CLASSES,
                        out_dir=work / f"{variant}-seed{train_seed}", seed=train_seed, epochs=args.epochs,
                        batch_size=args.batch_size, patience=args.patience, class_weight="balanced",
                        oversample=oversample, oversample_to=oversample_to,
                        learning_rate=1e-3 if variant == "scratch" else args.finetune_lr,
                    )
                    training = {"best_epoch": fit.best_epoch, "epochs_run": len(fit.history["loss"]),
                                "n_oversampled": fit.n_oversampled}
                else:
                    training = train_resampled(
                        model, [curves[k] for k in train_idx], y[train_idx], seed=train_seed, epochs=args.epochs,
                        patience=args.patience, batch_size=args.batch_size,
                        learning_rate={"wide": 1e-3, "features": args.features_lr}.get(variant, args.finetune_lr),
                        keep_fraction=args.keep_fraction, eval_prior=pi_target,
                        work=work / f"{variant}-seed{train_seed}",
                        features=features[train_idx] if variant == "features" else None)
                test_features = features[test_idx] if variant == "features" else None
                probs_test = predict_inputs(model, x_test, test_features)
                report = score(probs_test.argmax(1))
                report["training"] = {**training, "seconds": time.perf_counter() - t0, "train_seed": train_seed}
                name = f"retrained_{variant}" + ("" if train_seed == train_seeds[0] else f"_seed{train_seed}")
                results[name] = report
                seed_probs.append(probs_test)
                ours = prior_shift(seed_probs[-1], pi_uniform, pi_target)
                results[f"{name}_prior_corrected"] = score(ours.argmax(1))
            mean_probs_of[variant] = np.mean(seed_probs, axis=0)
            if len(seed_probs) > 1:
                mean_probs = mean_probs_of[variant]
                results[f"ensemble_{variant}"] = score(mean_probs.argmax(1))
                results[f"ensemble_{variant}_prior_corrected"] = score(
                    prior_shift(mean_probs, pi_uniform, pi_target).argmax(1))

    # ensembles: the prior-corrected original (to uniform) and seed-averaged members, then shifted to pi_t
    ensembles = {"ensemble_original_finetune_wide": ("finetune_resampled", "wide"),
                 "ensemble_original_features": ("features",),
                 "ensemble_original_finetune_wide_features": ("finetune_resampled", "wide", "features")}
    for name, member_names in ensembles.items():
        if set(member_names) <= set(mean_probs_of):
            members = [prior_shift(probs, pi_source, pi_uniform)] + [mean_probs_of[m] for m in member_names]
            results[name] = score(prior_shift(np.mean(members, axis=0), pi_uniform, pi_target).argmax(1))

    baseline = results["prior_corrected"]
    summary = {}
    for name, r in results.items():
        acc_diff_se, f1_diff_se = paired_difference_se(y_test, np.array(r["predictions"]),
                                                       np.array(baseline["predictions"]), seed=args.seed)
        summary[name] = {
            "accuracy": r["accuracy"], "accuracy_se": r["accuracy_se"],
            "macro_f1": r["macro_f1"], "macro_f1_se": r["macro_f1_se"],
            "recall": {c: r["per_class"][c]["recall"] for c in CRTS_CLASSES},
            "accuracy_minus_prior_corrected": r["accuracy"] - baseline["accuracy"],
            "accuracy_minus_prior_corrected_se": acc_diff_se,
            "macro_f1_minus_prior_corrected": r["macro_f1"] - baseline["macro_f1"],
            "macro_f1_minus_prior_corrected_se": f1_diff_se,
        }
        print(f"{name:42s} accuracy {r['accuracy']:.3f} +- {r['accuracy_se']:.3f}   "
              f"macro-F1 {r['macro_f1']:.3f} +- {r['macro_f1_se']:.3f}   "
              f"(vs prior-corrected: {100 * (r['accuracy'] - baseline['accuracy']):+.1f} "
              f"+- {100 * acc_diff_se:.1f} / "
              f"{100 * (r['macro_f1'] - baseline['macro_f1']):+.1f} +- {100 * f1_diff_se:.1f} points)")
    payload = {
        "split": {"test_fraction": 0.2, "seed": args.seed, "n_train": int(train_idx.size), "n_test": int(test_idx.size)},
        "train_seeds": train_seeds,
        "class_names": list(CRTS_CLASSES),
        "prior_original": dict(zip(CRTS_CLASSES, pi_source.tolist())),
        "prior_target": dict(zip(CRTS_CLASSES, pi_target.tolist())),
        "summary": summary, "reports": results, "seconds": time.perf_counter() - started,
    }
    atomic.write_json(args.out, payload)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
