"""Colour to grayscale conversion used by the 2-D image and DICOM readers.

The viewer, metrics and models work on one intensity channel, so colour inputs are reduced to
luminance (ITU-R BT.601 weights, as in DICOM's and JPEG's YCbCr) and the reader warns.
"""

from __future__ import annotations

import numpy as np

#: BT.601 luma weights for R, G, B.
LUMA_WEIGHTS = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def is_gray_rgb(rgb: np.ndarray) -> bool:
    """True when every pixel of a ``(..., 3)`` RGB array has equal channels."""
    return bool(np.array_equal(rgb[..., 0], rgb[..., 1]) and np.array_equal(rgb[..., 0], rgb[..., 2]))


def rgb_to_luminance(rgb: np.ndarray) -> np.ndarray:
    """float32 luminance of a ``(..., 3)`` (or ``(..., 4)`` with alpha, ignored) RGB array."""
    channels = np.asarray(rgb)[..., :3].astype(np.float32, copy=False)
    return channels @ LUMA_WEIGHTS
