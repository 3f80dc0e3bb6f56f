"""The world plane an ROI lies in: an origin and two in-plane unit axes, in LPS mm.

An ROI is drawn on a slice; that slice's plane is stored with the ROI so the ROI is a world
object, independent of the grid (native or SR) it was drawn on. In-plane coordinates ``(u, v)``
are millimetres along the plane's ``u`` and ``v`` axes from its ``origin``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

#: Slice axis of a ``(z, y, x)`` grid -> the voxel axes (x=0, y=1, z=2 affine columns) that
#: become the plane's ``u`` and ``v`` axes: axial (z) slices show x across and y down, coronal
#: (y) slices x across and z, sagittal (x) slices y across and z.
_PLANE_AXES: dict[int, tuple[int, int]] = {0: (0, 1), 1: (0, 2), 2: (1, 2)}


class Grid(Protocol):
    """Anything with a voxel shape ``(z, y, x)`` and a 4x4 voxel-(x, y, z)-to-world affine.

    :class:`medsr_viewer.core.volume.Volume` satisfies it (native or SR grid alike).
    """

    @property
    def shape(self) -> tuple[int, int, int]: ...

    @property
    def affine(self) -> np.ndarray: ...


@dataclass(frozen=True)
class GridSpec:
    """A bare grid (shape and affine) for when no voxels are at hand."""

    shape: tuple[int, int, int]
    affine: np.ndarray


@dataclass(frozen=True, eq=False)
class Plane:
    """An oriented plane in world LPS mm with an in-plane coordinate frame.

    Parameters
    ----------
    origin
        World point of in-plane coordinate ``(0, 0)``.
    u, v
        Orthonormal in-plane axes (unit world vectors); the normal is ``u × v``.
    """

    origin: tuple[float, float, float]
    u: tuple[float, float, float]
    v: tuple[float, float, float]

    def __post_init__(self) -> None:
        u = np.asarray(self.u, dtype=np.float64)
        v = np.asarray(self.v, dtype=np.float64)
        if u.shape != (3,) or v.shape != (3,) or np.asarray(self.origin).shape != (3,):
            raise ValueError("plane origin, u and v must be 3-vectors")
        if not np.isclose(np.linalg.norm(u), 1, atol=1e-6) or not np.isclose(
            np.linalg.norm(v), 1, atol=1e-6
        ):
            raise ValueError("plane axes u and v must be unit vectors")
        if abs(float(u @ v)) > 1e-6:
            raise ValueError("plane axes u and v must be orthogonal")
        for name in ("origin", "u", "v"):
            object.__setattr__(self, name, tuple(float(c) for c in getattr(self, name)))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Plane):
            return NotImplemented
        return (self.origin, self.u, self.v) == (other.origin, other.u, other.v)

    def __hash__(self) -> int:
        return hash((self.origin, self.u, self.v))

    @property
    def normal(self) -> np.ndarray:
        """Unit normal ``u × v``."""
        return np.cross(np.asarray(self.u), np.asarray(self.v))

    def to_world(self, uv: Any) -> np.ndarray:
        """World points of in-plane coordinates ``(..., 2)`` -> ``(..., 3)``."""
        pts = np.asarray(uv, dtype=np.float64)
        return (
            np.asarray(self.origin)
            + pts[..., 0:1] * np.asarray(self.u)
            + pts[..., 1:2] * np.asarray(self.v)
        )

    def to_plane(self, xyz: Any) -> np.ndarray:
        """In-plane coordinates and signed distance ``(u, v, d)`` in mm of world points."""
        rel = np.asarray(xyz, dtype=np.float64) - np.asarray(self.origin)
        basis = np.stack([np.asarray(self.u), np.asarray(self.v), self.normal], axis=1)
        return rel @ basis

    @classmethod
    def from_slice(cls, grid: Grid, axis: int, index: float) -> Plane:
        """The plane of slice ``index`` along array ``axis`` (0 = z, 1 = y, 2 = x) of ``grid``.

        Its origin is the centre of the slice's first voxel; ``u`` runs along the slice's
        columns and ``v`` along its rows (as the slice is displayed), so in-plane coordinates
        of a voxel centre are its column/row position times the pixel spacing.
        """
        if axis not in _PLANE_AXES:
            raise ValueError(f"slice axis must be 0, 1 or 2, got {axis}")
        affine = np.asarray(grid.affine, dtype=np.float64)
        zyx = [0.0, 0.0, 0.0]
        zyx[axis] = float(index)
        origin = affine[:3, :3] @ np.array(zyx[::-1]) + affine[:3, 3]
        iu, iv = _PLANE_AXES[axis]
        u = affine[:3, iu] / np.linalg.norm(affine[:3, iu])
        v = affine[:3, iv] - (affine[:3, iv] @ u) * u  # orthogonalise sheared grids
        v = v / np.linalg.norm(v)
        return cls(tuple(origin), tuple(u), tuple(v))

    def to_dict(self) -> dict[str, list[float]]:
        """JSON form: ``{"origin": [...], "u": [...], "v": [...]}``."""
        return {"origin": list(self.origin), "u": list(self.u), "v": list(self.v)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Plane:
        """Inverse of :meth:`to_dict`."""
        return cls(tuple(data["origin"]), tuple(data["u"]), tuple(data["v"]))
