"""The series-type part of the out-of-distribution warning (models.series_check)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from medsr_viewer.core.volume import Volume
from medsr_viewer.models.archive import LoadedModel
from medsr_viewer.models.card import Label, ModelCard
from medsr_viewer.models.series_check import series_type_message, trained_series_types

CLASSES = ("CT", "T1-weighted", "T2/PD-weighted", "FLAIR", "EPI", "MR angiography")


class AlwaysT1(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = torch.zeros(x.shape[0], len(CLASSES))
        logits[:, 1] = 5.0
        return logits


CLASSIFIER = LoadedModel(AlwaysT1(), ModelCard(
    name="series-type", task="classify", out_channels=len(CLASSES), input_size=32,
    labels=tuple(Label(i, n) for i, n in enumerate(CLASSES))), Path("series-type"))


def _card(**training) -> ModelCard:
    return ModelCard(name="m", task="segment", out_channels=2, training=training)


def _volume() -> Volume:
    voxels = np.zeros((8, 40, 40), np.float32)
    voxels[:, 10:30, 10:30] = 1.0
    return Volume(voxels, np.eye(4), modality="OT")


def test_what_a_card_says_it_was_trained_on():
    assert trained_series_types(_card(series_types=["CT"])) == ("CT",)
    assert trained_series_types(_card(domain={"modalities": ["EM", "OT"]})) == ()
    assert trained_series_types(_card(domain={"modalities": ["MR", "OT"]})) is None
    assert trained_series_types(_card()) is None


def test_warns_only_when_the_kind_is_outside_the_training():
    volume = _volume()
    em = series_type_message(_card(domain={"modalities": ["EM", "OT"]}), CLASSIFIER, volume)
    assert em.startswith("m: trained on EM images; series-type reads this study as "
                         "T1-weighted MR (")
    ct = series_type_message(_card(series_types=["CT"]), CLASSIFIER, volume)
    assert "trained on CT images" in ct and "T1-weighted" in ct
    assert series_type_message(_card(series_types=["T1-weighted"]), CLASSIFIER, volume) == ""
    assert series_type_message(_card(domain={"modalities": ["MR"]}), CLASSIFIER, volume) == ""
