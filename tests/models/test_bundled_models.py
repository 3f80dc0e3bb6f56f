"""The bundled models keep their cards' promises: I/O contract, provenance, reproducible scores."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import medsr_viewer
from medsr_viewer.models.archive import load_model, weights_sha256
from medsr_viewer.models.evaluation.denoise import evaluate_denoise_volume, model_denoiser
from medsr_viewer.models.evaluation.segmentation import (
    map_labels,
    mean_score,
    predict_labels,
    score_masks,
)
from medsr_viewer.models.evaluation.sr import evaluate_sr_volume, model_upscaler
from medsr_viewer.models.identity import tensors_sha256
from medsr_viewer.models.study_volumes import load_image_pairs, load_study
from medsr_viewer.models.training.patches import percentile_bounds

MODELS_DIR = Path(medsr_viewer.__file__).resolve().parents[1] / "resources" / "models"
BUNDLED = sorted(MODELS_DIR.glob("*.safetensors"))
#: Largest total size of the bundled model files.
MAX_TOTAL_BYTES = 16 * 1024 * 1024


def _by_task(task):
    return [p for p in BUNDLED if load_model(p).card.task == task]


def test_models_are_bundled_and_small():
    assert BUNDLED, f"no bundled models in {MODELS_DIR}"
    assert sum(p.stat().st_size for p in BUNDLED) <= MAX_TOTAL_BYTES
    readme = (MODELS_DIR / "README.md").read_text()
    for path in BUNDLED:
        assert path.name in readme, f"{path.name} is not documented in resources/models/README.md"


@pytest.mark.parametrize("path", BUNDLED, ids=lambda p: p.stem)
def test_card_contract_and_provenance(path):
    loaded = load_model(path)
    card = loaded.card
    assert card.name == path.stem
    if card.weights_dtype == "float32":
        assert card.sha256 == weights_sha256(loaded.module)
    else:  # the hash is of the stored (rounded) tensors; the module is cast back to float32
        stored = getattr(torch, card.weights_dtype)
        assert card.sha256 == tensors_sha256(
            (k, t.to(stored) if t.is_floating_point() else t)
            for k, t in loaded.module.state_dict().items())
    assert card.training["command"].startswith("medsr train ")
    assert card.scores and card.licence and card.architecture
    x = torch.rand(1, card.in_channels, 37, 50, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        y = loaded.module(x)
    if card.task == "classify":  # class logits of the whole slice
        assert tuple(y.shape) == (1, card.out_channels)
    else:
        assert tuple(y.shape) == (1, card.out_channels, 37 * card.scale, 50 * card.scale)
    assert torch.isfinite(y).all()
    if card.task in ("segment", "classify"):
        assert {lab.value for lab in card.labels} == set(range(card.out_channels))


def _volume(data_dir, name):
    return load_study(data_dir / "mri_ct" / f"{name}.nii.gz")


@pytest.mark.parametrize("path", _by_task("super_resolution"), ids=lambda p: p.stem)
def test_sr_card_scores_are_reproduced(path, data_dir):
    loaded = load_model(path)
    card = loaded.card
    subset = card.scores["validation_subset"]
    norm = card.normalisation
    for name in card.training["validation_volumes"]:
        res = evaluate_sr_volume(
            name,
            _volume(data_dir, name).voxels,
            card.scale,
            lambda lr: model_upscaler(loaded.module, percentile_bounds(lr, norm.low, norm.high)),
            baselines=("bicubic",),
            slice_step=subset["slice_step"],
        )
        for method in ("model", "bicubic"):
            assert res.methods[method].psnr == pytest.approx(subset[name][method]["psnr"], abs=0.05)
            assert res.methods[method].ssim == pytest.approx(subset[name][method]["ssim"], abs=1e-3)
    overall = card.scores["validation"]["overall"]
    assert overall["model"]["psnr"] > overall["lanczos"]["psnr"] > overall["bilinear"]["psnr"]
    assert overall["model"]["ssim"] > overall["bicubic"]["ssim"]


@pytest.mark.parametrize("path", _by_task("enhance"), ids=lambda p: p.stem)
def test_denoise_card_scores_are_reproduced(path, data_dir):
    loaded = load_model(path)
    card = loaded.card
    subset = card.scores["validation_subset"]
    norm = card.normalisation
    factory = model_denoiser(loaded.module, lambda v: percentile_bounds(v, norm.low, norm.high))
    for name in card.training["validation_volumes"]:
        vol = _volume(data_dir, name)
        res = evaluate_denoise_volume(
            name,
            vol.voxels,
            vol.modality,
            card.scores["level"],
            factory,
            slice_step=subset["slice_step"],
        )
        for method in ("noisy", "gaussian", "model"):
            assert res.psnr[method] == pytest.approx(subset[name][method]["psnr"], abs=0.05)
        assert res.psnr["model"] > res.psnr["gaussian"]


@pytest.mark.parametrize("path", [p for p in _by_task("segment")
                                  if "validation_images" in load_model(p).card.training],
                         ids=lambda p: p.stem)
def test_segmentation_card_scores_are_reproduced(path, data_dir):
    """2-D image-pair models (EM); volume-pair models (brain-tissue) have test_brain_tissue."""
    loaded = load_model(path)
    card = loaded.card
    mapping = {int(k): v for k, v in card.training["label_mapping"].items()}
    names = set(card.training["validation_images"])
    em = data_dir / "isbi2012_em"
    pairs = [p for p in load_image_pairs(em / "images", em / "labels") if p[0] in names]
    assert len(pairs) == len(names)
    target = next(lab for lab in card.labels if lab.value != 0)
    scores = [
        score_masks(
            n,
            map_labels(lab, mapping),
            predict_labels(loaded.module, img, percentile_bounds(img)),
            target.value,
        )
        for n, img, lab in pairs
    ]
    overall = mean_score(scores)
    stored = card.scores["validation"][target.name]["overall"]
    assert overall.dice == pytest.approx(stored["dice"], abs=1e-3)
    assert overall.iou == pytest.approx(stored["iou"], abs=1e-3)
    assert np.isfinite(overall.hd95)


@pytest.mark.parametrize("path", _by_task("through_plane_sr"), ids=lambda p: p.stem)
def test_through_plane_card_scores_are_reproduced(path, data_dir):
    """``medsr eval sr --through-plane --subset`` gives the card's quick-subset numbers back
    (chris_t1 and CT_pitch at x4, no adaptation), and the card states its full scores."""
    from medsr_viewer.models.evaluation.through_plane import (
        evaluate_volumes,
        scores_dict,
        subset_of,
    )

    loaded = load_model(path)
    card = loaded.card
    stored = card.scores["test_subset"]
    volumes = [subset_of(_volume(data_dir, name)) for name in ("chris_t1", "CT_pitch")]
    got = scores_dict(evaluate_volumes(volumes, loaded.module, card.normalisation, (4,)))
    for key, entry in got.items():
        for method in ("cubic", "model"):
            assert entry[method]["psnr"] == pytest.approx(stored[key][method]["psnr"], abs=0.05)
            assert entry[method]["ssim"] == pytest.approx(stored[key][method]["ssim"], abs=2e-3)
    for block in ("test", "test_adapted"):
        for factor in (2, 4):
            assert "gain_over_cubic_db" in card.scores[block][f"FLAIR x{factor}"]
    assert card.scores["timing_2_cores"]["output_shape_zyx"] == [150, 256, 256]
