"""The bundled series-type classifier: its card's held-out scores are reproduced, its card is
honest about the data, and its split keeps subjects apart."""

from __future__ import annotations

from pathlib import Path

import pytest

import medsr_viewer
from medsr_viewer.models.archive import load_model
from medsr_viewer.models.training.classify_task import evaluate_series, load_series
from medsr_viewer.models.training.series_type_data import SERIES_TYPES, check_split, series_for

MODEL = Path(medsr_viewer.__file__).resolve().parents[1] / "resources" / "models" / \
    "series-type.safetensors"
#: Until the model is trained (medsr train classify, see resources/models/README.md).
needs_model = pytest.mark.skipif(not MODEL.is_file(), reason="series-type is not bundled yet")


def test_split_is_by_subject_and_labels_are_known():
    check_split()
    train = {s.subject for s in series_for("train")}
    val = {s.subject for s in series_for("val")}
    assert not train & val
    assert {s.label for s in series_for("train")} == set(SERIES_TYPES)


@needs_model
def test_card_is_honest_about_the_data():
    card = load_model(MODEL).card
    assert card.task == "classify" and card.class_names == SERIES_TYPES
    assert card.input_size == 128 and card.normalisation.mode == "percentile"
    training = card.training
    assert training["command"].startswith("medsr train classify ")
    assert set(training["no_held_out_series"]) == {"FLAIR", "MR angiography"}
    subjects = training["subjects"]
    assert subjects["FLAIR"]["train_subjects"] == 1 and subjects["FLAIR"]["held_out_series"] == 0
    assert "domain" in training and training["series_types"] == list(SERIES_TYPES)


@needs_model
def test_card_held_out_scores_are_reproduced(data_dir):
    loaded = load_model(MODEL)
    card = loaded.card.scores["held_out"]
    series = load_series(series_for("val"), data_dir, loaded.card.class_names,
                         log=lambda _line: None)
    scores = evaluate_series(loaded, series)
    assert scores["slices"]["samples"] == card["slices"]["samples"]
    assert scores["slices"]["balanced_accuracy"] == pytest.approx(
        card["slices"]["balanced_accuracy"], abs=0.01)
    for name, row in card["slices"]["per_class"].items():
        if row["support"]:
            assert scores["slices"]["per_class"][name]["recall"] == pytest.approx(
                row["recall"], abs=0.02), name
    assert [r["predicted"] for r in scores["series"]] == \
        [r["predicted"] for r in card["series"]]
