"""File ▸ Send to PACS…: store a folder of DICOM files (a derived series written by
``medsr derive``, the open study's folder, any DICOM folder) on a PACS with STOW-RS or
C-STORE, in the background, with progress, cancel and a report of what was refused."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from medsr_viewer.gui.dialogs.pacs_servers import PacsServersDialog, server_combo_items
from medsr_viewer.gui.workers.jobs import Ticket
from medsr_viewer.gui.workers.pacs_jobs import PacsJobs
from medsr_viewer.pacs.connect import connect
from medsr_viewer.pacs.errors import PacsError
from medsr_viewer.pacs.records import StoreReport
from medsr_viewer.pacs.send import send_folder
from medsr_viewer.pacs.servers import PacsServer, ServerStore


class PacsSendDialog(QDialog):
    """Send a DICOM folder to a PACS.

    Parameters
    ----------
    folder
        The folder offered first (the open study's, when it is DICOM).
    parent
        The main window.
    store
        Where the servers are kept (default: the user's settings folder).
    """

    def __init__(self, folder: Path | None = None, parent: QWidget | None = None,
                 store: ServerStore | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Send to PACS")
        self.setObjectName("pacsSendDialog")
        self._store = store if store is not None else ServerStore()
        self._servers: list[PacsServer] = []
        self._ticket: Ticket | None = None
        self.report: StoreReport | None = None
        self.jobs = PacsJobs("PacsSend", self)
        self.folder = QLineEdit(str(folder) if folder else "")
        self.folder.setPlaceholderText("a folder of DICOM files, e.g. a derived series")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self.browse)
        self.server_combo = QComboBox()
        servers = QPushButton("Servers…")
        servers.clicked.connect(self.edit_servers)
        self.progress = QProgressBar()
        self.status = QLabel("")
        self.status.setObjectName("pacsSendStatus")
        self.status.setWordWrap(True)
        self.send_button = QPushButton("Send")
        self.send_button.clicked.connect(self.send)
        self.cancel_button = QPushButton("Cancel Send")
        self.cancel_button.clicked.connect(lambda: self.jobs.cancel("send"))
        close = QPushButton("Close")
        close.clicked.connect(self.reject)
        row = QHBoxLayout()
        row.addWidget(self.folder, 1)
        row.addWidget(browse)
        server_row = QHBoxLayout()
        server_row.addWidget(self.server_combo, 1)
        server_row.addWidget(servers)
        form = QFormLayout()
        form.addRow("Folder", row)
        form.addRow("Server", server_row)
        buttons = QHBoxLayout()
        buttons.addWidget(self.progress, 1)
        for button in (self.send_button, self.cancel_button, close):
            buttons.addWidget(button)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.status)
        layout.addLayout(buttons)
        self.resize(640, 200)
        self.reload_servers()

    def reload_servers(self) -> None:
        """List the settings' servers."""
        try:
            self._servers = self._store.servers()
        except PacsError as exc:
            self._servers = []
            self._say(str(exc), error=True)
        self.server_combo.clear()
        self.server_combo.addItems(server_combo_items(self._servers))
        if not self._servers:
            self._say("No PACS server yet: add one with Servers…")
        self._update_buttons()

    def edit_servers(self) -> None:
        """Open the servers dialog; the list is reloaded when it closes."""
        dialog = PacsServersDialog(self._store, self)
        dialog.finished.connect(lambda _r: self.reload_servers())
        dialog.open()

    def browse(self) -> None:
        """Choose the folder to send."""
        folder = QFileDialog.getExistingDirectory(self, "Folder to send", self.folder.text())
        if folder:
            self.folder.setText(folder)

    def server(self) -> PacsServer | None:
        """The chosen server."""
        index = self.server_combo.currentIndex()
        return self._servers[index] if 0 <= index < len(self._servers) else None

    def send(self) -> None:
        """Send the folder in the background."""
        server, text = self.server(), self.folder.text().strip()
        if server is None or not text or self._ticket is not None:
            self._say("Choose a folder and a server", error=True)
            return
        folder = Path(text)

        def job(ticket: Ticket) -> StoreReport:
            return send_folder(connect(server), folder, progress=ticket.report,
                               cancel=ticket.cancel_event)

        self.report = None
        self.progress.setValue(0)
        self._say(f"Sending {folder.name} to {server.label}…")
        self._ticket = self.jobs.submit(
            job, channel="send", done=lambda r: self._sent(r, server),
            failed=lambda m: self._finished(m, error=True), progress=self._show_progress,
            cancelled=lambda: self._finished("Send cancelled (instances already stored stay "
                                              "on the server)"))
        self._update_buttons()

    def _show_progress(self, done: int, total: int) -> None:
        self.progress.setRange(0, total)
        self.progress.setValue(done)

    def _sent(self, result: object, server: PacsServer) -> None:
        self.report = result if isinstance(result, StoreReport) else None
        if self.report is None:
            self._finished("Nothing sent", error=True)
            return
        self._finished(self.report.summary(server.label), error=not self.report.ok)

    def _finished(self, text: str, error: bool = False) -> None:
        self._ticket = None
        self._say(text, error)
        self._update_buttons()

    def _update_buttons(self) -> None:
        busy = self._ticket is not None
        self.send_button.setEnabled(not busy and bool(self._servers))
        self.cancel_button.setEnabled(busy)

    def _say(self, text: str, error: bool = False) -> None:
        self.status.setText(text)
        self.status.setStyleSheet("color: #c0392b;" if error else "")

    @property
    def sending(self) -> bool:
        """Whether a send is running."""
        return self._ticket is not None

    def done(self, result: int) -> None:
        """Close: a send in progress is cancelled first."""
        self.jobs.cancel()
        super().done(result)
