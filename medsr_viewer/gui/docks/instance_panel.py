"""The objects of an instance layer on the shown slice: count, area and mean, click to select.

When the active label layer is an instance map (one id per object, e.g. the output of a
``segment_instances`` model such as ``seg-em-cells``), this section of the metrics dock lists
the objects of the slice the active pane shows: id, area in pixels and mm², and the study's
mean intensity inside it (:func:`medsr_viewer.core.labels.instances.instance_rows`), with the
number of objects on the slice and in the volume. Clicking an object on a pane selects it:
its outline is drawn highlighted and its row selected; selecting a row does the same. The
rows join the metrics export.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np
from PySide6.QtCore import QSignalBlocker, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from medsr_viewer.core.geometry import Orientation
from medsr_viewer.core.labels import LabelLayer
from medsr_viewer.core.labels.instances import InstanceRow, instance_at, instance_rows
from medsr_viewer.core.metrics.export import MetricRecord
from medsr_viewer.gui.layers.label_overlay import LabelOverlay
from medsr_viewer.gui.views.study_viewer import StudyViewer

#: Column headings of the object table.
COLUMNS = ("id", "area px", "area mm²", "mean")


class InstancePanel(QWidget):
    """Objects of the active instance layer on the active pane's slice (see module doc).

    Signals
    -------
    selectionChanged(int)
        The selected object id (0: none).
    """

    selectionChanged = Signal(int)

    def __init__(self, labels: LabelOverlay, viewer: StudyViewer,
                 context: Callable[[], MetricRecord], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._labels = labels
        self._viewer = viewer
        self._context = context
        self.rows: list[InstanceRow] = []
        self._where: tuple[Orientation, int] | None = None
        self.summary = QLabel(self)
        self.table = QTableWidget(0, len(COLUMNS), self)
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().setVisible(False)
        self.table.itemSelectionChanged.connect(self._on_row_selected)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.summary)
        layout.addWidget(self.table)
        labels.changed.connect(self.refresh)
        for orientation, view in viewer.views.items():
            view.image_item.sigImageChanged.connect(self._on_slice_shown)
            view.pointClicked.connect(
                lambda point, o=orientation: self.select_at(o, np.asarray(point)))
        viewer.activeViewChanged.connect(lambda _o: self.refresh())
        self.refresh()

    # ---------------------------------------------------------------- state

    def layer(self) -> LabelLayer | None:
        """The active label layer when it is an instance map, else ``None``."""
        layer = self._labels.active_layer
        return layer if layer is not None and layer.instances else None

    @property
    def selected(self) -> int:
        """The selected object id (0: none)."""
        layer = self.layer()
        return layer.selected if layer is not None else 0

    def row_of(self, value: int) -> int:
        """Table row of object ``value`` on the shown slice (-1 when it is not there)."""
        for i, row in enumerate(self.rows):
            if row.value == value:
                return i
        return -1

    # ---------------------------------------------------------------- updates

    def _on_slice_shown(self) -> None:
        where = (self._viewer.active_orientation, self._viewer.slice_index())
        if where != self._where:
            self.refresh()

    def refresh(self) -> None:
        """Re-measure the objects of the shown slice of the active instance layer."""
        layer = self.layer()
        display = self._viewer.display
        self.setVisible(layer is not None)
        orientation = self._viewer.active_orientation
        ids = self._labels.slice_labels(orientation) if layer is not None else None
        if layer is None or display is None or ids is None:
            self.rows, self._where = [], None
            self._fill()
            return
        index = self._viewer.slice_index(orientation)
        self._where = (orientation, index)
        image = None if display.is_colour else np.asarray(display.slice_array(orientation,
                                                                              index))
        self.rows = instance_rows(ids, image, display.pixel_spacing(orientation))
        name = layer.name
        self.summary.setText(
            f"{name}: {len(self.rows)} objects on {orientation.value} slice {index + 1}, "
            f"{len(layer.present_values())} in the volume · click an object to select it")
        self._fill()

    def _fill(self) -> None:
        with QSignalBlocker(self.table):
            self.table.setRowCount(len(self.rows))
            for i, row in enumerate(self.rows):
                cells = (str(row.value), str(row.area_px), f"{row.area_mm2:.2f}",
                         "" if not np.isfinite(row.mean) else f"{row.mean:.1f}")
                for j, text in enumerate(cells):
                    self.table.setItem(i, j, QTableWidgetItem(text))
            self._select_row(self.row_of(self.selected))
        if not self.rows:
            self.summary.setText("" if self.layer() is None else "no objects on this slice")

    def _select_row(self, row: int) -> None:
        if row < 0:
            self.table.clearSelection()
            return
        self.table.selectRow(row)
        item = self.table.item(row, 0)
        if item is not None:
            self.table.scrollToItem(item)

    # ---------------------------------------------------------------- selection

    def select(self, value: int) -> None:
        """Select object ``value`` (0: none): highlight its outline and its row."""
        layer = self.layer()
        if layer is None:
            return
        value = int(value)
        if layer.selected != value:
            layer.selected = value
            self._labels.redraw()
        with QSignalBlocker(self.table):
            self._select_row(self.row_of(value))
        self.selectionChanged.emit(value)

    def select_at(self, orientation: Orientation, canonical: np.ndarray) -> int:
        """Select the object under a clicked canonical voxel of a pane; returns its id."""
        display = self._viewer.display
        if self.layer() is None or display is None:
            return 0
        ids = self._labels.slice_labels(orientation)
        if ids is None:
            return 0
        row, col, _slice = display.canonical_to_display(orientation, canonical)
        value = instance_at(ids, round(row), round(col))
        if orientation != self._where_orientation():
            self.refresh()
        self.select(value)
        return value

    def _where_orientation(self) -> Orientation | None:
        return self._where[0] if self._where is not None else None

    def _on_row_selected(self) -> None:
        chosen = self.table.selectionModel().selectedRows()
        if chosen and 0 <= chosen[0].row() < len(self.rows):
            self.select(self.rows[chosen[0].row()].value)

    def records(self) -> list[MetricRecord]:
        """One export row per object of the shown slice."""
        layer = self.layer()
        if layer is None or self._where is None:
            return []
        base = replace(self._context(), slice=f"{self._where[0].value} {self._where[1] + 1}",
                       grid=f"instances: {layer.name}")
        return [replace(base, label=f"object {r.value}",
                        metrics={"area_px": r.area_px, "area_mm2": r.area_mm2, "mean": r.mean})
                for r in self.rows]
