"""Session save/open, autosave and crash recovery in the GUI (issue #4), with real viewer
processes killed with SIGKILL."""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from gui_helpers import open_and_wait, write_flair_crop
from PySide6.QtCore import QSettings, Qt
from pytestqt.qtbot import QtBot
from recovery_child import REPORT

from medsr_viewer.core.geometry import Orientation
from medsr_viewer.core.pane_geometry import display_plane
from medsr_viewer.core.recovery import legacy_autosave_paths, pending_recoveries
from medsr_viewer.core.roi import EllipseRoi, RectangleRoi
from medsr_viewer.core.session import Session, load_session, save_session
from medsr_viewer.core.windowing import Window
from medsr_viewer.gui.main_window import MainWindow

AXIAL = Orientation.AXIAL
CHILD = Path(__file__).with_name("recovery_child.py")
needs_sigkill = pytest.mark.skipif(sys.platform == "win32", reason="needs POSIX SIGKILL")


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


def run_child(study: Path, tmp_path: Path, *args: str) -> tuple[subprocess.Popen[str], dict]:
    """Start a real viewer process (``recovery_child.py``) on ``study``; returns it and its
    report once it has done its work (its edits are on disk by then)."""
    log = open(tmp_path / f"child-{len(list(tmp_path.glob('child-*')))}.log", "w")  # noqa: SIM115
    proc = subprocess.Popen([sys.executable, str(CHILD), str(study),
                             str(tmp_path / "settings.ini"), *args],
                            stdout=subprocess.PIPE, stderr=log, text=True, env=dict(os.environ))
    log.close()
    assert proc.stdout is not None
    deadline = time.monotonic() + 120
    with selectors.DefaultSelector() as selector:
        selector.register(proc.stdout, selectors.EVENT_READ)
        while time.monotonic() < deadline:
            if not selector.select(timeout=deadline - time.monotonic()):
                break
            line = proc.stdout.readline()
            if not line:  # exited without reporting
                break
            if line.startswith(REPORT):
                return proc, json.loads(line[len(REPORT):])
    proc.kill()
    proc.wait()
    logs = "".join(p.read_text() for p in sorted(tmp_path.glob("child-*.log")))
    pytest.fail(f"viewer child did not report (rc {proc.returncode}):\n{logs[-3000:]}")


