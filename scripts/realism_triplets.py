"""Realism check of the synthetic ZTF triplets: how the real braai models, never trained on them, score them.

For each subcategory, prints the fraction of simulated triplets scored real (p >= 0.5) by braai_d6_m9
(whole-image L2 normalisation) and d6_m7 (per-row L2), and writes the numbers as JSON.

    python scripts/realism_triplets.py --n 200 --seed 0 --out bench_results/realism_triplets.json
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np

from pix2pixai.atomic import write_json
from pix2pixai.data.classes import SUBCATEGORY_IS_REAL, ZTF_SUBCATEGORIES
from pix2pixai.data.synthetic.triplets import normalise_triplets, simulate_triplets

MODELS = {"braai_d6_m9": "image", "d6_m7": "row"}  # model file stem -> the normalisation it was trained with
DEFAULT_MODELS = Path(os.environ.get("PIX2PIXAI_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


def score_realism(n_per_subcategory: int, seed: int, models_dir: Path) -> dict:
    """Fraction scored real per model and subcategory, plus the pass criteria of the realism test."""
    from pix2pixai.trainers import load_legacy_model

    sim = simulate_triplets(n_per_subcategory, seed=seed, normalisation="image")
    result: dict = {"n_per_subcategory": n_per_subcategory, "seed": seed, "models": {}}
    for stem, normalisation in MODELS.items():
        model = load_legacy_model(models_dir / f"{stem}.h5", "braai")
        images = sim.images if normalisation == "image" else normalise_triplets(sim.raw, normalisation)
        score = np.asarray(model.predict(images, batch_size=256, verbose=0)).reshape(-1)
        real = score >= 0.5
        per_subcategory = {name: float(real[sim.subcategory == name].mean()) for name in ZTF_SUBCATEGORIES}
        is_real = sim.label == 1
        result["models"][stem] = {
            "normalisation": normalisation,
            "fraction_scored_real": per_subcategory,
            "real_scored_real": float(real[is_real].mean()),
            "bogus_scored_bogus": float((~real[~is_real]).mean()),
        }
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200, help="triplets per subcategory")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--models", type=Path, default=DEFAULT_MODELS / "braai" / "models",
                        help="folder with braai_d6_m9.h5 and d6_m7.h5")
    parser.add_argument("--out", type=Path, default=Path("bench_results") / "realism_triplets.json")
    args = parser.parse_args(argv)
    result = score_realism(args.n, args.seed, args.models)
    stems = list(result["models"])
    print(f"{'subcategory':20s} {'side':5s} " + " ".join(f"{s:>12s}" for s in stems))
    for name in ZTF_SUBCATEGORIES:
        side = "real" if SUBCATEGORY_IS_REAL[name] else "bogus"
        cells = " ".join(f"{result['models'][s]['fraction_scored_real'][name]:12.3f}" for s in stems)
        print(f"{name:20s} {side:5s} {cells}")
    for stem in stems:
        m = result["models"][stem]
        print(f"{stem} ({m['normalisation']}): real scored real {m['real_scored_real']:.3f}, "
              f"bogus scored bogus {m['bogus_scored_bogus']:.3f}")
    write_json(args.out, result)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
