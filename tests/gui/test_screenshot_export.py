"""File ▸ Export Pane / Layout Screenshot: the pane as drawn, never the patient's data, never
over an input file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from gui_helpers import open_and_wait
from PySide6.QtGui import QImage
from pytestqt.qtbot import QtBot

from medsr_viewer.core.geometry import Orientation
from medsr_viewer.gui.main_window import MainWindow

SERIES = Path("dicom") / "vs_seg_001_t1"


def _pixels(image: QImage) -> np.ndarray:
    image = image.convertToFormat(QImage.Format.Format_RGB32)
    data = np.frombuffer(image.constBits(), np.uint8, image.sizeInBytes())
    return data.reshape(image.height(), image.bytesPerLine())[:, : image.width() * 4].copy()


def test_pane_screenshot_has_no_patient_data_and_a_safe_name(
        qtbot: QtBot, main_window: MainWindow, data_dir: Path, tmp_path: Path) -> None:
    window = main_window
    open_and_wait(qtbot, window, [data_dir / SERIES])
    export = window.screenshots
    view = window.viewer.views[Orientation.AXIAL]
    options = window.viewer.overlays.options
    options.set(patient_data=False)
    without = _pixels(view.grab().toImage())
    window.actions_.action("view.patient_data").trigger()  # the user shows the patient
    assert options.state.patient_data
    assert not np.array_equal(_pixels(view.grab().toImage()), without)  # drawn on screen

    name = export.default_name("pane")
    assert name == f"medsr-axial-{window.viewer.slice_index(Orientation.AXIAL) + 1}.png"
    written = export.export(tmp_path / "shot", "pane")  # ".png" added
    assert written == tmp_path / "shot.png" and written.is_file()
    saved = QImage(str(written))
    assert (saved.width(), saved.height()) == (view.width(), view.height())
    np.testing.assert_array_equal(_pixels(saved), without)  # what the pane shows, no patient
    assert options.state.patient_data  # still shown on screen afterwards
    assert "Screenshot saved" in window.statusBar().currentMessage()

    window.set_three_plane(True)  # the layout: three panes side by side
    qtbot.waitUntil(lambda: view.width() < window.area.study_area.width() / 2, timeout=3000)
    layout = export.export(tmp_path / "layout.png", "layout")
    assert layout is not None
    image = QImage(str(layout))
    assert image.width() == window.area.study_area.width() > view.width()


def test_an_input_file_is_never_overwritten(qtbot: QtBot, main_window: MainWindow,
                                            data_dir: Path, tmp_path: Path) -> None:
    source = tmp_path / "t1.png"
    original = (data_dir / "isbi2012_em" / "images" / "20.png").read_bytes()
    source.write_bytes(original)
    open_and_wait(qtbot, main_window, [source])
    assert main_window.screenshots.export(source, "pane") is None
    assert source.read_bytes() == original
    assert "input files" in main_window.error_banner.text()
