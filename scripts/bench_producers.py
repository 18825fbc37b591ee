"""Benchmark: our producers vs the compiled forward pass and vs peer implementations, same model and inputs.

Two set-ups, both from ../shared/data: the real CRTS CNN on up to 1,024 real dmdts (all 844 of the
reference subset) and the real braai d6_m7 VGG6 on 64 real ZTF triplets (fink cutouts, NaN -> 0, row-L2
normalised as d6_m7 expects). Peers: tf-keras-vis Gradcam / Saliency, shap.GradientExplainer (50
samples, top class only), a naive blanking loop (one compiled model call per occluded input; timed on
a subset and extrapolated), and xplique GradCAM / Saliency / Occlusion run from their own venv by
``scripts/xplique_compare.py`` (maps compared with ours after matching conventions; skipped with the
reason recorded when the venv is absent). Every timing is the best of ``--repeats`` runs after one
warm-up run (so tracing is excluded for everyone; xplique's Occlusion, tens of seconds a run, is the
best of two). Our producers run at their default call size (sized to the model's activations); the
forward-pass baseline is the faster of batches of 256 and of that size.

The forward pass, Grad-CAM and saliency are timed in interleaved rounds (as are our SHAP and shap's),
so a drifting load on a shared machine hits all alike. tf-keras-vis, which slows the calls run after
it, runs in rounds of its own beside the forward pass (``forward_beside_peers_s`` in the JSON shows the
load those rounds saw); xplique is timed in its own process, at our call size and, for saliency, also
at its own default batch size (64). Why rounds are laid out this way: ``docs/benchmarks.md``.

The machine is named in the header and the JSON (``cpu``: model string, ISA flags, cores; TensorFlow
version, oneDNN setting, thread counts; the load average before and after). Our producers run with
the autotuner's choice (:mod:`pix2pixai.producers.autotune`, recorded under ``autotune``); with
``--force-choice all`` each candidate (every route at the chosen call size, every call size tried
at the chosen routes) is forced in turn and timed in the same interleaved rounds as the autotuned
producer and the forward pass, one set of rounds per method (Grad-CAM, saliency, SHAP; best, median
and worst round under ``candidates``).

Usage: ``python scripts/bench_producers.py [--repeats N] [--out bench_results/bench_producers.json]
[--quick] [--models crts_cnn,braai_vgg6] [--force-choice all] [--xplique-python /tmp/xq/bin/python]``
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("PIX2PIXAI_SHARED_DATA", REPO.parent / "shared" / "data"))
BATCH = 256
#: xplique's own default ``batch_size`` of its attribution methods (xplique 2.0.2).
XPLIQUE_DEFAULT_BATCH = 64


def best_time(fn: Callable[[], Any], repeats: int) -> float:
    """Best wall time of ``repeats`` calls after one warm-up call (tracing and caches excluded)."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def interleaved_times(calls: dict[str, Callable[[], Any] | None], repeats: int) -> dict[str, list[float] | None]:
    """Wall time of each call in each of ``repeats`` rounds, every round running each call once in turn.

    Why interleaved: on a shared machine the load drifts over minutes; timing one method's repeats and
    then the next's lets that drift into the ratios, while rounds expose every method to the same load.
    Each call runs once first (tracing and caches excluded). ``None`` entries (peer not installed) stay ``None``.
    """
    live = {name: call for name, call in calls.items() if call is not None}
    for call in live.values():
        call()
    times: dict[str, list[float]] = {name: [] for name in live}
    for _ in range(repeats):
        for name, call in live.items():
            start = time.perf_counter()
            call()
            times[name].append(time.perf_counter() - start)
    return {name: times.get(name) for name in calls}


def interleaved_best(calls: dict[str, Callable[[], Any] | None], repeats: int) -> dict[str, float | None]:
    """Best wall time of each call over the rounds of :func:`interleaved_times`."""
    return {name: (min(t) if t else None) for name, t in interleaved_times(calls, repeats).items()}


