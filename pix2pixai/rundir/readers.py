"""Readers of what the steps left in a survey's folder: the classifier, its split, maps, cross-fitting folds.

The steps after the classifier, the figures, the report and scripts all read the same few things;
reading them here keeps one way to open each file (``split.npz`` is opened by :func:`test_split`
only) and one computation of the cross-fitting folds (:func:`cross_fit_split`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pix2pixai.classmaps import CrossFit, OutOfFold, cross_fit
from pix2pixai.rundir.config import RunConfig
from pix2pixai.rundir.layout import SurveyDir
from pix2pixai.rundir.surveys import SurveyData


@dataclass(frozen=True)
class ClassifierSplit:
    """The survey data, the classifier's training and test indices into it, and its test-split
    class probabilities [n_test, n_classes]."""

    data: SurveyData
    train: np.ndarray
    test: np.ndarray
    probs: np.ndarray


def load_classifier(sdir: SurveyDir) -> Any:
    """The survey's classifier (Keras model, not compiled)."""
    import keras

    return keras.models.load_model(sdir.model, compile=False)


def load_survey_data(sdir: SurveyDir) -> SurveyData:
    """The inputs, labels, groups and metadata the data step wrote."""
    return SurveyData.load(sdir.data, sdir.data_meta)


def test_split(sdir: SurveyDir) -> ClassifierSplit:
    """The survey data, the classifier's split and its test-split probabilities."""
    data = load_survey_data(sdir)
    with np.load(sdir.split) as split, np.load(sdir.predictions) as pred:
        return ClassifierSplit(data=data, train=split["train"], test=split["test"], probs=pred["probs"])


def reduced_maps(sdir: SurveyDir, method: str) -> np.ndarray:
    """The method's maps of the test split reduced to [N, H, W]."""
    from pix2pixai.producers import reduce_maps
    from pix2pixai.stores import MapStore

    with MapStore.open(sdir.maps) as store:
        return reduce_maps(store.read(method), method=method)


def cross_fit_split(config: RunConfig, split: ClassifierSplit) -> CrossFit:
    """The explained test-split inputs in ``generator.folds`` seeded folds stratified by group, with
    each input's probability of its group's class and whether the classifier got it right; the
    generators, class maps and comparison steps all compute the same partition here."""
    data, test_idx, probs = split.data, split.test, split.probs
    group_of = data.group[test_idx]
    cls = np.asarray(data.group_class)[group_of]
    correct = probs.argmax(axis=1) == data.y[test_idx]
    return cross_fit(list(data.group_names), group_of, probs[np.arange(len(cls)), cls], correct,
                     n_folds=config.generator.folds, min_inputs=config.classmaps.min_inputs, seed=config.seed)


def out_of_fold(sdir: SurveyDir, method: str) -> OutOfFold:
    """The method's out-of-fold arrays the classmaps step wrote (``classmaps/oof_<method>.npz``)."""
    return OutOfFold.load(sdir.out_of_fold(method))


def generator_scale(directory: Path) -> Any:
    """The ``MapScale`` of a saved generator, read from its metadata without loading the network."""
    from pix2pixai.trainers.pix2pix import MapScale
    from pix2pixai.trainers.pix2pix.bundle import META_FILE

    return MapScale.from_dict(json.loads((directory / META_FILE).read_text())["scale"])


def recorded_config(sdir: SurveyDir) -> dict[str, Any]:
    """The config the survey was run with, as plain data ({} before the runner wrote it)."""
    return json.loads(sdir.config.read_text()) if sdir.config.exists() else {}
