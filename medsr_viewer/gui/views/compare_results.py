"""The SR pane's requests to the inference worker and its drawing (a ComparePanel part).

Each slice is one request; tiles stream back and are painted into the slice's buffer
(redraws coalesced: tiles arriving together cost one), the complete slice replaces it, and
the pane draws it as the mode says: the SR image, swipe (the original pane's own image right
of the divider, over the SR image) or a map.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRectF, QTimer

from medsr_viewer.core.geometry import PLANE_AXES
from medsr_viewer.core.view_model import MAP_MODES, SR_PANE, CompareMode
from medsr_viewer.gui.views.compare_base import ComparePanelBase
from medsr_viewer.gui.views.compare_maps_view import WIDTH_PANE
from medsr_viewer.gui.views.through_plane_pane import reformat_grid


class CompareResults(ComparePanelBase):
    """Requests, results and drawing of :class:`~medsr_viewer.gui.views.compare_panel.ComparePanel`
    (a part of the panel: its state is declared in :class:`ComparePanelBase`)."""

    # ---------------------------------------------------------------- requests and results

    def _request(self, index: int) -> None:
        assert self._display is not None and self._entry is not None
        assert self._model_volume is not None and self._entry.card is not None
        rows, cols = self._display.slice_shape(self.orientation)
        self._slice = index
        shape = (rows * self._scale, cols * self._scale)
        if self._through:
            grid = reformat_grid(self._model_volume, PLANE_AXES[self.orientation].slice_axis)
            if isinstance(grid, str):  # nothing to compute in this view: say why
                self.worker.cancel(SR_PANE)
                self._buffer = self._painted = None
                self.complete = False
                self.sr_item.clear()
                self.swipe_item.setVisible(False)
                self.controls.set_progress(0, 1)
                self.title.setText(grid)
                self._update_original_grid()
                return
            shape = grid
        self._buffer = np.zeros(shape, np.float32)
        self._painted = np.zeros(self._buffer.shape, bool)
        self.complete = False
        self.maps.new_slice()
        self.controls.set_progress(0, 1)
        self._update_title()
        if self._through:
            self._update_original_grid()  # on the reformat grid, now known
        self._request_id = self.worker.submit(
            SR_PANE, self._model_volume, index, str(self._entry.path),
            axis=PLANE_AXES[self.orientation].slice_axis, task=self._entry.card.task)
        self._queue_refresh()

    @property
    def _row_flip(self) -> bool:
        return PLANE_AXES[self.orientation].row_flip

    def _current(self, pane: str, request_id: int) -> bool:
        return self.enabled and pane == SR_PANE and request_id == self._request_id

    def _on_tile(self, pane: str, request_id: int, box: object, array: object) -> None:
        if not self._current(pane, request_id) or self._buffer is None:
            return
        assert self._painted is not None and isinstance(box, tuple)
        y0, x0, y1, x1 = (int(v) for v in box)
        tile = np.asarray(array, dtype=np.float32)
        if self._row_flip:  # the plane is drawn upside down relative to the array
            height = self._buffer.shape[0]
            y0, y1, tile = height - y1, height - y0, tile[::-1]
        self._buffer[y0:y1, x0:x1] = tile
        self._painted[y0:y1, x0:x1] = True
        self._queue_refresh()

    def _on_slice(self, pane: str, request_id: int, array: object, _from_cache: bool) -> None:
        if pane == WIDTH_PANE:
            self.maps.on_width(request_id, np.asarray(array))
            return
        if not self._current(pane, request_id):
            return
        result = np.asarray(array, dtype=np.float32)
        if self._row_flip:
            result = result[::-1]
        if self._buffer is None or result.shape != self._buffer.shape:
            expected = None if self._buffer is None else self._buffer.shape
            self._on_failed(pane, request_id, f"model output {result.shape} does not match "
                                              f"the expected {expected}")
            return
        self._buffer = result.copy()
        assert self._painted is not None
        self._painted[:] = True
        self.complete = True
        maximum = max(self.progress_bar.maximum(), 1)
        self.controls.set_progress(maximum, maximum)
        self._update_device()
        self.refresh_image()
        self.srReady.emit(self._slice)

    def _on_progress(self, pane: str, request_id: int, done: int, total: int) -> None:
        if pane == WIDTH_PANE:
            self.maps.on_width_progress(request_id, done, total)
        if self._current(pane, request_id):
            self.controls.set_progress(done, total)
            self.progressChanged.emit(done, total)

    def _on_failed(self, pane: str, request_id: int, message: str) -> None:
        if pane == WIDTH_PANE and self.maps.on_width_failed(request_id, message):
            return
        if pane != SR_PANE or request_id != self._request_id:
            return
        self.progress_bar.setValue(0)
        self.errorOccurred.emit(message)

    def _update_device(self) -> None:
        try:
            device = self.worker.device_type  # "" until a model has been used (no torch yet)
        except Exception:  # noqa: BLE001 - the label is informative only
            device = "cpu"
        self.device_label.setText(f" {device.upper()} " if device else "")

    # ---------------------------------------------------------------- drawing

    def _queue_refresh(self) -> None:
        """Redraw once control returns to the event loop: tiles arriving together (or a
        fast wheel) cost one redraw, not one each."""
        if not self._refresh_queued:
            self._refresh_queued = True
            QTimer.singleShot(0, self.parent_widget(), self._queued_refresh)

    def _queued_refresh(self) -> None:
        self._refresh_queued = False
        self.refresh_image()

    def refresh_image(self) -> None:
        """Draw the SR pane as the mode says: the SR image (and swipe) or a map."""
        if not self.enabled or self._buffer is None:
            return
        if self.mode in MAP_MODES and not self._through:
            shown = self.maps.refresh()
            if shown is not None:
                self.swipe_item.setVisible(False)
                self.maps.draw(shown)
                return
        self.maps.hide()
        self.sr_item.setImage(self._buffer, autoLevels=False, levels=self.model.window.levels)
        self.sr_item.setRect(self.sr_view.image_rect())
        self._refresh_swipe()

    def _refresh_swipe(self) -> None:
        """Swipe: the original pane's image (on the SR grid once interpolated) right of the
        divider, over the SR image."""
        swipe = self.enabled and self.mode == CompareMode.SWIPE and self._buffer is not None \
            and self.maps.shown is None
        self.swipe_item.setVisible(swipe)
        if not swipe:
            return
        original = self.original_view.image_item.image
        if original is None:
            return
        rect = self.sr_view.image_rect()
        cols = original.shape[1]
        start = int(np.clip(round(float(self.divider.value()) / max(rect.width(), 1e-9) * cols),
                            0, cols))
        pixel = rect.width() / cols
        self.swipe_item.setImage(np.ascontiguousarray(original[:, start:]), autoLevels=False,
                                 levels=self.model.window.levels)
        self.swipe_item.setRect(QRectF(start * pixel, 0.0, (cols - start) * pixel,
                                       rect.height()))
