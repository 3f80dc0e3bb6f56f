"""ROI rasterisation on native and SR grids against analytic areas and independent tests."""

from __future__ import annotations

import math

import numpy as np
import pytest
from skimage.measure import points_in_poly

from medsr_viewer.core.roi import (
    BrushRoi,
    BrushStroke,
    EllipseRoi,
    FreehandRoi,
    GridSpec,
    Plane,
    PolygonRoi,
    RectangleRoi,
    rasterize,
)
from medsr_viewer.core.volume import Volume


def _grid(n: int, h: float, nz: int = 1, hz: float = 1.0, direction: np.ndarray | None = None,
          origin: tuple[float, float, float] = (0.0, 0.0, 0.0)) -> Volume:
    return Volume.from_spacing(np.zeros((nz, n, n), np.float32), (hz, h, h), origin, direction)


def _sr_grid(native: Volume, factor: int = 2, through_plane: bool = False) -> GridSpec:
    """The SR grid over the same extent: voxels 1/factor the size, first centre shifted inwards."""
    scale = np.array([1 / factor, 1 / factor, 1 / factor if through_plane else 1.0])
    affine = native.affine.copy()
    affine[:3, :3] = native.affine[:3, :3] * scale[None, :]
    shift = (scale - 1) / 2  # old index of the first new centre, per (x, y, z)
    affine[:3, 3] = native.affine[:3, :3] @ shift + native.affine[:3, 3]
    z, y, x = native.shape
    return GridSpec((z * factor if through_plane else z, y * factor, x * factor), affine)


def _annulus_bound(r: float, h: float) -> float:
    """Documented worst-case area error of a disc of radius r on pixels of size h."""
    delta = h / math.sqrt(2)
    return math.pi * ((r + delta) ** 2 - r**2)


@pytest.mark.parametrize("h", [1.0, 0.5])
def test_circle_area_is_pi_r_squared(h: float) -> None:
    rng = np.random.default_rng(0)
    grid = _grid(int(60 / h), h)
    plane = Plane.from_slice(grid, 0, 0)
    for r in (10.0, 20.0):
        for _ in range(5):
            cu, cv = rng.uniform(25, 35, size=2)
            mask = rasterize(EllipseRoi(plane, cu=cu, cv=cv, ru=r, rv=r), grid)
            area = mask.sum() * h * h
            exact = math.pi * r * r
            assert abs(area - exact) <= _annulus_bound(r, h)
            # stated practical tolerance: 2 % for r >= 10 pixels, 1 % for r >= 20 pixels
            assert abs(area - exact) / exact < (0.02 if r / h < 20 else 0.01)


def test_mask_uses_pixel_centre_rule_exactly() -> None:
    grid = _grid(40, 0.5)
    plane = Plane.from_slice(grid, 0, 0)
    roi = EllipseRoi(plane, cu=7.3, cv=9.1, ru=4.2, rv=2.7)
    mask = rasterize(roi, grid)[0]
    yy, xx = np.mgrid[0:40, 0:40] * 0.5
    expected = ((xx - 7.3) / 4.2) ** 2 + ((yy - 9.1) / 2.7) ** 2 <= 1
    assert np.array_equal(mask, expected)


def test_rectangle_on_pixel_borders_is_exact() -> None:
    grid = _grid(50, 0.5)
    plane = Plane.from_slice(grid, 0, 0)
    # pixel centres at multiples of 0.5 mm; borders at +-0.25: rectangle covers 20 x 10 pixels
    roi = RectangleRoi(plane, u0=4.75, v0=1.75, u1=14.75, v1=6.75)
    mask = rasterize(roi, grid)
    assert mask.sum() * 0.25 == pytest.approx(roi.area_mm2) == pytest.approx(50.0)


