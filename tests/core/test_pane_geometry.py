"""Pane geometry: the plane of a displayed slice and its (super-resolved) pixel grids."""

from __future__ import annotations

import numpy as np
import pytest

from medsr_viewer.core.geometry import DisplayVolume, Orientation
from medsr_viewer.core.pane_geometry import (
    display_plane,
    display_slice_affine,
    display_slice_volume,
    plane_to_view,
    view_to_plane,
)
from medsr_viewer.core.roi import EllipseRoi, rasterize
from medsr_viewer.core.volume import Volume


def oblique_volume() -> Volume:
    """A RAS-stored, anisotropic, rotated volume: display differs from storage on every axis."""
    rng = np.random.default_rng(0)
    voxels = rng.random((12, 20, 16)).astype(np.float32)
    theta = np.deg2rad(10)
    rot = np.array([[np.cos(theta), -np.sin(theta), 0], [np.sin(theta), np.cos(theta), 0],
                    [0, 0, 1]])
    affine = np.eye(4)
    affine[:3, :3] = rot @ np.diag([-0.8, -1.1, 2.5])
    affine[:3, 3] = (10.0, -5.0, 30.0)
    return Volume(voxels, affine, modality="MR")


@pytest.mark.parametrize("orientation", list(Orientation))
def test_plane_maps_pixel_centres_to_their_world_points(orientation):
    display = DisplayVolume(oblique_volume())
    index = 3
    plane = display_plane(display, orientation, index)
    row_mm, col_mm = display.pixel_spacing(orientation)
    for row, col in [(0, 0), (2, 5), (7, 1)]:
        world = display.display_to_world(orientation, row, col, index)
        np.testing.assert_allclose(plane.to_world((col * col_mm, row * row_mm)), world,
                                   atol=1e-6)
        x, y = ((col + 0.5) * col_mm, (row + 0.5) * row_mm)  # SliceView.display_to_view
        u, v = view_to_plane(x, y, (row_mm, col_mm))
        np.testing.assert_allclose((u, v), (col * col_mm, row * row_mm), atol=1e-9)
        back = plane_to_view(u, v, (row_mm, col_mm))
        np.testing.assert_allclose(back, (x, y), atol=1e-9)


@pytest.mark.parametrize("orientation", list(Orientation))
def test_slice_volume_is_the_displayed_slice(orientation):
    display = DisplayVolume(oblique_volume())
    image = display.slice_array(orientation, 4)
    vol = display_slice_volume(display, orientation, 4, np.asarray(image))
    # same voxel, same world point, same value
    world = display.display_to_world(orientation, 2, 3, 4)
    np.testing.assert_allclose(vol.index_to_world(np.array([[0, 2, 3]]))[0], world, atol=1e-6)
    assert vol.voxels[0, 2, 3] == image[2, 3]


def test_sr_grid_keeps_pixel_edges():
    display = DisplayVolume(oblique_volume())
    o = Orientation.AXIAL
    base = display_slice_affine(display, o, 5, 1)
    fine = display_slice_affine(display, o, 5, 2)
    # the top-left pixel edge: half a pixel before the first centre, on both grids
    edge_base = base @ np.array([-0.5, -0.5, 0, 1])
    edge_fine = fine @ np.array([-0.5, -0.5, 0, 1])
    np.testing.assert_allclose(edge_base, edge_fine, atol=1e-9)
    with pytest.raises(ValueError, match="is not"):
        display_slice_volume(display, o, 5, np.zeros((3, 3), np.float32), scale=2)


def test_roi_drawn_in_a_pane_rasterises_on_both_grids():
    display = DisplayVolume(oblique_volume())
    o = Orientation.AXIAL
    plane = display_plane(display, o, 6)
    row_mm, col_mm = display.pixel_spacing(o)
    roi = EllipseRoi(plane, cu=8 * col_mm, cv=9 * row_mm, ru=4.0, rv=4.0)
    image = np.asarray(display.slice_array(o, 6))
    native = rasterize(roi, display_slice_volume(display, o, 6, image))
    fine = rasterize(roi, display_slice_volume(display, o, 6, np.kron(image, np.ones((3, 3))),
                                               scale=3))
    area = np.pi * 16
    pixel = abs(np.linalg.det(display_slice_affine(display, o, 6)[:3, :3])) / \
        np.linalg.norm(display_slice_affine(display, o, 6)[:3, 2])
    assert abs(native.sum() * pixel - area) / area < 0.2
    assert abs(fine.sum() * pixel / 9 - area) / area < 0.08


@pytest.mark.parametrize("orientation", [Orientation.CORONAL, Orientation.SAGITTAL])
def test_through_plane_grid_finer_along_rows_only_keeps_the_pixel_edges(orientation):
    # A through-plane result: rows (the slice axis) 2.79x finer, columns unchanged.
    display = DisplayVolume(oblique_volume())
    rows, cols = display.slice_shape(orientation)
    n_rows = round(rows * 2.79)
    image = np.zeros((n_rows, cols), np.float32)
    fine = display_slice_volume(display, orientation, 4, image, (n_rows / rows, 1.0))
    coarse = display_slice_volume(display, orientation, 4,
                                  np.asarray(display.slice_array(orientation, 4)))
    for corner_fine, corner_coarse in (((-0.5, -0.5), (-0.5, -0.5)),
                                       ((n_rows - 0.5, cols - 0.5), (rows - 0.5, cols - 0.5))):
        np.testing.assert_allclose(
            fine.index_to_world(np.array([[0.0, *corner_fine]]))[0],
            coarse.index_to_world(np.array([[0.0, *corner_coarse]]))[0], atol=1e-6)
    with pytest.raises(ValueError, match="is not"):
        display_slice_volume(display, orientation, 4, image, (2.0, 1.0))
