"""Simulated low-resolution studies and reference resampling, for judging SR in the viewer.

"Simulate" mode follows the project's SR evaluation protocol (README): the low-resolution
(LR) study is the mean over each ``s × s`` block in the acquired plane of the real study (a
voxel ``s`` times larger, HR cropped to a multiple of ``s``), placed in world space so that
its voxel edges coincide with the HR voxels it averages. A model's ×``s`` output of the LR
study then lies exactly on the HR grid, and the real study is the reference for PSNR/SSIM.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import map_coordinates

from medsr_viewer.core.degrade import block_mean_downsample
from medsr_viewer.core.roi.plane import Grid
from medsr_viewer.core.volume import Volume


def low_resolution_affine(affine: np.ndarray, axis: int, scale: int) -> np.ndarray:
    """Affine of a volume whose in-plane voxels (normal to ``axis``, z/y/x order) are ``scale``
    times larger, with the first voxel's edges on the original's first voxel edges."""
    out = np.array(affine, dtype=np.float64, copy=True)
    for a in (0, 1, 2):
        if a == axis:
            continue
        col = 2 - a
        out[:3, 3] += affine[:3, col] * (scale - 1) / 2.0
        out[:3, col] = affine[:3, col] * scale
    return out


def simulate_low_resolution(volume: Volume, scale: int, axis: int | None = None) -> Volume:
    """The LR study of ``volume`` by the evaluation protocol (block mean in the ``axis`` plane).

    ``axis`` (z/y/x order) defaults to the volume's acquired slice axis (metadata
    ``slice_axis``, else 0). Raises ``ValueError`` when a slice is smaller than one block.
    """
    if scale < 2:
        raise ValueError(f"simulation needs a scale of at least 2, got {scale}")
    axis = int(volume.metadata.get("slice_axis", 0) if axis is None else axis)
    moved = np.moveaxis(np.asarray(volume.voxels, dtype=np.float64), axis, 0)
    lr = np.moveaxis(block_mean_downsample(moved, scale), 0, axis).astype(np.float32)
    metadata = {k: v for k, v in volume.metadata.items() if k != "series_uid"}
    metadata.update(simulated_from=volume.name or str(volume.metadata.get("source", "")),
                    simulated_scale=scale, slice_axis=axis)
    return Volume(lr, low_resolution_affine(volume.affine, axis, scale),
                  modality=volume.modality,
                  name=f"{volume.name or 'study'} (simulated LR x{scale})",
                  window=volume.window, metadata=metadata)


def resample_linear(volume: Volume, grid: Grid) -> np.ndarray:
    """``volume``'s values at the voxel centres of ``grid`` (trilinear in world space).

    Centres outside ``volume`` are NaN. On a grid whose centres coincide with ``volume``'s
    the values are returned unchanged (up to float rounding).
    """
    shape = tuple(int(s) for s in grid.shape)
    mapping = np.linalg.inv(volume.affine) @ np.asarray(grid.affine, dtype=np.float64)
    zz, yy, xx = np.meshgrid(*(np.arange(n) for n in shape), indexing="ij")
    xyz = np.stack([xx, yy, zz], axis=-1).reshape(-1, 3).astype(np.float64)
    src = xyz @ mapping[:3, :3].T + mapping[:3, 3]
    src = np.where(np.abs(src - np.rint(src)) < 1e-6, np.rint(src), src)  # exact on-grid
    coords = src[:, ::-1].T  # (z, y, x) rows for map_coordinates
    values = map_coordinates(np.asarray(volume.voxels, dtype=np.float64), coords, order=1,
                             mode="constant", cval=np.nan)
    limits = np.asarray(volume.shape)[:, None] - 1
    outside = np.any((coords < -1e-9) | (coords > limits + 1e-9), axis=0)
    values[outside] = np.nan
    return values.reshape(shape)
