"""Session save/open, autosave and crash recovery in the GUI (issue #4)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from gui_helpers import open_and_wait, write_flair_crop
from PySide6.QtCore import QSettings, Qt
from pytestqt.qtbot import QtBot

from medsr_viewer.core.geometry import Orientation
from medsr_viewer.core.pane_geometry import display_plane
from medsr_viewer.core.roi import EllipseRoi, RectangleRoi
from medsr_viewer.core.session import autosave_path, load_session
from medsr_viewer.core.windowing import Window
from medsr_viewer.gui.main_window import MainWindow
from medsr_viewer.gui.session_controller import recovered_path

AXIAL = Orientation.AXIAL


@pytest.fixture(scope="module")
def study(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A small real FLAIR crop and its lesion labels in their own folder (the input folder)."""
    return write_flair_crop(data_dir, tmp_path_factory.mktemp("session-study"),
                            (slice(20, 100), slice(30, 120), slice(60, 68)))


@pytest.fixture
def make_window(qtbot: QtBot, tmp_path: Path) -> Iterator[Callable[[], MainWindow]]:
    """Creates main windows sharing one settings file (as two runs of the app would)."""
    made: list[MainWindow] = []

    def make() -> MainWindow:
        settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
        win = MainWindow(settings)
        qtbot.addWidget(win)
        win.resize(1000, 700)
        win.show()
        qtbot.waitExposed(win)
        win.session.autosaver.interval_s = 0.0
        made.append(win)
        return win

    yield make
    for win in made:
        win.close()


def add_two_rois(win: MainWindow) -> None:
    display = win.viewer.display
    assert display is not None
    index = win.viewer.slice_index(AXIAL)
    plane = display_plane(display, AXIAL, index)
    win.roi_editor.add(EllipseRoi(plane, cu=30.0, cv=40.0, ru=6.0, rv=4.0, name="a"))
    win.roi_editor.add(RectangleRoi(plane, u0=10.0, v0=12.0, u1=25.0, v1=20.0, name="b"))


def test_save_and_open_session_restores_rois_labels_and_view(
    qtbot: QtBot, make_window: Callable[[], MainWindow], study: tuple[Path, Path],
    tmp_path: Path,
) -> None:
    win = make_window()
    open_and_wait(qtbot, win, [study[0]])
    assert win.open_label_map(study[1])
    win.viewer.set_slice(3, AXIAL)
    win.viewer.set_window(Window(300.0, 500.0))
    add_two_rois(win)
    win.metrics_panel.set_label_choice(None)
    session_file = win.session.save(tmp_path / "work.medsr-session.json")
    assert session_file is not None and session_file.is_file()
    rois = list(win.rois)

    other = make_window()
    with qtbot.waitSignal(other.session.restored, timeout=30000):
        assert other.session.open(session_file)
    assert list(other.rois) == rois
    assert other.viewer.slice_index(AXIAL) == 3
    assert other.viewer.display_window == Window(300.0, 500.0)
    assert other.active_label_map() is not None
    assert other.active_label_map().source == study[1]
    assert other.metrics_panel.label_choice is None
    assert len(other.metrics_panel.records()) == 2
    assert not other.history.can_undo  # a restored session starts a fresh history


def test_session_is_not_written_into_the_input_folder_and_bad_files_are_named(
    qtbot: QtBot, make_window: Callable[[], MainWindow], study: tuple[Path, Path],
    tmp_path: Path,
) -> None:
    win = make_window()
    open_and_wait(qtbot, win, [study[0]])
    inside = study[0].parent / "s.medsr-session.json"
    assert win.session.save(inside) is None
    assert not inside.exists()
    assert "input folder" in win.error_banner.text()
    bad = tmp_path / "broken.medsr-session.json"
    bad.write_text("[1, 2]")
    assert not win.session.open(bad)
    assert str(bad) in win.error_banner.text()
    assert win.viewer.display is not None  # still usable


def test_autosave_survives_a_crash_and_is_offered_back(
    qtbot: QtBot, make_window: Callable[[], MainWindow], study: tuple[Path, Path],
) -> None:
    win = make_window()
    open_and_wait(qtbot, win, [study[0]])
    add_two_rois(win)
    qtbot.waitUntil(lambda: autosave_path(study[0]).is_file(), timeout=5000)
    saved = load_session(autosave_path(study[0]))
    assert [r.name for r in saved.rois] == ["a", "b"]
    rois = list(win.rois)
    # "crash": the window goes away without a clean shutdown of the session
    win.session._timer.stop()

    again = make_window()
    open_and_wait(qtbot, again, [study[0]])
    bar = again.session.recovery_bar
    assert bar.isVisible() and "2 ROIs" in bar.label.text()
    assert recovered_path(study[0]).is_file() and not autosave_path(study[0]).exists()
    # new edits before deciding do not overwrite the recovered work
    display = again.viewer.display
    assert display is not None
    again.roi_editor.add(EllipseRoi(display_plane(display, AXIAL, 1), cu=5.0, cv=5.0,
                                    ru=2.0, rv=2.0, name="new"))
    qtbot.mouseClick(bar.restore_button, Qt.MouseButton.LeftButton)
    assert not bar.isVisible()
    assert list(again.rois)[:1] == [r for r in again.rois if r.name == "new"]
    assert list(again.rois)[1:] == rois  # merged: nothing drawn meanwhile is lost
    assert not recovered_path(study[0]).exists()


def test_discard_removes_the_recovered_work(
    qtbot: QtBot, make_window: Callable[[], MainWindow], study: tuple[Path, Path],
) -> None:
    win = make_window()
    open_and_wait(qtbot, win, [study[0]])
    add_two_rois(win)
    qtbot.waitUntil(lambda: autosave_path(study[0]).is_file(), timeout=5000)
    again = make_window()
    open_and_wait(qtbot, again, [study[0]])
    assert again.session.recovery_bar.isVisible()
    qtbot.mouseClick(again.session.recovery_bar.discard_button, Qt.MouseButton.LeftButton)
    assert not recovered_path(study[0]).exists() and len(again.rois) == 0


def test_session_of_a_dicom_folder_keeps_its_series(
    qtbot: QtBot, make_window: Callable[[], MainWindow], data_dir: Path, tmp_path: Path,
) -> None:
    folder = data_dir / "dicom" / "vs_seg_001_t1"
    win = make_window()
    open_and_wait(qtbot, win, [folder])
    uid = win.viewer.volume.metadata["series_uid"]
    saved = win.session.save(tmp_path / "dicom.medsr-session.json")
    assert saved is not None
    session = load_session(saved)
    assert Path(session.study_path).resolve() == folder.resolve()
    assert session.view_state["series_uid"] == uid
    other = make_window()
    with qtbot.waitSignal(other.session.restored, timeout=60000):
        assert other.session.open(saved)
    assert other.viewer.volume.metadata["series_uid"] == uid
