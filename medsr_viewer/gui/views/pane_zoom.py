"""Zoom of a slice pane in screen pixels per image pixel: read it, set it (1:1, 2:1), fit.

The geometry is :mod:`medsr_viewer.core.pane_zoom`; here it meets the pane's size on the
screen. Setting a zoom writes the pane's new view rectangle into the view model
(``ViewModel.set_view_range``), which the study viewer applies; the SR pane follows the
original through its range link.
"""

from __future__ import annotations

import math

from medsr_viewer.core.pane_zoom import zoom_factor, zoom_rect
from medsr_viewer.core.view_model import ViewModel
from medsr_viewer.gui.views.slice_view import SliceView


def pane_pixels(view: SliceView) -> tuple[float, float]:
    """``(width, height)`` of the pane's image area in screen (device) pixels."""
    ratio = float(view.devicePixelRatioF()) or 1.0
    return (float(view.view_box.width()) * ratio, float(view.view_box.height()) * ratio)


def current_zoom(view: SliceView) -> float:
    """Screen pixels per image pixel the pane shows now (``nan`` when empty)."""
    if view.display is None:
        return math.nan
    return zoom_factor(view.view_box.viewRect().width(), pane_pixels(view)[0],
                       view.pixel_spacing[1])


def zoom_pane(view: SliceView, model: ViewModel, pane_id: str, factor: float) -> None:
    """Show ``factor`` screen pixels per image pixel, centred on the view's centre, and
    record the rectangle in the view model (``pane_id``: the orientation's value)."""
    if view.display is None:
        return
    width, height = pane_pixels(view)
    if width <= 0 or height <= 0:
        return
    centre = view.view_box.viewRect().center()
    rect = zoom_rect((centre.x(), centre.y()), (width, height), view.pixel_spacing[1], factor)
    model.set_view_range(pane_id, rect)


def fit_pane(view: SliceView, model: ViewModel, pane_id: str) -> None:
    """Fit the slice in the pane, as Reset View does, leaving the window as it is."""
    model.set_view_range(pane_id, None)
    view.reset_view()  # also when the model held no rectangle (zoomed by code)
