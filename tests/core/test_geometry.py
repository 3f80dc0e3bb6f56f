"""Display geometry: reorientation, edge letters and display -> voxel -> world mappings."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from medsr_viewer.core.geometry import (
    DisplayVolume,
    EdgeLabels,
    Orientation,
    direction_letters,
)
from medsr_viewer.core.volume import Volume

RADIOLOGICAL = {
    Orientation.AXIAL: EdgeLabels(top="A", bottom="P", left="R", right="L"),
    Orientation.CORONAL: EdgeLabels(top="S", bottom="I", left="R", right="L"),
    Orientation.SAGITTAL: EdgeLabels(top="S", bottom="I", left="A", right="P"),
}
#: For each plane, the world LPS axis that increases down the rows / across the columns,
#: and the sign (+1: increasing).
SCREEN_AXES = {
    Orientation.AXIAL: ((1, +1), (0, +1)),  # down = posterior, right = patient left
    Orientation.CORONAL: ((2, -1), (0, +1)),  # down = inferior
    Orientation.SAGITTAL: ((2, -1), (1, +1)),  # right = posterior
}


def _ramp(shape: tuple[int, int, int]) -> np.ndarray:
    return np.arange(np.prod(shape), dtype=np.float32).reshape(shape)


def _check_consistent(volume: Volume) -> DisplayVolume:
    """Every displayed pixel is the original voxel the mapping names, at the right world spot."""
    disp = DisplayVolume(volume)
    for o in Orientation:
        n = disp.n_slices(o)
        rows, cols = disp.slice_shape(o)
        for k in {0, n // 2, n - 1}:
            image = disp.slice_array(o, k)
            assert image.shape == (rows, cols)
            for r, c in itertools.product({0, rows - 1, rows // 3}, {0, cols - 1, cols // 2}):
                zyx = disp.display_to_voxel(o, r, c, k)
                assert np.allclose(zyx, np.rint(zyx))
                z, y, x = (int(v) for v in np.rint(zyx))
                assert image[r, c] == volume.voxels[z, y, x]
                world = disp.display_to_world(o, r, c, k)
                assert np.allclose(world, volume.index_to_world((z, y, x)))
                can = disp.display_to_canonical(o, r, c, k)
                assert np.allclose(disp.canonical_to_display(o, can), (r, c, k))
                assert np.allclose(disp.voxel_to_canonical(zyx), can)
                assert disp.value_at(can) == image[r, c]
    return disp


def _check_screen_directions(disp: DisplayVolume) -> None:
    """Moving down / right on screen moves the world the radiological way."""
    for o, ((row_axis, row_sign), (col_axis, col_sign)) in SCREEN_AXES.items():
        rows, cols = disp.slice_shape(o)
        k = disp.n_slices(o) // 2
        w00 = disp.display_to_world(o, 0, 0, k)
        down = disp.display_to_world(o, rows - 1, 0, k) - w00
        right = disp.display_to_world(o, 0, cols - 1, k) - w00
        if rows > 1:
            assert np.sign(down[row_axis]) == row_sign
            assert abs(down[row_axis]) == pytest.approx(np.abs(down).max())
        if cols > 1:
            assert np.sign(right[col_axis]) == col_sign
            assert abs(right[col_axis]) == pytest.approx(np.abs(right).max())


def test_lps_aligned_volume_is_shown_as_stored() -> None:
    vol = Volume.from_spacing(_ramp((4, 5, 6)), spacing_zyx=(3.0, 2.0, 0.5), origin_xyz=(1, 2, 3))
    disp = _check_consistent(vol)
    _check_screen_directions(disp)
    assert np.array_equal(disp.voxels, vol.voxels)
    assert np.array_equal(disp.slice_array(Orientation.AXIAL, 2), vol.voxels[2])
    # coronal / sagittal: superior (last z) at the top row
    assert np.array_equal(disp.slice_array(Orientation.CORONAL, 1), vol.voxels[::-1, 1, :])
    assert np.array_equal(disp.slice_array(Orientation.SAGITTAL, 3), vol.voxels[::-1, :, 3])
    assert disp.n_slices(Orientation.AXIAL) == 4
    assert disp.n_slices(Orientation.CORONAL) == 5
    assert disp.n_slices(Orientation.SAGITTAL) == 6
    assert disp.pixel_spacing(Orientation.AXIAL) == (2.0, 0.5)
    assert disp.pixel_spacing(Orientation.CORONAL) == (3.0, 0.5)
    assert disp.pixel_spacing(Orientation.SAGITTAL) == (3.0, 2.0)
    assert disp.slice_spacing(Orientation.AXIAL) == 3.0
    for o, labels in RADIOLOGICAL.items():
        assert disp.edge_labels(o) == labels
    # top-left pixel of the axial plane is the voxel at the anterior-right corner
    assert np.allclose(disp.display_to_world(Orientation.AXIAL, 0, 0, 0), (1, 2, 3))
    assert np.allclose(disp.display_to_world(Orientation.AXIAL, 4, 5, 3), (3.5, 10, 12))


def test_ras_nifti_style_affine_is_flipped_to_radiological() -> None:
    # A NIfTI with a diagonal RAS+ affine (i towards the patient's right, j towards
    # anterior) becomes, in LPS, an affine with negative x and y steps.
    affine = np.diag([-0.8, -0.9, 2.0, 1.0])
    affine[:3, 3] = (50.0, 60.0, -10.0)
    vol = Volume(voxels=_ramp((3, 4, 5)), affine=affine)
    disp = _check_consistent(vol)
    _check_screen_directions(disp)
    assert np.array_equal(disp.slice_array(Orientation.AXIAL, 1), vol.voxels[1, ::-1, ::-1])
    for o, labels in RADIOLOGICAL.items():
        assert disp.edge_labels(o) == labels
    # the top-left axial pixel is the last stored x and y: most anterior, patient right
    assert np.allclose(disp.display_to_voxel(Orientation.AXIAL, 0, 0, 1), (1, 3, 4))
    world = disp.display_to_world(Orientation.AXIAL, 0, 0, 1)
    assert np.allclose(world, (50.0 - 0.8 * 4, 60.0 - 0.9 * 3, -8.0))
    assert disp.pixel_spacing(Orientation.AXIAL) == pytest.approx((0.9, 0.8))
    # the new affine still maps canonical indices to the same world points
    assert np.allclose(disp.affine[:3, :3], np.diag([0.8, 0.9, 2.0]))


def test_sagittally_stored_volume_is_permuted() -> None:
    # voxel x runs towards anterior, voxel y towards inferior, voxel z towards patient left:
    # a sagittal acquisition stored slice by slice.
    direction = np.array([[0, 0, 1], [-1, 0, 0], [0, -1, 0]], dtype=float)
    vol = Volume.from_spacing(_ramp((7, 5, 6)), spacing_zyx=(1.5, 1.0, 0.7), direction=direction)
    disp = _check_consistent(vol)
    _check_screen_directions(disp)
    assert disp.shape == (5, 6, 7)  # (S-I rows of y, A-P of x, L-R of z)
    assert disp.n_slices(Orientation.SAGITTAL) == 7
    for o, labels in RADIOLOGICAL.items():
        assert disp.edge_labels(o) == labels
    assert disp.pixel_spacing(Orientation.SAGITTAL) == pytest.approx((1.0, 0.7))
    # the stored slice 0 is the patient's rightmost sagittal plane, shown unflipped
    sag0 = disp.slice_array(Orientation.SAGITTAL, 0)
    assert np.array_equal(sag0, vol.voxels[0, :, ::-1])


@pytest.mark.parametrize("tilt_deg", [10.0, 30.0])
def test_oblique_volume_labels_and_mapping(tilt_deg: float) -> None:
    t = np.deg2rad(tilt_deg)
    # gantry tilt: rotation about the patient left-right axis
    direction = np.array(
        [[1, 0, 0], [0, np.cos(t), -np.sin(t)], [0, np.sin(t), np.cos(t)]], dtype=float
    )
    vol = Volume.from_spacing(_ramp((6, 8, 9)), spacing_zyx=(2.4, 0.8, 0.8), direction=direction)
    disp = _check_consistent(vol)
    _check_screen_directions(disp)
    axial = disp.edge_labels(Orientation.AXIAL)
    if tilt_deg < 14:
        assert axial == RADIOLOGICAL[Orientation.AXIAL]
    else:
        # screen up is anterior and also (by sin 30 = 0.5) inferior
        assert axial == EdgeLabels(top="AI", bottom="PS", left="R", right="L")
        assert disp.edge_labels(Orientation.SAGITTAL) == EdgeLabels(
            top="SA", bottom="IP", left="AI", right="PS"
        )
    # the world step between neighbouring axial rows is the tilted column direction
    step = disp.display_to_world(Orientation.AXIAL, 1, 0, 0) - disp.display_to_world(
        Orientation.AXIAL, 0, 0, 0
    )
    assert np.allclose(step, 0.8 * direction[:, 1])


@pytest.mark.parametrize("seed", range(6))
def test_random_permutations_and_flips_round_trip(seed: int) -> None:
    rng = np.random.default_rng(seed)
    perm = rng.permutation(3)
    signs = rng.choice([-1.0, 1.0], size=3)
    direction = np.zeros((3, 3))
    direction[perm, np.arange(3)] = signs
    shape = tuple(int(v) for v in rng.integers(2, 7, size=3))
    vol = Volume.from_spacing(
        _ramp(shape),  # type: ignore[arg-type]
        spacing_zyx=tuple(rng.uniform(0.5, 3, size=3)),  # type: ignore[arg-type]
        origin_xyz=tuple(rng.uniform(-100, 100, size=3)),  # type: ignore[arg-type]
        direction=direction,
    )
    disp = _check_consistent(vol)
    _check_screen_directions(disp)
    for o, labels in RADIOLOGICAL.items():
        assert disp.edge_labels(o) == labels
    assert sorted(disp.shape) == sorted(shape)


def test_slice_out_of_range_raises() -> None:
    disp = DisplayVolume(Volume.from_spacing(_ramp((2, 3, 4))))
    with pytest.raises(IndexError, match="axial slice 2"):
        disp.slice_array(Orientation.AXIAL, 2)
    assert disp.value_at((5.0, 0.0, 0.0)) is None


def test_direction_letters() -> None:
    assert direction_letters(np.array([0.0, -1.0, 0.0])) == "A"
    assert direction_letters(np.array([-1.0, 0.0, 0.1])) == "R"
    assert direction_letters(np.array([0.2, 0.0, 1.0])) == "S"
    assert direction_letters(np.array([0.5, 0.0, -1.0])) == "IL"
    assert direction_letters(np.zeros(3)) == ""


def test_colour_slices_follow_the_grey_slices_in_every_plane() -> None:
    """A colour volume stored flipped and permuted: each channel of a colour slice is the
    grey slice of that channel's volume, in every plane, and ``rgb_at`` reads it back."""
    rng = np.random.default_rng(3)
    rgb = rng.integers(0, 256, size=(4, 5, 6, 3), dtype=np.uint8)
    affine = np.array([[0.0, 0.0, -2.0, 10.0], [-1.0, 0.0, 0.0, 5.0],
                       [0.0, 3.0, 0.0, -4.0], [0.0, 0.0, 0.0, 1.0]])
    colour = DisplayVolume(Volume(rgb[..., 0].astype(np.float32), affine, rgb=rgb))
    channels = [DisplayVolume(Volume(rgb[..., c].astype(np.float32), affine)) for c in range(3)]
    assert colour.is_colour and not channels[0].is_colour
    for orientation in Orientation:
        for index in range(colour.n_slices(orientation)):
            shown = colour.rgb_slice(orientation, index)
            assert shown.dtype == np.uint8
            for c in range(3):
                np.testing.assert_array_equal(shown[..., c],
                                              channels[c].slice_array(orientation, index))
    canonical = colour.voxel_to_canonical((1, 2, 3))
    assert colour.rgb_at(canonical) == tuple(int(v) for v in rgb[1, 2, 3])
    with pytest.raises(ValueError):
        channels[0].rgb_slice(Orientation.AXIAL, 0)
    with pytest.raises(ValueError):
        Volume(rgb[..., 0].astype(np.float32), affine, rgb=rgb.astype(np.uint16))
    assert Volume(rgb[..., 0], affine, rgb=rgb).with_voxels(rgb[..., 1]).rgb is None
