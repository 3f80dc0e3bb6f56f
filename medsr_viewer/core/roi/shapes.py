"""ROI shapes in world coordinates: rectangle, ellipse, polygon, freehand lasso and brush mask.

Every ROI lies in a :class:`~medsr_viewer.core.roi.plane.Plane` (the plane of the slice it
was drawn on) and describes its outline in that plane's in-plane millimetre coordinates
``(u, v)``. Nothing refers to a voxel grid, so one ROI rasterises onto any grid (native or SR)
and shows the same world region on each. ROIs are immutable: edits make new ROIs with the same
``roi_id`` (that is what the undo history stores).
"""

from __future__ import annotations

import itertools
import math
import uuid
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

import numpy as np

from medsr_viewer.core.roi.plane import Plane

Color = tuple[int, int, int]
Point = tuple[float, float]


def new_roi_id() -> str:
    """A fresh unique ROI identifier."""
    return uuid.uuid4().hex


@dataclass(frozen=True)
class Roi:
    """Common fields of every ROI shape.

    Attributes
    ----------
    plane
        World plane the ROI lies in.
    roi_id
        Stable identifier (kept across edits, used by the undo history and exports).
    name
        User-visible name.
    color
        Display colour ``(r, g, b)``, 0-255.
    """

    kind: ClassVar[str] = ""

    plane: Plane
    roi_id: str = field(default_factory=new_roi_id, kw_only=True)
    name: str = field(default="", kw_only=True)
    color: Color = field(default=(255, 255, 0), kw_only=True)

    def contains_uv(self, u: np.ndarray, v: np.ndarray) -> np.ndarray:
        """Boolean array: which in-plane points ``(u, v)`` (mm) lie inside the ROI."""
        raise NotImplementedError

    def bounds_uv(self) -> tuple[float, float, float, float]:
        """In-plane bounding box ``(u_min, v_min, u_max, v_max)`` in mm."""
        raise NotImplementedError

    def translated(self, du: float, dv: float) -> Roi:
        """The same ROI moved by ``(du, dv)`` mm within its plane."""
        raise NotImplementedError

    def outline_uv(self, points: int = 128) -> np.ndarray:
        """Closed outline as an ``(n, 2)`` array of in-plane points (for display)."""
        raise NotImplementedError

    def outline_world(self, points: int = 128) -> np.ndarray:
        """Closed outline as ``(n, 3)`` world points, to draw the ROI on any pane."""
        return self.plane.to_world(self.outline_uv(points))

    def params(self) -> dict[str, Any]:
        """Shape parameters as plain JSON values (the inverse of the constructor keywords)."""
        raise NotImplementedError


@dataclass(frozen=True)
class RectangleRoi(Roi):
    """Axis-aligned rectangle in the plane: ``u0 <= u <= u1`` and ``v0 <= v <= v1``."""

    kind: ClassVar[str] = "rectangle"

    u0: float = 0.0
    v0: float = 0.0
    u1: float = 0.0
    v1: float = 0.0

    def __post_init__(self) -> None:
        u0, u1 = sorted((float(self.u0), float(self.u1)))
        v0, v1 = sorted((float(self.v0), float(self.v1)))
        object.__setattr__(self, "u0", u0)
        object.__setattr__(self, "u1", u1)
        object.__setattr__(self, "v0", v0)
        object.__setattr__(self, "v1", v1)

    def contains_uv(self, u: np.ndarray, v: np.ndarray) -> np.ndarray:
        """Points inside or on the rectangle."""
        return (u >= self.u0) & (u <= self.u1) & (v >= self.v0) & (v <= self.v1)

    def bounds_uv(self) -> tuple[float, float, float, float]:
        """The rectangle itself."""
        return (self.u0, self.v0, self.u1, self.v1)

    def translated(self, du: float, dv: float) -> RectangleRoi:
        """Moved copy."""
        return replace(self, u0=self.u0 + du, u1=self.u1 + du, v0=self.v0 + dv, v1=self.v1 + dv)

    def outline_uv(self, points: int = 128) -> np.ndarray:
        """The four corners."""
        return np.array(
            [(self.u0, self.v0), (self.u1, self.v0), (self.u1, self.v1), (self.u0, self.v1)]
        )

    def params(self) -> dict[str, Any]:
        """``u0, v0, u1, v1``."""
        return {"u0": self.u0, "v0": self.v0, "u1": self.u1, "v1": self.v1}

    @property
    def area_mm2(self) -> float:
        """Exact area of the shape."""
        return (self.u1 - self.u0) * (self.v1 - self.v0)


