"""Classifier and pix2pix architectures and their training loops (Keras 3).

Public names are re-exported lazily so that ``import trainers`` does not import TensorFlow until a
name is used.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "dmdt_cnn": "trainers.classifiers",
    "dmdt_cnn_wide": "trainers.classifiers",
    "dmdt_features_cnn": "trainers.classifiers",
    "braai_vgg6": "trainers.classifiers",
    "generic_cnn": "trainers.classifiers",
    "logits_model": "trainers.classifiers",
    "load_legacy_model": "trainers.legacy",
    "stratified_split": "trainers.splits",
    "TrainingResult": "trainers.training",
    "train_classifier": "trainers.training",
    "evaluate_classifier": "trainers.training",
    "evaluate_predictions": "trainers.training",
    "predict_proba": "trainers.training",
    "enable_determinism": "trainers.determinism",
    "transfer_weights": "trainers.transfer",
    "prior_shift": "trainers.priors",
    "PriorShiftedValidation": "trainers.priors",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'trainers' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
