"""Zoom geometry of a slice pane, Qt-free: view rectangles for a zoom factor, the zoom
factor of a rectangle, and the round length of a scale bar.

A pane's view coordinates are millimetres in the displayed plane (see
:mod:`medsr_viewer.gui.views.slice_view`); the **zoom factor** is screen pixels per image
pixel (one image column, ``pixel_mm`` wide): 1 shows the image 1:1, 2 shows each image pixel
two screen pixels wide.
"""

from __future__ import annotations

import math

#: Rect ``(x, y, width, height)`` in view mm.
Rect = tuple[float, float, float, float]
#: The scale bar's share of the pane width the round length is chosen for.
SCALE_BAR_SHARE = (0.15, 0.30)
#: Mantissas of round lengths: 1, 2, 5 x 10^k mm.
ROUND_STEPS = (1.0, 2.0, 5.0)


def zoom_factor(view_width_mm: float, pane_width_px: float, pixel_mm: float) -> float:
    """Screen pixels per image pixel of a pane ``pane_width_px`` wide showing
    ``view_width_mm`` of an image with ``pixel_mm`` pixels (``nan`` when undefined)."""
    if view_width_mm <= 0 or pane_width_px <= 0 or pixel_mm <= 0:
        return math.nan
    return pane_width_px * pixel_mm / view_width_mm


def zoom_rect(center: tuple[float, float], pane_px: tuple[float, float], pixel_mm: float,
              factor: float) -> Rect:
    """The view rectangle that shows the image at ``factor`` screen pixels per image pixel
    in a pane of ``pane_px`` = ``(width, height)`` pixels, centred on ``center`` (view mm).

    Raises
    ------
    ValueError
        A size, the pixel size or the factor is not positive.
    """
    width_px, height_px = pane_px
    if width_px <= 0 or height_px <= 0 or pixel_mm <= 0 or not factor > 0:
        raise ValueError("zoom_rect needs a positive pane size, pixel size and factor")
    mm_per_px = pixel_mm / factor
    width, height = width_px * mm_per_px, height_px * mm_per_px
    cx, cy = center
    return (cx - width / 2.0, cy - height / 2.0, width, height)


def round_length(view_width_mm: float,
                 share: tuple[float, float] = SCALE_BAR_SHARE) -> float:
    """A round length (1, 2 or 5 x 10^k mm) for a scale bar over ``view_width_mm``.

    The length lies within ``share`` of the width when one does; between 2 and 5 x 10^k
    (a step of 2.5, wider than the 15-30 % band) none may, and the one nearest the band (by
    ratio) is taken, so a bar always spans about 13-34 % of the width. ``nan`` for a width
    that is not positive and finite.
    """
    if not (math.isfinite(view_width_mm) and view_width_mm > 0):
        return math.nan
    low, high = view_width_mm * share[0], view_width_mm * share[1]
    exponent = math.floor(math.log10(low))
    candidates = [m * 10.0 ** e for e in (exponent - 1, exponent, exponent + 1)
                  for m in ROUND_STEPS]
    inside = [c for c in candidates if low <= c <= high]
    if inside:
        return inside[-1]

    def distance(c: float) -> float:
        return math.log(low / c) if c < low else math.log(c / high)

    return min(candidates, key=distance)


def length_text(length_mm: float) -> str:
    """``"50 mm"``, ``"0.5 mm"``: a scale bar's label (millimetres, as the readout)."""
    return f"{length_mm:g} mm"