def test_same_world_region_on_native_and_sr_grid() -> None:
    native = _grid(64, 1.0, nz=3, hz=3.0, origin=(-20.0, 10.0, 5.0))
    sr = _sr_grid(native, 2)
    plane = Plane.from_slice(native, 0, 1)
    roi = EllipseRoi(plane, cu=30.2, cv=25.7, ru=12.0, rv=8.0)
    m_native, m_sr = rasterize(roi, native), rasterize(roi, sr)
    assert np.flatnonzero(m_native.any(axis=(1, 2))).tolist() == [1]
    assert np.flatnonzero(m_sr.any(axis=(1, 2))).tolist() == [1]
    area_native = m_native.sum() * 1.0
    area_sr = m_sr.sum() * 0.25
    assert abs(area_native - roi.area_mm2) / roi.area_mm2 < 0.02
    assert abs(area_sr - roi.area_mm2) / roi.area_mm2 < 0.01
    centroid_native = native.index_to_world(np.argwhere(m_native).astype(float)).mean(axis=0)
    sr_vol = Volume(np.zeros(sr.shape, np.float32), sr.affine)
    centroid_sr = sr_vol.index_to_world(np.argwhere(m_sr).astype(float)).mean(axis=0)
    assert np.allclose(centroid_native, centroid_sr, atol=0.1)
    assert np.allclose(centroid_sr, plane.to_world([30.2, 25.7]), atol=0.05)
    # drawn on the SR pane: the same ROI from the SR slice's plane gives the same native mask
    roi_from_sr = EllipseRoi(Plane.from_slice(sr, 0, 1), cu=30.2 + 0.25, cv=25.7 + 0.25,
                             ru=12.0, rv=8.0)
    assert np.array_equal(rasterize(roi_from_sr, native), m_native)


def test_through_plane_sr_grid_takes_both_fine_slices() -> None:
    native = _grid(32, 1.0, nz=4, hz=2.0)
    fine = _sr_grid(native, 2, through_plane=True)
    roi = RectangleRoi(Plane.from_slice(native, 0, 2), u0=3, v0=3, u1=10, v1=12)
    m_fine = rasterize(roi, fine)
    assert np.flatnonzero(m_fine.any(axis=(1, 2))).tolist() == [4, 5]
    # drawn on a fine slice, it lands on the one coarse slice containing it
    roi_fine = RectangleRoi(Plane.from_slice(fine, 0, 5), u0=3, v0=3, u1=10, v1=12)
    assert np.flatnonzero(rasterize(roi_fine, native).any(axis=(1, 2))).tolist() == [2]


def test_rotated_grid_and_sagittal_plane() -> None:
    angle = math.radians(30)
    rot = np.array([[math.cos(angle), -math.sin(angle), 0], [math.sin(angle), math.cos(angle), 0],
                    [0, 0, 1]])
    grid = _grid(80, 0.5, nz=80, hz=0.5, direction=rot)
    plane = Plane.from_slice(grid, 2, 40)  # a sagittal (x = 40) slice of the rotated grid
    roi = EllipseRoi(plane, cu=20.0, cv=20.0, ru=10.0, rv=10.0)
    mask = rasterize(roi, grid)
    assert np.flatnonzero(mask.any(axis=(0, 1))).tolist() == [40]
    assert abs(mask.sum() * 0.25 - math.pi * 100) <= _annulus_bound(10.0, 0.5)
    # an oblique plane (45 deg to the grid): every selected voxel is cut by the plane
    u = np.array([1.0, 0.0, 0.0])
    v = np.array([0.0, 1.0, 1.0]) / math.sqrt(2)
    oblique = Plane((10.0, 10.0, 10.0), tuple(u), tuple(v))
    axis_grid = _grid(60, 0.5, nz=60, hz=0.5)
    m = rasterize(EllipseRoi(oblique, cu=0, cv=0, ru=5, rv=5), axis_grid)
    world = axis_grid.index_to_world(np.argwhere(m).astype(float))
    d = np.abs((world - oblique.origin) @ oblique.normal)
    assert m.sum() > 0 and d.max() <= 0.5 * (0.5 * math.sqrt(2)) + 1e-6


def test_polygon_and_freehand_match_independent_point_in_polygon() -> None:
    grid = _grid(60, 1.0)
    plane = Plane.from_slice(grid, 0, 0)
    verts = [(5.3, 4.1), (50.2, 10.7), (30.6, 28.4), (48.1, 52.9), (7.7, 40.2), (20.4, 22.2)]
    yy, xx = np.mgrid[0:60, 0:60].astype(float)
    expected = points_in_poly(np.stack([xx.ravel(), yy.ravel()], 1), verts).reshape(60, 60)
    for cls in (PolygonRoi, FreehandRoi):
        roi = cls(plane, vertices=tuple(verts))
        assert np.array_equal(rasterize(roi, grid)[0], expected)
        assert abs(expected.sum() - roi.area_mm2) / roi.area_mm2 < 0.03


