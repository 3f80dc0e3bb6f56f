"""File ▸ DICOM Tags… (issue #15): the header of the slice shown, patient data masked until
revealed, a filter, following the slice as the user scrolls; not for a NIfTI study.

Patient values are never printed: comparisons involving one are made booleans first.
"""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
from gui_helpers import open_and_wait
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from medsr_viewer.core.geometry import Orientation
from medsr_viewer.core.io.dicom_tags import MASK
from medsr_viewer.gui.dialogs.tag_browser import TagBrowser
from medsr_viewer.gui.main_window import MainWindow

SERIES = Path("dicom") / "vs_seg_001_t1"
CTRL = Qt.KeyboardModifier.ControlModifier


def _open_browser(qtbot: QtBot, window: MainWindow) -> TagBrowser:
    """Press Ctrl+T as the user would and return the dialog it shows."""
    qtbot.keyClick(window, Qt.Key.Key_T, CTRL)
    dialog = window.tag_browser.dialog
    assert dialog is not None
    qtbot.waitUntil(dialog.isVisible, timeout=3000)
    return dialog


def test_tag_browser_masks_filters_and_follows_the_slice(
        qtbot: QtBot, main_window: MainWindow, data_dir: Path) -> None:
    window = main_window
    open_and_wait(qtbot, window, [data_dir / SERIES])
    action = window.tag_browser.action
    assert action.isEnabled() and action.shortcut().toString() == "Ctrl+T"
    assert action in window.menuBar().actions()[0].menu().actions()  # File menu
    dialog = _open_browser(qtbot, window)
    assert not dialog.isModal()
    first = dialog.shown_file
    assert first is not None and first.parent == data_dir / SERIES
    assert dialog.file_label.text() == first.name and first.name in dialog.windowTitle()
    assert dialog.detail_label.text().startswith(
        f"Slice {window.view_model.slice_index(Orientation.AXIAL) + 1} of 120")

    masked = dialog.value_of("PatientName") == MASK
    assert masked and not dialog.reveal_box.isChecked()
    assert dialog.value_of("Modality") == "MR"
    assert "patient-identifying values masked" in dialog.count_label.text()
    actual = next(row.value for row in dialog.rows if row.keyword == "PatientName")
    qtbot.mouseClick(dialog.reveal_box, Qt.MouseButton.LeftButton)
    assert dialog.reveal_box.isChecked()
    revealed = dialog.value_of("PatientName") == actual != MASK
    assert revealed

    qtbot.keyClicks(dialog.filter_edit, "echotime")
    assert dialog.shown_labels() == ["EchoTime"]
    dialog.filter_edit.clear()
    assert len(dialog.shown_labels()) == len(dialog.rows)
    dialog.reveal_box.setChecked(False)
    qtbot.keyClicks(dialog.filter_edit, actual[:5])  # a masked value is never found
    assert "PatientName" not in dialog.shown_labels()
    dialog.filter_edit.clear()

    window.activateWindow()
    view = window.viewer.active_view
    before = window.view_model.slice_index(Orientation.AXIAL)
    qtbot.keyClick(view, Qt.Key.Key_Up)  # next slice: the dialog follows
    assert window.view_model.slice_index(Orientation.AXIAL) == before + 1
    qtbot.waitUntil(lambda: dialog.shown_file != first, timeout=3000)
    second = dialog.shown_file
    assert second is not None and dialog.file_label.text() == second.name != first.name
    still_masked = dialog.value_of("PatientName") == MASK
    assert still_masked

    window.set_orientation(Orientation.CORONAL)  # a reformatted plane: says so
    assert "reformatted" in dialog.detail_label.text()
    assert dialog.shown_file == second  # the acquired slice at the cursor

    dialog.reveal_box.setChecked(True)
    dialog.close()
    assert _open_browser(qtbot, window) is dialog and not dialog.reveal_box.isChecked()
    dialog.close()


def test_tag_browser_is_not_for_a_nifti_study(qtbot: QtBot, main_window: MainWindow,
                                              data_dir: Path, tmp_path: Path) -> None:
    window = main_window
    assert not window.tag_browser.action.isEnabled()  # nothing open
    open_and_wait(qtbot, window, [data_dir / SERIES / "1-001.dcm"])
    dialog = _open_browser(qtbot, window)
    assert dialog.file_label.text() == "1-001.dcm"
    path = tmp_path / "small.nii.gz"
    nib.save(nib.Nifti1Image(np.zeros((8, 8, 4), np.float32), np.eye(4)), path)
    open_and_wait(qtbot, window, [path])
    assert not window.tag_browser.action.isEnabled()
    assert dialog.file_label.text() == "Not a DICOM study" and dialog.rows == []
    assert dialog.windowTitle() == "DICOM Tags"
    dialog.close()
