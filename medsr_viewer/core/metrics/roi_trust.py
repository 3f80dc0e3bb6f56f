"""How far an ROI's SR pixels can be trusted: mean interval width and the share flagged.

Two numbers per ROI on the SR grid, for the ROI Metrics table and its export:

- ``interval_width``: the mean width (upper − lower, raw intensity units) of the model's
  calibrated per-pixel interval over the ROI's SR pixels (see :mod:`medsr_viewer.core.sr_maps`
  and ``medsr calibrate``); known only where the interval has been computed for that slice.
- ``pct_flagged``: the percentage of the ROI's SR pixels whose added detail (the part of SR
  that no low-resolution image could confirm) exceeds ``k`` times the noise level of the slice
  (:func:`medsr_viewer.core.sr_maps.added_detail`).
"""

from __future__ import annotations

import math

import numpy as np

from medsr_viewer.core.sr_maps import DEFAULT_K, added_detail


def flagged_pixels(sr: np.ndarray, lr: np.ndarray, scale: int, k: float = DEFAULT_K
                   ) -> np.ndarray:
    """Boolean map on the SR grid of the added detail flagged above ``k`` noise sigmas."""
    return np.asarray(added_detail(np.asarray(sr, np.float32), np.asarray(lr, np.float32),
                                   int(scale), k).flagged, dtype=bool)


def roi_trust(mask: np.ndarray, flagged: np.ndarray | None = None,
              width: np.ndarray | None = None) -> dict[str, float]:
    """``pct_flagged`` and ``interval_width`` of the SR pixels in ``mask`` (each only when
    its map is given; ``nan`` for an empty mask)."""
    mask = np.asarray(mask, dtype=bool)
    values: dict[str, float] = {}
    for key, image in (("pct_flagged", flagged), ("interval_width", width)):
        if image is None:
            continue
        image = np.asarray(image)
        if image.shape != mask.shape:
            raise ValueError(f"{key}: map {image.shape} is not on the ROI's grid {mask.shape}")
        if not mask.any():
            values[key] = math.nan
        elif key == "pct_flagged":
            values[key] = 100.0 * float(np.mean(image[mask]))
        else:
            values[key] = float(np.mean(image[mask]))
    return values