def machine_description() -> dict[str, Any]:
    """The CPU (model string, ISA flags, cores), TensorFlow, oneDNN and thread settings, and the load average."""
    import tensorflow as tf

    from pix2pixai.producers import autotune

    return {"cpu": autotune.cpu_description(), "device": autotune.device_kind(), "tensorflow": tf.__version__,
            "onednn": autotune.onednn_setting(),
            "threads": {"intra_op": tf.config.threading.get_intra_op_parallelism_threads(),
                        "inter_op": tf.config.threading.get_inter_op_parallelism_threads()},
            "load_average": list(os.getloadavg())}


def header(machine: dict[str, Any]) -> str:
    """The printed line naming the machine the numbers belong to."""
    cpu = machine["cpu"]
    return (f"CPU: {cpu['model']}, {cpu['cores']} cores, {' '.join(cpu['flags']) or 'no ISA flags read'}; "
            f"device {machine['device']}; TensorFlow {machine['tensorflow']}, oneDNN {machine['onednn']} "
            f"(TF_ENABLE_ONEDNN_OPTS), threads intra/inter {machine['threads']['intra_op']}/"
            f"{machine['threads']['inter_op']} (0 = TF's default); load average "
            f"{' '.join(f'{v:.2f}' for v in machine['load_average'])}")


def candidate_overrides(choice: Any, default_rows: int) -> dict[str, Any]:
    """name -> :class:`~pix2pixai.producers.path_choice.Override`: every route (forward and gradient alike)
    at ``choice``'s call size, and every call size the autotuner tries (from the model's default
    ``default_rows``) at ``choice``'s routes."""
    from pix2pixai.producers import autotune
    from pix2pixai.producers.path_choice import ROUTES, Override

    out = {f"{route.name}@{choice.rows_per_call}": Override(route, route, choice.rows_per_call) for route in ROUTES}
    for rows in autotune.rows_candidates(default_rows):
        out.setdefault(f"{choice.forward.name}/{choice.gradient.name}@{rows}",
                       Override(choice.forward, choice.gradient, rows))
    return out


def spread(times: list[float], forward: float) -> dict[str, float]:
    """Best, median and worst round of ``times`` (seconds), and the best in forward passes."""
    return {"best_s": min(times), "median_s": float(np.median(times)), "worst_s": max(times),
            "x_forward": min(times) / forward}


def forced(override: Any, call: Callable[[], Any]) -> Callable[[], Any]:
    """``call`` run with the autotuner's choice replaced by ``override``."""
    from pix2pixai.producers import autotune

    def run() -> Any:
        with autotune.configured(override=override):
            return call()

    return run


def bench_candidates(sm: Any, forward_call: Callable[[], Any], calls: dict[str, Callable[[], Any]],
                     repeats: int) -> dict[str, Any]:
    """The autotuned producers against every forced candidate: per method, interleaved rounds of the
    forward pass, the autotuned producer and each candidate.

    Why rounds per method: a round of every method and candidate lasts seconds on 2 cores, long enough
    for another process's burst to hit some candidates of a round and not others; a round of one
    method is short, so a burst hits it whole (``forward_s`` per method shows the load it saw).
    """
    overrides = candidate_overrides(sm.choice, sm.default_rows_per_call)
    out: dict[str, Any] = {"forward_s": {}}
    for method, call in calls.items():
        times = interleaved_times({"forward": forward_call, "autotuned": call,
                                   **{name: forced(override, call) for name, override in overrides.items()}}, repeats)
        forward = out["forward_s"][method] = min(times["forward"])
        for name in ("autotuned", *overrides):
            out.setdefault(name, {})[method] = spread(times[name], forward)
    return out


def forward_fn(model: Any, x: np.ndarray, batch: int = BATCH) -> Callable[[], Any]:
    """The baseline: the model's compiled forward pass over ``x`` in batches of ``batch``."""
    import tensorflow as tf

    fwd = tf.function(lambda rows: model(rows, training=False), reduce_retracing=True)
    return lambda: [fwd(x[s:s + batch]).numpy() for s in range(0, len(x), batch)]


