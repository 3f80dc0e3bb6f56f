"""A MedSR Viewer run for crash-recovery tests: open a study, act, report, then crash or exit.

Run as ``python recovery_child.py STUDY SETTINGS [--rois N] [--save PATH] [--open-session PATH]
[--then crash|close]`` with ``MEDSR_CONFIG_DIR`` and ``QT_QPA_PLATFORM=offscreen`` set. The real
``MainWindow`` opens ``STUDY`` (or the session file, which opens its study), draws ``N`` ROIs (each is autosaved at once), optionally saves the session,
prints one ``REPORT {json}`` line (recovery bar shown and its text, ROI names, the autosave
files this instance wrote), then either blocks until the test kills it (``crash``) or closes
the window cleanly and exits 0 (``close``).
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
from pathlib import Path

from PySide6.QtCore import QEventLoop, QSettings, QTimer
from PySide6.QtWidgets import QApplication

from medsr_viewer.core.geometry import Orientation
from medsr_viewer.core.pane_geometry import display_plane
from medsr_viewer.core.roi import EllipseRoi
from medsr_viewer.gui.main_window import MainWindow

REPORT = "REPORT "


def open_study(win: MainWindow, study: Path, timeout_ms: int = 60000) -> None:
    """Open ``study`` and run the event loop until it is shown (exit 3 on timeout/failure)."""
    loop = QEventLoop()
    outcome: list[str] = []
    win.loader.loaded.connect(lambda *_: (outcome.append("loaded"), loop.quit()))
    win.loader.failed.connect(lambda message: (outcome.append(message), loop.quit()))
    QTimer.singleShot(timeout_ms, loop.quit)
    win.open_paths([study])
    loop.exec()
    if outcome != ["loaded"]:
        print(f"study not loaded: {outcome}", file=sys.stderr)
        sys.exit(3)
    QApplication.processEvents()


def open_session(win: MainWindow, path: Path, timeout_ms: int = 60000) -> None:
    """Open a session file and run the event loop until it is applied (exit 3 if not)."""
    loop = QEventLoop()
    restored: list[bool] = []
    win.session.restored.connect(lambda: (restored.append(True), loop.quit()))
    QTimer.singleShot(timeout_ms, loop.quit)
    if not win.session.open(path):
        print(f"session not opened: {path}", file=sys.stderr)
        sys.exit(3)
    loop.exec()
    if not restored:
        print(f"session not restored: {path}", file=sys.stderr)
        sys.exit(3)
    for _ in range(3):  # let deferred work (label layers, view) run and autosave if it would
        QApplication.processEvents()
        win.session.autosaver.poll()


def draw_rois(win: MainWindow, count: int) -> None:
    """Draw ``count`` ellipse ROIs (named ``roi-<pid>-<i>``) on the shown axial slice."""
    import os

    display = win.viewer.display
    assert display is not None
    plane = display_plane(display, Orientation.AXIAL, win.viewer.slice_index(Orientation.AXIAL))
    for i in range(count):
        win.roi_editor.add(EllipseRoi(plane, cu=10.0 + 5 * i, cv=12.0, ru=3.0, rv=2.0,
                                      name=f"roi-{os.getpid()}-{i}"))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("study", type=Path)
    parser.add_argument("settings", type=Path)
    parser.add_argument("--rois", type=int, default=0)
    parser.add_argument("--save", type=Path)
    parser.add_argument("--open-session", type=Path)
    parser.add_argument("--then", choices=("crash", "close"), default="crash")
    args = parser.parse_args()
    app = QApplication([sys.argv[0]])
    win = MainWindow(QSettings(str(args.settings), QSettings.Format.IniFormat))
    win.resize(900, 600)
    win.show()
    win.session.autosaver.interval_s = 0.0  # every edit is on disk before the report
    if args.open_session is not None:
        open_session(win, args.open_session)
    else:
        open_study(win, args.study)
    draw_rois(win, args.rois)
    if args.save is not None and win.session.save(args.save) is None:
        print("session not saved", file=sys.stderr)
        return 4
    bar = win.session.recovery_bar
    report = {"bar": not bar.isHidden(), "text": bar.label.text(),
              "rois": [roi.name for roi in win.rois],
              "autosaves": sorted(str(p) for p in win.session.autosaver.written)}
    print(REPORT + json.dumps(report), flush=True)
    if args.then == "close":
        win.close()
        app.processEvents()
        return 0
    threading.Event().wait()  # "working" until the test kills this process
    return 0


if __name__ == "__main__":
    sys.exit(main())
