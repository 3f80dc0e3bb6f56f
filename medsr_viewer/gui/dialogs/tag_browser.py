"""File ▸ DICOM Tags…: the header of the DICOM file of the slice shown, patient data masked.

A non-modal dialog (like the tag browsers of Weasis and OHIF) listing the attributes of the
file the slice at the cursor was read from (:func:`~medsr_viewer.core.slice_files.
shown_slice_file`; for a reformatted plane the acquired slice the cursor lies in, which the
dialog says), in a tree with columns Tag, Name, VR and Value, sequence items nested. It
follows the slice shown as the user scrolls, steps volumes or opens another study.

Patient-identifying values (:mod:`~medsr_viewer.core.io.dicom_phi`) read ``••••••`` until
the user ticks **Reveal patient data**, which is off each time the dialog opens (and when
it is hidden). The filter box matches tags, names and the values as shown, so a masked
value is never found by its hidden text. The dialog names the file by its base name only
and never puts a patient value in its title, labels or tooltips while masked.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import (
    QBrush,
    QColor,
    QFontDatabase,
    QFontMetrics,
    QHideEvent,
    QPalette,
    QShowEvent,
)
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from medsr_viewer.core.io.dicom_tags import MASK, TagRow, read_tags, value_shown, visible_rows
from medsr_viewer.core.io.errors import LoadError
from medsr_viewer.core.pane_info import is_acquired_plane
from medsr_viewer.core.slice_files import SliceFile, is_dicom, shown_slice_file
from medsr_viewer.core.view_model import ViewModel

#: Object name of the dialog (one per window, found again when reopened).
TAG_BROWSER_NAME = "tagBrowser"
TITLE = "DICOM Tags"
COLUMNS = ("Tag", "Name", "VR", "Value")
TAG, NAME, VR, VALUE = range(4)
#: View events after which the dialog looks again at which file is shown.
FOLLOWED_EVENTS = ("study", "volume", "cursor", "layout")
#: Colours of masked values and of revealed patient values.
MASKED_COLOUR, REVEALED_COLOUR = QColor("#8a8f98"), QColor("#b45309")


class TagBrowser(QDialog):
    """The DICOM header of the slice shown, with a filter and patient data masked.

    Parameters
    ----------
    model
        The view model: the study, the cursor and the active plane (followed).
    parent
        The window it belongs to.
    """

    def __init__(self, model: ViewModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName(TAG_BROWSER_NAME)
        self.setWindowTitle(TITLE)
        self.setModal(False)
        self._model = model
        self._rows: list[TagRow] = []
        self._items: list[QTreeWidgetItem] = []
        self._shown: tuple[Path, int | None] | None = None
        mono = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        self._mono = mono
        self.file_label = QLabel(self)
        bold = self.file_label.font()
        bold.setBold(True)
        bold.setPointSizeF(bold.pointSizeF() * 1.1)
        self.file_label.setFont(bold)
        self.file_label.setTextFormat(Qt.TextFormat.PlainText)
        self.detail_label = QLabel(self)
        self.detail_label.setTextFormat(Qt.TextFormat.PlainText)
        self.detail_label.setWordWrap(True)
        self.detail_label.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        self.filter_edit = QLineEdit(self)
        self.filter_edit.setPlaceholderText("Filter by tag, name or value")
        self.filter_edit.setClearButtonEnabled(True)
        self.filter_edit.textChanged.connect(self._apply_filter)
        self.reveal_box = QCheckBox("Reveal patient data", self)
        self.reveal_box.setToolTip("Show the values that identify the patient (names, IDs, "
                                   "dates, UIDs, institution, private tags)")
        self.reveal_box.toggled.connect(self._apply_reveal)
        self.tree = QTreeWidget(self)
        self.tree.setColumnCount(len(COLUMNS))
        self.tree.setHeaderLabels(list(COLUMNS))
        self.tree.setAlternatingRowColors(True)
        self.tree.setUniformRowHeights(True)
        self.tree.setIndentation(14)
        self._size_columns()
        self.count_label = QLabel(self)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.close)
        tools = QHBoxLayout()
        tools.addWidget(self.filter_edit, 1)
        tools.addWidget(self.reveal_box)
        footer = QHBoxLayout()
        footer.addWidget(self.count_label, 1)
        footer.addWidget(buttons)
        layout = QVBoxLayout(self)
        layout.addWidget(self.file_label)
        layout.addWidget(self.detail_label)
        layout.addLayout(tools)
        layout.addWidget(self.tree, 1)
        layout.addLayout(footer)
        self.resize(960, 660)
        unsubscribers = [model.subscribe(event, self._follow) for event in FOLLOWED_EVENTS]
        self.destroyed.connect(lambda *_: [unsubscribe() for unsubscribe in unsubscribers])

    # ---------------------------------------------------------------- reading

    @property
    def rows(self) -> list[TagRow]:
        """The rows of the file shown (values unmasked: never log or print them)."""
        return list(self._rows)

    @property
    def shown_file(self) -> Path | None:
        """The file whose header is listed (``None``: none)."""
        return None if self._shown is None else self._shown[0]

    def refresh(self) -> None:
        """Look at which file the slice shown comes from and list its header if it changed."""
        model = self._model
        display = model.display
        if display is None:
            self._show_message("No study is open", "Open a DICOM series to see its tags.")
            return
        series = model.series
        if not (is_dicom(display.volume) or (series is not None and is_dicom(series.shown))):
            kind = str(display.volume.metadata.get("format") or "")
            read_from = f" (this study was read from a {kind} file)" if kind else ""
            self._show_message("Not a DICOM study",
                               f"The tag browser lists the headers of DICOM files{read_from}.")
            return
        found = shown_slice_file(model)
        if found is None:
            self._show_message("No DICOM file for this volume",
                               "The volume shown records no DICOM file per slice.")
            return
        if found.path is None:
            self._show_message(f"Slice {found.index + 1} of {found.n_slices} is missing",
                               "The series has no file for this slice (it is shown blank).")
            return
        self.detail_label.setText(self._where(found))
        key = (found.path, found.frame)
        if key == self._shown:
            return
        self._shown = key
        self.file_label.setText(found.path.name)
        self.setWindowTitle(f"{TITLE} — {found.path.name}")
        try:
            rows = read_tags(found.path, found.frame)
        except LoadError as exc:
            self._fill([])
            self.detail_label.setText(f"{found.path.name}: {exc.reason}")
            return
        self._fill(rows)

    def _where(self, found: SliceFile) -> str:
        """Which slice (and frame) the file holds, and which plane the cursor is in."""
        parts = [f"Slice {found.index + 1} of {found.n_slices} as acquired"]
        if found.frame is not None:
            parts.append(f"frame {found.frame + 1} of its file (its per-frame functional "
                         "group is listed)")
        caption = self._model.caption
        if caption:
            parts.append(caption)
        display = self._model.display
        orientation = self._model.active_orientation
        if display is not None and not is_acquired_plane(display, orientation):
            parts.append(f"the acquired slice at the cursor: the {orientation.value} pane "
                         "shows a reformatted plane")
        return " · ".join(parts)

    def _show_message(self, title: str, detail: str) -> None:
        self._shown = None
        self.setWindowTitle(TITLE)
        self.file_label.setText(title)
        self.detail_label.setText(detail)
        self._fill([])

    # ---------------------------------------------------------------- the tree

    def _size_columns(self) -> None:
        header = self.tree.header()
        header.setStretchLastSection(True)
        metrics = self.tree.fontMetrics()
        mono = QFontMetrics(self._mono)
        self._least = {TAG: mono.horizontalAdvance("(0000,0000)") + 40,
                       NAME: metrics.horizontalAdvance("M" * 17) + 40}
        header.resizeSection(TAG, self._least[TAG])
        header.resizeSection(NAME, self._least[NAME])
        header.resizeSection(VR, mono.horizontalAdvance("MMM") + 16)
        header.setSectionResizeMode(VR, QHeaderView.ResizeMode.Fixed)

    def _fit_columns(self) -> None:
        """Tag and Name wide enough for the deepest tag and the longest name (bounded)."""
        header = self.tree.header()
        for column, least, most in ((TAG, self._least[TAG], 260), (NAME, self._least[NAME], 360)):
            self.tree.resizeColumnToContents(column)
            header.resizeSection(column, min(max(header.sectionSize(column) + 12, least), most))

    def _fill(self, rows: list[TagRow]) -> None:
        self.tree.setUpdatesEnabled(False)
        try:
            self.tree.clear()
            self._rows, self._items = list(rows), []
            parents: list[QTreeWidgetItem] = []
            for row in rows:
                del parents[row.depth:]
                item = QTreeWidgetItem([row.tag, row.label, row.vr, ""])
                item.setFont(TAG, self._mono)
                item.setFont(VR, self._mono)
                if row.name and row.name != row.label:
                    item.setToolTip(NAME, row.name)
                if parents:
                    parents[-1].addChild(item)
                else:
                    self.tree.addTopLevelItem(item)
                parents.append(item)
                self._items.append(item)
            self._show_values()
            self.tree.expandAll()
            self._fit_columns()
        finally:
            self.tree.setUpdatesEnabled(True)
        self._apply_filter()

    def _show_values(self) -> None:
        reveal = self.reveal_box.isChecked()
        plain = QBrush()
        for row, item in zip(self._rows, self._items, strict=True):
            text = value_shown(row, reveal)
            item.setText(VALUE, text)
            hidden = text == MASK and row.phi
            if hidden:
                item.setForeground(VALUE, QBrush(MASKED_COLOUR))
            elif row.phi and row.value and not row.structural:
                item.setForeground(VALUE, QBrush(REVEALED_COLOUR))
            else:
                item.setForeground(VALUE, plain)
            item.setToolTip(VALUE, "" if hidden or len(text) < 60 else text)

    def _apply_reveal(self) -> None:
        self._show_values()
        self._apply_filter()

    def _apply_filter(self) -> None:
        reveal = self.reveal_box.isChecked()
        keep = visible_rows(self._rows, self.filter_edit.text(), reveal)
        for item, shown in zip(self._items, keep, strict=True):
            item.setHidden(not shown)
        count = sum(keep)
        masked = sum(1 for row in self._rows if value_shown(row, reveal) == MASK and row.phi)
        text = f"{count} of {len(self._rows)} rows shown" if self._rows else ""
        if masked:
            text += f" · {masked} patient-identifying values masked"
        self.count_label.setText(text)

    # ---------------------------------------------------------------- for tests and scripts

    def value_of(self, keyword: str) -> str | None:
        """The Value column of the first row with ``keyword`` as shown (``None``: no row)."""
        for row, item in zip(self._rows, self._items, strict=True):
            if row.keyword == keyword:
                return item.text(VALUE)
        return None

    def shown_labels(self) -> list[str]:
        """The Name column of the rows the filter keeps, in order."""
        return [item.text(NAME) for item in self._items if not item.isHidden()]

    # ---------------------------------------------------------------- events

    def _follow(self) -> None:
        if self.isVisible():
            self.refresh()

    def showEvent(self, event: QShowEvent) -> None:
        """Opened: patient data masked again, the header of the slice shown listed."""
        if not event.spontaneous():
            self.reveal_box.setChecked(False)
        super().showEvent(event)
        self.refresh()

    def hideEvent(self, event: QHideEvent) -> None:
        """Hidden (closed or minimised): patient data masked again."""
        self.reveal_box.setChecked(False)
        super().hideEvent(event)
