"""Thick slices along one axis: the slice profile, the through-plane grid and its resampling.

A thick-slice acquisition samples the object along its slice axis every ``spacing`` with a
slice profile ``thickness`` wide. In units of a fine grid's pixels (the grid the
super-resolved volume lies on) a coarse sample ``j`` is centred at ``(j + 0.5) * spacing -
0.5`` and, with the default boxcar profile, is the mean of the fine signal over
``thickness`` around that centre (pixels taken as constant over their width, partial pixels
weighted by overlap). With ``spacing == thickness == s`` (an integer) this is exactly the
evaluation protocol's mean of each block of ``s`` consecutive slices; ``spacing >
thickness`` is a slice gap, ``spacing < thickness`` overlapping slices.

The fine grid keeps the world extent of the coarse one (voxel *edges* unchanged), as the
in-plane SR path does: ``n_out`` samples over ``n`` coarse slices, fine sample ``i`` at coarse
index coordinate ``(i + 0.5) * n / n_out - 0.5``. The same convention gives the output affine
(:func:`through_plane_affine`) and the interpolation baselines
(:func:`interpolate_along`, ``scipy.ndimage.map_coordinates`` with ``mode="nearest"``), so a
super-resolved volume overlays its input in world space.

Qt-free and torch-free: training, evaluation, the CLI and the viewer share it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

#: Largest through-plane factor accepted (beyond it the data cannot support the output).
MAX_FACTOR = 8.0
#: Columns per ``map_coordinates`` call (bounds the coordinate arrays' memory).
_CHUNK_COLUMNS = 1 << 15


@dataclass(frozen=True)
class SliceProfile:
    """How a coarse axis samples a fine one, in fine-grid pixels.

    Parameters
    ----------
    spacing
        Distance between coarse sample centres (the through-plane factor).
    thickness
        Width of the boxcar slice profile (``== spacing`` for contiguous slices).
    """

    spacing: float
    thickness: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.spacing) and math.isfinite(self.thickness)):
            raise ValueError("slice spacing and thickness must be finite")
        if self.spacing < 1.0 or self.thickness <= 0.0:
            raise ValueError(f"bad slice profile: spacing {self.spacing} (needs >= 1 fine "
                             f"pixel), thickness {self.thickness} (needs > 0)")

    @property
    def gap(self) -> float:
        """Fine pixels between the profiles of neighbouring slices (0 when they touch)."""
        return max(0.0, self.spacing - self.thickness)

    def to_dict(self) -> dict[str, float | str]:
        """JSON form for provenance and cards."""
        return {"shape": "boxcar", "spacing_px": round(self.spacing, 6),
                "thickness_px": round(self.thickness, 6)}


def profile_matrix(n_fine: int, profile: SliceProfile, n_coarse: int | None = None
                   ) -> np.ndarray:
    """The ``(n_coarse, n_fine)`` matrix taking a fine line to its thick-slice samples.

    Rows sum to one; a profile reaching past the ends of the line is renormalised over the
    part inside it (the edge slice averages what exists). ``n_coarse`` defaults to the number
    of whole coarse samples, ``floor(n_fine / spacing)``.
    """
    if n_coarse is None:
        n_coarse = max(1, math.floor(n_fine / profile.spacing + 1e-9))
    centres = (np.arange(n_coarse) + 0.5) * profile.spacing - 0.5
    lo = (centres - profile.thickness / 2.0)[:, None]
    hi = (centres + profile.thickness / 2.0)[:, None]
    pixel = np.arange(n_fine, dtype=np.float64)[None, :]
    weights = np.clip(np.minimum(hi, pixel + 0.5) - np.maximum(lo, pixel - 0.5), 0.0, None)
    sums = weights.sum(axis=1, keepdims=True)
    if np.any(sums <= 0):
        raise ValueError("slice profile misses the line entirely")
    return weights / sums


def degrade_along(array: np.ndarray, axis: int, profile: SliceProfile,
                  n_coarse: int | None = None) -> np.ndarray:
    """Thick-slice samples of ``array`` along ``axis`` (float32, other axes unchanged)."""
    matrix = profile_matrix(array.shape[axis], profile, n_coarse).astype(np.float32)
    moved = np.moveaxis(np.asarray(array, dtype=np.float32), axis, 0)
    out = np.tensordot(matrix, moved, axes=(1, 0))
    return np.ascontiguousarray(np.moveaxis(out, 0, axis))


def block_mean(array: np.ndarray, axis: int, factor: int) -> np.ndarray:
    """The evaluation protocol's LR: the mean of each block of ``factor`` slices along ``axis``.

    ``array`` must hold a multiple of ``factor`` slices along ``axis`` (crop first).
    """
    n = array.shape[axis]
    if factor < 1 or n % factor:
        raise ValueError(f"{n} slices are not a multiple of the factor {factor}")
    moved = np.moveaxis(np.asarray(array, dtype=np.float32), axis, 0)
    blocks = moved.reshape((n // factor, factor) + moved.shape[1:]).mean(axis=1)
    return np.ascontiguousarray(np.moveaxis(blocks, 0, axis))


def output_count(n_coarse: int, factor: float) -> int:
    """Fine samples over ``n_coarse`` slices at ``factor`` (halves round up; at least ``n_coarse``)."""
    if not 1.0 <= factor <= MAX_FACTOR:
        raise ValueError(f"through-plane factor {factor:g} outside 1 .. {MAX_FACTOR:g}")
    return max(n_coarse, math.floor(n_coarse * factor + 0.5))


def fine_positions(n_coarse: int, n_fine: int) -> np.ndarray:
    """Coarse index coordinates of the ``n_fine`` output sample centres (same world extent)."""
    step = n_coarse / n_fine
    return (np.arange(n_fine, dtype=np.float64) + 0.5) * step - 0.5


def interpolate_along(array: np.ndarray, axis: int, positions: np.ndarray, order: int
                      ) -> np.ndarray:
    """Values of ``array`` at fractional ``positions`` along ``axis`` (float32).

    ``scipy.ndimage.map_coordinates`` with ``mode="nearest"``, order 1 (linear) or 3 (cubic
    B-spline), the protocol's baselines. The other axes are flattened into columns sampled at
    their own integer positions (an interpolating spline returns the data there), in chunks.
    """
    if order not in (0, 1, 3):
        raise ValueError(f"interpolation order {order} not supported (0, 1 or 3)")
    moved = np.moveaxis(np.asarray(array, dtype=np.float32), axis, 0)
    rest = moved.shape[1:]
    flat = moved.reshape(moved.shape[0], -1)
    out = np.empty((len(positions), flat.shape[1]), dtype=np.float32)
    rows = np.asarray(positions, dtype=np.float64)
    for start in range(0, flat.shape[1], _CHUNK_COLUMNS):
        stop = min(start + _CHUNK_COLUMNS, flat.shape[1])
        block = flat[:, start:stop]
        if block.shape[0] == 1 or order == 0:
            index = np.clip(np.rint(rows), 0, block.shape[0] - 1).astype(int)
            out[:, start:stop] = block[index]
            continue
        cols = np.arange(stop - start, dtype=np.float64)
        grid_r, grid_c = np.meshgrid(rows, cols, indexing="ij")
        out[:, start:stop] = ndimage.map_coordinates(
            block, [grid_r, grid_c], order=order, mode="nearest"
        )
    return np.ascontiguousarray(np.moveaxis(out.reshape((len(positions),) + rest), 0, axis))


def through_plane_affine(affine: np.ndarray, axis: int, n_coarse: int, n_fine: int
                         ) -> np.ndarray:
    """Affine of the fine grid: voxel ``axis`` (``(z, y, x)`` order; affine column ``2 - axis``)
    shrinks to ``n_coarse / n_fine`` of its length and the origin moves by the half-voxel
    shift, so the voxel edges tile the same world extent as the input's."""
    out = np.array(affine, dtype=np.float64, copy=True)
    col = 2 - axis
    step = n_coarse / n_fine
    out[:3, 3] = affine[:3, 3] + affine[:3, col] * (0.5 * step - 0.5)
    out[:3, col] = affine[:3, col] * step
    return out


def isotropic_factor(slice_spacing: float, pixel_spacing: tuple[float, float]) -> float:
    """The factor that brings ``slice_spacing`` down to the finer in-plane pixel spacing."""
    fine = min(pixel_spacing)
    if fine <= 0 or slice_spacing <= 0:
        raise ValueError("spacings must be positive")
    return max(1.0, min(MAX_FACTOR, slice_spacing / fine))
