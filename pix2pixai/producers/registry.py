"""Producers by name: input-specific (``PRODUCERS``) and class-level (``CLASS_PRODUCERS``).

Every input-specific producer is called as ``fn(model, x, targets, score, **params)`` and returns raw
float32 maps ``[N, H, W, C]``; every class-level producer as ``fn(model, classes, **params)`` and returns
``[K, H, W, C]``. ``CHANNEL_REDUCTIONS`` says how each method's channels combine into one value per pixel.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pix2pixai.producers.actmax import actmax
from pix2pixai.producers.blanking import blanking
from pix2pixai.producers.cam import cam
from pix2pixai.producers.gradcam import gradcam, gradcam_plusplus
from pix2pixai.producers.gradient_shap import gradient_shap
from pix2pixai.producers.guided import guided_backprop, guided_gradcam
from pix2pixai.producers.integrated_gradients import integrated_gradients
from pix2pixai.producers.lighting import lighting
from pix2pixai.producers.saliency import saliency

PRODUCERS: dict[str, Callable[..., Any]] = {
    "gradcam": gradcam,
    "gradcam++": gradcam_plusplus,
    "saliency": saliency,
    "integrated-gradients": integrated_gradients,
    "blanking": blanking,
    "shap": gradient_shap,
    "cam": cam,
    "guided-backprop": guided_backprop,
    "guided-gradcam": guided_gradcam,
}

CLASS_PRODUCERS: dict[str, Callable[..., Any]] = {
    "lighting": lighting,
    "actmax": actmax,
}

# sum: additive attributions (their channel sum is the pixel's share of the score change);
# (guided maps are signed gradients: summed like other signed attributions)
# max: saliency's published per-pixel value; mean: Grad-CAM maps are one map broadcast over channels.
CHANNEL_REDUCTIONS: dict[str, str] = {
    "shap": "sum",
    "integrated-gradients": "sum",
    "blanking": "sum",
    "saliency": "max",
    "gradcam": "mean",
    "gradcam++": "mean",
    "cam": "mean",
    "guided-backprop": "sum",
    "guided-gradcam": "sum",
    "lighting": "sum",
    "actmax": "sum",
}
