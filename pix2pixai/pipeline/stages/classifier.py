"""The classifier step: stratified split, then train, fine-tune or load a legacy model; test-split
probabilities and quality report."""

from __future__ import annotations

from typing import Any

import numpy as np

from pix2pixai import atomic
from pix2pixai.rundir.config import RunConfig, expand_path
from pix2pixai.rundir.layout import SurveyDir
from pix2pixai.rundir.readers import load_survey_data
from pix2pixai.rundir.surveys import SurveyData


def build_classifier(config: RunConfig, data: SurveyData) -> Any:
    """The untrained (or legacy, or transferred) classifier the config names, for ``data``'s shape."""
    from pix2pixai.trainers import classifiers, load_legacy_model

    cc = config.classifier
    shape, n_classes = data.x.shape[1:], len(data.class_names)
    if cc.mode == "legacy":
        return load_legacy_model(expand_path(cc.legacy_path, config), cc.legacy_kind)
    if cc.architecture == "dmdt_cnn":
        model = classifiers.dmdt_cnn(input_shape=shape, n_classes=n_classes)
    elif cc.architecture == "braai_vgg6":
        model = classifiers.braai_vgg6(input_shape=shape, output="softmax2")
    else:
        model = classifiers.generic_cnn(input_shape=shape, n_classes=n_classes)
    if cc.mode == "finetune":
        from pix2pixai.trainers.transfer import transfer_weights

        source = load_legacy_model(expand_path(cc.finetune_from, config), cc.legacy_kind or "crts_cnn")
        transfer_weights(source, model)
    return model


def classifier_step(config: RunConfig, sdir: SurveyDir) -> dict[str, Any]:
    """Split, train (unless legacy), save the model, the split, the test-split probabilities and report."""
    from pix2pixai.trainers.determinism import enable_determinism
    from pix2pixai.trainers.distribute import strategy_from_name
    from pix2pixai.trainers.model_card import save_card
    from pix2pixai.trainers.splits import stratified_split
    from pix2pixai.trainers.training import evaluate_classifier, predict_proba, train_classifier

    enable_determinism(config.seed)
    data = load_survey_data(sdir)
    train_idx, test_idx = stratified_split(data.group, config.classifier.test_fraction, config.seed)
    model = build_classifier(config, data)
    sdir.classifier.mkdir(parents=True, exist_ok=True)
    if config.classifier.mode != "legacy":
        model = train_classifier(
            model, data.x[train_idx], data.y[train_idx], class_names=data.class_names,
            out_dir=sdir.classifier_training, seed=config.seed, epochs=config.classifier.epochs,
            batch_size=config.classifier.batch_size, patience=config.classifier.patience, verbose=0,
            strategy=strategy_from_name(config.classifier.strategy),
        ).model
    with atomic.atomic_path(sdir.model, suffix=".keras") as tmp:
        model.save(tmp)
    save_card(sdir.model, class_names=data.class_names, input_shape=data.x.shape[1:],
              preset=data.meta.get("preset"))
    probs = predict_proba(model, data.x[test_idx], batch_size=256)
    report = evaluate_classifier(model, data.x[test_idx], data.y[test_idx], data.class_names)
    atomic.save_npz(sdir.split, train=train_idx, test=test_idx)
    atomic.save_npz(sdir.predictions, probs=probs.astype(np.float32))
    atomic.write_json(sdir.classifier_report, report)
    return {"accuracy": report["accuracy"], "macro_f1": report["macro_f1"], "n_test": int(test_idx.size)}
