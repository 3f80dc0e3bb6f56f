"""The study area of the main window: one plane, or all three with a linked crosshair.

A view of the :class:`~medsr_viewer.core.view_model.ViewModel`: the study, the **cursor**
(canonical voxel ``(z, y, x)``, see :mod:`medsr_viewer.core.geometry`), the window and the
layout live there, once. Each plane shows the slice through the cursor; in the three-plane
layout a click in one plane moves the cursor, so the other planes change slice and their
crosshair lines follow. The viewer's methods (``set_cursor``, ``step_slice``,
``set_window`` ...) write intents to the model; the panes redraw when it says so, and the
Qt signals below relay its events to widgets that want them.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRectF, Signal
from PySide6.QtWidgets import QGridLayout, QSizePolicy, QWidget

from medsr_viewer.core.geometry import DisplayVolume, Orientation
from medsr_viewer.core.view_model import Layout, ViewModel
from medsr_viewer.core.volume import Volume
from medsr_viewer.core.windowing import Window, preset_window
from medsr_viewer.gui.actions.overlay_actions import OverlayActions
from medsr_viewer.gui.actions.registry import ActionRegistry
from medsr_viewer.gui.views.info_overlay import PaneOverlays
from medsr_viewer.gui.views.pane_colours import PaneColours
from medsr_viewer.gui.views.pane_zoom import fit_pane, zoom_pane
from medsr_viewer.gui.views.slice_view import SliceView

__all__ = ["Layout", "StudyViewer"]


class StudyViewer(QWidget):
    """Shows the view model's study in one or three planes.

    Parameters
    ----------
    model
        The view state (default: a new one, for a viewer used on its own).
    parent
        Qt parent.

    Signals
    -------
    cursorChanged(np.ndarray)
        The cursor (canonical index) moved.
    windowChanged(Window)
        The display window changed.
    hoverChanged(Orientation, object)
        The mouse is over ``(orientation, canonical index)``; index ``None`` when off image.
    activeViewChanged(Orientation)
        The plane the user last interacted with.
    displayReplaced(DisplayVolume)
        Another volume on the same grid replaced the one shown (:meth:`replace_display`):
        cursor, window and zoom/pan are unchanged.
    """

    cursorChanged = Signal(np.ndarray)
    windowChanged = Signal(Window)
    hoverChanged = Signal(Orientation, object)
    activeViewChanged = Signal(Orientation)
    displayReplaced = Signal(DisplayVolume)

    def __init__(self, model: ViewModel | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model if model is not None else ViewModel()
        self.views: dict[Orientation, SliceView] = {}
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setSpacing(2)
        self._grid = grid
        for column, orientation in enumerate(Orientation):
            view = SliceView(orientation, self)
            # the panes share the width by their columns' stretch alone: a pane's size hint
            # (its last size, its image) must not decide how wide it is in three-plane
            view.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
            self.views[orientation] = view
            grid.addWidget(view, 0, column)
            view.wheelSteps.connect(lambda n, o=orientation: self._on_wheel(o, n))
            view.pointClicked.connect(lambda p, o=orientation: self._on_clicked(o, p))
            view.pointHovered.connect(lambda p, o=orientation: self.hoverChanged.emit(o, p))
            view.windowDragged.connect(self.model.drag_window)
            view.view_box.sigRangeChangedManually.connect(
                lambda *_a, o=orientation: self._on_zoomed(o))
        #: Corners, scale bar and crosshair switch of every pane (the SR pane attaches too).
        self.overlays = PaneOverlays(self.model)
        #: The colour map and colour bar of every pane (the SR pane attaches too).
        self.colours = PaneColours(self.model)
        for view in self.views.values():
            self.overlays.attach(view)
            self.colours.attach(view)
        self.overlay_actions = OverlayActions(ActionRegistry.of(self.window()), self.model,
                                              self.overlays.options, self.zoom_active)
        self._last_active = self.model.active_orientation
        #: The zoom/pan rectangle of each pane as last applied from the view model.
        self._ranges: dict[Orientation, tuple[float, float, float, float] | None] = {}
        self._unsubscribe = [
            self.model.subscribe("study", self._on_study),
            self.model.subscribe("volume", self._on_volume),
            self.model.subscribe("caption", self._on_caption),
            self.model.subscribe("cursor", self._on_cursor),
            self.model.subscribe("window", self._on_window),
            self.model.subscribe("layout", self._on_layout),
            self.model.subscribe("ranges", self._on_ranges),
        ]
        self._unsubscribe += [self.overlays.close, self.overlay_actions.close]
        self.destroyed.connect(lambda *_a, u=self._unsubscribe: [f() for f in u])
        self._apply_layout()

    # ---------------------------------------------------------------- properties

    @property
    def display(self) -> DisplayVolume | None:
        """The study shown (reoriented for display), or ``None``."""
        return self.model.display

    @property
    def volume(self) -> Volume | None:
        """The study as loaded, or ``None``."""
        display = self.model.display
        return display.volume if display is not None else None

    @property
    def display_window(self) -> Window:
        """The display window."""
        return self.model.window

    @property
    def cursor_point(self) -> np.ndarray:
        """The cursor: canonical voxel index ``(z, y, x)`` shared by the planes."""
        return self.model.cursor

    @property
    def layout_mode(self) -> Layout:
        """Single plane or three planes."""
        return self.model.layout

    @property
    def orientation(self) -> Orientation:
        """The plane shown in the single layout."""
        return self.model.orientation

    @property
    def active_orientation(self) -> Orientation:
        """The plane that keyboard slice navigation acts on."""
        return self.model.active_orientation

    @property
    def active_view(self) -> SliceView:
        """The :class:`SliceView` that keyboard slice navigation acts on."""
        return self.views[self.active_orientation]

    @property
    def volume_caption(self) -> str:
        """The volume label shown in the panes ("" for a 3-D study)."""
        return self.model.caption

    # ---------------------------------------------------------------- intents

    def set_study(self, display: DisplayVolume | None, window: Window | None = None) -> None:
        """Show a study (``None`` clears); opens at the middle voxel with ``window``."""
        self.model.set_study(display, window)

    def set_volume(self, volume: Volume, window: Window | None = None) -> None:
        """Convenience: reorient ``volume`` for display and show it."""
        self.set_study(DisplayVolume(volume), window)

    def replace_display(self, display: DisplayVolume, caption: str = "",
                        window: Window | None = None) -> None:
        """Show another volume of the same grid in place of the one shown (see
        :meth:`ViewModel.replace_volume`); ``ValueError`` when nothing is shown or the grid
        differs."""
        self.model.replace_volume(display, caption, window)

    def set_volume_caption(self, text: str) -> None:
        """Name the shown volume of a 4-D study in every pane ("" hides the label)."""
        self.model.set_caption(text)

    def set_orientation(self, orientation: Orientation) -> None:
        """Show ``orientation`` in the single layout (switching to it from three-plane)."""
        self.model.set_orientation(orientation)

    def set_layout_mode(self, layout: Layout) -> None:
        """Single plane or three planes with crosshair."""
        self.model.set_layout(layout)

    def slice_index(self, orientation: Orientation | None = None) -> int:
        """Slice shown in a plane (default: the active plane)."""
        return self.views[orientation or self.active_orientation].slice_index

    def set_slice(self, index: int, orientation: Orientation | None = None) -> int:
        """Go to slice ``index`` (clamped) of a plane (default: active); returns it."""
        return self.model.set_slice(index, orientation)

    def step_slice(self, delta: int, orientation: Orientation | None = None) -> int:
        """Move ``delta`` slices in a plane (default: active); returns the new index."""
        return self.model.step_slice(delta, orientation)

    def go_to_end(self, last: bool, orientation: Orientation | None = None) -> int:
        """Go to the first (``last=False``) or last slice of a plane."""
        return self.model.go_to_end(last, orientation)

    def set_cursor(self, canonical_zyx: np.ndarray) -> None:
        """Move the shared point: every plane shows the slice through it, crosshairs follow."""
        self.model.set_cursor(canonical_zyx)

    def set_window(self, window: Window) -> None:
        """Apply a display window to every plane."""
        self.model.set_window(window)

    def preview_preset(self, name: str) -> Window:
        """The named window (``auto``, ``stored`` or a CT preset) for the study shown."""
        if self.model.display is None:
            raise RuntimeError("no study is open")
        return preset_window(name, self.model.display.volume)

    def apply_preset(self, name: str) -> Window:
        """Apply a named window (``auto``, ``stored`` or a CT preset); returns it."""
        window = self.preview_preset(name)
        self.set_window(window)
        return window

    def reset_view(self) -> None:
        """Fit every plane and go back to the study's default window."""
        self.model.reset_view()
        for view in self.views.values():  # also panes zoomed by code, not by the user
            view.reset_view()

    def zoom_active(self, factor: float | None) -> None:
        """Show the active pane at ``factor`` screen pixels per image pixel around its
        centre (``None``: fit the slice; the window stays), held in the view model."""
        view, pane = self.active_view, self.active_orientation.value
        if factor is None:
            fit_pane(view, self.model, pane)
        else:
            zoom_pane(view, self.model, pane, factor)

    def drag_window(self, dx: float, dy: float) -> None:
        """Change the window as a right-drag by ``(dx, dy)`` screen pixels does."""
        self.model.drag_window(dx, dy)

    # ---------------------------------------------------------------- model events

    def _on_study(self) -> None:
        display = self.model.display
        for orientation, view in self.views.items():
            if display is None:
                view.set_display(None)
                continue
            view.set_display(display, self.model.window, self.model.slice_index(orientation))
            view.set_volume_caption("")
            view.set_crosshair(self.model.cursor)

    def _on_volume(self) -> None:
        display = self.model.display
        assert display is not None
        for view in self.views.values():
            view.replace_display(display)
        self.displayReplaced.emit(display)

    def _on_caption(self) -> None:
        for view in self.views.values():
            view.set_volume_caption(self.model.caption)

    def _on_cursor(self) -> None:
        if self.model.display is None:
            return
        cursor = self.model.cursor
        for orientation, view in self.views.items():
            view.set_slice(self.model.slice_index(orientation))
            view.set_crosshair(cursor)
        self.cursorChanged.emit(cursor)

    def _on_window(self) -> None:
        for view in self.views.values():
            view.set_window(self.model.window)
        self.windowChanged.emit(self.model.window)

    def _on_layout(self) -> None:
        self._apply_layout()
        active = self.model.active_orientation
        if active != self._last_active or self.model.layout == Layout.SINGLE:
            self._last_active = active
            self.activeViewChanged.emit(active)

    def _on_zoomed(self, orientation: Orientation) -> None:
        """The user zoomed or panned a pane: the view model records its rectangle."""
        rect = self.views[orientation].view_box.viewRect()
        self.model.set_view_range(orientation.value,
                                  (rect.x(), rect.y(), rect.width(), rect.height()))

    def _on_ranges(self) -> None:
        """A pane whose rectangle in the view model changed shows it (none: fits the image)."""
        for orientation, view in self.views.items():
            held = self.model.view_range(orientation.value)
            if held == self._ranges.get(orientation):
                continue
            self._ranges[orientation] = held
            if held is None:
                view.reset_view()
                continue
            rect = view.view_box.viewRect()
            if (rect.x(), rect.y(), rect.width(), rect.height()) != held:
                view.view_box.setRange(rect=QRectF(*held), padding=0.0)

    def _apply_layout(self) -> None:
        three = self.model.layout == Layout.THREE_PLANE
        for column, (orientation, view) in enumerate(self.views.items()):
            shown = three or orientation == self.model.orientation
            self._grid.setColumnStretch(column, 1 if shown else 0)  # equal thirds in three-plane
            view.setVisible(shown)
            view.set_crosshair_enabled(three)
            if self.model.display is not None:
                view.set_crosshair(self.model.cursor)
                view.reset_view()

    # ---------------------------------------------------------------- view events

    def _on_wheel(self, orientation: Orientation, steps: int) -> None:
        self.model.set_active(orientation)
        self.model.step_slice(steps, orientation)

    def _on_clicked(self, orientation: Orientation, canonical: np.ndarray) -> None:
        self.model.set_active(orientation)
        if self.model.layout == Layout.THREE_PLANE:
            self.model.set_cursor(canonical)