def test_brush_and_eraser() -> None:
    grid = _grid(80, 0.5)
    plane = Plane.from_slice(grid, 0, 0)
    roi = BrushRoi(plane, strokes=(BrushStroke(((20.0, 20.0),), 5.0),))
    assert abs(rasterize(roi, grid).sum() * 0.25 - math.pi * 25) <= _annulus_bound(5.0, 0.5)
    line = BrushStroke(((5.1, 30.1), (35.1, 30.1)), 2.0)  # edges off the pixel centres
    roi = roi.with_stroke(line)
    area_capsule = 30 * 4 + math.pi * 4
    area = rasterize(roi, grid).sum() * 0.25
    assert abs(area - (math.pi * 25 + area_capsule)) < 0.03 * (math.pi * 25 + area_capsule)
    erased = roi.with_stroke(BrushStroke(((20.0, 20.0),), 2.0, erase=True))
    m = rasterize(erased, grid)[0]
    assert not m[40, 40] and m[40, 40 + 8]  # centre erased, rim kept (row = v/h, col = u/h)
    assert rasterize(erased, grid).sum() < rasterize(roi, grid).sum()


def test_roi_outside_grid_gives_empty_mask() -> None:
    grid = _grid(20, 1.0)
    roi = EllipseRoi(Plane.from_slice(grid, 0, 0), cu=500, cv=500, ru=3, rv=3)
    assert not rasterize(roi, grid).any()
    far_plane = Plane((0.0, 0.0, 50.0), (1.0, 0.0, 0.0), (0.0, 1.0, 0.0))
    assert not rasterize(EllipseRoi(far_plane, cu=5, cv=5, ru=3, rv=3), grid).any()


def test_plane_slab_mask_follows_the_rasterisation_rule() -> None:
    from medsr_viewer.core.roi import plane_slab_mask

    grid = _grid(24, 0.5, nz=20, hz=0.7)
    oblique = Plane((6.0, 5.0, 7.0), (1.0, 0.0, 0.0), (0.0, 0.6, 0.8))
    sheet = RectangleRoi(oblique, u0=-1e4, v0=-1e4, u1=1e4, v1=1e4)
    slab = plane_slab_mask(oblique, grid)
    assert slab.any() and np.array_equal(slab, rasterize(sheet, grid))
    axial = Plane.from_slice(grid, 0, 4)
    assert np.flatnonzero(plane_slab_mask(axial, grid).any(axis=(1, 2))).tolist() == [4]
    assert plane_slab_mask(axial, grid)[4].all()


def test_plane_slice_index_fast_path_agrees_with_the_slab_mask():
    """Axis-aligned planes are located analytically; the answer equals the slab-mask one."""
    from medsr_viewer.core.roi import plane_slab_mask, plane_slice_index
    from medsr_viewer.core.roi.plane import GridSpec

    affine = np.diag([0.9, 1.2, 2.0, 1.0])
    affine[:3, 3] = (-5.0, 3.0, 7.0)
    grid = GridSpec((9, 11, 13), affine)
    fine = GridSpec((18, 11, 13), np.diag([0.9, 1.2, 1.0, 1.0]) @ np.eye(4))
    fine.affine[:3, 3] = (-5.0, 3.0, 7.0 - 0.5)
    for axis in range(3):
        for index in (0, 4, 8):
            plane = Plane.from_slice(grid, axis, index)
            assert plane_slice_index(plane, grid) == (axis, index)
            slab = plane_slab_mask(plane, grid)
            taken = np.take(slab, index, axis=axis)
            assert taken.all() and slab.sum() == taken.size
    # a plane midway between two fine slices covers both: not one slice
    plane = Plane.from_slice(grid, 0, 3)
    assert plane_slab_mask(plane, fine).any(axis=(1, 2)).sum() == 2
    assert plane_slice_index(plane, fine) is None
