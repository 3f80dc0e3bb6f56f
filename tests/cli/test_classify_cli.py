"""medsr classify / medsr eval classify, and task mismatches refused both ways."""

from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch

from medsr_viewer.cli.main import main
from medsr_viewer.models.architectures import build_architecture
from medsr_viewer.models.archive import save_model
from medsr_viewer.models.card import Label, ModelCard

CLASSES = ("CT", "T1-weighted", "T2/PD-weighted", "FLAIR", "EPI", "MR angiography")


@pytest.fixture(scope="module")
def classifier(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    module = build_architecture("slice-classifier", classes=len(CLASSES), base=4).eval()
    card = ModelCard(name="tiny-classifier", task="classify", out_channels=len(CLASSES),
                     input_size=32, architecture="slice-classifier",
                     labels=tuple(Label(i, n) for i, n in enumerate(CLASSES)))
    path = tmp_path_factory.mktemp("cls") / "tiny-classifier.safetensors"
    save_model(module, card, path)
    return path


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rng = np.random.default_rng(0)
    voxels = np.zeros((40, 40, 6), np.float32)
    voxels[8:32, 8:32] = rng.uniform(50, 100, (24, 24, 6))
    path = tmp_path_factory.mktemp("study") / "study.nii.gz"
    nib.save(nib.Nifti1Image(voxels, np.diag([1.0, 1.0, 3.0, 1.0])), str(path))
    return path


def test_classify_prints_slices_and_volume(classifier, study, capsys):
    assert main(["classify", str(study), "--model", str(classifier)]) == 0
    out = capsys.readouterr().out
    assert "6 slices along axis 0" in out and out.count("\n") > 8
    assert "volume (" in out and "slices with anatomy)" in out
    assert main(["classify", str(study), "--model", str(classifier), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["model"] == "tiny-classifier" and len(data["slices"]) == 6
    assert data["classes"] == list(CLASSES)
    assert sum(data["volume"]["probabilities"].values()) == pytest.approx(1.0, abs=1e-3)
    assert data["volume"]["predicted"] in CLASSES


def test_an_sr_model_is_refused_by_classify(study, capsys):
    assert main(["classify", str(study), "--model", "sr-x2"]) == 2
    err = capsys.readouterr().err
    assert "'super_resolution' model, not 'classify'" in err
    assert "needs a classification model" in err


def test_a_classifier_is_refused_by_sr(classifier, study, tmp_path, capsys):
    out = tmp_path / "sr.nii.gz"
    assert main(["sr", str(study), str(out), "--model", str(classifier), "--quiet"]) == 2
    assert "'classify' model, not 'super_resolution'" in capsys.readouterr().err
    assert not out.exists()


def test_eval_classify_on_a_manifest(classifier, study, tmp_path, capsys):
    manifest = tmp_path / "series.csv"
    manifest.write_text(f"path,label\n{study},T1-weighted\n{study},EPI\n")
    assert main(["eval", "classify", "--model", str(classifier), "--manifest",
                 str(manifest)]) == 0
    out = capsys.readouterr().out
    for text in ("balanced accuracy", "macro ROC AUC", "mAP", "confusion", "T1-weighted",
                 "series recall EPI"):
        assert text in out
    bad = tmp_path / "bad.csv"
    bad.write_text(f"path,label\n{study},Ultrasound\n")
    assert main(["eval", "classify", "--model", str(classifier), "--manifest", str(bad)]) == 2
    assert "not one of the model's classes" in capsys.readouterr().err
