"""Qt-free geometry of the ROI drawing tools: shapes from gestures, resize, slice membership."""

from __future__ import annotations

import math

import numpy as np
import pytest

from medsr_viewer.core.roi import EllipseRoi, FreehandRoi, Plane, PolygonRoi, RectangleRoi
from medsr_viewer.core.roi.drawing import (
    ROI_PALETTE,
    box_from_drag,
    map_uv,
    mask_boundary,
    next_roi_style,
    polygon_from_points,
    resize_handles,
    resized,
    same_slice,
)

AXIAL = Plane((0.0, 0.0, 5.0), (1.0, 0.0, 0.0), (0.0, 1.0, 0.0))


def test_names_count_up_from_the_largest_and_colours_follow_the_number():
    assert next_roi_style([]) == ("ROI 1", ROI_PALETTE[0])
    rois = [RectangleRoi(AXIAL, u1=1, v1=1, name=n) for n in ("ROI 1", "ROI 3", "lesion")]
    assert next_roi_style(rois) == ("ROI 4", ROI_PALETTE[3])
    many = [RectangleRoi(AXIAL, u1=1, v1=1, name=f"ROI {len(ROI_PALETTE)}")]
    assert next_roi_style(many) == (f"ROI {len(ROI_PALETTE) + 1}", ROI_PALETTE[0])
    assert len(set(ROI_PALETTE)) == len(ROI_PALETTE)


def test_drag_makes_the_dragged_box_whatever_the_direction():
    rect = box_from_drag("rectangle", AXIAL, (10.0, 8.0), (2.0, 20.0), 0.5)
    assert isinstance(rect, RectangleRoi)
    assert rect.bounds_uv() == (2.0, 8.0, 10.0, 20.0)
    ellipse = box_from_drag("ellipse", AXIAL, (2.0, 8.0), (10.0, 20.0), 0.5)
    assert isinstance(ellipse, EllipseRoi)
    assert (ellipse.cu, ellipse.cv, ellipse.ru, ellipse.rv) == (6.0, 14.0, 4.0, 6.0)
    assert ellipse.area_mm2 == pytest.approx(math.pi * 24)


@pytest.mark.parametrize("end", [(2.0, 2.0), (2.3, 9.0), (9.0, 2.2)])
def test_click_or_one_axis_drag_makes_no_box(end):
    for kind in ("rectangle", "ellipse"):
        assert box_from_drag(kind, AXIAL, (2.0, 2.0), end, 0.5) is None
    with pytest.raises(ValueError):
        box_from_drag("polygon", AXIAL, (0, 0), (5, 5), 0.5)


def test_polygon_from_points_drops_repeats_and_refuses_degenerate_paths():
    square = polygon_from_points("polygon", AXIAL, [(0, 0), (0, 0), (4, 0), (4, 4), (0, 4),
                                                    (0, 0)], 0.1)
    assert isinstance(square, PolygonRoi) and square.vertices == ((0, 0), (4, 0), (4, 4), (0, 4))
    assert square.area_mm2 == 16
    lasso = polygon_from_points("freehand", AXIAL, [(0, 0), (3, 0), (0, 3)], 0.1)
    assert isinstance(lasso, FreehandRoi)
    assert polygon_from_points("polygon", AXIAL, [(0, 0), (1, 1), (1, 1)], 0.1) is None
    assert polygon_from_points("polygon", AXIAL, [(0, 0), (1, 1), (2, 2)], 0.1) is None  # line
    with pytest.raises(ValueError):
        polygon_from_points("rectangle", AXIAL, [(0, 0), (3, 0), (0, 3)], 0.1)


def test_resize_by_a_corner_keeps_the_opposite_corner():
    rect = RectangleRoi(AXIAL, u0=0, v0=0, u1=10, v1=6, name="ROI 1", color=(1, 2, 3))
    handles = resize_handles(rect)
    np.testing.assert_array_equal(handles, [(0, 0), (10, 0), (10, 6), (0, 6)])
    bigger = resized(rect, 2, (14.0, 9.0), 0.5)
    assert isinstance(bigger, RectangleRoi)
    assert bigger.bounds_uv() == (0, 0, 14, 9)
    assert (bigger.roi_id, bigger.name, bigger.color) == (rect.roi_id, "ROI 1", (1, 2, 3))
    flipped = resized(rect, 0, (12.0, 8.0), 0.5)  # dragged past the opposite corner
    assert flipped is not None and flipped.bounds_uv() == (10, 6, 12, 8)
    assert resized(rect, 1, (0.2, 3.0), 0.5) is None  # collapsed onto the fixed corner's u

    ellipse = EllipseRoi(AXIAL, cu=5, cv=5, ru=2, rv=3)
    moved = resized(ellipse, 3, (1.0, 10.0), 0.5)  # corner (u0, v1) <- opposite (7, 2)
    assert isinstance(moved, EllipseRoi)
    assert (moved.cu, moved.cv, moved.ru, moved.rv) == (4.0, 6.0, 3.0, 4.0)
    poly = PolygonRoi(AXIAL, vertices=((0, 0), (4, 0), (0, 4)))
    assert resize_handles(poly).shape == (0, 2)
    assert resized(poly, 0, (9, 9), 0.5) is None


def test_same_slice_needs_parallel_planes_within_half_a_slice():
    near = Plane((3.0, -2.0, 5.9), (0.0, -1.0, 0.0), (1.0, 0.0, 0.0))  # parallel, axes swapped
    assert same_slice(AXIAL, near, 1.0)
    assert not same_slice(AXIAL, near, 0.8)
    coronal = Plane((0.0, 0.0, 5.0), (1.0, 0.0, 0.0), (0.0, 0.0, -1.0))
    assert not same_slice(AXIAL, coronal, 10.0)


def test_map_uv_between_parallel_planes_keeps_world_positions():
    other = Plane((3.0, -2.0, 5.5), (0.0, -1.0, 0.0), (1.0, 0.0, 0.0))
    uv = np.array([(1.0, 2.0), (-4.0, 0.5)])
    mapped = map_uv(AXIAL, other, uv)
    world_a = AXIAL.to_world(uv)
    world_b = other.to_world(mapped)
    np.testing.assert_allclose(world_a[:, :2], world_b[:, :2], atol=1e-12)


def test_mask_boundary_is_the_rim():
    mask = np.zeros((6, 7), bool)
    mask[1:5, 1:6] = True
    rim = mask_boundary(mask)
    assert rim.sum() == mask.sum() - 3 * 2
    assert not rim[2:4, 2:5].any() and rim[1, 1:6].all()
    full = np.ones((3, 3), bool)
    assert mask_boundary(full).sum() == 8  # the array's edge counts as outside
