"""What the SR pane shows, read back: values under the mouse, the shown image, the slice
on its world grid, the original on the SR grid (a ComparePanel part)."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF

from medsr_viewer.core.pane_geometry import display_slice_volume
from medsr_viewer.core.upsampling import on_grid
from medsr_viewer.core.view_model import CompareMode, Interpolation
from medsr_viewer.core.volume import Volume
from medsr_viewer.gui.views.compare_base import ComparePanelBase
from medsr_viewer.gui.views.readout import format_value


class CompareReadout(ComparePanelBase):
    """Read-back of :class:`~medsr_viewer.gui.views.compare_panel.ComparePanel` (a part of
    the panel: its state is declared in :class:`ComparePanelBase`)."""

    def sr_slice_volume(self) -> Volume | None:
        """The complete model result of the shown slice on its world grid, else ``None``.

        A one-slice :class:`Volume` lying exactly on the slice's plane (finer in plane), so
        ROIs drawn on any pane can be measured on it.
        """
        if not self.complete or self._buffer is None or self._display is None or self._slice < 0:
            return None
        name = self._entry.name if self._entry is not None else "model"
        return display_slice_volume(self._display, self.orientation, self._slice,
                                    self._buffer, self._grid_scales(), name=f"{name} result")

    def painted_fraction(self) -> float:
        """Share of the current slice's SR grid painted so far (1.0 when complete)."""
        return 0.0 if self._painted is None else float(np.mean(self._painted))

    def shown_image(self) -> np.ndarray | None:
        """What the SR pane shows, on the SR grid (SR, the swipe composite, or a map)."""
        image = self.sr_item.image
        if image is None:
            return None
        if self.mode == CompareMode.SWIPE and self.maps.shown is None and self.swipe_item.isVisible():
            original = self.original_upsampled()
            if original is not None and self._buffer is not None:
                column = self.swipe_column()
                composite = original.copy()
                composite[:, :column] = self._buffer[:, :column]
                return composite
        return np.asarray(image)

    def value_text(self, x_mm: float, y_mm: float) -> str:
        """What the SR pane shows at view point ``(x_mm, y_mm)``: ``"added detail 4.2
        (flagged)"``, ``"SR 118.5"``, or "" off the image (or where nothing is painted)."""
        if not self.enabled or self._buffer is None or self._painted is None:
            return ""
        row_mm, col_mm = self.sr_view.pixel_spacing
        row_scale, col_scale = self._grid_scales()
        row = int(np.floor(y_mm / row_mm * row_scale))
        col = int(np.floor(x_mm / col_mm * col_scale))
        units = self.units()
        shown = self.maps.shown
        if shown is not None:
            value = shown.value_at(row, col)
            if value is None:
                return ""
            text = f"{shown.kind} {format_value(value, units)}"
            if shown.flagged is not None and shown.is_flagged(row, col):
                text += f" (flagged: > {shown.k:g} σ)"
            return text
        rows, cols = self._buffer.shape
        if not (0 <= row < rows and 0 <= col < cols) or not self._painted[row, col]:
            return ""
        if self.mode == CompareMode.SWIPE and col >= self.swipe_column():
            return ""
        return f"SR {format_value(float(self._buffer[row, col]), units)}"

    def _grid_scales(self) -> tuple[float, float]:
        """SR pixels per original pixel along the pane's rows and columns."""
        if self._buffer is None or self._display is None:
            return (float(self._scale), float(self._scale))
        rows, cols = self._display.slice_shape(self.orientation)
        return (self._buffer.shape[0] / rows, self._buffer.shape[1] / cols)

    # ---------------------------------------------------------------- hover

    def _on_sr_mouse_moved(self, scene_pos: QPointF) -> None:
        view = self.sr_view
        if (not self.enabled or view.display is None
                or not view.view_box.sceneBoundingRect().contains(scene_pos)):
            self.hovered.emit(None, "")
            return
        point = view.view_box.mapSceneToView(scene_pos)
        self.hovered.emit(view.view_to_canonical(point.x(), point.y()),
                          self.value_text(point.x(), point.y()))

    def swipe_column(self) -> int:
        """Column of the SR grid where the swipe divider is (SR left, original right)."""
        if self._buffer is None:
            return 0
        rect = self.sr_view.image_rect()
        cols = self._buffer.shape[1]
        return int(
            np.clip(round(float(self.divider.value()) / max(rect.width(), 1e-9) * cols), 0, cols))

    def units(self) -> str:
        """The study's intensity units ("" when it has none)."""
        return self._display.volume.units if self._display is not None else ""

    def original_upsampled(self, mode: Interpolation | str | None = None) -> np.ndarray | None:
        """The displayed original slice on the SR grid (``mode`` default: the pane's);
        computed here, on the calling thread (for tests and exports, not for drawing)."""
        if self._display is None or self._buffer is None:
            return None
        image = self._display.slice_array(self.orientation,
                                          self.model.slice_index(self.orientation))
        mode = Interpolation(mode or self.interpolation).value
        return on_grid(image, (self._buffer.shape[0], self._buffer.shape[1]), mode,
                       self._through)
