"""File ▸ DICOM Tags… (Ctrl+T): opens the tag browser, enabled only for a DICOM study."""

from __future__ import annotations

from PySide6.QtWidgets import QWidget

from medsr_viewer.core.slice_files import is_dicom
from medsr_viewer.core.view_model import ViewModel
from medsr_viewer.gui.actions.registry import ActionRegistry
from medsr_viewer.gui.dialogs.tag_browser import TagBrowser

ACTION_ID = "file.dicom_tags"


class TagBrowserAction:
    """Binds the DICOM Tags action to one (reused) non-modal :class:`TagBrowser`.

    Parameters
    ----------
    window
        The main window: its action registry, the dialog's parent.
    model
        The view model the dialog follows; the action is enabled while it shows a DICOM
        study.
    """

    def __init__(self, window: QWidget, model: ViewModel) -> None:
        self._window = window
        self._model = model
        self._dialog: TagBrowser | None = None
        self.action = ActionRegistry.of(window).bind(ACTION_ID, self.open)
        for event in ("study", "volume"):
            model.subscribe(event, self._update_enabled)
        self._update_enabled()

    @property
    def dialog(self) -> TagBrowser | None:
        """The dialog, once opened."""
        return self._dialog

    def open(self) -> TagBrowser:
        """Show the dialog (patient data masked when it opens) and bring it to the front."""
        if self._dialog is None:
            self._dialog = TagBrowser(self._model, self._window)
        dialog = self._dialog
        dialog.show()
        dialog.raise_()
        dialog.activateWindow()
        return dialog

    def _update_enabled(self) -> None:
        display, series = self._model.display, self._model.series
        self.action.setEnabled(display is not None and (
            is_dicom(display.volume) or (series is not None and is_dicom(series.shown))))
