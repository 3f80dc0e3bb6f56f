"""More model panes beside the SR pane: two to four results of the same slice, all linked.

View ▸ Add Model Pane (Ctrl+Alt+M) puts another pane right of the SR pane (in the study
area's row, as wide as the original and the SR pane, titles level with theirs), titled with its
model (a box in its title picks another one, or **bicubic**, the original upsampled to the SR
pane's grid); its × removes it. Up to :data:`MAX_EXTRA` extra panes, so four results side by
side with the original. They show the slice of the SR pane, in the side-by-side mode, with its
window, colour map and zoom/pan (the view boxes are linked), each computed by the background
worker on a pane id of its own (:data:`EXTRA_PANE_IDS`), so a newer slice supersedes its older
request without touching the SR pane's. The view model keeps each pane's model
(``model(pane)``; "" = no pane).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QToolButton, QVBoxLayout, QWidget

from medsr_viewer.core.geometry import PLANE_AXES, Orientation
from medsr_viewer.core.upsampling import upsample
from medsr_viewer.core.view_model import CompareMode, ViewModel
from medsr_viewer.gui.actions.registry import ActionRegistry
from medsr_viewer.gui.views.model_picker import ModelPicker
from medsr_viewer.gui.views.slice_view import SliceView

#: Pane ids of the extra model panes (the SR pane is ``"sr"``).
EXTRA_PANE_IDS = ("sr-2", "sr-3", "sr-4")
MAX_EXTRA = len(EXTRA_PANE_IDS)
#: The model choice that is no model: the original, bicubic-upsampled to the SR grid.
BICUBIC = "bicubic"


class ModelPane(QWidget):
    """One extra pane: a title with the model box and ×, the slice view, the result image.

    Parameters
    ----------
    pane_id
        Its id for the worker and the view model.
    picker
        The SR pane's model picker (the models offered).
    parent
        Qt parent.
    """

    def __init__(self, pane_id: str, picker: ModelPicker, parent: QWidget) -> None:
        super().__init__(parent)
        self.pane_id = pane_id
        self.title = QLabel(self)
        self.title.setStyleSheet("color:#e0e0e0;")
        self.choice = QComboBox(self)
        self.choice.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.choice.setToolTip("The model of this pane (bicubic: the original upsampled)")
        self.choice.setStyleSheet("QComboBox { color:#e0e0e0; background:#333; }")
        self.choice.addItem(BICUBIC, BICUBIC)
        for index in range(picker.count()):
            self.choice.addItem(picker.itemText(index), picker.itemData(index))
        self.close_button = QToolButton(self)
        self.close_button.setText("×")
        self.close_button.setToolTip("Remove this model pane")
        self.head = head = QWidget(self)
        head.setStyleSheet("background:#202020;")
        row = QHBoxLayout(head)
        row.setContentsMargins(4, 1, 1, 1)
        row.addWidget(self.title, 1)
        row.addWidget(self.choice)
        row.addWidget(self.close_button)
        self.view = SliceView(Orientation.AXIAL, self)  # the SR pane's plane when shown
        self.view.draws_slice = False
        self.view.image_item.setVisible(False)
        self.item = pg.ImageItem(axisOrder="row-major")
        self.view.add_overlay(self.item, 5.0)
        column = QVBoxLayout(self)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(0)
        column.addWidget(head)
        column.addWidget(self.view, 1)
        #: The result of the shown slice so far, its request and whether it is complete.
        self.buffer: np.ndarray | None = None
        self.request_id = -1
        self.slice = -1
        self.complete = False

    @property
    def model_path(self) -> str:
        """The chosen model's file, or :data:`BICUBIC`."""
        return str(self.choice.currentData())

    def set_model(self, path: str) -> None:
        """Choose the model of ``path`` (or :data:`BICUBIC`) if it is offered."""
        index = self.choice.findData(path)
        if index >= 0:
            self.choice.setCurrentIndex(index)

    def title_text(self) -> str:
        """The title drawn: the model's name and what is computed."""
        return self.title.text()


