"""The information overlay, scale bar and crosshair switch of every slice pane.

:class:`PaneOverlays` is attached to each pane (the study viewer's planes and the SR pane)
and keeps its corners (see :mod:`medsr_viewer.core.pane_info`) and its
:class:`~medsr_viewer.gui.views.scale_bar.ScaleBar` in step with the view model (window,
cursor, zoom) and with the overlay switches (:class:`~medsr_viewer.core.pane_info.
OverlayOptions`, View menu). Patient data is drawn only while ``patient_data`` is on and is
never logged.
"""

from __future__ import annotations

from medsr_viewer.core.pane_info import (
    OverlayOptions,
    location_text,
    patient_lines,
    series_text,
    view_text,
)
from medsr_viewer.core.view_model import ViewModel
from medsr_viewer.gui.views.pane_zoom import current_zoom
from medsr_viewer.gui.views.readout import format_window
from medsr_viewer.gui.views.scale_bar import ScaleBar
from medsr_viewer.gui.views.slice_view import SliceView


def crosshair_shown(view: SliceView) -> bool:
    """Whether the pane's crosshair lines are drawn (on for the pane and the switch)."""
    return all(line.isVisible() and line.opacity() > 0 for line in (view.h_line, view.v_line))


class PaneOverlay:
    """The overlay of one pane.

    Parameters
    ----------
    view
        The pane.
    model
        The view state (its window is the one shown).
    options
        The overlay switches.
    """

    def __init__(self, view: SliceView, model: ViewModel, options: OverlayOptions) -> None:
        self.view = view
        self._model = model
        self._options = options
        labels = view.labels
        self.scale_bar = ScaleBar(view.view_box, labels.bottom_margin)
        #: The study's predicted series type (Tools ▸ Series Type), a line under the series.
        self.series_type = ""
        for signal in (view.sliceChanged, view.displayChanged, view.imageShown):
            signal.connect(self.refresh)
        view.view_box.sigRangeChanged.connect(lambda *_a: self.refresh_view())
        view.view_box.sigResized.connect(lambda *_a: self.refresh_view())
        self.apply_options()

    def apply_options(self) -> None:
        """Show what the switches ask for, then draw it."""
        state = self._options.state
        self.view.labels.set_corners_visible(state.info and self.view.display is not None)
        self.scale_bar.set_shown(state.scale_bar, self.view.display is not None)
        for line in (self.view.h_line, self.view.v_line):
            line.setOpacity(1.0 if state.crosshair else 0.0)
        self.refresh()

    def refresh(self, *_args: object) -> None:
        """Redraw every corner (a new slice, study or switch)."""
        view, labels = self.view, self.view.labels
        display = view.display
        if display is None:
            for corner in labels.corners:
                labels.set_corner(corner, "")
            self.scale_bar.set_shown(self._options.state.scale_bar, False)
            labels.set_corners_visible(False)
            return
        state = self._options.state
        labels.set_corners_visible(state.info)
        self.scale_bar.set_shown(state.scale_bar, True)
        if state.info:
            series = series_text(display.volume)
            labels.set_corner("top_right", f"{series}\n{self.series_type}"
                              if self.series_type else series)
            labels.set_corner("bottom_left",
                              location_text(display, view.orientation, view.slice_index))
            labels.set_corner("patient",
                              patient_lines(display.volume) if state.patient_data else "")
        self.refresh_view()

    def set_series_type(self, text: str) -> None:
        """Show ``text`` (e.g. "T1-weighted (97%, series-type)") under the series name."""
        if text != self.series_type:
            self.series_type = text
            self.refresh()

    def refresh_view(self) -> None:
        """Redraw what follows the window and zoom (bottom-right corner, scale bar)."""
        view = self.view
        if view.display is None:
            return
        if self._options.state.info:
            view.labels.set_corner("bottom_right", view_text(
                format_window(self._model.window), current_zoom(view), view.orientation))
        self.scale_bar.update()


class PaneOverlays:
    """The overlays of all panes of a window, following the view model and the switches.

    Parameters
    ----------
    model
        The view state.
    options
        The switches (default: new ones).
    """

    def __init__(self, model: ViewModel, options: OverlayOptions | None = None) -> None:
        self.model = model
        self.options = options if options is not None else OverlayOptions(model)
        self.panes: list[PaneOverlay] = []
        self._unsubscribe = [self.options.subscribe(self._on_options),
                             model.subscribe("window", self._on_window)]

    def attach(self, view: SliceView) -> PaneOverlay:
        """Give ``view`` the overlay (corners, scale bar, crosshair switch)."""
        pane = PaneOverlay(view, self.model, self.options)
        self.panes.append(pane)
        view.destroyed.connect(lambda *_a, p=pane: self._detach(p))
        return pane

    def of(self, view: SliceView) -> PaneOverlay:
        """The overlay attached to ``view`` (``KeyError`` when none is)."""
        for pane in self.panes:
            if pane.view is view:
                return pane
        raise KeyError("no overlay attached to this pane")

    def close(self) -> None:
        """Stop following the view model and the switches."""
        for unsubscribe in self._unsubscribe:
            unsubscribe()

    def _detach(self, pane: PaneOverlay) -> None:
        if pane in self.panes:
            self.panes.remove(pane)

    def _on_options(self) -> None:
        for pane in self.panes:
            pane.apply_options()

    def _on_window(self) -> None:
        for pane in self.panes:
            pane.refresh_view()
