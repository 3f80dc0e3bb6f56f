"""File ▸ Open from PACS…: search a PACS, pick a series, retrieve it in the background, open it.

The user picks a server (the settings' servers, edited with *Servers…*), types patient and
study filters and searches (a study-level query: C-FIND or QIDO-RS); choosing a study lists
its series; *Retrieve and Open* retrieves the chosen series into the PACS cache folder
(:func:`~medsr_viewer.pacs.retrieve.pacs_cache_dir`) with a progress bar and a Cancel
button, whole or not at all (:func:`~medsr_viewer.pacs.retrieve.retrieve_series`), and
only a complete series is opened. Patient data is shown in the tables, never logged.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from medsr_viewer.gui.dialogs.pacs_servers import PacsServersDialog, server_combo_items
from medsr_viewer.gui.workers.jobs import Ticket
from medsr_viewer.gui.workers.pacs_jobs import PacsJobs
from medsr_viewer.pacs.connect import connect
from medsr_viewer.pacs.errors import PacsError
from medsr_viewer.pacs.records import Query, SeriesMatch, StudyMatch
from medsr_viewer.pacs.retrieve import (
    RetrievedSeries,
    pacs_cache_dir,
    retrieve_series,
    series_folder,
)
from medsr_viewer.pacs.servers import PacsServer, ServerStore

STUDY_COLUMNS = ("Patient name", "Patient ID", "Birth date", "Study date", "Description",
                 "Modalities", "Series")
SERIES_COLUMNS = ("Number", "Modality", "Description", "Images")
#: Search fields: attribute of :class:`Query`, label, placeholder.
FIELDS = (("patient_name", "Patient name", "DOE^J (* ? wildcards; a prefix matches)"),
          ("patient_id", "Patient ID", ""),
          ("study_date", "Study date", "YYYYMMDD or YYYYMMDD-YYYYMMDD"),
          ("modality", "Modality", "MR, CT …"),
          ("accession_number", "Accession", ""))


def _cell(text: object) -> QTableWidgetItem:
    item = QTableWidgetItem("" if text is None else str(text))
    item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEditable)
    return item


def _table(columns: Sequence[str], name: str) -> QTableWidget:
    table = QTableWidget(0, len(columns))
    table.setObjectName(name)
    table.setHorizontalHeaderLabels(list(columns))
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    table.verticalHeader().setVisible(False)
    table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    table.horizontalHeader().setStretchLastSection(True)
    return table


def prefix_match(text: str) -> str:
    """A patient-name filter: ``text`` as typed when it has a wildcard, else a prefix."""
    text = text.strip()
    return text if not text or "*" in text or "?" in text else f"{text}*"


class PacsOpenDialog(QDialog):
    """Search, retrieve and open a series from a PACS.

    Parameters
    ----------
    open_folder
        Opens a retrieved series' folder as a study (the study controller's ``open_paths``).
    parent
        The main window.
    store
        Where the servers are kept (default: the user's settings folder).
    """

    def __init__(self, open_folder: Callable[[Sequence[Path]], object],
                 parent: QWidget | None = None, store: ServerStore | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Open from PACS")
        self.setObjectName("pacsOpenDialog")
        self.resize(900, 600)
        self._open = open_folder
        self._store = store if store is not None else ServerStore()
        self._servers: list[PacsServer] = []
        self._studies: list[StudyMatch] = []
        self._series: list[SeriesMatch] = []
        self._retrieve: Ticket | None = None
        self.jobs = PacsJobs("PacsOpen", self)
        self.servers_dialog: PacsServersDialog | None = None

        self.server_combo = QComboBox()
        self.servers_button = QPushButton("Servers…")
        self.servers_button.clicked.connect(self.edit_servers)
        self.fields = {name: QLineEdit() for name, _, _ in FIELDS}
        self.search_button = QPushButton("Search")
        self.search_button.setDefault(True)
        self.search_button.clicked.connect(self.search)
        self.studies_table = _table(STUDY_COLUMNS, "pacsStudies")
        self.series_table = _table(SERIES_COLUMNS, "pacsSeries")
        self.studies_table.itemSelectionChanged.connect(self._study_chosen)
        self.series_table.itemSelectionChanged.connect(self._update_buttons)
        self.series_table.itemDoubleClicked.connect(lambda *_: self.retrieve())
        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        self.status = QLabel("")
        self.status.setObjectName("pacsStatus")
        self.status.setWordWrap(True)
        self.retrieve_button = QPushButton("Retrieve and Open")
        self.retrieve_button.clicked.connect(self.retrieve)
        self.cancel_button = QPushButton("Cancel Retrieve")
        self.cancel_button.clicked.connect(self.cancel_retrieve)
        close = QPushButton("Close")
        close.clicked.connect(self.reject)
        self._layout(close)
        self.reload_servers()
        self._update_buttons()

    def _layout(self, close: QPushButton) -> None:
        top = QHBoxLayout()
        top.addWidget(QLabel("Server:"))
        top.addWidget(self.server_combo, 1)
        top.addWidget(self.servers_button)
        grid = QGridLayout()
        for index, (name, label, hint) in enumerate(FIELDS):
            self.fields[name].setPlaceholderText(hint)
            self.fields[name].returnPressed.connect(self.search)
            grid.addWidget(QLabel(label), index // 3, 2 * (index % 3))
            grid.addWidget(self.fields[name], index // 3, 2 * (index % 3) + 1)
        grid.addWidget(self.search_button, 1, 5)
        bottom = QHBoxLayout()
        bottom.addWidget(self.progress, 1)
        bottom.addWidget(self.retrieve_button)
        bottom.addWidget(self.cancel_button)
        bottom.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addLayout(grid)
        layout.addWidget(QLabel("Studies"))
        layout.addWidget(self.studies_table, 3)
        layout.addWidget(QLabel("Series of the chosen study"))
        layout.addWidget(self.series_table, 2)
        layout.addWidget(self.status)
        layout.addLayout(bottom)

    # -- servers --------------------------------------------------------------------------
    def reload_servers(self) -> None:
        """List the settings' servers (the current choice kept when it still exists)."""
        current = self.server_combo.currentText()
        try:
            self._servers = self._store.servers()
        except PacsError as exc:
            self._servers = []
            self._say(str(exc), error=True)
        self.server_combo.clear()
        for text in server_combo_items(self._servers):
            self.server_combo.addItem(text)
        index = self.server_combo.findText(current)
        if index >= 0:
            self.server_combo.setCurrentIndex(index)
        if not self._servers:
            self._say("No PACS server yet: add one with Servers…")
        self._update_buttons()

    def server(self) -> PacsServer | None:
        """The chosen server."""
        index = self.server_combo.currentIndex()
        return self._servers[index] if 0 <= index < len(self._servers) else None

    def edit_servers(self) -> None:
        """Open the servers dialog; the list is reloaded when it closes."""
        dialog = PacsServersDialog(self._store, self)
        dialog.finished.connect(lambda _r: self.reload_servers())
        self.servers_dialog = dialog
        dialog.open()

    # -- search ---------------------------------------------------------------------------
    def query(self) -> Query:
        """The typed filters (a patient name without wildcard matches as a prefix)."""
        values = {name: edit.text().strip() for name, edit in self.fields.items()}
        values["patient_name"] = prefix_match(values["patient_name"])
        return Query(**values)

    def search(self) -> None:
        """Search the chosen server's studies in the background."""
        server = self.server()
        if server is None:
            self._say("Choose a PACS server first (Servers… adds one)", error=True)
            return
        query = self.query()
        self._say(f"Searching {server.label}…")
        self.studies_table.setRowCount(0)
        self.series_table.setRowCount(0)
        self.jobs.submit(lambda _t: connect(server).find_studies(query), channel="search",
                         done=self._show_studies, failed=lambda m: self._say(m, error=True))

    def _show_studies(self, result: object) -> None:
        self._studies = list(result) if isinstance(result, list) else []
        self._fill(self.studies_table, [
            (s.patient_name, s.patient_id, s.birth_date, s.study_date, s.description,
             "\\".join(s.modalities), s.n_series) for s in self._studies])
        count = len(self._studies)
        self._say(f"{count} stud{'y' if count == 1 else 'ies'} found"
                  + ("; choose one to see its series" if count > 1 else ""))
        if count == 1:
            self.studies_table.selectRow(0)

    def _study_chosen(self) -> None:
        study = self.chosen_study()
        server = self.server()
        self.series_table.setRowCount(0)
        self._series = []
        self._update_buttons()
        if study is None or server is None:
            return
        self.jobs.submit(lambda _t: connect(server).find_series(study.study_uid),
                         channel="search", done=self._show_series,
                         failed=lambda m: self._say(m, error=True))

    def _show_series(self, result: object) -> None:
        self._series = list(result) if isinstance(result, list) else []
        self._series.sort(key=lambda s: (s.number is None, s.number or 0))
        self._fill(self.series_table, [(s.number, s.modality, s.description, s.n_instances)
                                       for s in self._series])
        if len(self._series) == 1:
            self.series_table.selectRow(0)
        self._say(f"{len(self._series)} series in the study")

    def chosen_study(self) -> StudyMatch | None:
        """The study selected in the studies table."""
        rows = self.studies_table.selectionModel().selectedRows()
        index = rows[0].row() if rows else -1
        return self._studies[index] if 0 <= index < len(self._studies) else None

    def chosen_series(self) -> SeriesMatch | None:
        """The series selected in the series table."""
        rows = self.series_table.selectionModel().selectedRows()
        index = rows[0].row() if rows else -1
        return self._series[index] if 0 <= index < len(self._series) else None

    # -- retrieve -------------------------------------------------------------------------
    def retrieve(self) -> None:
        """Retrieve the chosen series in the background (then open it, if complete)."""
        server, series = self.server(), self.chosen_series()
        if server is None or series is None or self._retrieve is not None:
            return
        dest = series_folder(pacs_cache_dir(), server.name, series.study_uid,
                             series.series_uid)

        def job(ticket: Ticket) -> RetrievedSeries:
            return retrieve_series(connect(server), series.study_uid, series.series_uid, dest,
                                   progress=ticket.report, cancel=ticket.cancel_event)

        self.progress.setRange(0, max(series.n_instances or 0, 0))
        self.progress.setValue(0)
        self._say(f"Retrieving from {server.label}…")
        self._retrieve = self.jobs.submit(job, channel="retrieve", done=self._retrieved,
                                          failed=self._retrieve_failed,
                                          progress=self._show_progress,
                                          cancelled=self._retrieve_cancelled)
        self._update_buttons()

    def cancel_retrieve(self) -> None:
        """Stop the retrieve; its partial data is deleted."""
        if self._retrieve is not None:
            self._say("Cancelling…")
            self.jobs.cancel("retrieve")

    def _show_progress(self, done: int, total: int) -> None:
        self.progress.setRange(0, total)
        self.progress.setValue(done)

    def _retrieved(self, result: object) -> None:
        self._retrieve = None
        self._update_buttons()
        if not isinstance(result, RetrievedSeries):
            return
        self._say(f"Retrieved {result.instances} instances; opening…")
        self._open([result.folder])
        self.accept()

    def _retrieve_failed(self, message: str) -> None:
        self._retrieve = None
        self.progress.setValue(0)
        self._say(message, error=True)
        self._update_buttons()

    def _retrieve_cancelled(self) -> None:
        self._retrieve = None
        self.progress.setValue(0)
        self._say("Retrieve cancelled; the partial data was deleted and nothing was opened")
        self._update_buttons()

    # -- state ----------------------------------------------------------------------------
    @property
    def retrieving(self) -> bool:
        """Whether a retrieve is running."""
        return self._retrieve is not None

    def _update_buttons(self) -> None:
        busy = self._retrieve is not None
        self.retrieve_button.setEnabled(not busy and self.chosen_series() is not None)
        self.cancel_button.setEnabled(busy)
        self.search_button.setEnabled(not busy and bool(self._servers))

    def _say(self, text: str, error: bool = False) -> None:
        self.status.setText(text)
        self.status.setStyleSheet("color: #c0392b;" if error else "")
        self.status.setProperty("error", error)

    @staticmethod
    def _fill(table: QTableWidget, rows: Sequence[Sequence[object]]) -> None:
        table.setRowCount(0)
        table.setRowCount(len(rows))
        for r, row in enumerate(rows):
            for c, value in enumerate(row):
                table.setItem(r, c, _cell(value))

    def done(self, result: int) -> None:
        """Close: cancel the searches and the retrieve (its partial data is deleted)."""
        self.jobs.cancel()
        super().done(result)

    def closeEvent(self, event: QCloseEvent) -> None:
        """Closing the window cancels like Close."""
        self.jobs.cancel()
        super().closeEvent(event)
