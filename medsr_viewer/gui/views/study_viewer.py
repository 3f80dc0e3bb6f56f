"""The study area of the main window: one plane, or all three with a linked crosshair.

State is one point, the **cursor**, a canonical voxel index ``(z, y, x)`` (see
:mod:`medsr_viewer.core.geometry`): each plane shows the slice through the cursor, and in
the three-plane layout a click in one plane moves the cursor, so the other planes change
slice and their crosshair lines follow. The window (levels) is shared by all planes.
"""

from __future__ import annotations

from enum import Enum

import numpy as np
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QGridLayout, QSizePolicy, QWidget

from medsr_viewer.core.geometry import PLANE_AXES, DisplayVolume, Orientation
from medsr_viewer.core.volume import Volume
from medsr_viewer.core.windowing import Window, default_window, preset_window, sampled_range

#: Fraction of the window width (or level range) changed per screen pixel of right-drag.
WINDOW_DRAG_SENSITIVITY = 1.0 / 256.0


class Layout(str, Enum):
    """How the study area is split."""

    SINGLE = "single"
    THREE_PLANE = "three-plane"


class StudyViewer(QWidget):
    """Shows a study in one or three planes and owns the cursor and the display window.

    Signals
    -------
    cursorChanged(object)
        The cursor (canonical index, NumPy array) moved.
    windowChanged(object)
        The display :class:`~medsr_viewer.core.windowing.Window` changed.
    hoverChanged(object, object)
        The mouse is over ``(orientation, canonical index)``; index ``None`` when off image.
    activeViewChanged(object)
        The orientation of the pane the user last interacted with.
    displayReplaced(object)
        Another volume on the same grid (the :class:`DisplayVolume`) replaced the one shown
        (:meth:`replace_display`): cursor, window and zoom/pan are unchanged.
    """

    cursorChanged = Signal(object)
    windowChanged = Signal(object)
    hoverChanged = Signal(object, object)
    activeViewChanged = Signal(object)
    displayReplaced = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        # Imported here so that importing this module stays cheap for type checking.
        from medsr_viewer.gui.views.slice_view import SliceView

        self._display: DisplayVolume | None = None
        self._window = Window(0.5, 1.0)
        self._default_window = self._window
        self._drag_span = 1.0
        self._cursor = np.zeros(3)
        self._layout = Layout.SINGLE
        self._orientation = Orientation.AXIAL
        self._active = Orientation.AXIAL
        self._volume_caption = ""
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
            view.pointHovered.connect(lambda p, o=orientation: self._on_hovered(o, p))
            view.windowDragged.connect(self._on_window_drag)
        self._apply_layout()

    # ---------------------------------------------------------------- properties

    @property
    def display(self) -> DisplayVolume | None:
        """The study shown (reoriented for display), or ``None``."""
        return self._display

    @property
    def volume(self) -> Volume | None:
        """The study as loaded, or ``None``."""
        return self._display.volume if self._display else None

    @property
    def display_window(self) -> Window:
        """The display window."""
        return self._window

    @property
    def cursor_point(self) -> np.ndarray:
        """The cursor: canonical voxel index ``(z, y, x)`` shared by the planes."""
        return self._cursor.copy()

    @property
    def layout_mode(self) -> Layout:
        """Single plane or three planes."""
        return self._layout

    @property
    def orientation(self) -> Orientation:
        """The plane shown in the single layout."""
        return self._orientation

    @property
    def active_orientation(self) -> Orientation:
        """The plane that keyboard slice navigation acts on."""
        return self._orientation if self._layout == Layout.SINGLE else self._active

    @property
    def active_view(self):  # type: ignore[no-untyped-def]
        """The :class:`SliceView` that keyboard slice navigation acts on."""
        return self.views[self.active_orientation]

    # ---------------------------------------------------------------- study

    def set_study(self, display: DisplayVolume | None, window: Window | None = None) -> None:
        """Show a study (``None`` clears); opens at the middle voxel with ``window``."""
        self._display = display
        self._volume_caption = ""  # the caller names the volume of a 4-D study
        if display is None:
            for view in self.views.values():
                view.set_display(None)
            return
        self._default_window = window if window is not None else default_window(display.volume)
        self._window = self._default_window
        low, high = sampled_range(display.volume.voxels)
        self._drag_span = max(high - low, self._window.width, 1e-6)
        self._cursor = display.center()
        for orientation, view in self.views.items():
            view.set_display(display, self._window, self._slice_of(orientation))
            view.set_volume_caption("")
            view.set_crosshair(self._cursor)
        self.cursorChanged.emit(self.cursor_point)
        self.windowChanged.emit(self._window)

    def set_volume(self, volume: Volume, window: Window | None = None) -> None:
        """Convenience: reorient ``volume`` for display and show it."""
        self.set_study(DisplayVolume(volume), window)

    def replace_display(self, display: DisplayVolume, caption: str = "",
                        window: Window | None = None) -> None:
        """Show another volume of the same grid (a 4-D study's next volume) in place of the
        one shown, keeping the slices, every pane's zoom/pan and (unless ``window`` is given,
        e.g. for another kind of image) the window.

        ``caption`` names the volume in every pane (e.g. ``"b=1000 dir 3 4/13"``); ``window``
        becomes the default window (what Reset View returns to) and is applied.

        Raises
        ------
        ValueError
            Nothing is shown, or ``display`` is on another grid.
        """
        if self._display is None:
            raise ValueError("no study is shown")
        for view in self.views.values():
            view.replace_display(display)
        self._display = display
        self.set_volume_caption(caption)
        if window is not None:
            self._default_window = window
            low, high = sampled_range(display.volume.voxels)
            self._drag_span = max(high - low, window.width, 1e-6)
            self.set_window(window)
        self.displayReplaced.emit(display)

    @property
    def volume_caption(self) -> str:
        """The volume label shown in the panes ("" for a 3-D study)."""
        return self._volume_caption

    def set_volume_caption(self, text: str) -> None:
        """Name the shown volume of a 4-D study in every pane ("" hides the label)."""
        self._volume_caption = text
        for view in self.views.values():
            view.set_volume_caption(text)

    # ---------------------------------------------------------------- layout

    def set_orientation(self, orientation: Orientation) -> None:
        """Show ``orientation`` in the single layout (switching to it from three-plane)."""
        self._orientation = Orientation(orientation)
        self._active = self._orientation
        self._layout = Layout.SINGLE
        self._apply_layout()
        self.activeViewChanged.emit(self._active)

    def set_layout_mode(self, layout: Layout) -> None:
        """Single plane or three planes with crosshair."""
        self._layout = Layout(layout)
        if self._layout == Layout.THREE_PLANE:
            self._active = self._orientation
        self._apply_layout()

    def _apply_layout(self) -> None:
        three = self._layout == Layout.THREE_PLANE
        for column, (orientation, view) in enumerate(self.views.items()):
            shown = three or orientation == self._orientation
            self._grid.setColumnStretch(column, 1 if shown else 0)  # equal thirds in three-plane
            view.setVisible(shown)
            view.set_crosshair_enabled(three)
            if self._display is not None:
                view.set_crosshair(self._cursor)
                view.reset_view()

    # ---------------------------------------------------------------- navigation

    def _slice_of(self, orientation: Orientation) -> int:
        return int(np.rint(self._cursor[PLANE_AXES[orientation].slice_axis]))

    def slice_index(self, orientation: Orientation | None = None) -> int:
        """Slice shown in a plane (default: the active plane)."""
        return self.views[orientation or self.active_orientation].slice_index

    def set_slice(self, index: int, orientation: Orientation | None = None) -> int:
        """Go to slice ``index`` (clamped) of a plane (default: active); returns it."""
        orientation = Orientation(orientation or self.active_orientation)
        if self._display is None:
            return 0
        cursor = self._cursor.copy()
        n = self._display.n_slices(orientation)
        cursor[PLANE_AXES[orientation].slice_axis] = int(np.clip(index, 0, n - 1))
        self.set_cursor(cursor)
        return self._slice_of(orientation)

    def step_slice(self, delta: int, orientation: Orientation | None = None) -> int:
        """Move ``delta`` slices in a plane (default: active); returns the new index."""
        orientation = Orientation(orientation or self.active_orientation)
        return self.set_slice(self.slice_index(orientation) + delta, orientation)

    def go_to_end(self, last: bool, orientation: Orientation | None = None) -> int:
        """Go to the first (``last=False``) or last slice of a plane."""
        orientation = Orientation(orientation or self.active_orientation)
        n = self._display.n_slices(orientation) if self._display else 1
        return self.set_slice(n - 1 if last else 0, orientation)

    def set_cursor(self, canonical_zyx: np.ndarray) -> None:
        """Move the shared point: every plane shows the slice through it, crosshairs follow."""
        if self._display is None:
            return
        upper = np.array(self._display.shape) - 1
        self._cursor = np.clip(np.asarray(canonical_zyx, dtype=np.float64), 0, upper)
        for orientation, view in self.views.items():
            view.set_slice(self._slice_of(orientation))
            view.set_crosshair(self._cursor)
        self.cursorChanged.emit(self.cursor_point)

    # ---------------------------------------------------------------- window

    def set_window(self, window: Window) -> None:
        """Apply a display window to every plane."""
        self._window = window
        for view in self.views.values():
            view.set_window(window)
        self.windowChanged.emit(window)

    def preview_preset(self, name: str) -> Window:
        """The named window (``auto``, ``stored`` or a CT preset) for the study shown."""
        if self._display is None:
            raise RuntimeError("no study is open")
        return preset_window(name, self._display.volume)

    def apply_preset(self, name: str) -> Window:
        """Apply a named window (``auto``, ``stored`` or a CT preset); returns it."""
        window = self.preview_preset(name)
        self.set_window(window)
        return window

    def reset_view(self) -> None:
        """Fit every plane and go back to the study's default window."""
        for view in self.views.values():
            view.reset_view()
        if self._display is not None:
            self.set_window(self._default_window)

    def drag_window(self, dx: float, dy: float) -> None:
        """Change the window as a right-drag by ``(dx, dy)`` screen pixels does.

        Dragging right widens the window, dragging down lowers the level (the image gets
        brighter), both by a step proportional to the study's value range. A colour image is
        shown as it is: no window to change.
        """
        if self._display is None or self._display.is_colour:
            return
        scale = self._drag_span * WINDOW_DRAG_SENSITIVITY
        self.set_window(self._window.adjusted(d_center=-dy * scale, d_width=dx * scale))

    # ---------------------------------------------------------------- view events

    def _set_active(self, orientation: Orientation) -> None:
        if self._layout == Layout.THREE_PLANE and orientation != self._active:
            self._active = orientation
            self.activeViewChanged.emit(orientation)

    def _on_wheel(self, orientation: Orientation, steps: int) -> None:
        self._set_active(orientation)
        self.step_slice(steps, orientation)

    def _on_clicked(self, orientation: Orientation, canonical: np.ndarray) -> None:
        self._set_active(orientation)
        if self._layout == Layout.THREE_PLANE:
            self.set_cursor(canonical)

    def _on_hovered(self, orientation: Orientation, canonical: np.ndarray | None) -> None:
        self.hoverChanged.emit(orientation, canonical)

    def _on_window_drag(self, dx: float, dy: float) -> None:
        self.drag_window(dx, dy)