def naive_blanking_seconds(model: Any, x: np.ndarray, targets: np.ndarray, n_calls: int, patch: int) -> float:
    """Seconds of a naive loop (one compiled call per occluded input), extrapolated from ``n_calls`` calls."""
    import tensorflow as tf

    fwd = tf.function(lambda batch: model(batch, training=False))
    n, h, w, _ = x.shape
    windows = [(r, c) for r in range(0, h - patch + 1, patch) for c in range(0, w - patch + 1, patch)]
    total_calls = n * len(windows)
    fwd(x[:1])
    start = time.perf_counter()
    for k in range(n_calls):
        i, (r, c) = k % n, windows[(k // n) % len(windows)]
        occ = x[i:i + 1].copy()
        occ[:, r:r + patch, c:c + patch] = 0
        scores = fwd(occ).numpy()[0]
        float(scores[min(int(targets[i]), scores.size - 1)])
    per_call = (time.perf_counter() - start) / n_calls
    return per_call * total_calls


def keras_vis(kind: str, model: Any, x: np.ndarray, targets: np.ndarray, layer: str) -> Callable[[], Any] | None:
    try:
        from tf_keras_vis.gradcam import Gradcam
        from tf_keras_vis.saliency import Saliency
        from tf_keras_vis.utils.model_modifiers import ReplaceToLinear
        from tf_keras_vis.utils.scores import CategoricalScore
    except ImportError:
        return None
    if kind == "gradcam":
        peer = Gradcam(model, model_modifier=ReplaceToLinear(), clone=True)
        return lambda: [peer(CategoricalScore(list(targets[s:s + BATCH])), x[s:s + BATCH], penultimate_layer=layer,
                             expand_cam=True, normalize_cam=False) for s in range(0, len(x), BATCH)]
    peer = Saliency(model, model_modifier=ReplaceToLinear(), clone=True)
    return lambda: [peer(CategoricalScore(list(targets[s:s + BATCH])), x[s:s + BATCH], normalize_map=False)
                    for s in range(0, len(x), BATCH)]


def shap_peer(model: Any, x: np.ndarray, background: np.ndarray, samples: int) -> Callable[[], Any] | None:
    try:
        import shap
    except ImportError:
        return None
    explainer = shap.GradientExplainer(model, background)
    return lambda: explainer.shap_values(x, nsamples=samples, ranked_outputs=1, rseed=0)


def bench_model(name: str, model: Any, x: np.ndarray, background: np.ndarray, layer: str, repeats: int,
                blanking_patch: int, shap_inputs: int, naive_calls: int, xplique_python: str,
                gradcam_compare_target: int | None = None, force_candidates: bool = False) -> dict[str, Any]:
    from pix2pixai.producers import explain
    from pix2pixai.producers.base import score_model

    from pix2pixai.producers import autotune

    sm = score_model(model, "logit")
    start = time.perf_counter()
    sm.prepare(sm.inputs(x))
    tuning_s = time.perf_counter() - start
    targets = sm.targets(sm.inputs(x), None)
    peer_targets = targets if sm.n_classes == int(model.outputs[0].shape[-1]) else np.zeros_like(targets)
    rows: dict[str, Any] = {"n_inputs": len(x), "input_shape": list(x.shape[1:]), "rows_per_call": sm.rows_per_call,
                            "autotune": {**autotune.choices_made().get(sm.tuning_id, {}), "prepare_s": tuning_s}}

    def ours_call(method: str, xs: np.ndarray, **params: Any) -> Callable[[], Any]:
        t = targets[:len(xs)]
        return lambda: explain(method, model, xs, targets=t, **params)

    def ours(method: str, xs: np.ndarray, **params: Any) -> float:
        return best_time(ours_call(method, xs, **params), repeats)

    # the forward pass and our gradient maps in the same rounds (see interleaved_best); tf-keras-vis in rounds
    # of its own beside the forward pass again (why: see the module doc, "Peers in rounds of their own")
    forward_call = forward_fn(model, x)
    timed = interleaved_best({"forward": forward_call, "forward_rows": forward_fn(model, x, sm.rows_per_call),
                              **{m: ours_call(m, x) for m in ("gradcam", "saliency")}}, repeats)
    peer_timed = interleaved_best({"forward": forward_call,
                                   **{m: keras_vis(m, model, x, peer_targets, layer) for m in ("gradcam", "saliency")}},
                                  repeats)
    forward = min(timed["forward"], timed["forward_rows"])
    rows["forward_beside_peers_s"] = peer_timed["forward"]
    for method in ("gradcam", "saliency"):
        ours_s, peer_s = timed[method], peer_timed[method]
        rows[method] = {"ours_s": ours_s, "peer": "tf-keras-vis",
                        "peer_s": peer_s, "speedup_vs_peer": peer_s / ours_s if peer_s else None}
    xs, bg = x[:shap_inputs], background
    timed = interleaved_best({"ours": ours_call("shap", xs, background=bg, n_samples=50),
                              "peer": shap_peer(model, xs, bg, 50)}, repeats)
    ours_s, peer_s = timed["ours"], timed["peer"]
    rows["shap"] = {"n_inputs": len(xs), "samples": 50, "ours_s": ours_s, "peer": "shap.GradientExplainer",
                    "peer_s": peer_s, "speedup_vs_peer": peer_s / ours_s if peer_s else None}
    ours_s = ours("blanking", x, patch=blanking_patch)
    naive_s = naive_blanking_seconds(model, x, targets, naive_calls, blanking_patch)
    rows["blanking"] = {"patch": blanking_patch, "ours_s": ours_s,
                        "peer": "naive loop (extrapolated)", "peer_s": naive_s, "speedup_vs_peer": naive_s / ours_s}
    rows["integrated-gradients"] = {"steps": 64, "ours_s": ours("integrated-gradients", x)}
    rows["xplique"] = xplique_rows(model, x, targets, layer, blanking_patch, repeats, xplique_python, rows,
                                   gradcam_compare_target)
    rows["forward_s"] = forward
    for method in ("gradcam", "saliency", "blanking", "integrated-gradients"):
        rows[method]["x_forward"] = rows[method]["ours_s"] / forward
    if force_candidates:
        rows["candidates"] = bench_candidates(sm, forward_call, {
            "gradcam": ours_call("gradcam", x), "saliency": ours_call("saliency", x),
            "shap": ours_call("shap", xs, background=bg, n_samples=50)}, repeats)
    choice = rows["autotune"].get("choice", {})
    print(f"\n== {name}: {len(x)} inputs {tuple(x.shape[1:])}, forward {forward * 1e3:.1f} ms "
          f"({rows['forward_beside_peers_s'] * 1e3:.1f} ms in tf-keras-vis's rounds)")
    print(f"autotuned choice ({rows['autotune'].get('source', '-')}, {tuning_s:.1f} s): forward "
          f"{choice.get('forward')}, gradient {choice.get('gradient')}, {choice.get('rows_per_call')} rows per call")
    print(f"{'method':<22}{'ours s':>10}{'x fwd':>9}{'peer s':>11}{'speed-up':>10}  peer")
    for method in ("gradcam", "saliency", "shap", "blanking", "integrated-gradients"):
        r = rows[method]
        x_fwd = f"{r['x_forward']:.2f}" if r.get("x_forward") else "-"
        peer_s = f"{r['peer_s']:.3f}" if r.get("peer_s") else "-"
        speedup = f"{r['speedup_vs_peer']:.1f}x" if r.get("speedup_vs_peer") else "-"
        print(f"{method:<22}{r['ours_s']:>10.3f}{x_fwd:>9}{peer_s:>11}{speedup:>10}  {r.get('peer', '')}")
    xq = rows["xplique"]
    if "error" in xq:
        print(f"xplique: not run ({xq['error']})")
    for method, r in xq.get("methods", {}).items():
        print(f"xplique {method:<14}{r['ours_s']:>10.3f}{'':>9}{r['xplique_s']:>11.3f}{r['speedup']:>9.1f}x  "
              f"maps: max |diff| {r['agreement']['max_abs_diff_rel']:.1e} of max, r = {r['agreement']['pearson']:.6f}")
        if "xplique_default_batch_s" in r:
            print(f"xplique {method + ' (b=64)':<14}{r['ours_s']:>10.3f}{'':>9}{r['xplique_default_batch_s']:>11.3f}"
                  f"{r['speedup_vs_default_batch']:>9.1f}x  xplique at its default batch size")
    if force_candidates:
        print_candidates(rows["candidates"])
    return rows


def print_candidates(candidates: dict[str, Any]) -> None:
    """Per candidate: best round in forward passes, and the best / median / worst round in ms."""
    print(f"{'candidate (forward/gradient@rows)':<40}" + "".join(f"{m + ' x fwd, ms b/med/worst':>36}"
                                                            for m in ("gradcam", "saliency", "shap")))
    for name, methods in candidates.items():
        if name == "forward_s":
            continue
        cells = "".join(f"{r['x_forward']:>9.2f} {r['best_s'] * 1e3:>8.1f}/{r['median_s'] * 1e3:.1f}/"
                        f"{r['worst_s'] * 1e3:.1f}".rjust(36) for r in methods.values())
        print(f"{name:<40}{cells}")


def xplique_rows(model: Any, x: np.ndarray, targets: np.ndarray, layer: str, patch: int, repeats: int,
                 python: str, ours_rows: dict[str, Any], gradcam_compare_target: int | None) -> dict[str, Any]:
    """xplique GradCAM / Saliency / Occlusion vs ours: timings (same inputs) and map agreement.

    Our maps are computed in xplique's conventions (classic mean-weight Grad-CAM with bicubic upsampling,
    saliency max over channels, blanking summed over channels). Grad-CAM maps of the predicted class are
    all zero for most real dmdts, so ``gradcam_compare_target`` (e.g. LPV) gives maps worth comparing.
    """
    from pix2pixai.producers import explain, reduce_maps

    import xplique_compare

    batch = ours_rows["rows_per_call"]
    run = xplique_compare.run_xplique(model, x, targets, conv_layer=layer, patch=patch, batch_size=batch,
                                      repeats=repeats, python=python)
    if "error" in run:
        return {"error": run["error"]}
    cam_targets = targets
    if gradcam_compare_target is not None:
        cam_targets = np.full_like(targets, gradcam_compare_target)
        cam_run = xplique_compare.run_xplique(model, x, cam_targets, conv_layer=layer, patch=patch, batch_size=batch,
                                              repeats=1, python=python, methods=("gradcam",))
        if "error" in cam_run:
            return {"error": cam_run["error"]}
        run["maps"]["gradcam"] = cam_run["maps"]["gradcam"]
    ours_maps = {
        "gradcam": explain("gradcam", model, x, targets=cam_targets, weighting="mean", upsample="bicubic")[..., 0],
        "saliency": reduce_maps(explain("saliency", model, x, targets=targets), "saliency"),
        "occlusion": reduce_maps(explain("blanking", model, x, targets=targets, patch=patch), "blanking"),
    }
    ours_s = {"gradcam": ours_rows["gradcam"]["ours_s"], "saliency": ours_rows["saliency"]["ours_s"],
              "occlusion": ours_rows["blanking"]["ours_s"]}
    methods = {}
    for method, theirs in run["maps"].items():
        methods[method] = {"ours_s": ours_s[method], "xplique_s": run["seconds"][method],
                           "speedup": run["seconds"][method] / ours_s[method],
                           "agreement": xplique_compare.compare_maps(ours_maps[method], theirs)}
    methods["occlusion"]["patch"] = patch
    # xplique as a user would call it: its attribution methods default to batch_size=64
    default_run = xplique_compare.run_xplique(model, x, targets, conv_layer=layer, patch=patch,
                                              batch_size=XPLIQUE_DEFAULT_BATCH, repeats=repeats, python=python,
                                              methods=("saliency",))
    if "error" not in default_run:
        default_s = default_run["seconds"]["saliency"]
        methods["saliency"].update(xplique_default_batch_s=default_s,
                                   speedup_vs_default_batch=default_s / ours_s["saliency"])
    if gradcam_compare_target is not None:
        methods["gradcam"]["maps_compared_for_target"] = gradcam_compare_target
    return {"version": run["xplique"], "tensorflow": run["tensorflow"], "keras": run["keras"], "batch_size": batch,
            "methods": methods}


def crts_setup() -> tuple[Any, np.ndarray, np.ndarray] | None:
    from pix2pixai.trainers import load_legacy_model

    model_path = DATA / "reproducibility_periodic_cnn" / "model.h5"
    dmdt_path = DATA / "crts-lightcurves-kvmu" / "dmdt_reference_subset.npz"
    if not (model_path.exists() and dmdt_path.exists()):
        return None
    with np.load(dmdt_path) as data:
        dmdts = data["dmdt"][..., None].astype(np.float32)[:1024]
    background = dmdts[np.random.default_rng(0).choice(len(dmdts), 64, replace=False)]
    return load_legacy_model(model_path, "crts_cnn"), dmdts, background


def vgg6_setup() -> tuple[Any, np.ndarray, np.ndarray] | None:
    import keras

    from pix2pixai.trainers import load_legacy_model

    model_path = DATA / "braai" / "models" / "d6_m7.h5"
    cutout_path = DATA / "fink-broker-ztf-alerts" / "cutouts_raw.npz"
    if not (model_path.exists() and cutout_path.exists()):
        return None
    with np.load(cutout_path) as data:
        raw = np.nan_to_num(data["cutouts"][:96]).transpose(0, 2, 3, 1)
    triplets = np.stack([keras.utils.normalize(t[..., c], axis=-1) for t in raw for c in range(3)])
    triplets = triplets.reshape(len(raw), 3, 63, 63).transpose(0, 2, 3, 1).astype(np.float32)
    return load_legacy_model(model_path, "braai"), triplets[:64], triplets[64:96]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(REPO / "bench_results" / "bench_producers.json"))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="fewer inputs (smoke run)")
    parser.add_argument("--models", default="crts_cnn,braai_vgg6", help="comma-separated set-ups to run")
    parser.add_argument("--force-choice", choices=("none", "all"), default="none",
                        help="'all': also force every autotuner candidate in turn (interleaved with the autotuned run)")
    parser.add_argument("--xplique-python", default=None,
                        help="python of the venv holding xplique (default $XPLIQUE_PYTHON or /tmp/xq/bin/python)")
    args = parser.parse_args(argv)
    import xplique_compare

    xplique_python = args.xplique_python or xplique_compare.DEFAULT_PYTHON
    import tensorflow as tf

    machine = machine_description()
    print(header(machine))
    results: dict[str, Any] = {"python": sys.version.split()[0], "tensorflow": tf.__version__,
                               "machine": platform.machine(), "cpus": os.cpu_count(), "batch_size": BATCH,
                               **{k: v for k, v in machine.items() if k != "load_average"},
                               "load_average": {"start": machine["load_average"]}}
    models = set(args.models.split(","))
    force = args.force_choice == "all"
    crts = crts_setup() if "crts_cnn" in models else None
    if crts:
        model, x, bg = crts
        x = x[:128] if args.quick else x
        results["crts_cnn"] = bench_model("real CRTS CNN", model, x, bg, "conv2d2", args.repeats,
                                          blanking_patch=1, shap_inputs=min(len(x), 128), naive_calls=400,
                                          xplique_python=xplique_python, gradcam_compare_target=6,  # 6: LPV
                                          force_candidates=force)
    vgg = vgg6_setup() if "braai_vgg6" in models else None
    if vgg:
        model, x, bg = vgg
        x = x[:16] if args.quick else x
        results["braai_vgg6"] = bench_model("real braai VGG6", model, x, bg, "conv4", args.repeats,
                                            blanking_patch=3, shap_inputs=min(len(x), 16), naive_calls=300,
                                            xplique_python=xplique_python, force_candidates=force)
    if not (crts or vgg):
        print(f"no real data under {DATA} for {sorted(models)}: nothing to benchmark")
        return 1
    results["load_average"]["end"] = list(os.getloadavg())
    print(f"\nload average at the end: {' '.join(f'{v:.2f}' for v in results['load_average']['end'])}")
    from pix2pixai import atomic

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic.write_text(out, json.dumps(results, indent=2, sort_keys=True) + "\n")
    print(f"\nwrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
