"""A pane that shows one plane (axial, coronal or sagittal) of a study, slice by slice.

Coordinates: the pane's view coordinates are **millimetres in the displayed plane** (x to
the right, y downwards, origin at the top-left edge of the image), because the ImageItem is
scaled by the pixel spacing and the ViewBox keeps a 1:1 aspect. A second pane showing the
same slice on a finer grid (a super-resolution result) therefore lines up by using a smaller
pixel size, and panes can be linked with ``ViewBox.setXLink`` / ``setYLink``. Overlays (label
maps, ROIs) are added with :meth:`SliceView.add_overlay` in the same coordinates.

Mouse: wheel = slice, Ctrl+wheel or middle-drag = zoom, left-drag = pan, left-click = point
(crosshair), right-drag = window/level (horizontal = width, vertical = level). A left-button
handler (:meth:`SliceView.set_mouse_handler`, used by the ROI tools) sees left drags and clicks
first and may take them over (draw instead of pan).
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Signal
from PySide6.QtWidgets import QGraphicsItem, QWidget

from medsr_viewer.core.geometry import DisplayVolume, EdgeLabels, Orientation
from medsr_viewer.core.windowing import Window
from medsr_viewer.gui.views.finer_grid import FinerGridJob
from medsr_viewer.gui.views.pane_labels import PaneLabels
from medsr_viewer.gui.views.readout import slice_text
from medsr_viewer.gui.views.slice_view_box import SliceViewBox

CROSSHAIR_COLOR = (255, 200, 0, 170)


class SliceMouseHandler(Protocol):
    """Takes over left-button gestures of a pane (e.g. ROI drawing); see ``set_mouse_handler``.

    Each method gets the pane and pyqtgraph's event and returns ``True`` when it handled the
    event (the pane then does nothing more), ``False`` to let the pane pan / set the point.
    """

    def slice_drag(self, view: SliceView, ev: Any) -> bool:
        """A left-button drag event (start, moves, finish)."""

    def slice_click(self, view: SliceView, ev: Any) -> bool:
        """A left-button click (``ev.double()`` for the second click of a double-click)."""


class SliceView(pg.GraphicsLayoutWidget):
    """One plane of a study: image, orientation letters, crosshair and a corner caption.

    Parameters
    ----------
    orientation
        The plane this pane shows.
    parent
        Qt parent widget.

    Signals
    -------
    sliceChanged(int)
        The shown slice index changed.
    wheelSteps(int)
        The user turned the wheel by this many notches (the owner decides the new slice).
    pointClicked(np.ndarray)
        Left click: canonical voxel index ``(z, y, x)`` (NumPy array) under the mouse.
    pointHovered(object)
        Mouse moved: canonical index under the mouse, or ``None`` when off the image.
    windowDragged(float, float)
        Right-drag by ``(dx, dy)`` screen pixels.
    displayChanged()
        A study was shown or cleared, or the plane changed (overlays redraw).
    imageShown()
        The image item got a new image (the slice, or the slice on the finer grid).
    drawFailed(str)
        The slice could not be drawn on the finer grid (what went wrong).

    The pane is the only writer of its image item. Beside an SR pane it draws its slice on
    the model's finer grid (:meth:`set_finer_grid`): the native pixels at once, then, off the
    GUI thread, the slice interpolated on that grid, swapped in when it arrives if the pane
    still shows that slice.
    """

    sliceChanged = Signal(int)
    displayChanged = Signal()
    wheelSteps = Signal(int)
    pointClicked = Signal(np.ndarray)
    pointHovered = Signal(object)
    windowDragged = Signal(float, float)
    imageShown = Signal()
    drawFailed = Signal(str)

    def __init__(
        self, orientation: Orientation = Orientation.AXIAL, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setBackground("k")
        self.ci.setContentsMargins(0, 0, 0, 0)
        self._orientation = Orientation(orientation)
        self._display: DisplayVolume | None = None
        self._slice = 0
        self._window = Window(0.5, 1.0)
        self._pixel_spacing = (1.0, 1.0)
        #: The finer grid the slice is drawn on (shape, interpolation, through-plane) or None.
        self._finer: tuple[tuple[int, int], str, bool] | None = None
        #: Whether the pane draws its own slice (an SR pane draws the model's result instead).
        self.draws_slice = True
        self._finer_job = FinerGridJob(self, self._on_finer_ready, self.drawFailed.emit)

        self.view_box = SliceViewBox()
        self.addItem(self.view_box)
        self.image_item = pg.ImageItem(axisOrder="row-major")
        self.view_box.addItem(self.image_item)

        pen = pg.mkPen(CROSSHAIR_COLOR, width=1)
        self.h_line = pg.InfiniteLine(angle=0, movable=False, pen=pen)
        self.v_line = pg.InfiniteLine(angle=90, movable=False, pen=pen)
        for line in (self.h_line, self.v_line):
            line.setZValue(20)
            line.setVisible(False)
            self.view_box.addItem(line, ignoreBounds=True)
        self._crosshair_enabled = False

        self.labels = PaneLabels(self.view_box)
        self.view_box.sigResized.connect(self.labels.place)

        self.view_box.sigWheelSteps.connect(self.wheelSteps)
        self.view_box.sigWindowDrag.connect(self.windowDragged)
        self.view_box.sigClicked.connect(self._on_clicked)
        self.scene().sigMouseMoved.connect(self._on_mouse_moved)
        self.setToolTip("")

    # ---------------------------------------------------------------- state

    @property
    def orientation(self) -> Orientation:
        """The plane shown."""
        return self._orientation

    @property
    def display(self) -> DisplayVolume | None:
        """The study shown, or ``None`` when empty."""
        return self._display

    @property
    def slice_index(self) -> int:
        """Index of the slice shown (0 when empty)."""
        return self._slice

    @property
    def n_slices(self) -> int:
        """Number of slices of this plane (0 when empty)."""
        return self._display.n_slices(self._orientation) if self._display else 0

    @property
    def display_window(self) -> Window:
        """The display window in use."""
        return self._window

    @property
    def pixel_spacing(self) -> tuple[float, float]:
        """``(row mm, col mm)`` of the image shown."""
        return self._pixel_spacing

    def edge_labels(self) -> EdgeLabels:
        """The orientation letters currently drawn at the four edges."""
        return self.labels.edge_labels()

    def caption(self) -> str:
        """The corner caption text (plane, slice n/N)."""
        return self.labels.caption.toPlainText()

    def volume_caption(self) -> str:
        """The volume label drawn under the caption ("" for a 3-D study)."""
        return self.labels.volume.toPlainText()

    def set_volume_caption(self, text: str) -> None:
        """Name the volume of a 4-D study the pane shows (e.g. ``"t=4/6"``; "" hides it)."""
        self.labels.volume.setPlainText(text)
        self.labels.place()

    # ---------------------------------------------------------------- setters

    def set_display(
        self, display: DisplayVolume | None, window: Window | None = None, slice_index: int = -1
    ) -> None:
        """Show a study (``None`` clears the pane) at ``slice_index`` (-1: the middle)."""
        self._display = display
        if window is not None:
            self._window = window
        if display is None:
            self.image_item.clear()
            self._slice = 0
            self._update_labels()
            self.displayChanged.emit()
            return
        n = self.n_slices
        self._slice = n // 2 if slice_index < 0 else int(np.clip(slice_index, 0, n - 1))
        self._show_slice()
        self._update_labels()
        self.reset_view()
        self.displayChanged.emit()

    def replace_display(self, display: DisplayVolume) -> None:
        """Show another volume on the same grid in place of the study shown (the next volume
        of a 4-D study): slice, window and zoom/pan stay as they are.

        Raises
        ------
        ValueError
            Nothing is shown yet, or ``display`` is on another grid.
        """
        if self._display is None or display.shape != self._display.shape \
                or not np.allclose(display.affine, self._display.affine):
            raise ValueError("replace_display needs a volume on the grid already shown")
        self._display = display
        self._show_slice()
        self.displayChanged.emit()

    def redraw(self) -> None:
        """Draw the shown slice again as the pane shows it (the colour of a colour image, the
        windowed values otherwise), over whatever another view put in the image item."""
        if self._display is not None:
            self._show_slice()

    def set_orientation(self, orientation: Orientation) -> None:
        """Switch the plane shown (keeps the study; opens the new plane at its middle)."""
        orientation = Orientation(orientation)
        if orientation == self._orientation:
            return
        self._orientation = orientation
        self.set_display(self._display, None, -1)

    def set_slice(self, index: int) -> int:
        """Show slice ``index`` (clamped to the valid range); returns the slice shown."""
        if self._display is None:
            return 0
        index = int(np.clip(index, 0, self.n_slices - 1))
        if index != self._slice:
            self._slice = index
            self._show_slice()
            self.sliceChanged.emit(index)
        return index

    def set_window(self, window: Window) -> None:
        """Apply a display window (levels) to the image (kept, not applied, for a colour
        image, which is shown as it is)."""
        self._window = window
        if self._display is not None and (not self._display.is_colour
                                          or self._finer is not None):
            self.image_item.setLevels(window.levels)

    def set_crosshair_enabled(self, enabled: bool) -> None:
        """Show or hide the crosshair lines."""
        self._crosshair_enabled = enabled
        self.h_line.setVisible(enabled and self._display is not None)
        self.v_line.setVisible(enabled and self._display is not None)

    def set_crosshair(self, canonical_zyx: np.ndarray) -> None:
        """Place the crosshair on a canonical voxel index (the point shared by all planes)."""
        if self._display is None:
            return
        row, col, _ = self._display.canonical_to_display(self._orientation, canonical_zyx)
        x, y = self.display_to_view(row, col)
        self.h_line.setValue(y)
        self.v_line.setValue(x)
        self.set_crosshair_enabled(self._crosshair_enabled)

    def crosshair_position(self) -> tuple[float, float]:
        """The crosshair's ``(x, y)`` in view mm."""
        return (float(self.v_line.value()), float(self.h_line.value()))

    def reset_view(self) -> None:
        """Fit the whole slice in the pane."""
        if self._display is None:
            return
        self.view_box.setRange(rect=self.image_rect(), padding=0.02)

    def link_view(self, other: SliceView) -> None:
        """Pan and zoom together with ``other`` (e.g. an SR pane beside the original).

        Both panes must show the same plane of volumes whose voxel *edges* cover the same
        extent (an SR result on a finer grid does), so equal view mm are equal world points.
        """
        self.view_box.setXLink(other.view_box)
        self.view_box.setYLink(other.view_box)

    def set_mouse_handler(self, handler: SliceMouseHandler | None) -> None:
        """Let ``handler`` see left drags and clicks first (``None``: default pan / point)."""
        if handler is None:
            self.view_box.left_drag_handler = None
            self.view_box.left_click_handler = None
            return
        self.view_box.left_drag_handler = lambda ev: handler.slice_drag(self, ev)
        self.view_box.left_click_handler = lambda ev: handler.slice_click(self, ev)

    def add_overlay(self, item: QGraphicsItem, z_value: float = 10.0) -> None:
        """Add a graphics item drawn over the image in view (mm) coordinates.

        For an image overlay on the displayed grid use ``ImageItem.setRect(view.image_rect())``
        (or a finer grid over the same rectangle).
        """
        item.setZValue(z_value)
        self.view_box.addItem(item, ignoreBounds=True)

    # ---------------------------------------------------------------- coordinates

    def image_rect(self) -> QRectF:
        """The image's extent in view mm (pixel edges: from 0 to rows*row_mm, cols*col_mm)."""
        if self._display is None:
            return QRectF()
        rows, cols = self._display.slice_shape(self._orientation)
        row_mm, col_mm = self._pixel_spacing
        return QRectF(0.0, 0.0, cols * col_mm, rows * row_mm)

    def view_to_display(self, x: float, y: float) -> tuple[float, float]:
        """Continuous ``(row, col)`` (pixel centres at integers) of a view point in mm."""
        row_mm, col_mm = self._pixel_spacing
        return (y / row_mm - 0.5, x / col_mm - 0.5)

    def display_to_view(self, row: float, col: float) -> tuple[float, float]:
        """View ``(x, y)`` in mm of the centre of display pixel ``(row, col)``."""
        row_mm, col_mm = self._pixel_spacing
        return ((col + 0.5) * col_mm, (row + 0.5) * row_mm)

    def view_to_canonical(self, x: float, y: float) -> np.ndarray | None:
        """Canonical voxel index under a view point on the current slice; ``None`` if off."""
        if self._display is None:
            return None
        row, col = self.view_to_display(x, y)
        rows, cols = self._display.slice_shape(self._orientation)
        if not (-0.5 <= row < rows - 0.5 and -0.5 <= col < cols - 0.5):
            return None
        return self._display.display_to_canonical(
            self._orientation, round(row), round(col), self._slice
        )

    # ---------------------------------------------------------------- internals

    def _show_slice(self) -> None:
        assert self._display is not None
        self._pixel_spacing = self._display.pixel_spacing(self._orientation)
        if not self.draws_slice:
            self.labels.caption.setPlainText(slice_text(self._orientation, self._slice, self.n_slices))
            return
        if self._display.is_colour and self._finer is None:  # shown as it is: no window
            image = np.ascontiguousarray(self._display.rgb_slice(self._orientation, self._slice))
            self.image_item.setImage(image, autoLevels=False, levels=(0, 255))
        else:  # beside an SR pane a colour study shows the luminance the model sees
            image = np.ascontiguousarray(self._display.slice_array(self._orientation, self._slice))
            self.image_item.setImage(image, autoLevels=False, levels=self._window.levels)
            self._request_finer(image)
        self.image_item.setRect(self.image_rect())
        self.labels.caption.setPlainText(slice_text(self._orientation, self._slice, self.n_slices))
        self.imageShown.emit()

    # ---------------------------------------------------------------- finer grid

    def set_finer_grid(self, shape: tuple[int, int] | None, mode: str = "nearest",
                       through_plane: bool = False) -> None:
        """Draw the slice on a finer grid over the same rectangle (``None``: native only).

        ``mode`` is the interpolation (``nearest`` draws the native pixels, which look the
        same); ``through_plane`` resamples along one axis as the through-plane protocol does.
        """
        finer = None if shape is None else ((int(shape[0]), int(shape[1])), str(mode),
                                            bool(through_plane))
        if finer == self._finer:
            return
        self._finer = finer
        if self._display is not None:
            self._show_slice()

    def _request_finer(self, image: np.ndarray) -> None:
        self._finer_job.request(self._finer, image, (id(self._display), self._orientation,
                                                     self._slice))

    def _on_finer_ready(self, image: np.ndarray) -> None:
        if self._display is None:
            return
        self.image_item.setImage(image, autoLevels=False, levels=self._window.levels)
        self.image_item.setRect(self.image_rect())
        self.imageShown.emit()

    def _update_labels(self) -> None:
        self.labels.show(None if self._display is None
                         else self._display.edge_labels(self._orientation))
        self.set_crosshair_enabled(self._crosshair_enabled)

    def _on_clicked(self, point: QPointF) -> None:
        canonical = self.view_to_canonical(point.x(), point.y())
        if canonical is not None:
            self.pointClicked.emit(canonical)

    def _on_mouse_moved(self, scene_pos: QPointF) -> None:
        if self._display is None or not self.view_box.sceneBoundingRect().contains(scene_pos):
            self.pointHovered.emit(None)
            return
        point = self.view_box.mapSceneToView(scene_pos)
        self.pointHovered.emit(self.view_to_canonical(point.x(), point.y()))
