"""xplique's GradCAM, Saliency and Occlusion on a saved model, run in xplique's own venv as a subprocess.

xplique is a peer to compare against, never a dependency: xplique 2.0.2 requires
``tensorflow[and-cuda]>=2.18,<=2.20.0`` (``pip install xplique tensorflow==2.21.0`` resolves to the old
xplique 1.3.3 instead), so it lives in a separate venv with TensorFlow 2.20 (CPU wheel) and Keras 3::

    python3 -m venv /tmp/xq
    /tmp/xq/bin/pip install tensorflow-cpu==2.20.0 tf-keras==2.20.1 tensorflow-probability==0.25.0 \\
        deprecated einops matplotlib opencv-python-headless scikit-image==0.25.2 scikit-learn==1.7.2 scipy==1.15.3
    /tmp/xq/bin/pip install --no-deps xplique==2.0.2

:func:`run_xplique` (called from ``bench_producers.py`` in our environment) saves the model's logits
copy as ``.keras`` plus the inputs and signed one-hot targets, runs this file with ``--worker DIR`` under
the venv's python, and reads back the maps and the best wall times (one warm-up call first, so tracing
is excluded as for our producers). Conventions, so that maps are comparable: the explained score is the
logit of the target (single-sigmoid models: targets +1 for class 1, -1 for class 0, i.e. our ``[-z, z]``);
Grad-CAM is classic (mean weights, ReLU, bicubic upsampling: ours with ``weighting="mean",
upsample="bicubic"``); Saliency is ``max_c |grad|`` (our ``reduce_maps(..., "saliency")``); Occlusion
sums ``S(x) - S(x occluded)`` over the patches covering a pixel, all channels at once (our blanking's
channel sum when the patches tile the image, coverage 1).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

DEFAULT_PYTHON = os.environ.get("XPLIQUE_PYTHON", "/tmp/xq/bin/python")


def run_xplique(model: Any, x: np.ndarray, targets: np.ndarray, *, conv_layer: str, patch: int,
                batch_size: int, repeats: int = 3, python: str = DEFAULT_PYTHON,
                methods: tuple[str, ...] = ("gradcam", "saliency", "occlusion"),
                occlusion_inputs: int | None = None, timeout: int = 3600) -> dict[str, Any]:
    """Maps ``{method: [N, H, W]}`` and best seconds from xplique in its venv, or ``{"error": ...}``.

    ``targets`` are our class indices (``[N]``); ``occlusion_inputs`` limits Occlusion to the first rows
    (its timing is then for that many inputs).
    """
    from pix2pixai.trainers.classifiers import logits_model

    if not Path(python).exists():
        return {"error": f"xplique venv python not found at {python} (see scripts/xplique_compare.py)"}
    n_out = int(model.outputs[0].shape[-1])
    if n_out == 1:
        signed = np.where(np.asarray(targets) == 1, 1.0, -1.0).astype(np.float32)[:, None]
    else:
        signed = np.eye(n_out, dtype=np.float32)[np.asarray(targets)]
    with tempfile.TemporaryDirectory(prefix="xplique_") as tmp:
        folder = Path(tmp)
        logits_model(model).save(folder / "model.keras")
        np.save(folder / "inputs.npy", np.asarray(x, np.float32))
        np.save(folder / "targets.npy", signed)
        spec = {"methods": list(methods), "conv_layer": conv_layer, "patch": patch, "batch_size": batch_size,
                "repeats": repeats, "occlusion_inputs": occlusion_inputs or len(x)}
        (folder / "spec.json").write_text(json.dumps(spec))
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": ""}
        try:
            done = subprocess.run([python, str(Path(__file__).resolve()), "--worker", str(folder)], env=env,
                                  capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return {"error": f"xplique worker ran past {timeout} s"}
        if done.returncode != 0:
            lines = [ln for ln in done.stderr.strip().splitlines() if ln.strip()]
            return {"error": lines[-1] if lines else f"xplique worker exit {done.returncode}"}
        result = json.loads((folder / "result.json").read_text())
        with np.load(folder / "maps.npz") as maps:
            result["maps"] = {k: maps[k] for k in maps.files}
    return result


def compare_maps(ours: np.ndarray, theirs: np.ndarray) -> dict[str, float]:
    """Agreement of two map stacks ``[N, H, W]``: relative max abs difference and Pearson r over non-zero maps."""
    ours, theirs = np.asarray(ours, np.float64), np.asarray(theirs, np.float64)
    nonzero = (np.abs(ours).reshape(len(ours), -1).max(axis=1) > 0) | (np.abs(theirs).reshape(len(theirs), -1).max(axis=1) > 0)
    a, b = ours[nonzero].ravel(), theirs[nonzero].ravel()
    scale = max(float(np.abs(b).max()) if b.size else 0.0, 1e-30)
    pearson = float(np.corrcoef(a, b)[0, 1]) if a.size > 1 and a.std() > 0 and b.std() > 0 else float("nan")
    return {"n_nonzero_maps": int(nonzero.sum()), "max_abs_diff_rel": float(np.abs(a - b).max() / scale) if a.size else 0.0,
            "pearson": pearson}


# --------------------------------------------------------------------- worker (runs in xplique's venv)
def _worker(folder: Path) -> None:
    import keras
    import tensorflow as tf
    import xplique
    from xplique.attributions import GradCAM, Occlusion, Saliency

    spec = json.loads((folder / "spec.json").read_text())
    model = keras.models.load_model(folder / "model.keras", compile=False)
    x = tf.constant(np.load(folder / "inputs.npy"))
    y = tf.constant(np.load(folder / "targets.npy"))
    bs = int(spec["batch_size"])
    explainers = {
        "gradcam": lambda: GradCAM(model, conv_layer=spec["conv_layer"], batch_size=bs),
        "saliency": lambda: Saliency(model, batch_size=bs),
        "occlusion": lambda: Occlusion(model, batch_size=bs, patch_size=spec["patch"], patch_stride=spec["patch"],
                                       occlusion_value=0.0),
    }
    maps: dict[str, np.ndarray] = {}
    seconds: dict[str, float] = {}
    for method in spec["methods"]:
        explainer = explainers[method]()
        xs, ys = (x[:spec["occlusion_inputs"]], y[:spec["occlusion_inputs"]]) if method == "occlusion" else (x, y)
        explainer.explain(xs[:2], ys[:2])  # warm-up: traces the tf.functions
        times = []
        for _ in range(min(2, int(spec["repeats"])) if method == "occlusion" else int(spec["repeats"])):
            start = time.perf_counter()
            out = np.asarray(explainer.explain(xs, ys))
            times.append(time.perf_counter() - start)
        maps[method] = out.reshape(out.shape[0], out.shape[1], out.shape[2])
        seconds[method] = min(times)
    np.savez(folder / "maps.npz", **maps)
    (folder / "result.json").write_text(json.dumps({
        "xplique": xplique.__version__, "tensorflow": tf.__version__, "keras": keras.__version__,
        "seconds": seconds, "n_inputs": {m: int(maps[m].shape[0]) for m in maps}, "batch_size": bs}))


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--worker":
        _worker(Path(sys.argv[2]))
    else:
        sys.exit("usage: python xplique_compare.py --worker DIR  (run by bench_producers.py)")
