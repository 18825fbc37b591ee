"""Benchmark: stream many synthetic dmdts through gradcam + saliency into a MapStore; memory stays flat.

Why: a survey-scale run explains hundreds of thousands of inputs; the chain must hold one chunk of
inputs and maps at a time, never all of them. This script generates CRTS-like random light curves
chunk by chunk (seeded per chunk: ``default_rng([seed, k])``), bins them with
:func:`pix2pixai.data.dmdt_images.dmdt_from_lightcurves`, explains each chunk with gradcam and saliency on
an (untrained, seeded) :func:`pix2pixai.trainers.classifiers.dmdt_cnn` and writes the maps with
``MapStore.begin / write_chunk / end``. It does this for N = n/10, n/4 and n in turn, in one process.

Reported per N: peak RSS of the process so far (``resource.getrusage``, KiB -> MiB; monotonic, so an
unchanged value after the larger N means no growth), the peak of numpy/Python allocations during
that N (``tracemalloc``), wall time and throughput (dmdts/s, both methods included). Ratios are
against the first (smallest) N run in the same process: RSS and tracemalloc ratios near 1 show that
memory does not grow with N; a throughput ratio near 1 shows no slow-down with store size.

    python scripts/bench_streaming.py --n 200000 --out bench_results/streaming.json
"""

from __future__ import annotations

import argparse
import resource
import shutil
import tempfile
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from pix2pixai.atomic import write_json
from pix2pixai.data.dmdt_images import dmdt_from_lightcurves
from pix2pixai.data.lightcurves import LightCurve
from pix2pixai.producers import explain
from pix2pixai.stores import MapStore

METHODS: tuple[str, ...] = ("gradcam", "saliency")


def random_curves(n: int, points: int, rng: np.random.Generator) -> list[LightCurve]:
    """``n`` sinusoid-plus-noise curves of ``points`` visits spread over ~8 years (cheap stand-ins)."""
    mjd = np.sort(rng.uniform(53500.0, 56500.0, (n, points)), axis=1)
    period = rng.uniform(0.2, 300.0, (n, 1))
    mag = 15.0 + rng.uniform(0.1, 1.0, (n, 1)) * np.sin(2 * np.pi * mjd / period) + rng.normal(0, 0.05, mjd.shape)
    err = np.full(points, 0.05)
    return [LightCurve(f"sim{i}", t, m, err) for i, (t, m) in enumerate(zip(mjd, mag))]


def dmdt_stream(n: int, chunk: int, points: int, seed: int) -> Iterator[np.ndarray]:
    """float32 ``[<= chunk, 22, 24, 1]`` dmdt blocks, ``n`` in all; block k from ``default_rng([seed, k])``."""
    for k, start in enumerate(range(0, n, chunk)):
        rng = np.random.default_rng([seed, k])
        yield dmdt_from_lightcurves(random_curves(min(chunk, n - start), points, rng), "crts")[..., None]


def stream_into_store(model, path: Path, n: int, chunk: int, points: int, seed: int) -> None:
    """Explain ``n`` streamed dmdts with every method into a MapStore at ``path``, one chunk at a time."""
    with MapStore.create(path, {"benchmark": "streaming", "n": n}, model=model) as store:
        for k, block in enumerate(dmdt_stream(n, chunk, points, seed)):
            targets = model.predict_on_batch(block).argmax(axis=1)
            for method in METHODS:
                maps = explain(method, model, block, targets=targets)
                if k == 0:
                    store.begin(method, maps.shape[1:], seed=seed, chunk=chunk)
                store.write_chunk(method, k, maps, targets)
        for method in METHODS:
            store.end(method)


def peak_rss_mib() -> float:
    """Peak resident set size of this process so far (Linux ``ru_maxrss`` is in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=200_000, help="largest number of dmdts (also runs n/10, n/4)")
    parser.add_argument("--chunk", type=int, default=4096, help="rows per chunk (default 4096)")
    parser.add_argument("--points", type=int, default=40, help="visits per synthetic curve (default 40)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("bench_results/streaming.json"))
    args = parser.parse_args()

    from pix2pixai.trainers.classifiers import dmdt_cnn
    from pix2pixai.trainers.determinism import enable_determinism

    enable_determinism(args.seed)
    model = dmdt_cnn(input_shape=(22, 24, 1), n_classes=7)
    sizes = sorted({max(args.chunk, args.n // 10), max(args.chunk, args.n // 4), args.n})
    work = Path(tempfile.mkdtemp(prefix="bench_streaming_"))
    stream_into_store(model, work / "warmup.h5", args.chunk, args.chunk, args.points, args.seed)  # traces
    rows = []
    try:
        for n in sizes:
            tracemalloc.start()
            start = time.perf_counter()
            stream_into_store(model, work / f"maps_{n}.h5", n, args.chunk, args.points, args.seed)
            seconds = time.perf_counter() - start
            traced_peak = tracemalloc.get_traced_memory()[1] / 2**20
            tracemalloc.stop()
            with MapStore.open(work / f"maps_{n}.h5") as store:
                assert store.info("saliency")["n"] == n, "store holds fewer rows than streamed"
            size_mib = (work / f"maps_{n}.h5").stat().st_size / 2**20
            (work / f"maps_{n}.h5").unlink()
            rows.append({"n": n, "seconds": round(seconds, 2), "dmdts_per_s": round(n / seconds, 1),
                         "peak_rss_mib": round(peak_rss_mib(), 1), "tracemalloc_peak_mib": round(traced_peak, 1),
                         "store_mib": round(size_mib, 1)})
            base = rows[0]
            row = rows[-1]
            row["ratios_vs_first"] = {key: round(row[key] / base[key], 3)
                                      for key in ("peak_rss_mib", "tracemalloc_peak_mib", "dmdts_per_s")}
            print(f"N={n:>7}: {row['dmdts_per_s']:>8.0f} dmdts/s, peak RSS {row['peak_rss_mib']:.0f} MiB, "
                  f"tracemalloc peak {row['tracemalloc_peak_mib']:.0f} MiB, store {row['store_mib']:.0f} MiB, "
                  f"ratios vs N={base['n']}: {row['ratios_vs_first']}", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    write_json(args.out, {"benchmark": "streaming", "methods": list(METHODS), "chunk": args.chunk,
                          "points": args.points, "seed": args.seed, "runs": rows})
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
