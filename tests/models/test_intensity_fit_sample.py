"""The percentile fit on a strided sample equals the full fit (issue #18, fixed costs).

Stated tolerance: each fitted value within 0.5 % of the volume's value range of the fit on
every voxel (one grey level of 8-bit data is 0.4 %); the 0th and 100th percentiles exactly.
Model outputs through the bundled ``sr-x2`` and ``denoise`` differ by at most 1e-3 of the range.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from medsr_viewer.core.geometry import DisplayVolume
from medsr_viewer.core.io import load_volume
from medsr_viewer.core.volume import Volume
from medsr_viewer.models.card import Normalisation
from medsr_viewer.models.normalisation import (
    FIT_SAMPLE_VOXELS,
    fit_intensity_map,
    strided_sample,
)

#: The real studies: every NIfTI of ``mri_ct`` and the 120-slice 512² DICOM series.
STUDIES = ("CT_pitch", "chris_MRA", "chris_PD", "chris_t1", "spm152", "dicom")
#: Percentile pairs: the bundled cards' (0, 99.9) and two with both ends interpolated.
PAIRS = ((0.0, 99.9), (0.5, 99.5), (1.0, 100.0))
#: Largest difference from the full fit, as a share of the volume's value range.
FIT_TOLERANCE = 0.005
#: Largest difference of a model's output, as a share of the volume's value range.
OUTPUT_TOLERANCE = 1e-3


@pytest.fixture(scope="module")
def studies(data_dir: Path) -> dict[str, Volume]:
    """The real studies, loaded once."""
    paths = {name: data_dir / "mri_ct" / f"{name}.nii.gz" for name in STUDIES[:-1]}
    paths["dicom"] = data_dir / "dicom" / "vs_seg_001_t1"
    return {name: load_volume(path) for name, path in paths.items()}


def test_strided_sample_is_a_view_of_about_count_voxels_read_in_memory_order() -> None:
    block = np.arange(40 * 64 * 64, dtype=np.float32).reshape(40, 64, 64)
    sample = strided_sample(block, 10_000)
    assert np.shares_memory(sample, block) and 9_000 <= sample.size <= 10_000
    step = int(sample[1] - sample[0])
    assert step % 2 == 1  # coprime with the 64 x 64 slice: rows and columns shift
    np.testing.assert_array_equal(sample, block.reshape(-1)[::step])
    # A flipped, transposed view (as shown on screen) is read in memory order: same voxels.
    shown = np.transpose(block, (2, 1, 0))[::-1, :, ::-1]
    np.testing.assert_array_equal(strided_sample(shown, 10_000), sample)
    assert np.shares_memory(strided_sample(shown, 10_000), block)
    # A view that is not one block is sampled with a step along each axis.
    part = block[:, 3:60, ::3]
    sampled = strided_sample(part, 10_000)
    assert np.shares_memory(sampled, block) and 0 < sampled.size <= 10_000
    # Small arrays are used whole.
    assert strided_sample(block[:2], 10_000).size == 2 * 64 * 64


@pytest.mark.parametrize("name", STUDIES)
def test_sampled_fit_equals_full_fit_on_real_studies(
    studies: dict[str, Volume], name: str
) -> None:
    volume = studies[name]
    assert volume.voxels.size > FIT_SAMPLE_VOXELS  # the sample is what is tested
    value_range = float(np.nanmax(volume.voxels) - np.nanmin(volume.voxels))
    for voxels in (volume.voxels, DisplayVolume(volume).voxels):  # as stored, as shown
        for low, high in PAIRS:
            norm = Normalisation("percentile", low, high)
            full = fit_intensity_map(norm, voxels, sample=None)
            fast = fit_intensity_map(norm, voxels)
            assert abs(fast.low - full.low) <= FIT_TOLERANCE * value_range, (name, low)
            assert abs(fast.high - full.high) <= FIT_TOLERANCE * value_range, (name, high)
            if low == 0.0:
                assert fast.low == full.low
            if high == 100.0:
                assert fast.high == full.high


def test_bundled_models_give_the_same_output_with_the_sampled_fit(
    studies: dict[str, Volume],
) -> None:
    from medsr_viewer.models.inference import TileRunner, run_tiled_inference
    from medsr_viewer.models.registry import ModelRegistry

    registry = ModelRegistry()
    worst = 0.0
    for model in ("sr-x2", "denoise"):
        loaded = registry.load(model)
        card, runner = loaded.card, TileRunner(loaded.module, "cpu")
        scale = card.scale if card.task == "super_resolution" else 1
        for volume in studies.values():
            voxels = volume.voxels
            full = fit_intensity_map(card.normalisation, voxels, sample=None)
            fast = fit_intensity_map(card.normalisation, voxels)
            plane = voxels[voxels.shape[0] // 2]
            rows, cols = plane.shape[0] // 2, plane.shape[1] // 2
            crop = plane[rows - 40:rows + 40, cols - 40:cols + 40]
            outputs = [
                fit.from_model(run_tiled_inference(
                    runner, fit.to_model(crop)[None], scale, 1, 256, card.tile_overlap)[0])
                for fit in (full, fast)
            ]
            value_range = float(np.nanmax(voxels) - np.nanmin(voxels))
            worst = max(worst, float(np.max(np.abs(outputs[0] - outputs[1]))) / value_range)
    assert worst <= OUTPUT_TOLERANCE


def test_sampled_fit_ignores_nan_and_falls_back_to_the_full_fit_for_infinities() -> None:
    rng = np.random.default_rng(0)
    voxels = rng.gamma(2.0, 50.0, size=(24, 256, 256)).astype(np.float32)
    voxels[3, 10:20, 10:20] = np.nan
    norm = Normalisation("percentile", 0.0, 99.0)
    full, fast = fit_intensity_map(norm, voxels, sample=None), fit_intensity_map(norm, voxels)
    assert fast.low == full.low and abs(fast.high - full.high) <= 0.005 * full.span
    voxels[5, 0, 0] = -np.inf
    assert fit_intensity_map(norm, voxels) == fit_intensity_map(norm, voxels, sample=None)
    integers = rng.integers(-1024, 3000, size=(20, 256, 256)).astype(np.int16)
    full, fast = fit_intensity_map(norm, integers, None), fit_intensity_map(norm, integers)
    assert fast.low == full.low == -1024 and abs(fast.high - full.high) <= 0.005 * full.span
