"""How real do the simulated periodic variables look to the real CRTS CNN?

Simulates ``--n`` curves per class (all seven CRTS classes), computes their ``crts`` dmdts and lets
the original CRTS CNN (Mahabal et al. 2017, never trained on our data) classify them. Prints the
confusion matrix as a markdown table (rows: simulated class, columns: CNN prediction, last columns:
recall on our curves and, for comparison, the CNN's recall on the real labelled CRTS curves), and
writes the numbers as JSON.

Usage: ``python scripts/realism_periodic.py [--n 200] [--seed 0] [--out bench_results/realism_periodic.json]``
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import numpy as np

from pix2pixai.atomic import write_json
from pix2pixai.data.classes import CRTS_CLASSES, canonical_class
from pix2pixai.data.dmdt_images import dmdt_from_lightcurves
from pix2pixai.data.synthetic.periodic import simulate_periodic
from pix2pixai.trainers.legacy import load_legacy_model

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def confusion(truth: np.ndarray, predicted: np.ndarray, n_classes: int) -> np.ndarray:
    """Counts (n_classes, n_classes): row = true class, column = predicted class."""
    counts = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(counts, (truth, predicted), 1)
    return counts


def real_data_recall(path: Path) -> dict[str, float]:
    """The real CNN's recall per class on the real CRTS curves (``repro_pred`` column of ``path``)."""
    hits: dict[str, list[bool]] = {name: [] for name in CRTS_CLASSES}
    with open(path, newline="") as fh:
        for row in csv.DictReader(fh):
            if row["label"] in hits:
                hits[row["label"]].append(canonical_class(row["repro_pred"]) == row["label"])
    return {name: float(np.mean(v)) for name, v in hits.items() if v}


def markdown_table(counts: np.ndarray, real_recall: dict[str, float]) -> str:
    header = "| simulated \\ CNN | " + " | ".join(CRTS_CLASSES) + " | recall (sim) | recall (real CRTS) |"
    lines = [header, "|" + "---|" * (len(CRTS_CLASSES) + 3)]
    for k, name in enumerate(CRTS_CLASSES):
        recall = counts[k, k] / max(counts[k].sum(), 1)
        real = f"{real_recall[name]:.2f}" if name in real_recall else "-"
        cells = " | ".join(str(v) for v in counts[k])
        lines.append(f"| {name} | {cells} | {recall:.2f} | {real} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200, help="curves per class")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--model", type=Path, default=SHARED / "reproducibility_periodic_cnn" / "model.h5")
    parser.add_argument("--labels", type=Path, default=SHARED / "crts-lightcurves-kvmu" / "labels_and_repro_predictions.csv")
    parser.add_argument("--out", type=Path, default=Path("bench_results/realism_periodic.json"))
    args = parser.parse_args()

    start = time.perf_counter()
    curves = simulate_periodic(args.n, seed=args.seed)
    simulated = time.perf_counter()
    images = dmdt_from_lightcurves(curves, preset="crts")[..., None]
    model = load_legacy_model(args.model, "crts_cnn")
    predicted = np.asarray(model.predict(images, batch_size=256, verbose=0)).argmax(axis=1)
    truth = np.array([CRTS_CLASSES.index(c.label) for c in curves])
    counts = confusion(truth, predicted, len(CRTS_CLASSES))
    real_recall = real_data_recall(args.labels) if args.labels.is_file() else {}

    five = [CRTS_CLASSES.index(c) for c in ("EW", "EA", "RRab", "RRc", "LPV")]
    accuracy_five = float(np.trace(counts[np.ix_(five, five)]) / counts[five].sum())
    accuracy_all = float(np.trace(counts) / counts.sum())
    print(markdown_table(counts, real_recall))
    print(f"\naccuracy on EW, EA, RRab, RRc, LPV: {accuracy_five:.3f}; on all seven: {accuracy_all:.3f}"
          f" (n={args.n} per class, seed {args.seed}; simulation {simulated - start:.1f} s)")
    write_json(args.out, {
        "classes": list(CRTS_CLASSES), "n_per_class": args.n, "seed": args.seed,
        "confusion": counts, "recall_simulated": np.diag(counts) / counts.sum(axis=1),
        "recall_real_crts": real_recall, "accuracy_five": accuracy_five, "accuracy_all": accuracy_all,
        "simulation_seconds": simulated - start,
    })
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
