"""The PACS servers of the settings: list, add, edit, remove, and test one (C-ECHO or a
DICOMweb search), kept in ``pacs_servers.json`` in the config folder (shared with
``medsr pacs``; see :mod:`medsr_viewer.pacs.servers`)."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from medsr_viewer.gui.workers.pacs_jobs import PacsJobs
from medsr_viewer.pacs.errors import PacsError
from medsr_viewer.pacs.servers import (
    C_GET,
    C_MOVE,
    DEFAULT_CALLING_AET,
    DICOMWEB,
    DIMSE,
    PacsServer,
    ServerStore,
)

PROTOCOL_TEXT = {DICOMWEB: "DICOMweb (QIDO-RS / WADO-RS / STOW-RS)",
                 DIMSE: "DIMSE (C-FIND / C-GET or C-MOVE / C-STORE)"}
RETRIEVE_TEXT = {C_GET: "C-GET", C_MOVE: "C-MOVE (to our storage SCP)"}


def server_combo_items(servers: Sequence[PacsServer]) -> list[str]:
    """How the server choosers list the servers: ``name — DICOMweb, host:port``."""
    return [f"{s.name} — {'DICOMweb' if s.protocol == DICOMWEB else 'DIMSE'}, {s.endpoint}"
            for s in servers]


class PacsServersDialog(QDialog):
    """Edit the PACS servers of the settings.

    Parameters
    ----------
    store
        The servers file.
    parent
        The dialog's parent.
    """

    def __init__(self, store: ServerStore, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("PACS Servers")
        self._store = store
        self.jobs = PacsJobs("PacsServerTest", self)
        self.list = QListWidget()
        self.list.currentRowChanged.connect(self._show)
        self.name = QLineEdit()
        self.protocol = QComboBox()
        for key, text in PROTOCOL_TEXT.items():
            self.protocol.addItem(text, key)
        self.protocol.currentIndexChanged.connect(self._protocol_changed)
        self.url = QLineEdit()
        self.url.setPlaceholderText("http://pacs.example.org:8042/dicom-web")
        self.host = QLineEdit()
        self.port = QSpinBox()
        self.port.setRange(1, 65535)
        self.port.setValue(104)
        self.called_aet = QLineEdit()
        self.called_aet.setMaxLength(16)
        self.calling_aet = QLineEdit(DEFAULT_CALLING_AET)
        self.calling_aet.setMaxLength(16)
        self.retrieve = QComboBox()
        for key, text in RETRIEVE_TEXT.items():
            self.retrieve.addItem(text, key)
        self.move_port = QSpinBox()
        self.move_port.setRange(0, 65535)
        self.timeout = QDoubleSpinBox()
        self.timeout.setRange(1, 600)
        self.timeout.setValue(30)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.status.setObjectName("pacsServersStatus")
        self._layout()
        self._servers: list[PacsServer] = []
        self.reload()
        self._protocol_changed()

    def _layout(self) -> None:
        form = QFormLayout()
        for label, widget in (("Name", self.name), ("Protocol", self.protocol),
                              ("DICOMweb URL", self.url), ("Host", self.host),
                              ("Port", self.port), ("Server AE title", self.called_aet),
                              ("Our AE title", self.calling_aet),
                              ("Retrieve with", self.retrieve),
                              ("C-MOVE local port", self.move_port),
                              ("Timeout (s)", self.timeout)):
            form.addRow(label, widget)
        buttons = QHBoxLayout()
        for text, slot in (("New", self.new), ("Save", self.save), ("Remove", self.remove),
                           ("Test", self.test), ("Close", self.accept)):
            button = QPushButton(text)
            button.setObjectName(f"pacsServers{text}")
            button.clicked.connect(slot)
            buttons.addWidget(button)
        side = QVBoxLayout()
        side.addLayout(form)
        side.addWidget(self.status)
        body = QHBoxLayout()
        body.addWidget(self.list, 1)
        body.addLayout(side, 2)
        layout = QVBoxLayout(self)
        layout.addLayout(body)
        layout.addLayout(buttons)

    def reload(self) -> None:
        """List the file's servers."""
        try:
            self._servers = self._store.servers()
        except PacsError as exc:
            self._servers = []
            self._say(str(exc), error=True)
        self.list.clear()
        self.list.addItems(server_combo_items(self._servers))
        if self._servers:
            self.list.setCurrentRow(0)

    def _show(self, row: int) -> None:
        if not 0 <= row < len(self._servers):
            return
        s = self._servers[row]
        self.name.setText(s.name)
        self.protocol.setCurrentIndex(max(self.protocol.findData(s.protocol), 0))
        self.url.setText(s.url)
        self.host.setText(s.host)
        self.port.setValue(s.port)
        self.called_aet.setText(s.called_aet)
        self.calling_aet.setText(s.calling_aet)
        self.retrieve.setCurrentIndex(max(self.retrieve.findData(s.retrieve), 0))
        self.move_port.setValue(s.move_port)
        self.timeout.setValue(s.timeout)

    def _protocol_changed(self) -> None:
        web = self.protocol.currentData() == DICOMWEB
        self.url.setEnabled(web)
        for widget in (self.host, self.port, self.called_aet, self.calling_aet,
                       self.retrieve, self.move_port):
            widget.setEnabled(not web)

    def edited(self) -> PacsServer:
        """The server the form describes, validated (:class:`PacsError` says what is wrong)."""
        return PacsServer(
            name=self.name.text(), protocol=str(self.protocol.currentData()),
            url=self.url.text(), host=self.host.text(), port=self.port.value(),
            called_aet=self.called_aet.text(), calling_aet=self.calling_aet.text(),
            retrieve=str(self.retrieve.currentData()), move_port=self.move_port.value(),
            timeout=self.timeout.value()).validated()

    def new(self) -> None:
        """Clear the form for a new server."""
        self.list.clearSelection()
        for edit in (self.name, self.url, self.host, self.called_aet):
            edit.clear()
        self.calling_aet.setText(DEFAULT_CALLING_AET)
        self._say("Fill in the new server, then Save")

    def save(self) -> None:
        """Add the form's server, or replace the one of the same name."""
        try:
            server = self.edited()
            self._store.put(server)
        except PacsError as exc:
            self._say(str(exc), error=True)
            return
        self.reload()
        names = [s.name for s in self._servers]
        if server.name in names:
            self.list.setCurrentRow(names.index(server.name))
        self._say(f"Saved {server.label}")

    def remove(self) -> None:
        """Remove the server named in the form."""
        name = self.name.text().strip()
        try:
            self._store.remove(name)
        except PacsError as exc:
            self._say(str(exc), error=True)
            return
        self.reload()
        self._say(f"Removed PACS {name!r}")

    def test(self) -> None:
        """Check in the background that the form's server answers."""
        try:
            server = self.edited()
        except PacsError as exc:
            self._say(str(exc), error=True)
            return
        self._say(f"Testing {server.label}…")

        def job(_ticket: object) -> str:
            from medsr_viewer.pacs.connect import connect

            connect(server).echo()
            return f"{server.label} answers"

        self.jobs.submit(job, channel="test", done=lambda text: self._say(str(text)),
                         failed=lambda message: self._say(message, error=True))

    def _say(self, text: str, error: bool = False) -> None:
        self.status.setText(text)
        self.status.setStyleSheet("color: #c0392b;" if error else "")

    def done(self, result: int) -> None:
        """Close (a test in progress is abandoned)."""
        self.jobs.cancel()
        super().done(result)
