"""ROI -> boolean voxel mask on any grid (native or SR).

Partial-pixel rule (the one rule every mask in the application follows):

- **In plane**: a voxel belongs to the ROI when its *centre* lies inside the shape or on its
  boundary. No fractional weights. The rasterised area therefore converges to the true area
  as the grid gets finer; for a disc of radius ``r`` on pixels of size ``h`` the error is at
  most the area of the annulus ``r ± h/√2`` (every pixel wholly inside is counted, none wholly
  outside is). In practice the relative error is below 2 % once ``r >= 10 h`` and below 1 %
  once ``r >= 20 h`` (worst case over random centres: 1.6 % and 0.9 %).
- **Through plane**: a voxel belongs when the ROI's plane passes through it, i.e. its centre is
  within half the voxel's extent of the plane along the plane normal (``|d| <= t/2`` where
  ``t = Σ |n · a_i|`` is the voxel's extent along the normal ``n``, ``a_i`` its edge vectors).
  On the grid the ROI was drawn on,
  that is exactly the slice it was drawn on. On a grid twice as fine through plane, the plane
  lies midway between two fine slices and both are included (the drawn slab covers both).
"""

from __future__ import annotations

import numpy as np

from medsr_viewer.core.roi.plane import Grid, Plane
from medsr_viewer.core.roi.shapes import Roi

#: Relative tolerance on the slab half-thickness, so planes exactly midway between two slices
#: include both despite floating-point rounding.
_SLAB_RTOL = 1e-6


def rasterize(roi: Roi, grid: Grid) -> np.ndarray:
    """Boolean mask ``(z, y, x)`` of the voxels of ``grid`` inside ``roi`` (see module doc).

    Only the voxels in the ROI's world bounding box are evaluated, so small ROIs on large
    volumes are cheap.
    """
    shape = tuple(int(s) for s in grid.shape)
    mask = np.zeros(shape, dtype=bool)
    box = candidate_box(roi, grid)
    if box is None:
        return mask
    affine = np.asarray(grid.affine, dtype=np.float64)
    (z0, z1), (y0, y1), (x0, x1) = box
    zz, yy, xx = np.meshgrid(
        np.arange(z0, z1), np.arange(y0, y1), np.arange(x0, x1), indexing="ij"
    )
    xyz = np.stack([xx, yy, zz], axis=-1).astype(np.float64) @ affine[:3, :3].T + affine[:3, 3]
    uvd = roi.plane.to_plane(xyz)
    half = _half_thickness(roi, affine)
    in_slab = np.abs(uvd[..., 2]) <= half
    sub = np.zeros(in_slab.shape, dtype=bool)
    if in_slab.any():
        sub[in_slab] = roi.contains_uv(uvd[..., 0][in_slab], uvd[..., 1][in_slab])
    mask[z0:z1, y0:y1, x0:x1] = sub
    return mask


def candidate_box(roi: Roi, grid: Grid) -> tuple[tuple[int, int], ...] | None:
    """Index ranges ``((z0, z1), (y0, y1), (x0, x1))`` that may hold ROI voxels, or ``None``."""
    affine = np.asarray(grid.affine, dtype=np.float64)
    u0, v0, u1, v1 = roi.bounds_uv()
    half = _half_thickness(roi, affine)
    corners_uv = np.array([(u0, v0), (u1, v0), (u1, v1), (u0, v1)])
    world = roi.plane.to_world(corners_uv)
    normal = roi.plane.normal
    pts = np.concatenate([world + half * normal, world - half * normal])
    ijk = (pts - affine[:3, 3]) @ np.linalg.inv(affine[:3, :3]).T  # (x, y, z) indices
    lo = np.floor(ijk.min(axis=0)).astype(int) - 1
    hi = np.ceil(ijk.max(axis=0)).astype(int) + 2
    shape_xyz = np.asarray(grid.shape)[::-1]
    lo = np.maximum(lo, 0)
    hi = np.minimum(hi, shape_xyz)
    if np.any(hi <= lo):
        return None
    return tuple((int(lo[a]), int(hi[a])) for a in (2, 1, 0))


def plane_slab_mask(plane: Plane, grid: Grid) -> np.ndarray:
    """Boolean ``(z, y, x)`` mask of every voxel of ``grid`` that ``plane`` passes through.

    The same through-plane rule as :func:`rasterize`, with no in-plane limit: used to restrict
    a 3-D label to the slice(s) an ROI was drawn on before comparing them.
    """
    affine = np.asarray(grid.affine, dtype=np.float64)
    normal = plane.normal
    # signed distance is affine in the voxel indices: d = n·(A idx + t - origin)
    coeff = normal @ affine[:3, :3]  # per x, y, z index
    offset = float(normal @ (affine[:3, 3] - np.asarray(plane.origin)))
    half = 0.5 * float(np.abs(coeff).sum()) * (1 + _SLAB_RTOL)
    nz, ny, nx = (int(s) for s in grid.shape)
    d = (offset + coeff[2] * np.arange(nz)[:, None, None] + coeff[1] * np.arange(ny)[None, :, None]
         + coeff[0] * np.arange(nx)[None, None, :])
    return np.abs(d) <= half


def plane_slice_index(plane: Plane, grid: Grid) -> tuple[int, int] | None:
    """``(axis, index)`` of the one whole grid slice ``plane`` passes through, else ``None``.

    ``None`` for oblique planes or planes between slices (e.g. an ROI drawn on a coarse slice,
    seen on a grid twice as fine through plane).
    """
    aligned = _aligned_slices(plane, grid)
    if aligned is not None:
        axis, indices = aligned
        return (axis, indices[0]) if len(indices) == 1 else None
    slab = plane_slab_mask(plane, grid)
    for axis in range(3):
        others = tuple(i for i in range(3) if i != axis)
        occupied = np.flatnonzero(slab.any(axis=others))
        if len(occupied) == 1:
            index: list[slice | int] = [slice(None)] * 3
            index[axis] = int(occupied[0])
            if slab[tuple(index)].all():
                return axis, int(occupied[0])
    return None


def _aligned_slices(plane: Plane, grid: Grid) -> tuple[int, list[int]] | None:
    """For a plane parallel to one family of grid slices: ``(axis, slab slice indices)``.

    ``None`` when the plane is oblique to the grid. This is the common case (an ROI drawn on a
    slice of the grid it is measured on) answered without building a whole-volume mask.
    """
    affine = np.asarray(grid.affine, dtype=np.float64)
    coeff = plane.normal @ affine[:3, :3]  # signed-distance step per x, y, z index
    total = float(np.abs(coeff).sum())
    big = np.flatnonzero(np.abs(coeff) > 1e-9 * total)
    if len(big) != 1:
        return None
    xyz_axis = int(big[0])
    offset = float(plane.normal @ (affine[:3, 3] - np.asarray(plane.origin)))
    half = 0.5 * total * (1 + _SLAB_RTOL)
    n = int(grid.shape[2 - xyz_axis])
    d = offset + coeff[xyz_axis] * np.arange(n)
    return 2 - xyz_axis, [int(i) for i in np.flatnonzero(np.abs(d) <= half)]


def slice_thickness(roi: Roi, grid: Grid) -> float:
    """Extent in mm of one voxel of ``grid`` along the ROI's plane normal."""
    return 2 * _half_thickness(roi, np.asarray(grid.affine, dtype=np.float64)) / (1 + _SLAB_RTOL)


def _half_thickness(roi: Roi, affine: np.ndarray) -> float:
    extent = float(np.abs(roi.plane.normal @ affine[:3, :3]).sum())
    return 0.5 * extent * (1 + _SLAB_RTOL)
