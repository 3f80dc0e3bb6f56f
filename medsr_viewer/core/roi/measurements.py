"""Measurements drawn on a slice: a ruler (a length in mm) and an angle (in degrees).

A measurement is a world object like an ROI (it lies in the :class:`Plane` of the slice it was
drawn on and keeps its points in that plane's millimetre coordinates), so it lives in the same
:class:`~medsr_viewer.core.roi.RoiSet`: sessions keep it, ROI files export it, one undo step
adds, moves or edits it, and every pane showing that slice (the original and the SR result)
draws it. Unlike an ROI it encloses no area: :meth:`contains_uv` is all ``False``, so it
rasterises to an empty mask, and the metrics code skips it (:func:`area_rois`).

Lengths are exact world distances: ``(u, v)`` are orthonormal millimetre axes of the plane, so
a ruler drawn on a pane with anisotropic pixels (a coronal reformat of 0.9 × 3 mm voxels)
still measures millimetres.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any, ClassVar

import numpy as np

from medsr_viewer.core.roi.shapes import Point, Roi


def _point(p: Iterable[float]) -> Point:
    u, v = (float(c) for c in p)
    if not (math.isfinite(u) and math.isfinite(v)):
        raise ValueError(f"measurement points must be finite, got {(u, v)}")
    return (u, v)


def _segment_distance(u: np.ndarray, v: np.ndarray, a: Point, b: Point) -> np.ndarray:
    """Distance (mm) of points ``(u, v)`` from the segment ``a``–``b``."""
    au, av = a
    du, dv = b[0] - au, b[1] - av
    length2 = du * du + dv * dv
    if length2 == 0.0:
        return np.hypot(u - au, v - av)
    t = np.clip(((u - au) * du + (v - av) * dv) / length2, 0.0, 1.0)
    return np.hypot(u - (au + t * du), v - (av + t * dv))


@dataclass(frozen=True)
class Measurement(Roi):
    """Common behaviour of open, area-less shapes: a polyline through :attr:`points`."""

    @property
    def points(self) -> tuple[Point, ...]:
        """The defining points in order (also the edit handles)."""
        raise NotImplementedError

    def with_point(self, index: int, point: Point) -> Measurement:
        """A copy with point ``index`` moved to ``point`` (dragging an end)."""
        raise NotImplementedError

    @property
    def text(self) -> str:
        """The measured value as shown beside the shape ("23.4 mm", "47.2°")."""
        raise NotImplementedError

    @property
    def value(self) -> float:
        """The measured value (mm or degrees)."""
        raise NotImplementedError

    def contains_uv(self, u: np.ndarray, v: np.ndarray) -> np.ndarray:
        """Nothing is inside a line: all ``False`` (rasterises to an empty mask)."""
        return np.zeros(np.broadcast(np.asarray(u), np.asarray(v)).shape, dtype=bool)

    def distance_uv(self, u: np.ndarray, v: np.ndarray) -> np.ndarray:
        """Distance (mm) of points from the polyline, to pick the shape with the mouse."""
        u = np.asarray(u, dtype=np.float64)
        v = np.asarray(v, dtype=np.float64)
        pts = self.points
        return np.minimum.reduce([_segment_distance(u, v, a, b)
                                  for a, b in itertools.pairwise(pts)])

    def bounds_uv(self) -> tuple[float, float, float, float]:
        """Box around the points."""
        pts = np.asarray(self.points)
        (u0, v0), (u1, v1) = pts.min(axis=0), pts.max(axis=0)
        return (float(u0), float(v0), float(u1), float(v1))

    def outline_uv(self, points: int = 128) -> np.ndarray:
        """The open polyline through the points (not closed)."""
        return np.asarray(self.points, dtype=np.float64)

    def translated(self, du: float, dv: float) -> Measurement:
        """Moved copy."""
        shape: Measurement = self
        for index, (u, v) in enumerate(self.points):
            shape = shape.with_point(index, (u + du, v + dv))
        return shape

    def label_uv(self) -> Point:
        """Where the value is written: past the end of a ruler, at an angle's vertex."""
        return self.points[-1]


