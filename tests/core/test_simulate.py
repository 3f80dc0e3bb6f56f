"""Simulated LR studies: protocol block means, geometry that lines SR up with HR."""

from __future__ import annotations

import numpy as np
import pytest

from medsr_viewer.core.degrade import block_mean_downsample
from medsr_viewer.core.simulate import (
    low_resolution_affine,
    resample_linear,
    simulate_low_resolution,
)
from medsr_viewer.core.volume import Volume
from medsr_viewer.models.volume_processing import scaled_affine


def hr_volume() -> Volume:
    rng = np.random.default_rng(0)
    affine = np.array([[0.0, 0.0, 1.2, -30.0], [-0.9, 0.0, 0.0, 12.0], [0.0, 1.1, 0.0, 5.0],
                       [0.0, 0.0, 0.0, 1.0]])
    return Volume(rng.random((5, 13, 10)).astype(np.float32) * 100, affine, modality="MR",
                  name="t1", metadata={"slice_axis": 0, "series_uid": "1.2.3"})


def test_lr_is_the_protocol_block_mean_in_the_acquired_plane():
    hr = hr_volume()
    lr = simulate_low_resolution(hr, 2)
    assert lr.shape == (5, 6, 5)
    np.testing.assert_allclose(lr.voxels, block_mean_downsample(hr.voxels, 2), rtol=1e-6)
    assert "series_uid" not in lr.metadata and lr.metadata["simulated_scale"] == 2
    along_x = simulate_low_resolution(hr, 2, axis=2)
    assert along_x.shape == (2, 6, 10)


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_sr_grid_of_the_lr_study_is_the_hr_grid(scale):
    """Super-resolving the LR study by ``scale`` lands exactly on the (cropped) HR voxels."""
    hr = hr_volume()
    lr_affine = low_resolution_affine(hr.affine, 0, scale)
    np.testing.assert_allclose(scaled_affine(lr_affine, 0, scale), hr.affine, atol=1e-12)
    # each LR voxel centre is the centre of the HR block it averages
    lr = simulate_low_resolution(hr, scale)
    block_centre = hr.index_to_world(np.array([1, (scale - 1) / 2, (scale - 1) / 2]))
    np.testing.assert_allclose(lr.index_to_world(np.array([1, 0, 0])), block_centre)


def test_resample_linear_is_exact_on_coincident_grids_and_nan_outside():
    hr = hr_volume()
    np.testing.assert_allclose(resample_linear(hr, hr), hr.voxels, rtol=1e-12)
    shifted = Volume(np.zeros((1, 3, 3), np.float32), hr.affine @ np.array(
        [[1, 0, 0, 0.5], [0, 1, 0, 0], [0, 0, 1, 2], [0, 0, 0, 1.0]]))
    values = resample_linear(hr, shifted)
    np.testing.assert_allclose(values[0, 0, 0], hr.voxels[2, 0, :2].mean(), rtol=1e-6)
    outside = Volume(np.zeros((1, 2, 2), np.float32), hr.affine @ np.array(
        [[1, 0, 0, -3.0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1.0]]))
    assert np.isnan(resample_linear(hr, outside)).all()
