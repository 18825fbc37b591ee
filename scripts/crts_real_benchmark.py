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
    (:class:`trainers.priors.PriorShiftedValidation`, the metric that matches the evaluation);
    ``finetune_resampled`` starts from the original weights (as ``finetune``), ``wide`` is
    :func:`trainers.classifiers.dmdt_cnn_wide` from scratch. With both, ``ensemble_original_finetune_wide``
    averages the prior-corrected original (to uniform), ``finetune_resampled`` and ``wide``
    (seed-averaged) probabilities.

With ``--train-seeds 0,1,2`` each variant is trained once per seed (same split) and the mean of the
seeds' probabilities is scored too (``ensemble_<variant>``, also prior-corrected): averaging seeds
removes part of the variance of one fine-tuning run on ~3,600 curves.

Accuracy and macro-F1 with standard errors (binomial; seeded bootstrap) for each, and the
differences (c) - (b), are printed and written as JSON to ``--out``.
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
from pix2pixai.data.dmdt import augment_noise, dmdt, dmdt_from_lightcurves
from pix2pixai.data.lightcurves import LightCurve, read_lightcurves_npz
from trainers.classifiers import dmdt_cnn, dmdt_cnn_wide
from trainers.priors import PriorShiftedValidation, prior_shift
from trainers.determinism import enable_determinism
from trainers.legacy import load_legacy_model
from trainers.splits import stratified_split
from trainers.training import Oversampler, evaluate_classifier, evaluate_predictions, predict_proba, train_classifier

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
                    work: Path) -> None:
    """Fit ``model`` in place on class-balanced resampled curves, redrawn every epoch; keep the epoch
    with the lowest prior-corrected validation NLL (10% of each class held out, seeded)."""
    fit_idx, val_idx = stratified_split(y, 0.1, seed)
    train = BalancedResampledEpochs([curves[k] for k in fit_idx], y[fit_idx], seed=seed, batch_size=batch_size,
                                    per_class=int(np.bincount(y[fit_idx]).max()), keep_fraction=keep_fraction)
    x_val = dmdt_from_lightcurves([curves[k] for k in val_idx], "crts")[..., None].astype(np.float32)
    n_classes = int(y.max()) + 1
    best = work / "best.weights.h5"
    work.mkdir(parents=True, exist_ok=True)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="sparse_categorical_crossentropy")
    model.fit(train, epochs=epochs, verbose=0, callbacks=[
        PriorShiftedValidation(x_val, y[val_idx], np.full(n_classes, 1.0 / n_classes), eval_prior),
        keras.callbacks.ModelCheckpoint(str(best), monitor="val_prior_nll", mode="min", save_best_only=True,
                                        save_weights_only=True),
        keras.callbacks.EarlyStopping(monitor="val_prior_nll", mode="min", patience=patience),
    ])
    model.load_weights(best)


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
    parser.add_argument("--variants", default="scratch,finetune",
                        help="comma-separated: scratch, finetune, finetune_resampled, wide")
    parser.add_argument("--keep-fraction", type=float, default=0.8,
                        help="resampled variants: probability that each point of a curve is kept")
    parser.add_argument("--train-seeds", default="0",
                        help="comma-separated training seeds per variant (initialisation, oversampling, batch "
                             "order; the split stays --seed); with several, their mean probabilities are also "
                             "scored as an ensemble (default 0)")
    parser.add_argument("--work-dir", type=Path, default=None, help="checkpoints (default: a temporary folder)")
    args = parser.parse_args()

    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    try:
        train_seeds = [int(v) for v in args.train_seeds.split(",") if v.strip()]
    except ValueError:
        parser.error(f"--train-seeds: {args.train_seeds!r}; expected comma-separated integers")
    unknown = sorted(set(variants) - {"scratch", "finetune", "finetune_resampled", "wide"})
    if unknown:
        parser.error(f"--variants: unknown {unknown}; expected scratch, finetune, finetune_resampled, wide")

    started = time.perf_counter()
    curves = [c for c in read_lightcurves_npz(args.data / "crts-lightcurves-kvmu" / "lightcurves.npz")
              if c.label in CRTS_CLASSES or c.label == "RSCVn"]
    y = np.array([CRTS_CLASSES.index(canonical_class(c.label)) for c in curves])
    x = dmdt_from_lightcurves(curves, "crts")[..., None].astype(np.float32)
    train_idx, test_idx = stratified_split(y, 0.2, args.seed)
    x_test, y_test = x[test_idx], y[test_idx]
    print(f"{len(curves)} curves, {train_idx.size} train / {test_idx.size} test; dmdts in "
          f"{time.perf_counter() - started:.1f} s")

    cnn_path = args.data / "reproducibility_periodic_cnn" / "model.h5"
    original = load_legacy_model(cnn_path, "crts_cnn")
    pi_source = original_prior(args.data / "reproducibility_periodic_cnn" / "crts_classes.txt")
    pi_target = np.bincount(y[train_idx], minlength=len(CRTS_CLASSES)) / train_idx.size
    probs = predict_proba(original, x_test)
    results = {
        "original": evaluate_predictions(y_test, probs.argmax(1), CRTS_CLASSES, seed=args.seed),
        "prior_corrected": evaluate_predictions(
            y_test, prior_shift(probs, pi_source, pi_target).argmax(1), CRTS_CLASSES, seed=args.seed),
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
                model = dmdt_cnn_wide() if variant == "wide" else dmdt_cnn()
                if variant.startswith("finetune"):
                    kernel, bias = original.get_layer("preds").get_weights()
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
                    train_resampled(model, [curves[k] for k in train_idx], y[train_idx], seed=train_seed,
                                    epochs=args.epochs, patience=args.patience, batch_size=args.batch_size,
                                    learning_rate=1e-3 if variant == "wide" else args.finetune_lr,
                                    keep_fraction=args.keep_fraction, eval_prior=pi_target,
                                    work=work / f"{variant}-seed{train_seed}")
                    training = {}
                report = evaluate_classifier(model, x_test, y_test, CRTS_CLASSES, seed=args.seed)
                report["training"] = {**training, "seconds": time.perf_counter() - t0, "train_seed": train_seed}
                name = f"retrained_{variant}" + ("" if train_seed == train_seeds[0] else f"_seed{train_seed}")
                results[name] = report
                seed_probs.append(predict_proba(model, x_test))
                ours = prior_shift(seed_probs[-1], pi_uniform, pi_target)
                results[f"{name}_prior_corrected"] = evaluate_predictions(
                    y_test, ours.argmax(1), CRTS_CLASSES, seed=args.seed)
            mean_probs_of[variant] = np.mean(seed_probs, axis=0)
            if len(seed_probs) > 1:
                mean_probs = mean_probs_of[variant]
                results[f"ensemble_{variant}"] = evaluate_predictions(
                    y_test, mean_probs.argmax(1), CRTS_CLASSES, seed=args.seed)
                results[f"ensemble_{variant}_prior_corrected"] = evaluate_predictions(
                    y_test, prior_shift(mean_probs, pi_uniform, pi_target).argmax(1), CRTS_CLASSES,
                    seed=args.seed)

    if {"finetune_resampled", "wide"} <= set(mean_probs_of):
        members = [prior_shift(probs, pi_source, pi_uniform), mean_probs_of["finetune_resampled"],
                   mean_probs_of["wide"]]
        results["ensemble_original_finetune_wide"] = evaluate_predictions(
            y_test, prior_shift(np.mean(members, axis=0), pi_uniform, pi_target).argmax(1), CRTS_CLASSES,
            seed=args.seed)

    baseline = results["prior_corrected"]
    summary = {}
    for name, r in results.items():
        summary[name] = {
            "accuracy": r["accuracy"], "accuracy_se": r["accuracy_se"],
            "macro_f1": r["macro_f1"], "macro_f1_se": r["macro_f1_se"],
            "recall": {c: r["per_class"][c]["recall"] for c in CRTS_CLASSES},
            "accuracy_minus_prior_corrected": r["accuracy"] - baseline["accuracy"],
            "macro_f1_minus_prior_corrected": r["macro_f1"] - baseline["macro_f1"],
        }
        print(f"{name:34s} accuracy {r['accuracy']:.3f} +- {r['accuracy_se']:.3f}   "
              f"macro-F1 {r['macro_f1']:.3f} +- {r['macro_f1_se']:.3f}   "
              f"(vs prior-corrected: {100 * (r['accuracy'] - baseline['accuracy']):+.1f} / "
              f"{100 * (r['macro_f1'] - baseline['macro_f1']):+.1f} points)")
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
