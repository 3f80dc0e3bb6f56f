"""The thick-slice profile, the through-plane grid and the protocol's interpolation baselines."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from medsr_viewer.core import slice_profile
from medsr_viewer.core.slice_profile import (
    SliceProfile,
    block_mean,
    degrade_along,
    fine_positions,
    interpolate_along,
    isotropic_factor,
    output_count,
    profile_matrix,
    through_plane_affine,
)


def test_contiguous_integer_profile_is_the_protocols_block_mean() -> None:
    rng = np.random.default_rng(0)
    hr = rng.random((12, 5, 7)).astype(np.float32)
    for axis in range(3):
        n = hr.shape[axis] // 2 * 2
        crop = np.take(hr, np.arange(n), axis=axis)
        np.testing.assert_allclose(degrade_along(crop, axis, SliceProfile(2, 2)),
                                   block_mean(crop, axis, 2), atol=1e-6)
    # The block mean itself: LR slice j is the mean of HR slices 3j .. 3j+2.
    lr = block_mean(hr, 0, 3)
    np.testing.assert_allclose(lr[1], hr[3:6].mean(axis=0), atol=1e-6)
    with pytest.raises(ValueError, match="multiple"):
        block_mean(hr[:11], 0, 3)


def test_gap_and_non_integer_profiles_weigh_overlap() -> None:
    gap = profile_matrix(8, SliceProfile(4.0, 2.0))
    # Centres at 1.5 and 5.5; a 2 px slice covers pixels 1-2 and 5-6 only: the gap is unseen.
    np.testing.assert_allclose(gap, [[0, .5, .5, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, .5, .5, 0]])
    odd = profile_matrix(10, SliceProfile(2.5, 2.5))
    assert odd.shape == (4, 10)
    np.testing.assert_allclose(odd.sum(axis=1), 1.0)
    # Sample 1 is centred at 3.25 and covers [2.0, 4.5]: half of pixel 2, all of 3, all of 4.
    np.testing.assert_allclose(odd[1, 2:5], np.array([0.5, 1.0, 1.0]) / 2.5)
    assert SliceProfile(4.0, 2.0).gap == 2.0
    with pytest.raises(ValueError):
        SliceProfile(0.5, 1.0)


@pytest.mark.parametrize("order", [1, 3])
def test_interpolation_is_map_coordinates_along_one_axis(order: int,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(slice_profile, "_CHUNK_COLUMNS", 7)  # several chunks
    rng = np.random.default_rng(1)
    lr = rng.random((6, 5, 4)).astype(np.float32)
    for axis in range(3):
        positions = fine_positions(lr.shape[axis], lr.shape[axis] * 3)
        grids = np.meshgrid(*[positions if a == axis else np.arange(n, dtype=float)
                              for a, n in enumerate(lr.shape)], indexing="ij")
        expected = ndimage.map_coordinates(lr, grids, order=order, mode="nearest")
        np.testing.assert_allclose(interpolate_along(lr, axis, positions, order), expected,
                                   atol=1e-5)


def test_fine_positions_centre_each_lr_slice_on_its_hr_block() -> None:
    # HR slice i at LR coordinate (i + 0.5)/s - 0.5: the mean over a block is the LR centre.
    positions = fine_positions(5, 20)
    np.testing.assert_allclose(positions.reshape(5, 4).mean(axis=1), np.arange(5))
    assert output_count(5, 2.5) == 13  # halves round up
    assert output_count(10, 2.5) == 25
    with pytest.raises(ValueError):
        output_count(10, 9.0)


def _rotation(seed: int) -> np.ndarray:
    q, _ = np.linalg.qr(np.random.default_rng(seed).normal(size=(3, 3)))
    return q


@pytest.mark.parametrize("axis", [0, 1, 2])
@pytest.mark.parametrize("n_out", [12, 17])
def test_fine_grid_keeps_the_world_extent_even_when_oblique(axis: int, n_out: int) -> None:
    affine = np.eye(4)
    affine[:3, :3] = _rotation(axis) @ np.diag([0.8, 0.9, 3.0])
    affine[:3, 3] = [10.0, -20.0, 5.0]
    n_in = 4
    fine = through_plane_affine(affine, axis, n_in, n_out)
    col = 2 - axis

    def edge(a: np.ndarray, index: float) -> np.ndarray:
        point = np.zeros(4)
        point[col], point[3] = index, 1.0
        return a @ point

    np.testing.assert_allclose(edge(fine, -0.5), edge(affine, -0.5), atol=1e-9)
    np.testing.assert_allclose(edge(fine, n_out - 0.5), edge(affine, n_in - 0.5), atol=1e-9)
    # Output voxel i sits at the input coordinate fine_positions gives for it.
    for i, u in enumerate(fine_positions(n_in, n_out)):
        np.testing.assert_allclose(edge(fine, i), edge(affine, u), atol=1e-9)
    # Other axes untouched.
    for other in range(3):
        if other != col:
            np.testing.assert_allclose(fine[:3, other], affine[:3, other])


def test_isotropic_factor() -> None:
    assert isotropic_factor(2.4, (0.8, 0.86)) == pytest.approx(3.0)
    assert isotropic_factor(0.5, (0.8, 0.8)) == 1.0