class ModelPanes:
    """The extra model panes of a compare panel (see the module doc).

    Parameters
    ----------
    model
        The view state.
    compare
        The compare panel (its SR pane, worker, model volume, slice and scale).

    Attributes
    ----------
    container
        Puts a pane beside the SR pane (the study area sets it when it lays the panes out).
    """

    def __init__(self, model: ViewModel, compare: Any) -> None:
        self.model = model
        self.compare = compare
        self.container: Callable[[QWidget], None] | None = None
        self.panes: list[ModelPane] = []
        worker = compare.worker
        worker.tileReady.connect(self._on_tile)
        worker.sliceReady.connect(self._on_slice)
        worker.failed.connect(self._on_failed)
        for event in ("cursor", "compare", "study", "volume"):
            model.subscribe(event, self.refresh)
        model.subscribe("window", self._on_window)
        compare.srReady.connect(lambda _i: self.refresh())
        # Zoom/pan linked by copying the view rectangle (pyqtgraph's links align panes by
        # their screen position: a pane right of the SR pane would show what lies beyond it).
        self._syncing = False
        compare.sr_view.view_box.sigRangeChanged.connect(lambda *_a: self._follow(None))
        actions = ActionRegistry.of(compare.window())
        self.add_action = actions.bind("view.add_model_pane", lambda: self.add())
        self.remove_action = actions.bind("view.remove_model_pane", self.remove_last)

    # ---------------------------------------------------------------- panes

    def add(self, path: str = "") -> ModelPane | None:
        """Add a pane showing ``path`` (default: the next model not shown yet); ``None`` when
        :data:`MAX_EXTRA` panes are shown already."""
        free = [p for p in EXTRA_PANE_IDS if p not in {q.pane_id for q in self.panes}]
        if not free or self.container is None:
            return None
        pane = ModelPane(free[0], self.compare.model_picker, self.compare)
        shown = {self.model.model(), *(p.model_path for p in self.panes)}
        choice = path or next((str(pane.choice.itemData(i)) for i in range(pane.choice.count())
                               if str(pane.choice.itemData(i)) not in shown), BICUBIC)
        pane.set_model(choice)
        pane.choice.currentIndexChanged.connect(lambda _i, p=pane: self._on_choice(p))
        pane.close_button.clicked.connect(lambda _c=False, p=pane: self.remove(p))
        view = pane.view
        view.view_box.sigRangeChangedManually.connect(lambda *_a, v=view: self._follow(v))
        view.wheelSteps.connect(lambda n: self.model.step_slice(n, self.compare.orientation))
        view.windowDragged.connect(self.model.drag_window)
        view.set_crosshair_enabled(True)
        self.compare.viewer.colours.attach(view, [pane.item])
        self.compare.viewer.overlays.attach(view)  # corners, scale bar, crosshair switch
        self.panes.append(pane)
        self.container(pane)
        # Titles of one height: the panes' images then start level with each other.
        c = self.compare
        height = max(pane.head.sizeHint().height(), c.title.sizeHint().height())
        for widget in (c.title, c.original_label, *(p.head for p in self.panes)):
            widget.setFixedHeight(height)
        self.model.set_model(pane.model_path, pane.pane_id)
        self._show_display(pane)
        self.refresh()
        if self._active():
            self.compare.fit_views()  # the panes are narrower now: fit, then all follow
        self._follow(None)
        return pane

    def remove(self, pane: ModelPane) -> None:
        """Remove ``pane`` (its running request is dropped)."""
        if pane not in self.panes:
            return
        self.panes.remove(pane)
        self.compare.worker.cancel(pane.pane_id)
        self.model.set_model("", pane.pane_id)
        pane.hide()
        pane.deleteLater()

    def remove_last(self) -> None:
        """Remove the rightmost extra pane (if any)."""
        if self.panes:
            self.remove(self.panes[-1])

    def _follow(self, source: SliceView | None) -> None:
        """Give every pane the view rectangle of ``source`` (``None``: the SR pane's)."""
        if self._syncing:
            return
        self._syncing = True
        try:
            sr_view = self.compare.sr_view
            box = (source or sr_view).view_box
            centre = box.viewRect().center()
            mm_x, mm_y = box.viewPixelSize()  # same zoom (mm per screen pixel), same centre
            for view in [sr_view, *(p.view for p in self.panes)]:
                if view is not (source or sr_view):
                    target = view.view_box
                    width, height = target.width() * mm_x, target.height() * mm_y
                    target.setRange(rect=QRectF(centre.x() - width / 2, centre.y() - height / 2,
                                                width, height), padding=0.0)
        finally:
            self._syncing = False

    def _on_choice(self, pane: ModelPane) -> None:
        self.model.set_model(pane.model_path, pane.pane_id)
        pane.slice = -1
        self.refresh()

    # ---------------------------------------------------------------- requests

    def _active(self) -> bool:
        c = self.compare
        return bool(c.enabled and c.mode == CompareMode.SIDE_BY_SIDE and not c.through_plane
                    and c.display is not None and c.model_volume is not None)

    def _show_display(self, pane: ModelPane) -> None:
        c = self.compare
        if c.display is None:
            return
        if pane.view.orientation != c.orientation:
            pane.view.set_orientation(c.orientation)
        if pane.view.display is not c.display:
            pane.view.set_display(c.display, self.model.window, self.model.slice_index(
                c.orientation))
            pane.view.image_item.setVisible(False)
            pane.slice = -1

    def refresh(self, *_args: object) -> None:
        """Show each pane for the SR pane's slice (asking the worker when it changed)."""
        active = self._active()
        for pane in self.panes:
            pane.setVisible(active)
            if not active:
                continue
            self._show_display(pane)
            index = self.model.slice_index(self.compare.orientation)
            pane.view.set_slice(index)
            pane.view.set_crosshair(self.model.cursor)
            if index != pane.slice:
                self._request(pane, index)

    def _request(self, pane: ModelPane, index: int) -> None:
        c = self.compare
        pane.slice, pane.complete = index, False
        scale = max(int(c.scale), 1)
        rows, cols = c.display.slice_shape(c.orientation)
        if pane.model_path == BICUBIC:
            c.worker.cancel(pane.pane_id)
            lr = np.asarray(c.display.slice_array(c.orientation, index), np.float32)
            pane.buffer = np.ascontiguousarray(upsample(lr, scale, "bicubic"), np.float32)
            pane.complete = True
            pane.title.setText(f"bicubic ×{scale}")
            self._draw(pane)
            return
        entry = next((e for i in range(c.model_picker.count())
                      if (e := c.model_picker.entry_at(i)) is not None
                      and str(e.path) == pane.model_path), None)
        if entry is None or entry.card is None:
            pane.title.setText("model not available")
            return
        pane.buffer = np.zeros((rows * entry.card.scale, cols * entry.card.scale), np.float32)
        pane.title.setText(f"{entry.name} (x{entry.card.scale} {entry.card.task}) …")
        pane.request_id = c.worker.submit(
            pane.pane_id, c.model_volume, index, str(entry.path),
            axis=PLANE_AXES[c.orientation].slice_axis, task=entry.card.task)
        self._draw(pane)

    def _pane(self, pane_id: str, request_id: int) -> ModelPane | None:
        return next((p for p in self.panes if p.pane_id == pane_id
                     and p.request_id == request_id), None)

    def _on_tile(self, pane_id: str, request_id: int, box: object, array: object) -> None:
        pane = self._pane(pane_id, request_id)
        if pane is None or pane.buffer is None or not isinstance(box, tuple):
            return
        y0, x0, y1, x1 = (int(v) for v in box)
        tile = np.asarray(array, np.float32)
        if PLANE_AXES[self.compare.orientation].row_flip:
            height = pane.buffer.shape[0]
            y0, y1, tile = height - y1, height - y0, tile[::-1]
        pane.buffer[y0:y1, x0:x1] = tile
        self._draw(pane)

    def _on_slice(self, pane_id: str, request_id: int, array: object, _cached: bool) -> None:
        pane = self._pane(pane_id, request_id)
        if pane is None:
            return
        result = np.asarray(array, np.float32)
        if PLANE_AXES[self.compare.orientation].row_flip:
            result = result[::-1]
        pane.buffer = np.ascontiguousarray(result)
        pane.complete = True
        entry = next((e for i in range(self.compare.model_picker.count())
                      if (e := self.compare.model_picker.entry_at(i)) is not None
                      and str(e.path) == pane.model_path), None)
        card = entry.card if entry is not None else None
        pane.title.setText(f"{pane.choice.currentText()} (x{card.scale} {card.task})" if card
                           else pane.choice.currentText())
        self._draw(pane)

    def _on_failed(self, pane_id: str, request_id: int, message: str) -> None:
        pane = self._pane(pane_id, request_id)
        if pane is not None:
            pane.title.setText(f"{pane.choice.currentText()}: failed")
            self.compare.errorOccurred.emit(f"Model pane {pane.choice.currentText()}: {message}")

    def _draw(self, pane: ModelPane) -> None:
        if pane.buffer is None:
            return
        pane.item.setImage(pane.buffer, autoLevels=False, levels=self.model.window.levels)
        pane.item.setRect(self.compare.sr_view.image_rect())

    def _on_window(self) -> None:
        for pane in self.panes:
            pane.view.set_window(self.model.window)
            self._draw(pane)
