"""Upsampling a slice by an integer factor over the same pixel edges, without torch.

The SR evaluation protocol's bicubic baseline is ``torch.nn.functional.interpolate(...,
mode="bicubic", align_corners=False)``: Keys cubic convolution (a = -0.75), source position
``(i + 0.5) / s - 0.5`` for output pixel ``i``, neighbours clamped at the border. The viewer
and the trust maps need exactly that baseline in Qt-free, torch-free code (and on the GUI
thread, where importing torch costs a second), so it is computed here as two small sparse
(sparse) resampling matrices, ``W_rows @ image @ W_cols.T``; bilinear is the same construction with the
linear kernel (source position clamped at 0, as torch does). ``tests/models`` checks both
against torch.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy import sparse

from medsr_viewer.core.slice_profile import fine_positions, interpolate_along

#: Keys' cubic convolution parameter used by torch (and OpenCV).
CUBIC_A = -0.75
MODES = ("nearest", "bilinear", "bicubic")
#: Spline order per interpolation name along a through-plane slice axis.
ORDERS = {"nearest": 0, "bilinear": 1, "bicubic": 3}


def _cubic_weights(t: np.ndarray) -> np.ndarray:
    """Weights of the 4 neighbours ``x0-1 .. x0+2`` for fractional offsets ``t``."""
    a = CUBIC_A

    def near(x: np.ndarray) -> np.ndarray:  # |x| <= 1
        return ((a + 2) * x - (a + 3)) * x * x + 1

    def far(x: np.ndarray) -> np.ndarray:  # 1 < |x| < 2
        return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a

    return np.stack([far(t + 1), near(t), near(1 - t), far(2 - t)], axis=-1)


@lru_cache(maxsize=64)
def resampling_matrix(size: int, scale: int, mode: str) -> sparse.csr_matrix:
    """The ``(size * scale, size)`` sparse matrix mapping a line of pixels to its upsampled
    line (at most 4 weights per output pixel)."""
    return sparse.csr_matrix(_dense_matrix(size, scale, mode))


def _dense_matrix(size: int, scale: int, mode: str) -> np.ndarray:
    if mode not in MODES:
        raise ValueError(f"unknown upsampling mode {mode!r}; expected one of {MODES}")
    out = size * scale
    matrix = np.zeros((out, size), dtype=np.float64)
    rows = np.arange(out)
    if mode == "nearest":
        matrix[rows, rows // scale] = 1.0
        return matrix
    src = (rows + 0.5) / scale - 0.5
    if mode == "bilinear":
        src = np.maximum(src, 0.0)
        x0 = np.floor(src).astype(int)
        t = src - x0
        for offset, weight in ((0, 1.0 - t), (1, t)):
            np.add.at(matrix, (rows, np.clip(x0 + offset, 0, size - 1)), weight)
        return matrix
    x0 = np.floor(src).astype(int)
    weights = _cubic_weights(src - x0)
    for k, offset in enumerate((-1, 0, 1, 2)):
        np.add.at(matrix, (rows, np.clip(x0 + offset, 0, size - 1)), weights[:, k])
    return matrix


def upsample(image: np.ndarray, scale: int, mode: str = "bicubic") -> np.ndarray:
    """``image`` (2-D) resampled ``scale`` times finer over the same pixel edges, float32.

    ``mode``: ``nearest`` (pixel repeat), ``bilinear`` or ``bicubic`` (torch's
    ``align_corners=False`` kernels, to float32 rounding).
    """
    data = np.asarray(image, dtype=np.float64)
    if data.ndim != 2:
        raise ValueError(f"expected a 2-D slice, got shape {data.shape}")
    if scale == 1:
        return data.astype(np.float32)
    if mode == "nearest":
        return np.repeat(np.repeat(data, scale, axis=0), scale, axis=1).astype(np.float32)
    rows = resampling_matrix(data.shape[0], scale, mode)
    cols = resampling_matrix(data.shape[1], scale, mode)
    across = (cols @ data.T).T  # (h, w * s)
    return np.asarray(rows @ across, dtype=np.float32)


def original_on_grid(image: np.ndarray, shape: tuple[int, int], mode: str) -> np.ndarray:
    """A displayed plane resampled to the through-plane grid ``shape`` (same world extent)
    along the axis that differs; bicubic is the through-plane protocol's cubic B-spline."""
    mode = str(getattr(mode, "value", mode))
    out = np.array(image, dtype=np.float32, order="C", copy=True)
    order = ORDERS.get(mode, 3)
    for axis in (0, 1):
        if out.shape[axis] != shape[axis]:
            positions = fine_positions(out.shape[axis], shape[axis])
            out = interpolate_along(out, axis, positions, order)
    return out


def on_grid(image: np.ndarray, shape: tuple[int, int], mode: str,
            through_plane: bool = False) -> np.ndarray:
    """``image`` drawn on the finer grid ``shape``, as the viewer shows an original beside a
    model's result: an integer in-plane scale (both axes) with :func:`upsample`, a
    through-plane reformat grid with :func:`original_on_grid`."""
    mode = str(getattr(mode, "value", mode))
    rows, cols = image.shape[:2]
    scale = shape[0] // rows
    if not through_plane and shape[0] == rows * scale and shape[1] == cols * scale:
        return upsample(image, scale, mode)
    return original_on_grid(image, shape, mode)
