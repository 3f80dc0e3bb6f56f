"""Statistics of voxel values inside an ROI or mask, on the original and on the SR result,
and image quality (PSNR, SSIM) of SR against a reference inside an ROI.

The ROI is rasterised separately on each grid (native and SR, see
:mod:`medsr_viewer.core.roi.rasterize`), so each result describes the same world region at that
grid's resolution. The paired deltas are differences of the statistics (SR − original); no
voxel-wise pairing is implied, since the grids differ, and sizes are compared in mm² / mm³
(the pixel counts of the two grids are not comparable: their delta is left empty).

Definitions:

- ``sd`` is the sample standard deviation (``ddof=1``); ``nan`` for fewer than two voxels.
  ``mean``/``min``/``max``/``median`` are ``nan`` for an empty mask.
- ``volume_mm3`` is ``count × voxel volume`` (|det| of the affine's 3x3 part).
- ``area_mm2`` is the area of the region *in its plane*: the mask is projected along the grid
  axis closest to the plane normal (for an ROI: its plane's normal; for a bare mask: the slice
  axis), and the projected pixel count times the pixel area is divided by ``|cos|`` of the angle
  between that axis and the normal. So an ROI covering two fine slices of a through-plane SR
  grid still reports its in-plane area, not twice it.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
from skimage.metrics import structural_similarity

from medsr_viewer.core.metrics.image_quality import psnr
from medsr_viewer.core.roi.plane import Grid
from medsr_viewer.core.roi.rasterize import rasterize
from medsr_viewer.core.roi.shapes import Roi

#: Fields of :class:`RoiStats`, in export order.
STAT_FIELDS = ("count", "mean", "sd", "min", "max", "median", "area_mm2", "volume_mm3")
#: Fields whose SR − original difference means nothing (they count pixels of each grid).
GRID_DEPENDENT_FIELDS = ("count",)


@dataclass(frozen=True)
class RoiStats:
    """Statistics of the voxel values inside one mask on one grid (see module doc)."""

    count: int
    mean: float
    sd: float
    min: float
    max: float
    median: float
    area_mm2: float
    volume_mm3: float

    def to_dict(self) -> dict[str, float | int]:
        """Plain dict in :data:`STAT_FIELDS` order."""
        return asdict(self)


@dataclass(frozen=True)
class PairedRoiStats:
    """The same ROI measured on the original and on the SR grid, and ``sr − original``."""

    original: RoiStats
    sr: RoiStats

    @property
    def delta(self) -> dict[str, float | None]:
        """Field-wise difference SR − original of every statistic that means the same on both
        grids: values, ``area_mm2`` and ``volume_mm3``. ``count`` is ``None``: pixel counts of
        grids with different pixel sizes are not comparable (compare the areas)."""
        a, b = self.original.to_dict(), self.sr.to_dict()
        return {key: None if key in GRID_DEPENDENT_FIELDS else float(b[key]) - float(a[key])
                for key in STAT_FIELDS}


def mask_statistics(values: np.ndarray, mask: np.ndarray, affine: np.ndarray,
                    normal: np.ndarray | None = None, slice_axis: int = 0) -> RoiStats:
    """Statistics of ``values`` inside the boolean ``mask`` (both ``(z, y, x)``) on a grid.

    Parameters
    ----------
    values, mask
        Voxel values and mask of equal shape.
    affine
        The grid's 4x4 voxel-(x, y, z)-to-world affine (for areas and volumes).
    normal
        World normal of the region's plane (an ROI's plane normal) for ``area_mm2``; when
        omitted, the normal of array axis ``slice_axis`` is used.
    """
    values = np.asarray(values)
    mask = np.asarray(mask, dtype=bool)
    if values.shape != mask.shape:
        raise ValueError(f"mask {mask.shape} does not fit the image {values.shape}")
    inside = values[mask].astype(np.float64)
    count = int(inside.size)
    edges = np.asarray(affine, dtype=np.float64)[:3, :3]  # columns: x, y, z voxel edges
    voxel_volume = float(abs(np.linalg.det(edges)))
    if count:
        mean, vmin, vmax = float(inside.mean()), float(inside.min()), float(inside.max())
        median = float(np.median(inside))
    else:
        mean = vmin = vmax = median = math.nan
    sd = float(inside.std(ddof=1)) if count >= 2 else math.nan
    return RoiStats(count, mean, sd, vmin, vmax, median,
                    _plane_area(mask, edges, normal, slice_axis), count * voxel_volume)


def roi_statistics(volume: Grid, values: np.ndarray, roi: Roi) -> RoiStats:
    """Statistics of ``values`` (on ``volume``'s grid) inside ``roi`` rasterised on that grid."""
    mask = rasterize(roi, volume)
    return mask_statistics(values, mask, np.asarray(volume.affine), normal=roi.plane.normal)


def paired_roi_statistics(roi: Roi, original: Grid, original_values: np.ndarray, sr: Grid,
                          sr_values: np.ndarray) -> PairedRoiStats:
    """The ROI's statistics on the original grid and on the SR grid, each rasterised natively.

    ``original`` / ``sr`` give the grids (a ``Volume`` works for both grid and values:
    ``paired_roi_statistics(roi, vol, vol.voxels, sr_vol, sr_vol.voxels)``).
    """
    return PairedRoiStats(
        original=roi_statistics(original, original_values, roi),
        sr=roi_statistics(sr, sr_values, roi),
    )


def _plane_area(mask: np.ndarray, edges: np.ndarray, normal: np.ndarray | None,
                slice_axis: int) -> float:
    if not mask.any():
        return 0.0
    units = edges / np.linalg.norm(edges, axis=0)[None, :]  # unit x, y, z voxel axes
    # array axis a (0=z, 1=y, 2=x) runs along affine column 2 - a
    if normal is None:
        column = 2 - slice_axis
        n = np.cross(units[:, (column + 1) % 3], units[:, (column + 2) % 3])
    else:
        n = np.asarray(normal, dtype=np.float64) / np.linalg.norm(normal)
    cosines = np.abs(n @ units)  # per affine column x, y, z
    column = int(np.argmax(cosines))
    axis = 2 - column
    projected = int(mask.any(axis=axis).sum())
    # pixel area of the two other axes (parallelogram spanned by their edge vectors)
    others = [c for c in range(3) if c != column]
    pixel_area = float(np.linalg.norm(np.cross(edges[:, others[0]], edges[:, others[1]])))
    # pixel area measured perpendicular to ``column`` is its footprint in the plane / cos
    footprint_cos = abs(float(n @ _unit(np.cross(edges[:, others[0]], edges[:, others[1]]))))
    return projected * pixel_area / max(footprint_cos, 1e-12)


def _unit(vector: np.ndarray) -> np.ndarray:
    return vector / np.linalg.norm(vector)


#: Half-width of the SSIM window (11 x 11): map pixels this close to the border are excluded,
#: as in the whole-image SSIM of :mod:`medsr_viewer.core.metrics.image_quality`.
SSIM_MARGIN = 5


def masked_psnr(reference: np.ndarray, test: np.ndarray, mask: np.ndarray,
                data_range: float) -> float:
    """PSNR in dB over the voxels inside ``mask`` only (MSE of the masked voxels).

    ``data_range`` follows the evaluation protocol: the reference *volume's* max − min.
    Returns ``nan`` for an empty mask and ``inf`` when the masked voxels are identical.
    """
    ref, tst, m = _masked_inputs(reference, test, mask)
    if not m.any():
        return math.nan
    return psnr(ref[m], tst[m], data_range)


def masked_ssim(reference: np.ndarray, test: np.ndarray, mask: np.ndarray,
                data_range: float) -> float:
    """SSIM averaged inside ``mask``: the SSIM *map* of each 2-D slice, averaged over the masked
    pixels that lie at least :data:`SSIM_MARGIN` pixels from the slice border.

    Arrays are 2-D ``(y, x)`` or 3-D ``(z, y, x)`` (one map per z slice, the masked pixels of all
    slices pooled). The map uses the project's SSIM definition (Gaussian 11 x 11, sigma 1.5,
    K1 0.01, K2 0.03, population covariances), computed with scikit-image's
    ``structural_similarity(full=True)`` with exactly those settings; with a mask covering the
    whole slice the result equals :func:`~medsr_viewer.core.metrics.image_quality.ssim`.
    Returns ``nan`` when no masked pixel is far enough from the border.
    """
    ref, tst, m = _masked_inputs(reference, test, mask)
    if ref.ndim == 2:
        ref, tst, m = ref[None], tst[None], m[None]
    if ref.ndim != 3:
        raise ValueError(f"masked SSIM expects 2-D or 3-D arrays, got shape {ref.shape}")
    if min(ref.shape[1:]) < 2 * SSIM_MARGIN + 1:
        raise ValueError(f"SSIM needs slices of at least 11x11 pixels, got {ref.shape[1:]}")
    total = 0.0
    count = 0
    interior = (slice(SSIM_MARGIN, -SSIM_MARGIN), slice(SSIM_MARGIN, -SSIM_MARGIN))
    for k in range(ref.shape[0]):
        inside = m[k][interior]
        if not inside.any():
            continue
        _, ssim_map = structural_similarity(
            ref[k], tst[k], data_range=data_range, gaussian_weights=True, sigma=1.5,
            use_sample_covariance=False, full=True,
        )
        total += float(ssim_map[interior][inside].sum())
        count += int(inside.sum())
    return total / count if count else math.nan


def _masked_inputs(reference: np.ndarray, test: np.ndarray,
                   mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    ref = np.asarray(reference, dtype=np.float64)
    tst = np.asarray(test, dtype=np.float64)
    m = np.asarray(mask, dtype=bool)
    if not ref.shape == tst.shape == m.shape:
        raise ValueError(f"shapes differ: reference {ref.shape}, test {tst.shape}, mask {m.shape}")
    return ref, tst, m
