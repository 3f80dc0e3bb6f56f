"""Help ▸ Keyboard Shortcuts and Help ▸ About MedSR Viewer.

The shortcut list is read from the action registry each time it opens (its ``rows()``,
handed in as a callable: this module knows no actions), so it lists the window presets of
the study shown and a user's own shortcuts, and cannot disagree with the menus. The About
box reads library versions from the installed distributions' metadata: nothing is imported
for it (torch in particular stays off the GUI thread).
"""

from __future__ import annotations

import platform
from collections.abc import Callable, Sequence
from html import escape
from importlib import metadata

from PySide6 import __version__ as pyside_version
from PySide6.QtCore import Qt, qVersion
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QLineEdit,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

#: ``(menu, action, shortcuts, tip)`` rows, as ``ActionRegistry.rows()`` gives them.
Row = tuple[str, str, str, str]
#: The application's distribution name.
APP_DISTRIBUTION = "medsr-viewer"
#: Libraries named in the About box: (shown name, distribution name).
LIBRARIES: tuple[tuple[str, str], ...] = (
    ("pyqtgraph", "pyqtgraph"), ("NumPy", "numpy"), ("PyTorch", "torch"),
    ("pydicom", "pydicom"), ("NiBabel", "nibabel"))
#: Object names of the dialogs (one of each per window, found again when reopened).
SHORTCUTS_NAME, ABOUT_NAME = "shortcutsDialog", "aboutDialog"


def distribution_version(name: str) -> str:
    """The installed version of distribution ``name`` ("not installed" when absent)."""
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def app_version() -> str:
    """The viewer's version: its distribution's, else the package's ``__version__``."""
    try:
        return metadata.version(APP_DISTRIBUTION)
    except metadata.PackageNotFoundError:
        import medsr_viewer

        return str(getattr(medsr_viewer, "__version__", "unknown"))


def versions() -> list[tuple[str, str]]:
    """``(name, version)`` of the viewer, Python, Qt/PySide6 and the libraries it uses."""
    return [("MedSR Viewer", app_version()), ("Python", platform.python_version()),
            ("Qt", qVersion()), ("PySide6", pyside_version),
            *((shown, distribution_version(dist)) for shown, dist in LIBRARIES)]


class ShortcutsDialog(QDialog):
    """Every action with a shortcut, grouped by menu, with a filter box (non-modal).

    Parameters
    ----------
    rows
        Gives the ``(menu, action, shortcuts, tip)`` rows when the dialog (re)opens.
    menus
        Menu names in menu-bar order (groups of other names follow, in order of first use).
    parent
        The window it belongs to.
    """

    def __init__(self, rows: Callable[[], Sequence[Row]], menus: Sequence[str],
                 parent: QWidget) -> None:
        super().__init__(parent)
        self.setObjectName(SHORTCUTS_NAME)
        self.setWindowTitle("Keyboard Shortcuts")
        self.setModal(False)
        self._rows = rows
        self._menus = tuple(menus)
        self.filter_edit = QLineEdit(self)
        self.filter_edit.setPlaceholderText("Type to filter (action, key or description)")
        self.filter_edit.setClearButtonEnabled(True)
        self.filter_edit.textChanged.connect(self._apply_filter)
        self.tree = QTreeWidget(self)
        self.tree.setColumnCount(3)
        self.tree.setHeaderLabels(["Action", "Shortcut", "Description"])
        self.tree.setRootIsDecorated(False)
        self.tree.setAlternatingRowColors(True)
        self.tree.header().setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        self.tree.header().setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.filter_edit)
        layout.addWidget(self.tree, 1)
        layout.addWidget(buttons)
        self.resize(720, 560)
        self.refresh()

    def refresh(self) -> None:
        """Re-read the rows (presets of the study shown, changed shortcuts)."""
        self.tree.clear()
        groups: dict[str, list[Row]] = {name: [] for name in self._menus}
        for row in self._rows():
            groups.setdefault(row[0], []).append(row)
        bold = self.tree.font()
        bold.setBold(True)
        for menu, rows in groups.items():
            if not rows:
                continue
            group = QTreeWidgetItem(self.tree, [menu])
            group.setFirstColumnSpanned(True)
            group.setFont(0, bold)
            group.setFlags(Qt.ItemFlag.ItemIsEnabled)
            for _menu, action, keys, tip in rows:
                QTreeWidgetItem(group, [action, keys, tip]).setToolTip(2, tip)
        self.tree.expandAll()
        self._apply_filter(self.filter_edit.text())

    def shown_rows(self) -> list[tuple[str, str, str]]:
        """``(menu, action, shortcuts)`` of the rows shown now (the filter applied)."""
        shown = []
        for g in range(self.tree.topLevelItemCount()):
            group = self.tree.topLevelItem(g)
            if group is None or group.isHidden():
                continue
            for r in range(group.childCount()):
                item = group.child(r)
                if item is not None and not item.isHidden():
                    shown.append((group.text(0), item.text(0), item.text(1)))
        return shown

    def _apply_filter(self, text: str) -> None:
        needle = text.strip().lower()
        for g in range(self.tree.topLevelItemCount()):
            group = self.tree.topLevelItem(g)
            if group is None:
                continue
            visible = 0
            for r in range(group.childCount()):
                item = group.child(r)
                if item is None:
                    continue
                words = " ".join(item.text(c) for c in range(3)).lower()
                item.setHidden(bool(needle) and needle not in words)
                visible += not item.isHidden()
            group.setHidden(visible == 0)


