"""classify_lightcurves: a Table with named probability columns, class names from the model's card,
and refusals when the card and the call disagree."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from pix2pixai.classify import classify_lightcurves
from pix2pixai.data.lightcurves import lightcurves_from_arrays, read_lightcurves
from pix2pixai.errors import InputError
from pix2pixai.trainers.model_card import card_path, load_card, save_card
from tests.conftest import shared_path


def _curves(n: int = 4):
    rng = np.random.default_rng(0)
    return [lightcurves_from_arrays(np.sort(rng.uniform(0, 900, 40)), 15 + rng.normal(0, 0.3, 40),
                                    np.full(40, 0.05), lcid=f"c{k}") for k in range(n)]


@pytest.fixture
def small_model(tmp_path):
    keras.utils.set_random_seed(0)
    inputs = keras.Input((22, 24, 1))
    outputs = keras.layers.Dense(3, activation="softmax")(keras.layers.Flatten()(inputs))
    path = tmp_path / "model.keras"
    keras.Model(inputs, outputs).save(path)
    save_card(path, class_names=["EW", "RRab", "LPV"], input_shape=(22, 24, 1), preset="crts")
    return path


def test_table_columns_are_named_by_the_card(small_model, tmp_path):
    out = tmp_path / "predictions.csv"
    table = classify_lightcurves(_curves(), small_model, out=out)
    assert table.colnames == ["id", "source", "predicted", "EW", "RRab", "LPV"]
    probs = np.stack([table[name] for name in ("EW", "RRab", "LPV")], axis=1)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
    assert list(table["predicted"]) == [("EW", "RRab", "LPV")[k] for k in probs.argmax(axis=1)]
    from astropy.table import Table

    written = Table.read(out, format="ascii.csv")
    assert list(written["id"]) == ["c0", "c1", "c2", "c3"]


def test_out_is_optional_and_nothing_is_written(small_model, tmp_path):
    before = sorted(p.name for p in tmp_path.iterdir())
    assert len(classify_lightcurves(_curves(2), small_model)) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_a_card_of_another_preset_or_class_count_is_refused(small_model):
    with pytest.raises(InputError, match="preset 'crts'"):
        classify_lightcurves(_curves(1), small_model, preset="scope")
    save_card(small_model, class_names=["a", "b"], input_shape=(22, 24, 1), preset="crts")
    with pytest.raises(InputError, match="names 2 classes but the model has 3 outputs"):
        classify_lightcurves(_curves(1), small_model)


def test_card_round_trip_and_damaged_card(small_model):
    card = load_card(small_model)
    assert card.class_names == ("EW", "RRab", "LPV") and card.input_shape == (22, 24, 1) and card.preset == "crts"
    card_path(small_model).write_text("{not json")
    with pytest.raises(InputError, match="unreadable model card"):
        load_card(small_model)


def test_real_crts_cnn_on_real_csv_curves_names_the_crts_classes_and_sources():
    model = shared_path("reproducibility_periodic_cnn", "model.h5")
    folder = shared_path("crts-lightcurves-kvmu", "csv_examples")
    curves = read_lightcurves(folder)
    table = classify_lightcurves(curves, model)
    assert table.colnames[3:] == ["EW", "EA", "RRab", "RRc", "RRd", "RS_CVn", "LPV"]
    assert all(str(folder) in source for source in table["source"])
    truth = np.array([f.stem.split("-")[1] for f in sorted(folder.glob("*.csv"))])
    known = np.isin(truth, table.colnames[3:])  # the examples include classes the CNN was not trained on
    assert known.sum() >= 5 and np.mean(np.array(table["predicted"])[known] == truth[known]) >= 0.5
