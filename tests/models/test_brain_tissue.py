"""The bundled ``brain-tissue`` model keeps its card's promises: labels, reproduced Dice of the
held-out directions and of the shipped weights, speed, and the out-of-distribution warning."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest

from medsr_viewer.core.io import load_volume
from medsr_viewer.models.archive import load_model, read_card
from medsr_viewer.models.domain import domain_warnings
from medsr_viewer.models.registry import bundled_models_dir
from medsr_viewer.models.training.segment_volumes_task import SUBSET_AXES, SUBSET_STEP
from medsr_viewer.models.training.volume_pairs import (
    TISSUE_CLASSES,
    TISSUE_COLOURS,
    load_pair,
    parse_pair,
    score_volume,
)

MODEL = bundled_models_dir() / "brain-tissue.safetensors"
#: The leave-one-subject-out models whose test scores the card reports (kept to re-measure).
HELD_OUT_DIR = bundled_models_dir() / "held-out"
pytestmark = pytest.mark.skipif(not MODEL.is_file(), reason="brain-tissue is not bundled yet")
#: Dice re-measured within this of the card (same weights; thread order only).
TOLERANCE = 0.005


@cache
def _pair(data_dir: Path, text: str, strip: bool = True):
    image, labels = text.split("=")
    mapping = "identity"
    if labels.endswith((":freesurfer-tissue", ":freesurfer-tissue+csf")):
        labels, mapping = labels.rsplit(":", 1)
    return load_pair(parse_pair(f"{data_dir / image}={data_dir / labels}:{mapping}", "identity"),
                     strip)


FS = "labelled/freesurfer_subject/norm.mgz=labelled/freesurfer_subject/aparc.a2009s+aseg.mgz"
SPM = "mri_ct/spm152.nii.gz=labelled/template_tissue/mni152_pveseg.nii.gz"
PAIRS = {"norm": FS + ":freesurfer-tissue+csf", "spm152": SPM,
         "norm (freesurfer-tissue)": FS + ":freesurfer-tissue",
         "norm (freesurfer-tissue+csf)": FS + ":freesurfer-tissue+csf"}


def _check_subset(module, stored: dict, data_dir: Path, strip: bool) -> None:
    names = list(TISSUE_CLASSES)
    for name, variants in stored.items():
        pair = _pair(data_dir, PAIRS[name], strip)
        for variant, entry in variants.items():
            got = score_volume(module, name, pair.variants[variant], pair.classes, names,
                               SUBSET_STEP, SUBSET_AXES)
            assert got.slices == entry["slices"]
            for key, value in entry["dice"].items():
                assert got.dice[key] == pytest.approx(value, abs=TOLERANCE), (name, variant, key)


def test_card_labels_modality_and_speed() -> None:
    card = read_card(MODEL)
    assert card.task == "segment" and card.modalities == ("MR",)
    assert [(lab.value, lab.name, tuple(lab.color)) for lab in card.labels] == [
        (i, n, c) for i, (n, c) in enumerate(zip(TISSUE_CLASSES, TISSUE_COLOURS))]
    assert card.scores["slice_seconds_256"] <= 0.2
    assert card.training["domain"]["spacing_mm"][0] == pytest.approx(0.7375, abs=1e-3)
    held_out = card.scores["held_out"]
    assert held_out and all((HELD_OUT_DIR / f"{name}.safetensors").is_file() for name in held_out)


def test_held_out_dice_is_reproduced(data_dir: Path) -> None:
    card = read_card(MODEL)
    for name in card.scores["held_out"]:
        loaded = load_model(HELD_OUT_DIR / f"{name}.safetensors")
        assert loaded.card.scores["test"] == card.scores["held_out"][name]["test"]
        _check_subset(loaded.module, loaded.card.scores["test_subset"], data_dir, strip=False)


def test_shipped_weights_reproduce_their_training_subset(data_dir: Path) -> None:
    loaded = load_model(MODEL)
    _check_subset(loaded.module, loaded.card.scores["train_subset"], data_dir, strip=True)


def test_out_of_distribution_warning(data_dir: Path) -> None:
    from pydicom.data import get_testdata_file

    card = read_card(MODEL)
    assert domain_warnings(card, load_volume(data_dir / "mri_ct" / "chris_t1.nii.gz")) == []
    em = domain_warnings(card, load_volume(data_dir / "isbi2012_em" / "images" / "21.png"))
    assert em and "no physical pixel size" in " ".join(em)
    ct = domain_warnings(card, load_volume(get_testdata_file("CT_small.dcm")))
    assert ct and "this study is CT" in ct[0]


def test_a_ct_volume_of_unknown_modality_gets_the_series_type_warning(
        data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """CT_pitch is NIfTI (modality unknown) and passes the domain check; the card lists the
    series types it was trained on, so the series-type check names what it reads instead."""
    from medsr_viewer.cli import main as cli_main

    assert read_card(MODEL).training["series_types"] == ["T1-weighted"]
    out = tmp_path / "tissue.nii.gz"
    study = data_dir / "mri_ct" / "CT_pitch.nii.gz"
    assert cli_main.main(["segment", str(study), str(out), "--model", "brain-tissue",
                          "--quiet"]) == 0
    err = capsys.readouterr().err
    assert "trained on T1-weighted images; series-type reads this study as CT" in err
    assert cli_main.main(["segment", str(data_dir / "mri_ct" / "chris_t1.nii.gz"),
                          str(tmp_path / "t1.nii.gz"), "--model", "brain-tissue",
                          "--quiet"]) == 0
    assert "series-type reads" not in capsys.readouterr().err
