"""Opening studies: background loading, progress, cancel, errors, series choice, drop, recent."""

from __future__ import annotations

import shutil
import time
import warnings
from itertools import pairwise
from pathlib import Path

import pydicom
import pytest
from gui_helpers import open_and_wait, shown_image
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QTimer, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QWidget
from pytestqt.qtbot import QtBot

from medsr_viewer.core.geometry import Orientation
from medsr_viewer.gui.main_window import MainWindow
from medsr_viewer.gui.workers.threads import running_threads


@pytest.fixture(scope="module")
def dicom_dir(data_dir: Path) -> Path:
    """The real 120-slice MR DICOM series."""
    return data_dir / "dicom" / "vs_seg_001_t1"


def test_background_load_keeps_ui_responsive(
    qtbot: QtBot, main_window: MainWindow, dicom_dir: Path
) -> None:
    ticks: list[float] = []
    timer = QTimer()
    timer.setInterval(20)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    progress: list[tuple[str, int, int]] = []
    main_window.loader.progress.connect(lambda *a: progress.append(a))
    timer.start()
    try:
        with qtbot.waitSignal(main_window.loader.loaded, timeout=90000):
            main_window.open_paths([dicom_dir])
            assert main_window.progress_bar.isVisible()
            assert main_window.cancel_button.isVisible()
    finally:
        timer.stop()
    gaps = [b - a for a, b in pairwise(ticks)]
    assert len(ticks) > 10, "the load finished too fast to measure responsiveness"
    assert max(gaps) < 0.25, f"GUI event loop stalled for {max(gaps) * 1000:.0f} ms"
    assert progress and progress[-1][1] == progress[-1][2]
    volume = main_window.viewer.volume
    assert volume is not None and volume.shape == (120, 512, 512)
    assert not main_window.progress_bar.isVisible()
    axial = main_window.viewer.views[Orientation.AXIAL]
    assert shown_image(axial).shape == (512, 512)
    qtbot.waitUntil(lambda: not running_threads(), timeout=5000)


def test_cancel_keeps_previous_study(
    qtbot: QtBot, main_window: MainWindow, dicom_dir: Path, t1_path: Path
) -> None:
    open_and_wait(qtbot, main_window, [t1_path])
    before = main_window.viewer.display
    with qtbot.waitSignal(main_window.loader.progress, timeout=30000):
        main_window.open_paths([dicom_dir])
    with qtbot.waitSignal(main_window.loader.cancelled, timeout=10000):
        qtbot.mouseClick(main_window.cancel_button, Qt.MouseButton.LeftButton)
    assert main_window.viewer.display is before
    assert not main_window.progress_bar.isVisible()
    assert "cancelled" in main_window.statusBar().currentMessage().lower()
    qtbot.waitUntil(lambda: not running_threads(), timeout=10000)


def test_bad_files_show_error_and_app_stays_usable(
    qtbot: QtBot, main_window: MainWindow, tmp_path: Path, t1_path: Path
) -> None:
    open_and_wait(qtbot, main_window, [t1_path])
    broken = tmp_path / "broken.nii.gz"
    broken.write_bytes(b"this is not a NIfTI file at all" * 10)
    with qtbot.waitSignal(main_window.loader.failed, timeout=10000) as blocker:
        main_window.open_paths([broken])
    message = blocker.args[0]
    assert str(broken) in message
    assert main_window.error_banner.isVisible()
    assert str(broken) in main_window.error_banner.text()
    assert str(broken) in main_window.statusBar().currentMessage()
    assert broken.read_bytes().startswith(b"this is not")  # input untouched

    missing = tmp_path / "nowhere" / "study.nii.gz"
    with qtbot.waitSignal(main_window.loader.failed, timeout=10000) as blocker:
        main_window.open_paths([missing])
    assert str(missing) in blocker.args[0] and "not found" in blocker.args[0]

    # the study that was open is still there and still responds to the user
    view = main_window.viewer.views[Orientation.AXIAL]
    index = view.slice_index
    qtbot.keyClick(view, Qt.Key.Key_Up)
    assert view.slice_index == index + 1
    open_and_wait(qtbot, main_window, [t1_path])
    assert not main_window.error_banner.isVisible()


