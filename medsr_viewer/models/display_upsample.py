"""The original slice drawn on a model's finer grid, for a fair before/after comparison.

Runs off the GUI thread (the viewer's display resampler calls it) because a bicubic 512² →
1024² upsample costs tens of milliseconds, more than a wheel step may.

- :func:`upsample` — in-plane SR grids: ``scale`` times finer over the same pixel edges;
  nearest repeats pixels, bilinear and bicubic use ``align_corners=False`` interpolation
  (bicubic is exactly the reference bicubic SR baseline).
- :func:`original_on_grid` — through-plane grids: resampled along the axis that differs to
  the reformat's shape (same world extent); bicubic is the protocol's cubic B-spline.
- :func:`on_grid` — either, for a target shape.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from medsr_viewer.core.slice_profile import fine_positions, interpolate_along

#: Spline order per interpolation name along the slice axis.
ORDERS = {"nearest": 0, "bilinear": 1, "bicubic": 3}


def upsample(image: np.ndarray, scale: int, mode: str) -> np.ndarray:
    """``image`` resampled ``scale`` times finer over the same pixel edges."""
    mode = str(getattr(mode, "value", mode))
    if mode not in ORDERS:
        raise ValueError(f"unknown interpolation {mode!r} (one of {', '.join(ORDERS)})")
    # a fresh C-ordered copy: a displayed slice is often a flipped view, and a flipped axis of
    # length 1 (a coronal row of a 2-D image) keeps its negative stride through
    # ``np.ascontiguousarray``, which torch refuses
    image = np.array(image, dtype=np.float32, order="C", copy=True)
    if scale == 1:
        return image
    if mode == "nearest":
        return np.repeat(np.repeat(image, scale, axis=0), scale, axis=1)
    tensor = torch.from_numpy(image)[None, None]
    with torch.no_grad():
        out = F.interpolate(tensor, scale_factor=float(scale), mode=mode, align_corners=False)
    return out[0, 0].numpy()


def original_on_grid(image: np.ndarray, shape: tuple[int, int], mode: str) -> np.ndarray:
    """The displayed original plane resampled to the through-plane grid ``shape`` (same world
    extent) along the axis that differs; bicubic is the protocol's cubic B-spline."""
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
    """``image`` drawn on the finer grid ``shape``: an integer in-plane scale (both axes) with
    :func:`upsample`, a through-plane reformat grid with :func:`original_on_grid`."""
    rows, cols = image.shape[:2]
    if not through_plane and shape[0] % rows == 0 and shape[0] // rows == shape[1] // cols \
            and shape[1] % cols == 0:
        return upsample(image, shape[0] // rows, mode)
    return original_on_grid(image, shape, mode)