class AboutDialog(QDialog):
    """The viewer's version and those of the libraries it runs on, as selectable text.

    Parameters
    ----------
    parent
        The window it belongs to.
    """

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.setObjectName(ABOUT_NAME)
        self.setWindowTitle("About MedSR Viewer")
        self.setModal(False)
        rows = "".join(f"<tr><td>{escape(name)}</td><td>&nbsp;&nbsp;{escape(version)}</td></tr>"
                       for name, version in versions()[1:])
        self.label = QLabel(
            f"<h3>MedSR Viewer {escape(app_version())}</h3>"
            "<p>Medical image viewer with super-resolution, segmentation and ROI metrics."
            "</p><p>Runs on:</p>"
            f"<table>{rows}</table>", self)
        self.label.setTextFormat(Qt.TextFormat.RichText)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse
                                           | Qt.TextInteractionFlag.TextSelectableByKeyboard)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.label)
        layout.addWidget(buttons)

    def text(self) -> str:
        """The versions as plain text, one ``name version`` a line."""
        return "\n".join(f"{name} {version}" for name, version in versions())


def _raise(dialog: QDialog) -> QDialog:
    dialog.show()
    dialog.raise_()
    dialog.activateWindow()
    return dialog


def show_shortcuts(parent: QWidget, rows: Callable[[], Sequence[Row]],
                   menus: Sequence[str]) -> ShortcutsDialog:
    """Open (or bring back, re-read) the window's Keyboard Shortcuts dialog.

    Parameters
    ----------
    parent
        The main window.
    rows
        The registry's ``rows`` (``(menu, action, shortcuts, tip)`` of every action with a
        shortcut).
    menus
        Menu names in menu-bar order.

    Returns
    -------
    ShortcutsDialog
        The dialog, shown.
    """
    dialog = parent.findChild(ShortcutsDialog, SHORTCUTS_NAME)
    if dialog is None:
        dialog = ShortcutsDialog(rows, menus, parent)
    else:
        dialog.refresh()
    _raise(dialog)
    return dialog


def show_about(parent: QWidget) -> AboutDialog:
    """Open (or bring back) the window's About box.

    Parameters
    ----------
    parent
        The main window.

    Returns
    -------
    AboutDialog
        The dialog, shown.
    """
    dialog = parent.findChild(AboutDialog, ABOUT_NAME) or AboutDialog(parent)
    _raise(dialog)
    return dialog
