"""File ▸ Export Pane Screenshot… / Export Layout Screenshot…: what the user sees, as PNG.

The picture is the pane (or the whole study area: original and SR panes) as drawn, with its
orientation letters, caption, information overlay and scale bar, but never the patient's
name, ID or dates: patient data is switched off for the grab even when the user shows it,
and the suggested file name holds only the plane and slice. The file is written atomically
and never over one of the study's input files.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import QFileDialog, QMainWindow, QWidget

from medsr_viewer.core.atomic import atomic_write
from medsr_viewer.gui.actions.registry import ActionRegistry
from medsr_viewer.gui.views.study_viewer import StudyViewer

PANE, LAYOUT = "pane", "layout"
PNG_FILTER = "PNG images (*.png)"


class ScreenshotExport:
    """Exports the active pane or the layout as a PNG without patient data.

    Parameters
    ----------
    window
        Dialog parent; its action registry holds the two Export actions.
    viewer
        The study viewer (the active pane; the overlay switches).
    layout
        The widget holding every pane shown (original column and SR pane).
    inputs
        The files the study was read from (never overwritten).
    show_error
        Reports a refused or failed export.
    """

    def __init__(self, window: QMainWindow, viewer: StudyViewer, layout: QWidget,
                 inputs: Callable[[], Sequence[Path]],
                 show_error: Callable[[str], None]) -> None:
        self._window = window
        self._viewer = viewer
        self._layout = layout
        self._inputs = inputs
        self._show_error = show_error
        actions = ActionRegistry.of(window)
        actions.bind("file.export_pane", lambda: self.export_dialog(PANE))
        actions.bind("file.export_layout", lambda: self.export_dialog(LAYOUT))

    def default_name(self, what: str) -> str:
        """A file name that says what is shown and nothing about the patient."""
        model = self._viewer.model
        if what == LAYOUT:
            return f"medsr-{model.layout.value}-{model.orientation.value}.png"
        plane = model.active_orientation
        return f"medsr-{plane.value}-{model.slice_index(plane) + 1}.png"

    def grab(self, what: str = PANE) -> QPixmap:
        """The pane (``"pane"``: the active one) or the layout as drawn, patient data off."""
        widget = self._viewer.active_view if what == PANE else self._layout
        options = self._viewer.overlays.options
        shown = options.state.patient_data
        options.set(patient_data=False)
        try:
            return widget.grab()
        finally:
            options.set(patient_data=shown)

    def export(self, path: str | Path, what: str = PANE) -> Path | None:
        """Write the screenshot to ``path`` (PNG, atomically); ``None`` after reporting why
        not (no study, an input file, a write failure)."""
        target = Path(path)
        if target.suffix.lower() != ".png":
            target = target.with_name(target.name + ".png")
        if self._viewer.model.display is None:
            self._show_error("Open a study before exporting a screenshot")
            return None
        resolved = target.resolve()
        if any(resolved == Path(p).resolve() for p in self._inputs()):
            self._show_error(f"{target}: is one of the study's input files; not overwritten")
            return None
        picture = self.grab(what)

        def write(tmp: str) -> None:
            if not picture.save(tmp, "PNG"):
                raise OSError("the PNG could not be written")

        try:
            written = atomic_write(target, write)
        except OSError as exc:
            self._show_error(f"{target}: screenshot not saved ({exc})")
            return None
        self._window.statusBar().showMessage(f"Screenshot saved to {written}", 8000)
        return written

    def export_dialog(self, what: str) -> None:
        """Ask where to save the screenshot, then save it."""
        path, _ = QFileDialog.getSaveFileName(self._window, "Export Screenshot",
                                              self.default_name(what), PNG_FILTER)
        if path:
            self.export(path, what)