def _copy_series(files: list[Path], dest: Path, uid: str, description: str) -> None:
    for i, src in enumerate(files):
        ds = pydicom.dcmread(src)
        ds.SeriesInstanceUID = uid
        ds.SeriesDescription = description
        ds.save_as(dest / f"{description}_{i:03d}.dcm")


def test_folder_with_two_series_asks_which(
    qtbot: QtBot, main_window: MainWindow, dicom_dir: Path, tmp_path: Path
) -> None:
    files = sorted(dicom_dir.glob("*.dcm"))
    folder = tmp_path / "two_series"
    folder.mkdir()
    _copy_series(files[40:46], folder, "1.2.826.0.1.3680043.8.498.1", "big")
    _copy_series(files[50:53], folder, "1.2.826.0.1.3680043.8.498.2", "small")
    with qtbot.waitSignal(main_window.loader.seriesFound, timeout=30000):
        main_window.open_paths([folder])
    dialog = main_window.studies.series_dialog
    assert dialog is not None
    qtbot.waitUntil(dialog.isVisible, timeout=3000)
    table = dialog.table

    def cell(row: int, col: int) -> str:
        item = table.item(row, col)
        assert item is not None
        return item.text()

    rows = {cell(r, 0): r for r in range(table.rowCount())}
    assert set(rows) == {"big", "small"}
    assert cell(rows["small"], 2) == "3"
    assert cell(rows["small"], 1) == "MR"
    preselected = dialog.selected_series()
    assert preselected is not None and preselected.description == "big"  # the largest
    dialog.select_row(rows["small"])
    with qtbot.waitSignal(main_window.loader.loaded, timeout=30000):
        dialog.accept()
    volume = main_window.viewer.volume
    assert volume is not None and volume.shape == (3, 512, 512)
    assert volume.name == "small"


def test_missing_slice_warning_is_shown(
    qtbot: QtBot, main_window: MainWindow, dicom_dir: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "gap"
    folder.mkdir()
    files = sorted(dicom_dir.glob("*.dcm"))[30:40]
    for src in files[:4] + files[5:]:  # one slice missing in the middle
        shutil.copy(src, folder / src.name)
    open_and_wait(qtbot, main_window, [folder])
    volume = main_window.viewer.volume
    assert volume is not None and volume.warnings
    assert main_window.warning_banner.isVisible()
    assert volume.warnings[0] in main_window.warning_banner.text()
    assert main_window.warning_banner.details() == list(volume.warnings)


def _drag_enter(widget: QWidget, mime: QMimeData) -> bool:
    """Send a drag-enter event as a drag from a file manager would; True when accepted."""
    with warnings.catch_warnings():  # PySide6 flags the only (QPoint) constructor deprecated
        warnings.simplefilter("ignore", DeprecationWarning)
        event = QDragEnterEvent(
            QPoint(50, 50),
            Qt.DropAction.CopyAction,
            mime,
            Qt.MouseButton.LeftButton,
            Qt.KeyboardModifier.NoModifier,
        )
    QApplication.sendEvent(widget, event)
    return event.isAccepted()


def test_drop_and_recent_files(qtbot: QtBot, main_window: MainWindow, t1_path: Path) -> None:
    web = QMimeData()
    web.setUrls([QUrl("https://example.org/study.nii.gz")])
    assert not _drag_enter(main_window, web)  # only local files and folders

    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(t1_path))])
    assert _drag_enter(main_window, mime)
    drop = QDropEvent(
        QPointF(50, 50),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    with qtbot.waitSignal(main_window.loader.loaded, timeout=30000):
        QApplication.sendEvent(main_window, drop)
    assert main_window.viewer.volume is not None
    assert main_window.recent.paths()[0] == str(t1_path.resolve())
    main_window.recent_menu.rebuild()
    actions = [a for a in main_window.recent_menu.actions() if a.text() == str(t1_path.resolve())]
    assert len(actions) == 1
    main_window.viewer.set_study(None)
    with qtbot.waitSignal(main_window.loader.loaded, timeout=30000):
        actions[0].trigger()
    assert main_window.viewer.volume is not None


def test_closing_while_loading_stops_the_thread(
    qtbot: QtBot, main_window: MainWindow, dicom_dir: Path
) -> None:
    with qtbot.waitSignal(main_window.loader.progress, timeout=30000):
        main_window.open_paths([dicom_dir])
    assert running_threads()
    main_window.close()
    assert not running_threads()