@dataclass(frozen=True)
class EllipseRoi(Roi):
    """Ellipse with centre ``(cu, cv)`` and semi-axes ``ru`` (along u) and ``rv`` (along v)."""

    kind: ClassVar[str] = "ellipse"

    cu: float = 0.0
    cv: float = 0.0
    ru: float = 1.0
    rv: float = 1.0

    def __post_init__(self) -> None:
        if not (self.ru > 0 and self.rv > 0):
            raise ValueError(f"ellipse radii must be positive, got {self.ru}, {self.rv}")

    def contains_uv(self, u: np.ndarray, v: np.ndarray) -> np.ndarray:
        """Points inside or on the ellipse."""
        return ((u - self.cu) / self.ru) ** 2 + ((v - self.cv) / self.rv) ** 2 <= 1.0

    def bounds_uv(self) -> tuple[float, float, float, float]:
        """Box around the ellipse."""
        return (self.cu - self.ru, self.cv - self.rv, self.cu + self.ru, self.cv + self.rv)

    def translated(self, du: float, dv: float) -> EllipseRoi:
        """Moved copy."""
        return replace(self, cu=self.cu + du, cv=self.cv + dv)

    def outline_uv(self, points: int = 128) -> np.ndarray:
        """``points`` points around the ellipse."""
        t = np.linspace(0, 2 * math.pi, points, endpoint=False)
        return np.stack([self.cu + self.ru * np.cos(t), self.cv + self.rv * np.sin(t)], axis=1)

    def params(self) -> dict[str, Any]:
        """``cu, cv, ru, rv``."""
        return {"cu": self.cu, "cv": self.cv, "ru": self.ru, "rv": self.rv}

    @property
    def area_mm2(self) -> float:
        """Exact area ``π ru rv``."""
        return math.pi * self.ru * self.rv


@dataclass(frozen=True)
class PolygonRoi(Roi):
    """Closed polygon through ``vertices`` (in-plane mm); inside by the even-odd rule."""

    kind: ClassVar[str] = "polygon"

    vertices: tuple[Point, ...] = ()

    def __post_init__(self) -> None:
        verts = tuple((float(u), float(v)) for u, v in self.vertices)
        if len(verts) < 3:
            raise ValueError(f"a {self.kind} ROI needs at least 3 vertices, got {len(verts)}")
        object.__setattr__(self, "vertices", verts)

    def contains_uv(self, u: np.ndarray, v: np.ndarray) -> np.ndarray:
        """Even-odd point-in-polygon test (crossing number), vectorised over points."""
        u = np.asarray(u, dtype=np.float64)
        v = np.asarray(v, dtype=np.float64)
        inside = np.zeros(np.broadcast(u, v).shape, dtype=bool)
        verts = np.asarray(self.vertices)
        u_j, v_j = verts[-1]
        for u_i, v_i in verts:
            if v_i != v_j:
                crosses = (v_i > v) != (v_j > v)
                u_cross = (u_j - u_i) * (v - v_i) / (v_j - v_i) + u_i
                inside ^= crosses & (u < u_cross)
            u_j, v_j = u_i, v_i
        return inside

    def bounds_uv(self) -> tuple[float, float, float, float]:
        """Box around the vertices."""
        verts = np.asarray(self.vertices)
        (u0, v0), (u1, v1) = verts.min(axis=0), verts.max(axis=0)
        return (float(u0), float(v0), float(u1), float(v1))

    def translated(self, du: float, dv: float) -> PolygonRoi:
        """Moved copy."""
        return replace(self, vertices=tuple((u + du, v + dv) for u, v in self.vertices))

    def outline_uv(self, points: int = 128) -> np.ndarray:
        """The vertices."""
        return np.asarray(self.vertices)

    def params(self) -> dict[str, Any]:
        """``vertices`` as a list of ``[u, v]``."""
        return {"vertices": [list(p) for p in self.vertices]}

    @property
    def area_mm2(self) -> float:
        """Exact area of a simple polygon (shoelace formula)."""
        verts = np.asarray(self.vertices)
        u, v = verts[:, 0], verts[:, 1]
        return float(abs(np.dot(u, np.roll(v, -1)) - np.dot(v, np.roll(u, -1))) / 2)


