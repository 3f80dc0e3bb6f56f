"""Dialog to choose one series when a folder (or a set of files) holds several."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

#: Table columns: header and how to read the value from a ``SeriesInfo``.
COLUMNS = ("Description", "Modality", "Slices", "Size", "Files")


def _slices(info: Any) -> int:
    """Slice (or frame) count of a series description."""
    for name in ("n_slices", "n_frames", "frames"):
        value = getattr(info, name, None)
        if value:
            return int(value)
    return len(getattr(info, "files", ()))


def series_row(info: Any) -> tuple[str, str, str, str, str]:
    """The table cells for one ``SeriesInfo``: description, modality, slices, size, files."""
    rows, cols = getattr(info, "rows", None), getattr(info, "cols", None)
    size = f"{cols}x{rows}" if rows and cols else ""
    return (
        str(getattr(info, "description", "") or "(no description)"),
        str(getattr(info, "modality", "") or ""),
        str(_slices(info)),
        size,
        str(len(getattr(info, "files", ()))),
    )


class SeriesPickerDialog(QDialog):
    """Lists the series found (description, modality, slices ...) and lets the user pick one.

    The largest series is preselected. Use :meth:`selected_series` after acceptance.

    Parameters
    ----------
    series
        ``SeriesInfo`` records from :func:`medsr_viewer.core.io.discover_series`.
    source
        The folder or file name they were found in, shown in the title line.
    parent
        Qt parent widget.
    """

    def __init__(
        self, series: Sequence[Any], source: str = "", parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Choose a series")
        self.series = list(series)
        layout = QVBoxLayout(self)
        where = f" in {source}" if source else ""
        layout.addWidget(QLabel(f"{len(self.series)} series found{where}. Open which one?"))
        self.table = QTableWidget(len(self.series), len(COLUMNS), self)
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for row, info in enumerate(self.series):
            for col, text in enumerate(series_row(info)):
                self.table.setItem(row, col, QTableWidgetItem(text))
        self.table.doubleClicked.connect(self.accept)
        layout.addWidget(self.table)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Open | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        if self.series:
            largest = max(range(len(self.series)), key=lambda i: _slices(self.series[i]))
            self.table.selectRow(largest)
        self.resize(640, 320)

    def select_row(self, row: int) -> None:
        """Select the series in table row ``row``."""
        self.table.selectRow(row)

    def selected_series(self) -> Any | None:
        """The chosen ``SeriesInfo``, or ``None`` when nothing is selected."""
        rows = self.table.selectionModel().selectedRows()
        return self.series[rows[0].row()] if rows else None
