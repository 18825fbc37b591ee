"""Benchmark: vectorised dmdt vs the plain per-curve histogram2d loop, same process, same curves.

Curves: ``--n`` curves of ``--points`` CRTS-like points (seeded). Both paths run ``--repeats`` times,
interleaved, and the best CPU time (``time.process_time``: less sensitive than wall time to other
processes on a shared machine) of each is kept. Prints pairs/s and the speed-up ratio and writes JSON.
The vectorised path uses the numba kernel when numba imports (``"kernel"`` in the JSON); one untimed
call on two curves first compiles it (or loads it from numba's on-disk cache), a one-off ~5 s.

    python scripts/bench_dmdt.py --n 10000 --out bench_results/dmdt.json
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from pix2pixai.atomic import write_json
from pix2pixai.data.dmdt_images import DMDT_PRESETS, compiled_kernel_available, dmdt


def crts_like_curves(n: int, points: int, seed: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Nights of 4 exposures ~10 min apart, random nights over ~8 years; sinusoid + noise magnitudes."""
    rng = np.random.default_rng(seed)
    nights = np.sort(rng.uniform(53500, 56500, (n, points // 4 + 1)), axis=1)
    mjd = np.sort((nights[:, :, None] + np.arange(4) * 0.007).reshape(n, -1)[:, :points], axis=1)
    period = rng.uniform(0.2, 300, (n, 1))
    mag = 15 + 0.5 * np.sin(2 * np.pi * mjd / period) + rng.normal(0, 0.05, mjd.shape)
    return list(mjd), list(mag)


def histogram2d_loop(mjd: list[np.ndarray], mag: list[np.ndarray]) -> np.ndarray:
    """The baseline: one numpy histogram2d per curve over all i < j pairs."""
    dm_edges, dt_edges = DMDT_PRESETS["crts"]
    images = []
    for t, m in zip(mjd, mag):
        i, j = np.triu_indices(t.size, 1)
        counts, _, _ = np.histogram2d(m[j] - m[i], t[j] - t[i], bins=[dm_edges, dt_edges])
        images.append(255.0 * counts / (t.size * (t.size - 1) / 2))
    return np.stack(images).astype(np.float32)


def best_cpu_seconds(fn, *args, repeats: int) -> tuple[float, np.ndarray]:
    best, result = np.inf, None
    for _ in range(repeats):
        start = time.process_time()
        result = fn(*args)
        best = min(best, time.process_time() - start)
    return best, result


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000, help="number of curves (default 10000)")
    parser.add_argument("--points", type=int, default=300, help="points per curve (default 300)")
    parser.add_argument("--repeats", type=int, default=2, help="timed runs of each path (default 2)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("bench_results/dmdt.json"))
    args = parser.parse_args(argv)

    mjd, mag = crts_like_curves(args.n, args.points, args.seed)
    n_pairs = args.n * args.points * (args.points - 1) // 2
    dmdt(mjd[:2], mag[:2], "crts")  # compile / load the numba kernel outside the timing
    baseline_s, baseline = best_cpu_seconds(histogram2d_loop, mjd, mag, repeats=args.repeats)
    vectorised_s, vectorised = best_cpu_seconds(dmdt, mjd, mag, "crts", repeats=args.repeats)
    result = {
        "kernel": "numba" if compiled_kernel_available() else "numpy",
        "n_curves": args.n, "points_per_curve": args.points, "n_pairs": n_pairs, "repeats": args.repeats,
        "baseline_cpu_s": baseline_s, "vectorised_cpu_s": vectorised_s,
        "baseline_pairs_per_s": n_pairs / baseline_s, "vectorised_pairs_per_s": n_pairs / vectorised_s,
        "speedup": baseline_s / vectorised_s,
        "max_abs_difference": float(np.abs(vectorised - baseline).max()),
    }
    print(f"{n_pairs:,} pairs: histogram2d loop {baseline_s:.2f} s ({result['baseline_pairs_per_s']:.3g} pairs/s), "
          f"vectorised {vectorised_s:.2f} s ({result['vectorised_pairs_per_s']:.3g} pairs/s), "
          f"speed-up x{result['speedup']:.2f}, max |diff| {result['max_abs_difference']:.2g}")
    write_json(args.out, result)
    return result


if __name__ == "__main__":
    main()
