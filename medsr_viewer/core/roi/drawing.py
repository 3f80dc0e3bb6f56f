"""Geometry of interactive ROI drawing and editing, Qt-free.

The GUI's ROI tools turn mouse gestures into in-plane points; these functions turn those
points into ROI shapes (or nothing, for degenerate gestures), resize rectangles and ellipses
by a corner handle, decide whether an ROI lies in a displayed slice, map points between
parallel planes, name and colour new ROIs, and outline a raster mask. Keeping them here makes
the rules unit-testable without a display.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import replace

import numpy as np

from medsr_viewer.core.roi.measurements import Measurement, measurement_from_points
from medsr_viewer.core.roi.plane import Plane
from medsr_viewer.core.roi.shapes import (
    Color,
    EllipseRoi,
    FreehandRoi,
    Point,
    PolygonRoi,
    RectangleRoi,
    Roi,
)

#: Distinct, saturated colours for new ROIs (cycled in order: ROI 1 gets the first).
ROI_PALETTE: tuple[Color, ...] = (
    (255, 214, 0),
    (0, 200, 255),
    (255, 80, 80),
    (110, 230, 80),
    (220, 110, 255),
    (255, 150, 40),
    (70, 130, 255),
    (255, 120, 200),
    (80, 240, 200),
    (190, 190, 190),
)
#: Two plane normals count as parallel when their directions differ by less than ~0.08°.
_PARALLEL_TOL = 1e-6


def next_roi_style(rois: Iterable[Roi], prefix: str = "ROI") -> tuple[str, Color]:
    """Name ``"ROI n"`` (or ``"<prefix> n"``: "Ruler 2") and palette colour for a new ROI.

    ``n`` is one more than the largest number of an existing ``"<prefix> k"`` name, so names
    stay unique after deletions and colours follow the number (neighbours differ).
    """
    pattern = re.compile(re.escape(prefix) + r" (\d+)")
    numbers = [int(m.group(1)) for roi in rois if (m := pattern.fullmatch(roi.name))]
    n = max(numbers, default=0) + 1
    return f"{prefix} {n}", ROI_PALETTE[(n - 1) % len(ROI_PALETTE)]


def box_from_drag(
    kind: str, plane: Plane, start: Point, end: Point, min_size: float
) -> RectangleRoi | EllipseRoi | None:
    """A rectangle or ellipse (``kind``) spanning a drag from ``start`` to ``end`` (in-plane mm).

    The ellipse is inscribed in the dragged box. Returns ``None`` when the box is narrower or
    lower than ``min_size`` mm (a click, or a drag along one axis): such gestures make no ROI.
    """
    (u0, v0), (u1, v1) = start, end
    if abs(u1 - u0) < min_size or abs(v1 - v0) < min_size:
        return None
    if kind == RectangleRoi.kind:
        return RectangleRoi(plane, u0=u0, v0=v0, u1=u1, v1=v1)
    if kind == EllipseRoi.kind:
        return EllipseRoi(plane, cu=(u0 + u1) / 2, cv=(v0 + v1) / 2, ru=abs(u1 - u0) / 2,
                          rv=abs(v1 - v0) / 2)
    raise ValueError(f"a drag makes a rectangle or an ellipse, not a {kind!r}")


def polygon_from_points(
    kind: str, plane: Plane, points: Sequence[Point], min_area: float
) -> PolygonRoi | None:
    """A polygon or freehand lasso (``kind``) through ``points``, closed back to the first.

    Repeated consecutive points are dropped. Returns ``None`` for fewer than three distinct
    vertices or an enclosed area below ``min_area`` mm² (collinear or tiny paths).
    """
    cls = {PolygonRoi.kind: PolygonRoi, FreehandRoi.kind: FreehandRoi}.get(kind)
    if cls is None:
        raise ValueError(f"points make a polygon or a freehand ROI, not a {kind!r}")
    vertices: list[Point] = []
    for u, v in points:
        point = (float(u), float(v))
        if not vertices or point != vertices[-1]:
            vertices.append(point)
    while len(vertices) > 1 and vertices[-1] == vertices[0]:
        vertices.pop()
    if len(vertices) < 3:
        return None
    roi = cls(plane, vertices=tuple(vertices))
    return roi if roi.area_mm2 >= min_area else None


def resize_handles(roi: Roi) -> np.ndarray:
    """In-plane corner handles ``(4, 2)`` of a rectangle or ellipse (its box), the points of a
    ruler or angle, else ``(0, 2)``.

    Box order: ``(u0, v0), (u1, v0), (u1, v1), (u0, v1)``; handle ``i`` is opposite
    ``(i + 2) % 4``.
    """
    if isinstance(roi, Measurement):
        return np.asarray(roi.points, dtype=np.float64)
    if not isinstance(roi, RectangleRoi | EllipseRoi):
        return np.zeros((0, 2))
    u0, v0, u1, v1 = roi.bounds_uv()
    return np.array([(u0, v0), (u1, v0), (u1, v1), (u0, v1)], dtype=np.float64)


def resized(roi: Roi, handle: int, point: Point, min_size: float) -> Roi | None:
    """``roi`` with corner ``handle`` dragged to ``point`` and the opposite corner kept.

    Returns ``None`` when the new box would be narrower or lower than ``min_size`` mm, or when
    the ROI has no resize handles. A ruler's or angle's handle is its point: it moves alone
    (``None`` when that leaves a ruler or an arm shorter than ``min_size``).
    """
    if isinstance(roi, Measurement):
        points = list(roi.points)
        points[handle] = (float(point[0]), float(point[1]))
        moved = measurement_from_points(roi.kind, roi.plane, points, min_size)
        return None if moved is None else roi.with_point(handle, points[handle])
    corners = resize_handles(roi)
    if len(corners) == 0:
        return None
    fixed_u, fixed_v = corners[(handle + 2) % 4]
    u, v = float(point[0]), float(point[1])
    if abs(u - fixed_u) < min_size or abs(v - fixed_v) < min_size:
        return None
    if isinstance(roi, RectangleRoi):
        return replace(roi, u0=fixed_u, v0=fixed_v, u1=u, v1=v)
    assert isinstance(roi, EllipseRoi)
    return replace(roi, cu=(fixed_u + u) / 2, cv=(fixed_v + v) / 2, ru=abs(u - fixed_u) / 2,
                   rv=abs(v - fixed_v) / 2)


def same_slice(plane: Plane, other: Plane, half_thickness: float) -> bool:
    """Whether ``other`` is parallel to ``plane`` and within ``half_thickness`` mm of it.

    This is how a pane decides that an ROI lies in the slice it shows (``half_thickness`` is
    half the pane's slice spacing): such an ROI is drawn as its own outline and can be
    selected, moved and edited there.
    """
    if abs(float(plane.normal @ other.normal)) < 1.0 - _PARALLEL_TOL:
        return False
    distance = float(plane.to_plane(np.asarray(other.origin))[2])
    return abs(distance) <= half_thickness * (1.0 + 1e-6)


def map_uv(source: Plane, target: Plane, uv: np.ndarray | Sequence[Point]) -> np.ndarray:
    """In-plane points ``(..., 2)`` of ``source`` as in-plane points of ``target``.

    The world points are projected orthogonally onto ``target`` (exact for parallel planes).
    """
    return target.to_plane(source.to_world(np.asarray(uv, dtype=np.float64)))[..., :2]


def mask_boundary(mask: np.ndarray) -> np.ndarray:
    """Pixels of a 2-D boolean mask with a 4-neighbour outside it (or on the array's edge)."""
    mask = np.asarray(mask, dtype=bool)
    padded = np.pad(mask, 1, constant_values=False)
    interior = (
        padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2] & padded[1:-1, 2:]
    )
    return mask & ~interior
