"""Small checks every reader applies to the voxels and geometry it produced."""

from __future__ import annotations

import numpy as np


def replace_non_finite(voxels: np.ndarray) -> tuple[np.ndarray, str | None]:
    """Replace NaN and infinite voxels by the finite minimum (0 when none is finite).

    Display, statistics and models all assume finite values, so non-finite voxels are never
    passed on. Returns the (possibly modified in place) array and a user-facing warning, or
    ``None`` when every voxel was finite. Integer arrays are returned unchanged.
    """
    if not np.issubdtype(voxels.dtype, np.floating):
        return voxels, None
    bad = ~np.isfinite(voxels)
    n_bad = int(np.count_nonzero(bad))
    if n_bad == 0:
        return voxels, None
    finite = voxels[~bad]
    fill = float(finite.min()) if finite.size else 0.0
    n_nan = int(np.count_nonzero(np.isnan(voxels)))
    voxels[bad] = fill
    kinds = []
    if n_nan:
        kinds.append(f"{n_nan} NaN")
    if n_bad - n_nan:
        kinds.append(f"{n_bad - n_nan} infinite")
    return voxels, f"{' and '.join(kinds)} voxels replaced by the minimum value {fill:g}"


def largest_spacing_axis(spacing_zyx: tuple[float, float, float], rel_tol: float = 1e-3) -> int:
    """Array axis (0 = z, 1 = y, 2 = x) with the largest voxel spacing; ties go to the lowest.

    This is taken as the acquired slice axis of volumes that do not record it (NIfTI):
    thick-slice acquisitions have their coarse spacing along the slice direction.
    """
    largest = max(spacing_zyx)
    for axis, value in enumerate(spacing_zyx):
        if value >= largest * (1.0 - rel_tol):
            return axis
    return 0  # pragma: no cover - the maximum is always reached
