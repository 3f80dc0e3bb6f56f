"""The non-blocking message strip shown above the images for errors and load warnings."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QToolButton,
    QWidget,
)

APP_TITLE = "MedSR Viewer"
#: Colours of the message banners by kind.
BANNER_STYLES = {
    "error": "background:#5c1d1d; color:#ffd7d7;",
    "warning": "background:#5a4a12; color:#fff1c4;",
}


class MessageBanner(QFrame):
    """A dismissable coloured strip above the images for errors and load warnings.

    It never blocks (unlike a modal dialog); ``Details`` opens the full text in a
    non-modal message box.
    """

    def __init__(self, kind: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.kind = kind
        self.setObjectName(f"{kind}Banner")
        style = BANNER_STYLES[kind]
        self.setStyleSheet(f"QFrame#{kind}Banner {{{style}}} QLabel {{{style}}}")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 4, 4, 4)
        self.label = QLabel(self)
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.label, 1)
        self.details_button = QPushButton("Details…", self)
        self.details_button.clicked.connect(self.show_details)
        layout.addWidget(self.details_button)
        close = QToolButton(self)
        close.setText("✕")
        close.setToolTip("Dismiss")
        close.clicked.connect(self.hide)
        layout.addWidget(close)
        self._details: list[str] = []
        self.details_box: QMessageBox | None = None
        self.hide()

    def show_messages(self, summary: str, details: Sequence[str] = ()) -> None:
        """Show ``summary``; ``details`` (one line each) are behind the Details button."""
        self._details = list(details)
        self.label.setText(summary)
        self.details_button.setVisible(bool(self._details))
        self.show()

    def show_notice(self, level: str, message: str) -> None:
        """Show a notice posted by background work if it is of this banner's level."""
        if level == self.kind:
            self.show_messages(message, [message])

    def text(self) -> str:
        """The summary shown."""
        return self.label.text()

    def details(self) -> list[str]:
        """The detail lines."""
        return list(self._details)

    def show_details(self) -> None:
        """Open the detail lines in a non-modal message box."""
        icon = QMessageBox.Icon.Critical if self.kind == "error" else QMessageBox.Icon.Warning
        box = QMessageBox(
            icon, APP_TITLE, self.label.text(), QMessageBox.StandardButton.Close, self
        )
        box.setDetailedText("\n".join(self._details))
        box.setWindowModality(Qt.WindowModality.NonModal)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.details_box = box
        box.show()
