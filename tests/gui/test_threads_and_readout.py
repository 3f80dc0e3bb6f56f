"""The QThread registry, the PySide6 emit work-around, and the readout wording."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, QThread, Signal, Slot
from pytestqt.qtbot import QtBot

from medsr_viewer.core.geometry import DisplayVolume, Orientation
from medsr_viewer.core.volume import Volume
from medsr_viewer.core.windowing import Window
from medsr_viewer.gui.qt_compat import needs_bool_guard
from medsr_viewer.gui.views.readout import format_value, format_window, position_text, slice_text
from medsr_viewer.gui.workers import threads
from medsr_viewer.gui.workers.map_worker import MapWorker
from medsr_viewer.gui.workers.study_loader import LoadedStudy, StudyLoader


class _Blocker(QObject):
    """Blocks its thread until released, like a long load."""

    started = Signal()

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()

    @Slot()
    def run(self) -> None:
        self.started.emit()
        self.release.wait(10)


def test_registry_tracks_running_threads_and_stops_them(qtbot: QtBot) -> None:
    thread = threads.register(QThread())
    assert threads.register(thread) is thread  # idempotent
    assert sum(t is thread for t in threads.registered_threads()) == 1
    worker = _Blocker()
    worker.moveToThread(thread)
    thread.started.connect(worker.run)
    with qtbot.waitSignal(worker.started, timeout=5000):
        thread.start()
    assert any(t is thread for t in threads.running_threads())
    worker.release.set()
    assert threads.stop_all(timeout_ms=5000) == []
    assert not thread.isRunning()
    assert not any(t is thread for t in threads.running_threads())
    thread.deleteLater()


def test_map_worker_latest_wins_and_stop_all_stops_it(qtbot: QtBot) -> None:
    maps = MapWorker()
    ready: list[tuple[int, object]] = []
    maps.ready.connect(lambda job_id, result: ready.append((job_id, result)))
    entered, release = threading.Event(), threading.Event()

    def slow() -> str:
        entered.set()
        release.wait(10)
        return "stale"

    first = maps.submit(slow)
    assert entered.wait(5)
    assert any(t is maps.runner.thread_object for t in threads.running_threads())
    with qtbot.waitSignal(maps.ready, timeout=5000) as latest:
        second = maps.submit(lambda: "fresh")
        release.set()
    assert latest.args == [second, "fresh"] and ready == [(second, "fresh")]
    assert not maps.is_current(first) and maps.is_current(second)
    with qtbot.waitSignal(maps.failed, timeout=5000) as failed:
        third = maps.submit(lambda: 1 / 0)
    assert failed.args == [third, "ZeroDivisionError: division by zero"]
    assert maps.isRunning()  # idle, waiting for the next job
    assert threads.stop_all(timeout_ms=5000) == []
    assert not maps.isRunning()


def test_study_loader_supersedes_a_load_without_waiting_for_it(
    qtbot: QtBot, data_dir: Path, t1_path: Path
) -> None:
    loader = StudyLoader()
    loaded: list[LoadedStudy] = []
    ended: list[str] = []
    busy: list[bool] = []
    loader.loaded.connect(loaded.append)
    loader.cancelled.connect(lambda: ended.append("cancelled"))
    loader.failed.connect(ended.append)
    loader.busy.connect(busy.append)
    with qtbot.waitSignal(loader.progress, timeout=30000):  # the 120-file series is reading
        loader.start([data_dir / "dicom" / "vs_seg_001_t1"])
    with qtbot.waitSignal(loader.loaded, timeout=30000) as blocker:
        loader.start([t1_path])
    assert blocker.args[0].paths == (t1_path,) and not loader.is_loading
    assert loader.shutdown(10000)
    assert [s.paths for s in loaded] == [(t1_path,)] and ended == []
    assert busy == [True, True, False]
    assert not any(t.objectName().startswith("StudyLoader") for t in threads.running_threads())


def test_readout_wording() -> None:
    assert format_value(12.0, "HU") == "12 HU"
    assert format_value(0.123456) == "0.1235"
    assert format_value(float("nan")) == "nan"
    assert format_window(Window(40, 80)) == "W 80 L 40"
    assert format_window(Window(0.25, 0.5)) == "W 0.5 L 0.25"
    assert slice_text(Orientation.CORONAL, 0, 10) == "coronal 1/10"

    voxels = np.arange(2 * 3 * 4, dtype=np.float32).reshape(2, 3, 4)
    affine = np.diag([-2.0, -1.0, 3.0, 1.0])  # stored RAS-like: flipped for display
    ct = Volume(voxels=voxels, affine=affine, modality="CT")
    display = DisplayVolume(ct)
    text = position_text(display, display.display_to_canonical(Orientation.AXIAL, 0, 0, 1))
    # display (row 0, col 0) is the stored last row and column of slice 1
    assert text == "voxel (z,y,x) 1, 2, 3  |  LPS (-6.0, -2.0, 3.0) mm  |  value 23 HU"
    assert position_text(display, np.array([5.0, 0.0, 0.0])) == ""
    assert position_text(display, None) == ""


class _Emitter(QObject):
    changed = Signal(int)


def test_many_signal_emissions_do_not_exhaust_true(qtbot: QtBot) -> None:
    # PySide6 6.12.0 drops a reference to True per emit; without the guard that the GUI
    # package applies on import, Python 3.11 aborts long before 100 000 emissions.
    emitter = _Emitter()
    received: list[int] = []
    emitter.changed.connect(received.append)
    for i in range(100_000):
        emitter.changed.emit(i)
    assert len(received) == 100_000
    assert sys.getrefcount(True) > 1000
    assert needs_bool_guard((6, 12, 0), (3, 11))
    assert not needs_bool_guard((6, 11, 3), (3, 11))
    assert not needs_bool_guard((6, 12, 0), (3, 12))
