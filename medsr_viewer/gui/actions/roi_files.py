"""File actions for ROIs: export metrics (CSV/JSON), export and import the ROIs themselves.

ROI JSON files hold world-space shapes (``core.roi.serialize``), so they re-import exactly on
the same study or on another series of the same frame of reference. An import is one undoable
step; ROIs whose id is already present are replaced (re-importing a file does not duplicate).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QFileDialog, QMainWindow

from medsr_viewer.core.history import Command, MacroCommand
from medsr_viewer.core.messages import naming_file
from medsr_viewer.core.roi import RoiEditor, RoiFormatError, load_rois, save_rois
from medsr_viewer.core.roi.collection import AddRoi, ReplaceRoi
from medsr_viewer.gui.actions.registry import ActionRegistry

METRICS_FILTER = "CSV table (*.csv);;JSON (*.json)"
ROI_FILTER = "ROI files (*.json);;All files (*)"


class MetricsExporter(Protocol):
    """What the metrics export needs of the metrics panel
    (:class:`~medsr_viewer.gui.docks.metrics_panel.MetricsPanel`)."""

    def export(self, path: str | Path) -> Path:
        """Write every ROI's metrics to ``path``; returns the file written."""
        ...


class RoiFileActions(QObject):
    """Export ▸ ROI Metrics / ROIs and Import ROIs, for the main window's File menu.

    Parameters
    ----------
    window
        Parent of the dialogs and owner of the actions.
    editor
        Undoable editing of the session's ROIs.
    metrics
        The metrics panel whose records are exported.
    report_error
        Shows a message naming the file when reading or writing fails.
    """

    def __init__(self, window: QMainWindow, editor: RoiEditor, metrics: MetricsExporter,
                 report_error: Callable[[str], None]) -> None:
        super().__init__(window)
        self._window = window
        self._editor = editor
        self._metrics = metrics
        self._report_error = report_error
        actions = ActionRegistry.of(window)
        self.export_metrics_action = actions.bind("rois.export_metrics",
                                                  self._export_metrics_dialog)
        self.export_rois_action = actions.bind("rois.export", self._export_rois_dialog)
        self.import_rois_action = actions.bind("rois.import", self._import_rois_dialog)

    # ---------------------------------------------------------------- programmatic

    def export_metrics(self, path: str | Path) -> Path | None:
        """Write all ROI metrics to ``path`` (``.json`` JSON, else CSV); ``None`` on failure."""
        try:
            written = self._metrics.export(path)
        except OSError as exc:
            self._report_error(f"{path}: cannot write the metrics: {exc}")
            return None
        self._window.statusBar().showMessage(f"Metrics written to {written}", 8000)
        return written

    def export_rois(self, path: str | Path) -> Path | None:
        """Save every ROI to a JSON file; ``None`` on failure."""
        try:
            written = save_rois(self._editor.rois, path)
        except OSError as exc:
            self._report_error(f"{path}: cannot write the ROIs: {exc}")
            return None
        self._window.statusBar().showMessage(f"ROIs written to {written}", 8000)
        return written

    def import_rois(self, path: str | Path) -> int:
        """Add the ROIs of a JSON file as one undoable step; returns how many (-1 on error)."""
        try:
            rois = load_rois(path)
        except (RoiFormatError, OSError, ValueError) as exc:
            self._report_error(naming_file(path, exc))
            return -1
        if not rois:
            self._window.statusBar().showMessage(f"{path}: no ROIs in the file", 8000)
            return 0
        existing = self._editor.rois
        commands: list[Command] = [ReplaceRoi(existing, roi, "Import ROI")
                                   if roi.roi_id in existing else AddRoi(existing, roi)
                                   for roi in rois]
        self._editor.history.push(MacroCommand(f"Import {len(rois)} ROIs", commands))
        self._window.statusBar().showMessage(f"Imported {len(rois)} ROIs from {path}", 8000)
        return len(rois)

    # ---------------------------------------------------------------- dialogs

    def _export_metrics_dialog(self) -> None:
        path, chosen = QFileDialog.getSaveFileName(
            self._window, "Export ROI Metrics", "roi_metrics.csv", METRICS_FILTER)
        if path:
            if not Path(path).suffix:
                path += ".json" if "JSON" in chosen else ".csv"
            self.export_metrics(path)

    def _export_rois_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self._window, "Export ROIs", "rois.json",
                                              ROI_FILTER)
        if path:
            self.export_rois(path)

    def _import_rois_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self._window, "Import ROIs", "", ROI_FILTER)
        if path:
            self.import_rois(path)