def crash(proc: subprocess.Popen[str]) -> None:
    """kill -9 the child and reap it (a reaped process is gone, as after a real crash)."""
    proc.send_signal(signal.SIGKILL)
    assert proc.wait(30) == -signal.SIGKILL


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private config folder (autosaves) for this test and the viewer processes it starts."""
    folder = tmp_path / "config"
    monkeypatch.setenv("MEDSR_CONFIG_DIR", str(folder))
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    return folder


@needs_sigkill
def test_unanswered_recovery_survives_a_second_crash(
    qtbot: QtBot, make_window: Callable[[], MainWindow], study: tuple[Path, Path],
    tmp_path: Path, config: Path,
) -> None:
    """3 ROIs, kill -9, restart (bar shown, not answered), kill -9, restart: still offered."""
    first, report = run_child(study[0], tmp_path, "--rois", "3")
    drawn = report["rois"]
    assert len(drawn) == 3 and report["autosaves"]
    crash(first)
    second, report = run_child(study[0], tmp_path)
    assert report["bar"] and "3 ROIs" in report["text"]
    crash(second)

    win = make_window()
    open_and_wait(qtbot, win, [study[0]])
    bar = win.session.recovery_bar
    assert bar.isVisible() and "3 ROIs" in bar.label.text()
    qtbot.mouseClick(bar.restore_button, Qt.MouseButton.LeftButton)
    assert not bar.isVisible()
    assert [r.name for r in win.rois] == drawn
    assert pending_recoveries(study[0]) == []  # answered: the crashed autosaves are gone
    assert [load_session(p).rois for p in win.session.autosaver.written] == [list(win.rois)]


@needs_sigkill
def test_edits_before_answering_and_a_crash_keep_all_work(
    qtbot: QtBot, make_window: Callable[[], MainWindow], study: tuple[Path, Path],
    tmp_path: Path, config: Path,
) -> None:
    """Crash with 3 ROIs, restart and draw one without answering, crash: all 4 come back."""
    first, report = run_child(study[0], tmp_path, "--rois", "3")
    drawn = report["rois"]
    crash(first)
    second, report = run_child(study[0], tmp_path, "--rois", "1")
    assert report["bar"] and "3 ROIs" in report["text"]
    assert len(report["rois"]) == 1  # not restored: only the new ROI is shown
    drawn += report["rois"]
    crash(second)

    win = make_window()
    open_and_wait(qtbot, win, [study[0]])
    bar = win.session.recovery_bar
    assert bar.isVisible()
    assert "2 autosaves" in bar.label.text()
    assert "3 ROIs" in bar.label.text() and "1 ROI," in bar.label.text()
    display = win.viewer.display
    assert display is not None
    win.roi_editor.add(EllipseRoi(display_plane(display, AXIAL, 1), cu=5.0, cv=5.0,
                                  ru=2.0, rv=2.0, name="new"))
    qtbot.mouseClick(bar.restore_button, Qt.MouseButton.LeftButton)
    assert [r.name for r in win.rois] == ["new", *drawn]  # merged: nothing is lost
    assert pending_recoveries(study[0]) == []


@needs_sigkill
def test_saved_or_cleanly_closed_work_is_not_offered_again(
    qtbot: QtBot, make_window: Callable[[], MainWindow], study: tuple[Path, Path],
    tmp_path: Path, config: Path,
) -> None:
    """Save Session then crash, or a clean close: no bar on reopening."""
    saved, report = run_child(study[0], tmp_path, "--rois", "3",
                              "--save", str(tmp_path / "work.medsr.json"))
    assert report["autosaves"] == []  # the saved session covers the autosave
    crash(saved)
    win = make_window()
    open_and_wait(qtbot, win, [study[0]])
    assert not win.session.recovery_bar.isVisible()

    closed, report = run_child(study[0], tmp_path, "--rois", "2", "--then", "close")
    assert len(report["autosaves"]) == 1
    assert closed.wait(60) == 0
    assert not Path(report["autosaves"][0]).exists()
    again = make_window()
    open_and_wait(qtbot, again, [study[0]])
    assert not again.session.recovery_bar.isVisible()
    assert pending_recoveries(study[0]) == []


@needs_sigkill
def test_a_clean_close_keeps_the_unanswered_recovery_of_an_earlier_crash(
    qtbot: QtBot, make_window: Callable[[], MainWindow], study: tuple[Path, Path],
    tmp_path: Path, config: Path,
) -> None:
    crashed, report = run_child(study[0], tmp_path, "--rois", "3")
    drawn = report["rois"]
    crash(crashed)
    closed, report = run_child(study[0], tmp_path, "--then", "close")
    assert report["bar"] and "3 ROIs" in report["text"]
    assert closed.wait(60) == 0

    win = make_window()
    open_and_wait(qtbot, win, [study[0]])
    bar = win.session.recovery_bar
    assert bar.isVisible() and "3 ROIs" in bar.label.text()
    qtbot.mouseClick(bar.discard_button, Qt.MouseButton.LeftButton)
    assert len(win.rois) == 0 and pending_recoveries(study[0]) == []
    assert drawn  # what was discarded


def test_leaving_a_study_unsaved_offers_its_work_when_it_is_reopened(
    qtbot: QtBot, make_window: Callable[[], MainWindow], study: tuple[Path, Path],
    config: Path,
) -> None:
    """The autosave of a study the user moved away from is set aside, not overwritten."""
    win = make_window()
    open_and_wait(qtbot, win, [study[0]])
    add_two_rois(win)
    assert len(win.session.autosaver.written) == 1
    open_and_wait(qtbot, win, [study[1]])  # another study: its ROIs are cleared
    assert len(win.rois) == 0 and not win.session.autosaver.written
    open_and_wait(qtbot, win, [study[0]])
    bar = win.session.recovery_bar
    assert bar.isVisible() and "2 ROIs" in bar.label.text()
    display = win.viewer.display
    assert display is not None
    win.roi_editor.add(EllipseRoi(display_plane(display, AXIAL, 1), cu=5.0, cv=5.0,
                                  ru=2.0, rv=2.0, name="new"))  # autosaved: no overwrite
    assert len(pending_recoveries(study[0])) == 1
    qtbot.mouseClick(bar.restore_button, Qt.MouseButton.LeftButton)
    assert [r.name for r in win.rois] == ["new", "a", "b"]


def test_autosaves_of_earlier_versions_are_offered(
    qtbot: QtBot, make_window: Callable[[], MainWindow], study: tuple[Path, Path],
    config: Path,
) -> None:
    """``<key>.medsr.json`` and its set-aside ``<key>.recovered.medsr.json`` both count."""
    win = make_window()
    open_and_wait(qtbot, win, [study[0]])
    add_two_rois(win)
    rois = list(win.rois)
    autosave, recovered = legacy_autosave_paths(study[0])
    save_session(Session(str(study[0]), rois=rois[:1]), autosave)
    save_session(Session(str(study[0]), rois=rois[1:]), recovered)
    again = make_window()
    open_and_wait(qtbot, again, [study[0]])
    assert "2 autosaves" in again.session.recovery_bar.label.text()
    again.session.restore_recovered()
    assert sorted(r.name for r in again.rois) == ["a", "b"]
    assert not autosave.exists() and not recovered.exists()


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


@needs_sigkill
def test_work_saved_in_a_session_is_not_offered_after_the_session_is_reopened(
    qtbot: QtBot, make_window: Callable[[], MainWindow], study: tuple[Path, Path],
    tmp_path: Path, config: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Issue #15, bug 4: the bar offered "Unsaved work … 1 ROI" after the session had been
    saved and reopened (regression test: the rewritten recovery no longer does)."""
    from gui_helpers import drag, view_point
    from PySide6.QtCore import QPoint
    from PySide6.QtWidgets import QFileDialog

    session_file = tmp_path / "work.medsr-session.json"
    monkeypatch.setattr(QFileDialog, "getSaveFileName",
                        lambda *_a, **_k: (str(session_file), ""))
    monkeypatch.setattr(QFileDialog, "getOpenFileName",
                        lambda *_a, **_k: (str(session_file), ""))
    win = make_window()
    open_and_wait(qtbot, win, [study[0]])
    view = win.viewer.views[AXIAL]
    qtbot.keyClick(win, Qt.Key.Key_E)  # ellipse tool, then drag on the image
    start = view_point(view, 30, 30)
    drag(qtbot, view, Qt.MouseButton.LeftButton, start, QPoint(40, 30))
    assert len(win.rois) == 1
    qtbot.waitUntil(lambda: len(win.session.autosaver.written) == 1, timeout=5000)
    qtbot.keyClick(win, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)  # Save Session
    assert session_file.is_file() and not win.session.autosaver.written

    # reopened in the same window (File ▸ Open Session), then away to another study and back
    with qtbot.waitSignal(win.session.restored, timeout=30000):
        win.session.open_action.trigger()
    assert [r.name for r in win.rois] == [r.name for r in load_session(session_file).rois]
    qtbot.wait(1200)  # past the autosave poll: nothing unsaved must be written
    assert not win.session.recovery_bar.isVisible() and not win.session.autosaver.written
    open_and_wait(qtbot, win, [study[1]])
    open_and_wait(qtbot, win, [study[0]])
    assert not win.session.recovery_bar.isVisible()
    assert pending_recoveries(study[0]) == []

    # reopened by another run of the viewer, which then crashes or closes
    crashed, report = run_child(study[0], tmp_path, "--open-session", str(session_file))
    assert not report["bar"] and len(report["rois"]) == 1 and report["autosaves"] == []
    crash(crashed)
    closed, report = run_child(study[0], tmp_path, "--open-session", str(session_file),
                               "--then", "close")
    assert not report["bar"] and report["autosaves"] == []
    assert closed.wait(60) == 0
    again = make_window()
    open_and_wait(qtbot, again, [study[0]])
    assert not again.session.recovery_bar.isVisible()
    assert pending_recoveries(study[0]) == []
