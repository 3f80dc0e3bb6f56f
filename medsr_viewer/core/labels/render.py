"""Drawing label slices: colour tables as arrays, fill / outline / both styles, compositing.

These are the pure-NumPy parts of the label overlay, shared by every pane (the three study
panes and the finer-grid SR pane) and tested without Qt:

- :func:`lut_array` turns a :class:`~medsr_viewer.core.labels.table.LabelTable` into an
  ``(n, 4)`` RGBA lookup table (hidden labels transparent),
- :func:`outline_mask` finds the boundary pixels of each label (1 pixel wide on the grid it
  is computed on, so an outline computed on an upsampled grid is thinner on screen),
- :func:`render_labels` draws one layer's slice as RGBA in a :class:`OverlayStyle`,
- :func:`composite` stacks several layers' RGBA images ("over" operator, first = bottom).
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import Enum

import numpy as np

from medsr_viewer.core.labels.table import LabelTable


class OverlayStyle(str, Enum):
    """How a label layer is drawn: filled regions, their boundaries, or both."""

    FILL = "fill"
    OUTLINE = "outline"
    BOTH = "both"

    def next(self) -> OverlayStyle:
        """The following style in the cycle fill -> outline -> both -> fill (``Shift+O``)."""
        styles = list(OverlayStyle)
        return styles[(styles.index(self) + 1) % len(styles)]


def lut_array(table: LabelTable, max_value: int) -> np.ndarray:
    """``(max_value + 1, 4)`` ``uint8`` RGBA per label value; 0 and hidden labels get alpha 0."""
    top = max(int(max_value), 0)
    return np.asarray(table.colour_lut(top), dtype=np.uint8).reshape(top + 1, 4)


def outline_mask(labels: np.ndarray) -> np.ndarray:
    """Boundary pixels of the labelled regions of a 2-D label slice.

    A pixel is on the outline when it holds a non-zero label and one of its four neighbours
    holds another value; pixels beyond the image edge count as background, so a region
    touching the edge gets a closed contour. The outline is one pixel wide on ``labels``'
    grid and lies inside each region (neighbouring labels each get their own line).
    """
    values = np.asarray(labels)
    if values.ndim != 2:
        raise ValueError(f"outline_mask needs a 2-D slice, got shape {values.shape}")
    padded = np.pad(values, 1, mode="constant", constant_values=0)
    centre = padded[1:-1, 1:-1]
    differs = (
        (padded[:-2, 1:-1] != centre)
        | (padded[2:, 1:-1] != centre)
        | (padded[1:-1, :-2] != centre)
        | (padded[1:-1, 2:] != centre)
    )
    return differs & (centre != 0)


def outline_alpha_factor(opacity: float) -> float:
    """Alpha factor of outline pixels at a layer ``opacity``: ``min(1, 2 * opacity)``.

    Outlines are thin, so they stay fully opaque from opacity 0.5 up and fade out below it
    (at 0 nothing is drawn); the fill uses ``opacity`` itself.
    """
    return float(min(1.0, 2.0 * float(np.clip(opacity, 0.0, 1.0))))


def render_labels(
    labels: np.ndarray,
    lut: np.ndarray,
    opacity: float,
    style: OverlayStyle | str = OverlayStyle.FILL,
) -> np.ndarray:
    """RGBA ``uint8`` image ``(rows, cols, 4)`` of a 2-D label slice through a colour table.

    Parameters
    ----------
    labels
        Integer label values ``(rows, cols)``; values outside ``0 .. len(lut) - 1`` are clear.
    lut
        ``(n, 4)`` ``uint8`` RGBA per label value (value 0 is transparent), see
        :func:`lut_array`.
    opacity
        Layer opacity ``0 .. 1``. Fill pixels get ``label alpha * opacity``; outline pixels
        ``label alpha * outline_alpha_factor(opacity)``.
    style
        ``fill``: every labelled pixel; ``outline``: boundary pixels only
        (:func:`outline_mask`); ``both``: the fill with the boundary drawn stronger on top.
    """
    style = OverlayStyle(style)
    values = np.asarray(labels).astype(np.int64, copy=False)
    inside = (values >= 0) & (values < len(lut))
    rgba = np.asarray(lut, dtype=np.uint8)[np.where(inside, values, 0)].copy()
    label_alpha = np.where(inside, rgba[..., 3], 0).astype(np.float64)
    fill = np.rint(label_alpha * float(np.clip(opacity, 0.0, 1.0)))
    if style == OverlayStyle.FILL:
        alpha = fill
    else:
        edge = outline_mask(np.where(inside, values, 0))
        line = np.rint(label_alpha * outline_alpha_factor(opacity))
        base = fill if style == OverlayStyle.BOTH else np.zeros_like(fill)
        alpha = np.where(edge, line, base)
    rgba[..., 3] = alpha.astype(np.uint8)
    rgba[rgba[..., 3] == 0] = 0
    return rgba


def composite(layers: Sequence[np.ndarray]) -> np.ndarray | None:
    """Stack RGBA ``uint8`` images of equal shape, the first at the bottom ("over" operator).

    A single image is returned unchanged (so one layer is drawn exactly as rendered);
    ``None`` for no images.
    """
    if not layers:
        return None
    if len(layers) == 1:
        return layers[0]
    out_rgb = layers[0][..., :3].astype(np.float64)
    out_a = layers[0][..., 3].astype(np.float64) / 255.0
    for top in layers[1:]:
        top_a = top[..., 3].astype(np.float64) / 255.0
        new_a = top_a + out_a * (1.0 - top_a)
        safe = np.where(new_a > 0, new_a, 1.0)
        out_rgb = (top[..., :3] * top_a[..., None]
                   + out_rgb * (out_a * (1.0 - top_a))[..., None]) / safe[..., None]
        out_a = new_a
    rgba = np.empty((*out_a.shape, 4), np.uint8)
    rgba[..., :3] = np.clip(np.rint(out_rgb), 0, 255)
    rgba[..., 3] = np.clip(np.rint(out_a * 255.0), 0, 255)
    rgba[rgba[..., 3] == 0] = 0
    return rgba


def upsample_labels(labels: np.ndarray, scale: int) -> np.ndarray:
    """A 2-D label slice on a grid ``scale`` times finer over the same pixel edges (repeat).

    This is the labels of the original grid seen on a super-resolved grid: every fine pixel
    lies inside exactly one original pixel (the SR convention of ``core.pane_geometry``).
    """
    if scale < 1:
        raise ValueError(f"scale must be at least 1, got {scale}")
    if scale == 1:
        return labels
    return np.repeat(np.repeat(labels, scale, axis=0), scale, axis=1)
