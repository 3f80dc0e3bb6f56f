"""Colour to grayscale conversion used by the 2-D image and DICOM readers.

Metrics and models work on one intensity channel, so colour inputs are reduced to luminance
(ITU-R BT.601 weights, as in DICOM's and JPEG's YCbCr); the viewer shows the colour itself,
as 8-bit RGB (:func:`rgb_bytes`).
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


def rgb_bytes(rgb: np.ndarray, bits: int | None = None) -> np.ndarray:
    """``uint8`` colour of ``(..., 3)`` samples of ``bits`` significant bits, for display.

    ``uint8`` samples are returned as they are (no copy); wider integer samples keep their
    top 8 of ``bits`` (default: the whole type, so 16-bit 65535 becomes 255); floating
    samples are taken as 0..255 and rounded, clipped.
    """
    samples = np.asarray(rgb)[..., :3]
    if samples.dtype == np.uint8:
        return samples
    if np.issubdtype(samples.dtype, np.integer):
        width = samples.dtype.itemsize * 8 if bits is None else int(bits)
        shift = max(width - 8, 0)
        return np.clip(samples >> shift if shift else samples, 0, 255).astype(np.uint8)
    return np.clip(np.rint(samples), 0, 255).astype(np.uint8)


def colour_note(source: str) -> str:
    """The load warning of a colour image (``source``: its colour model, e.g. ``RGB``)."""
    return (f"colour image ({source}) shown in colour; window/level, measurements and models "
            "use its luminance")
