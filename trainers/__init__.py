"""Classifier and pix2pix architectures and their training loops (Keras 3).

Public names are re-exported lazily so that ``import trainers`` does not import TensorFlow until a
name is used.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "dmdt_cnn": "pix2pixai.trainers.classifiers",
    "dmdt_cnn_wide": "pix2pixai.trainers.classifiers",
    "dmdt_features_cnn": "pix2pixai.trainers.classifiers",
    "braai_vgg6": "pix2pixai.trainers.classifiers",
    "generic_cnn": "pix2pixai.trainers.classifiers",
    "logits_model": "pix2pixai.trainers.classifiers",
    "load_legacy_model": "pix2pixai.trainers.legacy",
    "stratified_split": "pix2pixai.trainers.splits",
    "TrainingResult": "pix2pixai.trainers.training",
    "train_classifier": "pix2pixai.trainers.training",
    "evaluate_classifier": "pix2pixai.trainers.training",
    "evaluate_predictions": "pix2pixai.trainers.training",
    "predict_proba": "pix2pixai.trainers.training",
    "enable_determinism": "pix2pixai.trainers.determinism",
    "transfer_weights": "pix2pixai.trainers.transfer",
    "prior_shift": "pix2pixai.trainers.priors",
    "PriorShiftedValidation": "pix2pixai.trainers.priors",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'pix2pixai.trainers' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
