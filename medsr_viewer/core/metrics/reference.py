"""Image quality of a model result against a reference on the result's own grid.

Used by the viewer when a reference volume is loaded or in simulate mode: the reference is
resampled onto the one-slice grid of a result (exact when the grids coincide, as in simulate
mode), then PSNR/SSIM follow the SR evaluation protocol: data range = the reference volume's
max − min, a border of ``2·s`` pixels removed for whole-slice scores, and the masked forms of
:mod:`~medsr_viewer.core.metrics.roi_stats` inside ROIs.
"""

from __future__ import annotations

import math

import numpy as np

from medsr_viewer.core.metrics.image_quality import crop_border, psnr, ssim
from medsr_viewer.core.metrics.roi_stats import masked_psnr, masked_ssim


def slice_quality(reference: np.ndarray, test: np.ndarray, data_range: float,
                  border: int) -> dict[str, float]:
    """``{"psnr_db", "ssim"}`` of a 2-D result against the reference, border removed.

    Both are ``nan`` when the reference does not cover the cropped slice (NaN values) or the
    slice is too small for SSIM.
    """
    ref = crop_border(np.asarray(reference, dtype=np.float64), border)
    tst = crop_border(np.asarray(test, dtype=np.float64), border)
    if ref.size == 0 or not np.isfinite(ref).all() or min(ref.shape) < 11:
        return {"psnr_db": math.nan, "ssim": math.nan}
    return {"psnr_db": psnr(ref, tst, data_range), "ssim": ssim(ref, tst, data_range)}


def roi_quality(reference: np.ndarray, test: np.ndarray, mask: np.ndarray,
                data_range: float) -> dict[str, float]:
    """``{"psnr_db", "ssim"}`` inside ``mask`` (pixels the reference does not cover excluded)."""
    ref = np.asarray(reference, dtype=np.float64)
    inside = np.asarray(mask, dtype=bool) & np.isfinite(ref)
    filled = np.where(np.isfinite(ref), ref, 0.0)
    if min(ref.shape[-2:]) < 11:
        return {"psnr_db": masked_psnr(filled, test, inside, data_range), "ssim": math.nan}
    return {"psnr_db": masked_psnr(filled, test, inside, data_range),
            "ssim": masked_ssim(filled, test, inside, data_range)}
