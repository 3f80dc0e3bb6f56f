"""Menu actions and the "Labels" toolbar of the label overlay.

File ▸ Open Label Map… / Open Colour Table… / Save Label Map As…, View ▸ Label Overlay
(``O``) and Cycle Label Style (``Shift+O``), from the action table (ids ``labels.*``), and the
toolbar's opacity slider of the active layer.

A label map whose grid, extent or frame of reference does not match the study's is opened
resampled with a warning naming the file and what differs, and one with nothing inside the
study is not opened (:func:`~medsr_viewer.core.labels.check_label_grid`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, Qt
from PySide6.QtWidgets import QFileDialog, QLabel, QMainWindow, QSlider, QToolBar

from medsr_viewer.core.labels import (
    LabelMapError,
    LabelTableError,
    OverlayStyle,
    check_label_grid,
    is_dicom_study,
    load_label_file,
    read_colour_table,
    save_label_layer,
)
from medsr_viewer.core.labels.labelmap import FREESURFER_TABLE_SOURCE
from medsr_viewer.core.messages import naming_file
from medsr_viewer.gui.actions.registry import ActionRegistry
from medsr_viewer.gui.layers.label_stack import LabelStack

#: File-dialog filter for label maps.
LABEL_FILE_FILTER = (
    "Label maps (*.nii *.nii.gz *.mgz *.mgh *.dcm);;DICOM SEG (*.dcm);;All files (*)"
)
#: File-dialog filter for colour tables (FreeSurfer LUT, ITK-SNAP label descriptions).
TABLE_FILE_FILTER = ("Colour tables (*.txt *.lut *.ctbl *.label);;FreeSurfer LUT (*.txt *.lut "
                     "*.ctbl);;ITK-SNAP label description (*.label *.txt);;All files (*)")
NIFTI_SAVE_FILTER = "NIfTI label map (*.nii.gz *.nii)"
SEG_SAVE_FILTER = "DICOM SEG (*.dcm)"


class LabelOverlayControls(QObject):
    """Menu actions and a toolbar for the label overlay in the main window.

    Parameters
    ----------
    overlay
        The overlay controlled (a :class:`~medsr_viewer.gui.layers.label_overlay.LabelOverlay`).
    window
        The main window (parent of the dialogs, owner of the shortcuts).
    report_error
        Shows a message naming the file when a label map cannot be opened or saved.
    report_warning
        Shows a non-blocking warning (a label map opened over a study it does not match);
        default: the status bar.

    Attributes
    ----------
    open_action
        File ▸ Open Label Map… (NIfTI, MGZ, DICOM SEG): adds a layer.
    open_table_action
        File ▸ Open Colour Table… (FreeSurfer LUT, ITK-SNAP): names for the active layer.
    save_action
        File ▸ Save Label Map As…: the active layer as NIfTI or (DICOM study) DICOM SEG.
    toggle_action
        View ▸ Label Overlay (``O``): show/hide all layers.
    style_action
        View ▸ Cycle Label Style (``Shift+O``): fill -> outline -> both.
    opacity_slider
        Active layer's opacity in percent, in :attr:`toolbar`.
    """

    def __init__(
        self, overlay: LabelStack, window: QMainWindow, report_error: Callable[[str], None],
        report_warning: Callable[[str], None] | None = None,
    ) -> None:
        super().__init__(window)
        self.overlay = overlay
        self._window = window
        self._report_error = report_error
        self._report_warning = report_warning or (
            lambda text: window.statusBar().showMessage(text, 15000))
        actions = ActionRegistry.of(window)
        self.open_action = actions.bind("labels.open", self.open_dialog)
        self.open_table_action = actions.bind("labels.open_table", self.open_table_dialog)
        self.save_action = actions.bind("labels.save", self.save_dialog)
        actions.action("labels.toggle").setChecked(overlay.visible)  # before it is bound
        self.toggle_action = actions.bind("labels.toggle", overlay.set_visible, "toggled")
        self.style_action = actions.bind("labels.style", self.cycle_style)
        self.opacity_slider = QSlider(Qt.Orientation.Horizontal, window)
        self.opacity_slider.setRange(0, 100)
        self.opacity_slider.setValue(round(overlay.opacity * 100))
        self.opacity_slider.setMaximumWidth(120)
        self.opacity_slider.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.opacity_slider.setToolTip("Opacity of the active label layer")
        self.opacity_slider.valueChanged.connect(self._on_slider)
        self.toolbar = QToolBar("Labels", window)
        self.toolbar.setObjectName("labelToolbar")
        self.toolbar.addAction(self.toggle_action)
        self.toolbar.addAction(self.style_action)
        self.toolbar.addWidget(QLabel(" Opacity: ", window))
        self.toolbar.addWidget(self.opacity_slider)
        overlay.changed.connect(self._sync)
        self._sync()

    def open_dialog(self) -> None:
        """Ask for a label map file and add it as a layer."""
        path, _ = QFileDialog.getOpenFileName(
            self._window, "Open Label Map", "", LABEL_FILE_FILTER
        )
        if path:
            self.open_label_map(path)

    def open_label_map(self, path: str | Path) -> bool:
        """Load ``path`` (NIfTI/MGZ or DICOM SEG) as a new active layer on the study grid.

        Returns ``False`` after reporting the problem (naming the file) when there is no
        study or the file is not a readable label map; the other layers stay.
        """
        path = Path(path)
        study = self.overlay.viewer.volume
        if study is None:
            self._report_error(f"{path}: open a study before a label map")
            return False
        try:
            label_map = load_label_file(path)
            check = check_label_grid(label_map, study)
            if not check.opens:
                self._report_error(check.message)
                return False
            self.overlay.add_layer(label_map, source=path)
        except RuntimeError as exc:
            self._report_error(f"{path}: {exc}")
            return False
        except (LabelMapError, OSError, ValueError, MemoryError) as exc:
            self._report_error(naming_file(path, exc))
            return False
        if not self.toggle_action.isChecked():
            self.toggle_action.setChecked(True)
        layer = self.overlay.active_layer
        assert layer is not None
        n = len(layer.present_values())
        note = "" if n else " (no labels inside the study's extent)"
        if label_map.volume.metadata.get("table_source") == FREESURFER_TABLE_SOURCE:
            note += ", names from FreeSurfer's colour table"
        self._window.statusBar().showMessage(
            f"Label map {path.name}: {n} label{'s' if n != 1 else ''}{note}", 8000
        )
        if check.message:
            self._report_warning(check.message)
        return True

    def open_table_dialog(self) -> None:
        """Ask for a colour table file and apply it to the active layer."""
        path, _ = QFileDialog.getOpenFileName(
            self._window, "Open Colour Table", "", TABLE_FILE_FILTER
        )
        if path:
            self.open_colour_table(path)

    def open_colour_table(self, path: str | Path) -> bool:
        """Give the active layer the names and colours of a FreeSurfer LUT or ITK-SNAP label
        description file.

        Returns ``False`` after reporting the problem (naming the file, and the line of a
        malformed entry) when there is no layer or the file is not a colour table; the layer
        keeps its table then.
        """
        path = Path(path)
        layer = self.overlay.active_layer
        if layer is None:
            self._report_error(f"{path}: open a label map before its colour table")
            return False
        try:
            table = read_colour_table(path)
        except LabelTableError as exc:
            self._report_error(naming_file(path, exc))
            return False
        named = self.overlay.apply_colour_table(table)
        if not named:
            self._report_warning(f"{path.name}: names none of the labels of layer {layer.name}")
            return True
        self._window.statusBar().showMessage(
            f"Colour table {path.name}: {named} label{'s' if named != 1 else ''} of "
            f"{layer.name} named", 8000)
        return True

    def save_dialog(self) -> None:
        """Ask where to save the active layer (NIfTI, or DICOM SEG for a DICOM study)."""
        layer = self.overlay.active_layer
        study = self.overlay.viewer.volume
        if layer is None or study is None:
            self._report_error("No label layer to save: open or compute one first")
            return
        filters = [NIFTI_SAVE_FILTER]
        if is_dicom_study(study):
            filters.insert(0, SEG_SAVE_FILTER)
        path, _ = QFileDialog.getSaveFileName(
            self._window, "Save Label Map As", f"{layer.name}", ";;".join(filters)
        )
        if path:
            self.save_active_layer(path)

    def save_active_layer(self, path: str | Path) -> bool:
        """Write the active layer to ``path`` (``.nii.gz``/``.nii``, or ``.dcm`` DICOM SEG
        referencing the study's series), atomically, never over the study's input files.

        Returns ``False`` after reporting the problem naming the file.
        """
        layer = self.overlay.active_layer
        study = self.overlay.viewer.volume
        target = Path(path)
        if layer is None or study is None:
            self._report_error(f"{target}: no label layer to save")
            return False
        label_map = self.overlay.active_label_map()
        assert label_map is not None
        try:
            written = save_label_layer(label_map, target, study, layer.model or None)
        except (LabelMapError, OSError, ValueError) as exc:
            self._report_error(naming_file(target, exc))
            return False
        self._window.statusBar().showMessage(f"Label layer {layer.name} saved to {written}", 8000)
        return True

    def cycle_style(self) -> OverlayStyle:
        """Next style for the active layer (Shift+O); shown in the status bar."""
        style = self.overlay.cycle_style()
        if self.overlay.active_layer is not None:
            self._window.statusBar().showMessage(f"Label style: {style.value}", 3000)
        return style

    def _on_slider(self, value: int) -> None:
        if self.overlay.active_layer is not None:
            self.overlay.set_opacity(value / 100.0)

    def _sync(self) -> None:
        has_layer = self.overlay.active_layer is not None
        self.opacity_slider.setEnabled(has_layer)
        self.save_action.setEnabled(has_layer)
        self.open_table_action.setEnabled(has_layer)
        self.style_action.setEnabled(has_layer)
        value = round(self.overlay.opacity * 100)
        if self.opacity_slider.value() != value:
            self.opacity_slider.blockSignals(True)
            self.opacity_slider.setValue(value)
            self.opacity_slider.blockSignals(False)
        if self.toggle_action.isChecked() != self.overlay.visible:
            self.toggle_action.setChecked(self.overlay.visible)