@dataclass(frozen=True)
class FreehandRoi(PolygonRoi):
    """Freehand lasso: the mouse path, closed back to its start, treated as a polygon."""

    kind: ClassVar[str] = "freehand"


@dataclass(frozen=True)
class BrushStroke:
    """One brush or eraser drag: a path of in-plane points swept by a disc of ``radius`` mm."""

    points: tuple[Point, ...]
    radius: float
    erase: bool = False

    def __post_init__(self) -> None:
        pts = tuple((float(u), float(v)) for u, v in self.points)
        if not pts:
            raise ValueError("a brush stroke needs at least one point")
        if not self.radius > 0:
            raise ValueError(f"brush radius must be positive, got {self.radius}")
        object.__setattr__(self, "points", pts)
        object.__setattr__(self, "radius", float(self.radius))

    def covers(self, u: np.ndarray, v: np.ndarray) -> np.ndarray:
        """Points within ``radius`` of the stroke's path (union of capsules)."""
        u = np.asarray(u, dtype=np.float64)
        v = np.asarray(v, dtype=np.float64)
        hit = np.zeros(np.broadcast(u, v).shape, dtype=bool)
        pts = np.asarray(self.points)
        r2 = self.radius**2
        if len(pts) == 1:
            return (u - pts[0, 0]) ** 2 + (v - pts[0, 1]) ** 2 <= r2
        for (ua, va), (ub, vb) in itertools.pairwise(pts):
            du, dv = ub - ua, vb - va
            length2 = du * du + dv * dv
            t = 0.0 if length2 == 0 else np.clip(((u - ua) * du + (v - va) * dv) / length2, 0, 1)
            hit |= (u - ua - t * du) ** 2 + (v - va - t * dv) ** 2 <= r2
        return hit

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {"points": [list(p) for p in self.points], "radius": self.radius,
                "erase": self.erase}


@dataclass(frozen=True)
class BrushRoi(Roi):
    """A painted mask: brush strokes add, eraser strokes remove, applied in order."""

    kind: ClassVar[str] = "brush"

    strokes: tuple[BrushStroke, ...] = ()

    def contains_uv(self, u: np.ndarray, v: np.ndarray) -> np.ndarray:
        """Points painted by the strokes, in drawing order."""
        inside = np.zeros(np.broadcast(np.asarray(u), np.asarray(v)).shape, dtype=bool)
        for stroke in self.strokes:
            hit = stroke.covers(u, v)
            inside = inside & ~hit if stroke.erase else inside | hit
        return inside

    def bounds_uv(self) -> tuple[float, float, float, float]:
        """Box around the painting (not the erasing) strokes."""
        boxes = [
            (*(np.asarray(s.points).min(axis=0) - s.radius), *(np.asarray(s.points).max(axis=0)
                                                                + s.radius))
            for s in self.strokes if not s.erase
        ]
        if not boxes:
            return (0.0, 0.0, 0.0, 0.0)
        arr = np.asarray(boxes)
        return (float(arr[:, 0].min()), float(arr[:, 1].min()), float(arr[:, 2].max()),
                float(arr[:, 3].max()))

    def with_stroke(self, stroke: BrushStroke) -> BrushRoi:
        """A copy with one more stroke (brush or eraser)."""
        return replace(self, strokes=(*self.strokes, stroke))

    def translated(self, du: float, dv: float) -> BrushRoi:
        """Moved copy."""
        return replace(self, strokes=tuple(
            replace(s, points=tuple((u + du, v + dv) for u, v in s.points)) for s in self.strokes
        ))

    def outline_uv(self, points: int = 128) -> np.ndarray:
        """Bounding box corners (a brush mask has no single outline; draw its raster)."""
        u0, v0, u1, v1 = self.bounds_uv()
        return np.array([(u0, v0), (u1, v0), (u1, v1), (u0, v1)])

    def params(self) -> dict[str, Any]:
        """``strokes`` as a list of stroke dicts."""
        return {"strokes": [s.to_dict() for s in self.strokes]}


#: Shape classes by their ``kind`` string (used by JSON import).
ROI_KINDS: dict[str, type[Roi]] = {
    cls.kind: cls for cls in (RectangleRoi, EllipseRoi, PolygonRoi, FreehandRoi, BrushRoi)
}
