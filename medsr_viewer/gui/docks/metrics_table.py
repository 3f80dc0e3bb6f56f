"""The metrics panel's table: one row per metric record, the rows of an ROI selectable.

The rows are the records the CSV/JSON export writes (see
:mod:`medsr_viewer.core.metrics.export`), one column per :data:`COLUMNS` entry.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PySide6.QtCore import QSize, Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QTableWidget,
    QTableWidgetItem,
    QWidget,
)

from medsr_viewer.core.metrics.export import MetricRecord

#: Shown columns: (header, record field or metric key, number format).
COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("ROI", "roi_name", ""),
    ("Grid", "grid", ""),
    ("Slice", "slice", ""),
    ("Label", "label", ""),
    ("Pixels", "count", "{:.0f}"),
    ("Area mm²", "area_mm2", "{:.1f}"),
    ("Mean", "mean", "{:.2f}"),
    ("SD", "sd", "{:.2f}"),
    ("Min", "min", "{:.2f}"),
    ("Max", "max", "{:.2f}"),
    ("Median", "median", "{:.2f}"),
    ("Dice", "dice", "{:.3f}"),
    ("IoU", "iou", "{:.3f}"),
    ("HD95 mm", "hd95_mm", "{:.2f}"),
    ("HD max mm", "hd_max_mm", "{:.2f}"),
    ("PSNR dB", "psnr_db", "{:.2f}"),
    ("SSIM", "ssim", "{:.4f}"),
    ("Width", "interval_width", "{:.3g}"),
    ("% flagged", "pct_flagged", "{:.1f}"),
)


def format_cell(record: MetricRecord, key: str, fmt: str) -> str:
    """Text of one table cell: a context field as is, a metric with its format, or blank."""
    if not fmt:
        return str(getattr(record, key, ""))
    value = record.metrics.get(key)
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "–" if key in record.metrics else ""
    return fmt.format(value)


#: Rows the table asks room for (more scroll; the user can make the dock taller).
HINT_ROWS = 3


class MetricsTable(QTableWidget):
    """Read-only table of metric records; each item holds its ROI's id (``UserRole``)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(0, len(COLUMNS), parent)
        self.setHorizontalHeaderLabels([c[0] for c in COLUMNS])
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.verticalHeader().setVisible(False)
        self.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)

    def sizeHint(self) -> QSize:
        """Room for the header and :data:`HINT_ROWS` rows, whatever it holds: the dock
        appears no taller than a few rows need, and never resizes itself as rows come (that
        would move the images under the mouse while the user draws)."""
        hint = super().sizeHint()
        height = (self.horizontalHeader().sizeHint().height() + 2 * self.frameWidth()
                  + HINT_ROWS * self.verticalHeader().defaultSectionSize()
                  + self.horizontalScrollBar().sizeHint().height())
        return QSize(hint.width(), height)

    def show_records(self, rows: Sequence[MetricRecord]) -> None:
        """Show ``rows``, one table row each (no selection signals meanwhile)."""
        self.blockSignals(True)
        self.setRowCount(len(rows))
        for r, record in enumerate(rows):
            for c, (_header, key, fmt) in enumerate(COLUMNS):
                item = QTableWidgetItem(format_cell(record, key, fmt))
                item.setData(Qt.ItemDataRole.UserRole, record.roi_id)
                if fmt:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight
                                          | Qt.AlignmentFlag.AlignVCenter)
                self.setItem(r, c, item)
        self.blockSignals(False)

    def show_selection(self, roi_id: str) -> None:
        """Select (and scroll to) the first row of ``roi_id``; "" clears the selection."""
        items = [self.item(r, 0) for r in range(self.rowCount())]
        matching = [item for item in items
                    if item is not None and item.data(Qt.ItemDataRole.UserRole) == roi_id]
        self.blockSignals(True)
        self.clearSelection()
        if matching:
            self.selectRow(matching[0].row())
            self.scrollToItem(matching[0])
        self.blockSignals(False)

    def selected_roi_id(self) -> str:
        """The ROI id of the selected row ("" when none)."""
        items = self.selectedItems()
        roi_id = items[0].data(Qt.ItemDataRole.UserRole) if items else ""
        return str(roi_id) if roi_id else ""
