"""The bundled perceptual variant says what it is and really differs from ``sr-x2``: more
pixel-scale detail than the fidelity model, more of it unconfirmable by the measurement, and
a lower PSNR, on held-out slices."""

from __future__ import annotations

from pathlib import Path

import pytest

from medsr_viewer.models.archive import load_model
from medsr_viewer.models.evaluation.sr import evaluate_sr_volume, model_upscaler
from medsr_viewer.models.registry import bundled_models_dir
from medsr_viewer.models.study_volumes import load_study
from medsr_viewer.models.training.adversarial import PERCEPTUAL_NOTE
from medsr_viewer.models.training.patches import percentile_bounds

MODEL = bundled_models_dir() / "sr-x2-perceptual.safetensors"
FIDELITY = bundled_models_dir() / "sr-x2.safetensors"
pytestmark = pytest.mark.skipif(not MODEL.is_file(), reason="sr-x2-perceptual is not bundled")


def _scores(path: Path, voxels, step: int):  # type: ignore[no-untyped-def]
    loaded = load_model(path)
    norm = loaded.card.normalisation
    return evaluate_sr_volume(
        path.stem, voxels, 2,
        lambda lr: model_upscaler(loaded.module, percentile_bounds(lr, norm.low, norm.high)),
        baselines=("bicubic",), slice_step=step, detail=True).methods


def test_card_says_it_is_the_perceptual_variant_of_sr_x2() -> None:
    card = load_model(MODEL).card
    assert card.description.startswith(PERCEPTUAL_NOTE)
    assert card.training["variant"] == "perceptual (adversarial)"
    assert "adversarial" in card.training["loss"]
    assert "sr-x2.safetensors" in card.training["command"]  # fine-tuned from sr-x2
    assert card.scale == 2 and card.architecture == load_model(FIDELITY).card.architecture


def test_it_adds_visible_detail_that_the_maps_flag(data_dir: Path) -> None:
    voxels = load_study(data_dir / "mri_ct" / "chris_PD.nii.gz").voxels
    fidelity = _scores(FIDELITY, voxels, 6)
    perceptual = _scores(MODEL, voxels, 6)
    sharp, smooth, bicubic = perceptual["model"], fidelity["model"], fidelity["bicubic"]
    assert sharp.hf_ratio > smooth.hf_ratio > bicubic.hf_ratio
    assert sharp.flagged > smooth.flagged
    assert sharp.psnr < smooth.psnr  # the price, by design
    assert sharp.psnr > bicubic.psnr