@dataclass(frozen=True)
class RulerRoi(Measurement):
    """A straight distance from ``start`` to ``end`` (in-plane mm)."""

    kind: ClassVar[str] = "ruler"

    start: Point = (0.0, 0.0)
    end: Point = (0.0, 0.0)

    def __post_init__(self) -> None:
        object.__setattr__(self, "start", _point(self.start))
        object.__setattr__(self, "end", _point(self.end))

    @property
    def points(self) -> tuple[Point, ...]:
        """``(start, end)``."""
        return (self.start, self.end)

    def with_point(self, index: int, point: Point) -> RulerRoi:
        """A copy with ``start`` (0) or ``end`` (1) moved."""
        point = _point(point)
        return replace(self, start=point) if index == 0 else replace(self, end=point)

    @property
    def value(self) -> float:
        """Length in mm."""
        return math.hypot(self.end[0] - self.start[0], self.end[1] - self.start[1])

    @property
    def text(self) -> str:
        """``"23.4 mm"`` (two decimals below 10 mm)."""
        length = self.value
        return f"{length:.2f} mm" if length < 10 else f"{length:.1f} mm"

    def params(self) -> dict[str, Any]:
        """``start``, ``end`` as ``[u, v]``."""
        return {"start": list(self.start), "end": list(self.end)}


@dataclass(frozen=True)
class AngleRoi(Measurement):
    """The angle at ``vertex`` between the arms to ``first`` and ``second`` (in-plane mm)."""

    kind: ClassVar[str] = "angle"

    first: Point = (0.0, 0.0)
    vertex: Point = (0.0, 0.0)
    second: Point = (0.0, 0.0)

    def __post_init__(self) -> None:
        for name in ("first", "vertex", "second"):
            object.__setattr__(self, name, _point(getattr(self, name)))

    @property
    def points(self) -> tuple[Point, ...]:
        """``(first, vertex, second)``: the polyline drawn."""
        return (self.first, self.vertex, self.second)

    def with_point(self, index: int, point: Point) -> AngleRoi:
        """A copy with ``first`` (0), ``vertex`` (1) or ``second`` (2) moved."""
        point = _point(point)
        if index == 0:
            return replace(self, first=point)
        return replace(self, vertex=point) if index == 1 else replace(self, second=point)

    @property
    def value(self) -> float:
        """The angle in degrees, 0-180 (``nan`` when an arm has zero length)."""
        a = np.subtract(self.first, self.vertex)
        b = np.subtract(self.second, self.vertex)
        norms = float(np.linalg.norm(a) * np.linalg.norm(b))
        if norms == 0.0:
            return math.nan
        cos = float(np.clip(np.dot(a, b) / norms, -1.0, 1.0))
        return math.degrees(math.acos(cos))

    @property
    def text(self) -> str:
        """``"47.2°"``."""
        return f"{self.value:.1f}°"

    def label_uv(self) -> Point:
        """At the vertex."""
        return self.vertex

    def params(self) -> dict[str, Any]:
        """``first``, ``vertex``, ``second`` as ``[u, v]``."""
        return {"first": list(self.first), "vertex": list(self.vertex),
                "second": list(self.second)}


#: Measurement classes by their ``kind`` string (JSON import).
MEASUREMENT_KINDS: dict[str, type[Measurement]] = {
    cls.kind: cls for cls in (RulerRoi, AngleRoi)
}


def is_measurement(roi: Roi) -> bool:
    """Whether ``roi`` is a ruler or angle (no area: metrics skip it)."""
    return isinstance(roi, Measurement)


def area_rois(rois: Iterable[Roi]) -> list[Roi]:
    """The ROIs that enclose an area (what region metrics are computed for)."""
    return [roi for roi in rois if not is_measurement(roi)]


def measurement_from_points(kind: str, plane: Any, points: list[Point],
                            min_length: float) -> Measurement | None:
    """A ruler (2 points) or angle (3 points) of ``kind``, or ``None`` when degenerate.

    A ruler shorter than ``min_length`` mm (a click) makes nothing; neither does an angle with
    an arm shorter than that.
    """
    pts = [_point(p) for p in points]
    if kind == RulerRoi.kind and len(pts) == 2:
        ruler = RulerRoi(plane, start=pts[0], end=pts[1])
        return ruler if ruler.value >= min_length else None
    if kind == AngleRoi.kind and len(pts) == 3:
        arms = (math.dist(pts[0], pts[1]), math.dist(pts[2], pts[1]))
        if min(arms) < min_length:
            return None
        return AngleRoi(plane, first=pts[0], vertex=pts[1], second=pts[2])
    raise ValueError(f"a {kind!r} measurement cannot be made of {len(pts)} points")
