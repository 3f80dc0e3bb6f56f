"""File ▸ Open from PACS… and File ▸ Send to PACS…: the PACS dialogs, made when first used.

The dialogs (and with them ``pynetdicom``, ``dicomweb-client`` and ``requests``) are
imported on first use, so the window starts as fast as before.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from PySide6.QtWidgets import QDialog, QWidget

from medsr_viewer.gui.actions.registry import ActionRegistry

if TYPE_CHECKING:
    from medsr_viewer.gui.dialogs.pacs_open import PacsOpenDialog
    from medsr_viewer.gui.dialogs.pacs_send import PacsSendDialog

OPEN_ID, SEND_ID = "file.open_pacs", "file.send_pacs"


def dicom_folder(paths: Sequence[Path]) -> Path | None:
    """The folder of the open study: the folder opened, or the folder of its files."""
    if not paths:
        return None
    first = Path(paths[0])
    return first if first.is_dir() else first.parent


class PacsActions:
    """Binds the PACS actions of the File menu to their (reused) non-modal dialogs.

    Parameters
    ----------
    window
        The main window: its action registry, the dialogs' parent.
    open_paths
        Opens a retrieved series' folder as a study.
    study_paths
        The paths of the study open now (the folder Send to PACS offers first).
    """

    def __init__(self, window: QWidget, open_paths: Callable[[Sequence[Path]], object],
                 study_paths: Callable[[], Sequence[Path]]) -> None:
        self._window = window
        self._open_paths = open_paths
        self._study_paths = study_paths
        self.open_dialog: PacsOpenDialog | None = None
        self.send_dialog: PacsSendDialog | None = None
        registry = ActionRegistry.of(window)
        self.open_action = registry.bind(OPEN_ID, self.open_from_pacs)
        self.send_action = registry.bind(SEND_ID, self.send_to_pacs)

    def open_from_pacs(self) -> PacsOpenDialog:
        """Show the Open from PACS dialog (its servers reloaded) and bring it to the front."""
        from medsr_viewer.gui.dialogs.pacs_open import PacsOpenDialog

        if self.open_dialog is None:
            self.open_dialog = PacsOpenDialog(self._open_paths, self._window)
        else:
            self.open_dialog.reload_servers()
        return _show(self.open_dialog)

    def send_to_pacs(self) -> PacsSendDialog:
        """Show the Send to PACS dialog, offering the open study's folder."""
        from medsr_viewer.gui.dialogs.pacs_send import PacsSendDialog

        folder = dicom_folder(self._study_paths())
        if self.send_dialog is None:
            self.send_dialog = PacsSendDialog(folder, self._window)
        else:
            self.send_dialog.reload_servers()
            if folder is not None and not self.send_dialog.sending:
                self.send_dialog.folder.setText(str(folder))
        return _show(self.send_dialog)


_D = TypeVar("_D", bound=QDialog)


def _show(dialog: _D) -> _D:
    dialog.show()
    dialog.raise_()
    dialog.activateWindow()
    return dialog
