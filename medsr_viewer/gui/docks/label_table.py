"""The label table of the "Labels" dock: the active layer's labels, editable in place.

One row per label value present in the layer: value, colour swatch (a click asks for a
colour), editable name, visibility checkbox. The table shows a layer
(:meth:`LabelTable.show_layer`) and reports the user's edits as signals; the dock applies
them to the overlay.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QTableWidget,
    QTableWidgetItem,
    QWidget,
)

from medsr_viewer.core.labels import LabelLayer

#: Columns of the label table.
VALUE_COLUMN, COLOUR_COLUMN, NAME_COLUMN, VISIBLE_COLUMN = range(4)


class LabelTable(QTableWidget):
    """The labels of one layer: value, colour, name, shown.

    Signals
    -------
    nameEdited(int, str)
        The user renamed label ``value``.
    visibilityEdited(int, bool)
        The user showed or hid label ``value``.
    colourClicked(int)
        The user clicked the colour swatch of label ``value``.
    """

    nameEdited = Signal(int, str)
    visibilityEdited = Signal(int, bool)
    colourClicked = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(0, 4, parent)
        self.setHorizontalHeaderLabels(["Value", "Colour", "Name", "Shown"])
        self.verticalHeader().setVisible(False)
        self.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.setEditTriggers(
            QAbstractItemView.EditTrigger.DoubleClicked
            | QAbstractItemView.EditTrigger.EditKeyPressed
        )
        header = self.horizontalHeader()
        header.setSectionResizeMode(NAME_COLUMN, QHeaderView.ResizeMode.Stretch)
        for col in (VALUE_COLUMN, COLOUR_COLUMN, VISIBLE_COLUMN):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        self.itemChanged.connect(self._on_item_changed)
        self.cellClicked.connect(self._on_cell_clicked)

    def value_at(self, row: int) -> int | None:
        """The label value of ``row`` (``None`` when there is no such row)."""
        item = self.item(row, VALUE_COLUMN)
        return None if item is None else int(item.data(Qt.ItemDataRole.UserRole))

    def row_of(self, value: int) -> int:
        """Row of a label value (-1 when it is not listed)."""
        for row in range(self.rowCount()):
            if self.value_at(row) == int(value):
                return row
        return -1

    def listed_values(self) -> list[int]:
        """Label values listed, top to bottom."""
        values = (self.value_at(row) for row in range(self.rowCount()))
        return [value for value in values if value is not None]

    def show_layer(self, layer: LabelLayer | None) -> None:
        """List the labels present in ``layer`` (none for ``None``)."""
        self.blockSignals(True)
        try:
            self.setRowCount(0)
            if layer is None:
                return
            values = layer.present_values()
            self.setRowCount(len(values))
            for row, value in enumerate(values):
                entry = layer.table.entry(value)
                value_item = QTableWidgetItem(str(value))
                value_item.setData(Qt.ItemDataRole.UserRole, value)
                value_item.setFlags(Qt.ItemFlag.ItemIsEnabled)
                self.setItem(row, VALUE_COLUMN, value_item)
                swatch = QTableWidgetItem("")
                swatch.setBackground(QBrush(QColor(*entry.color)))
                swatch.setToolTip(f"rgb{entry.color}: click to change")
                swatch.setFlags(Qt.ItemFlag.ItemIsEnabled)
                self.setItem(row, COLOUR_COLUMN, swatch)
                name = QTableWidgetItem(entry.name)
                name.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsEditable)
                self.setItem(row, NAME_COLUMN, name)
                shown = QTableWidgetItem("")
                shown.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsUserCheckable)
                shown.setCheckState(
                    Qt.CheckState.Checked if entry.visible else Qt.CheckState.Unchecked)
                self.setItem(row, VISIBLE_COLUMN, shown)
        finally:
            self.blockSignals(False)

    def _on_item_changed(self, item: QTableWidgetItem) -> None:
        value = self.value_at(item.row())
        if value is None:
            return
        if item.column() == NAME_COLUMN:
            self.nameEdited.emit(value, item.text())
        elif item.column() == VISIBLE_COLUMN:
            self.visibilityEdited.emit(value, item.checkState() == Qt.CheckState.Checked)

    def _on_cell_clicked(self, row: int, column: int) -> None:
        value = self.value_at(row)
        if column == COLOUR_COLUMN and value is not None:
            self.colourClicked.emit(value)
