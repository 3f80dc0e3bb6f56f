"""Save screenshots of the viewer for the documentation.

``python -m medsr_viewer.gui.export.screenshot [--out docs/screenshot.png] [--study PATH]
[--layout three-plane|axial|coronal|sagittal] [--size 1500x620] [--volume N]
[--window CENTER,WIDTH]``

``--volume N`` steps a 4-D study (DWI, fMRI ...) to its N-th volume with the next-volume key,
as a user would, so the volume bar and the label in the panes show; the window stays the one
the study opened with unless ``--window`` sets another (as a right-drag would, e.g. for the
darker b=1000 images of a DWI that opens at its b=0 volume).

Opens the demo study (or ``--study``) exactly as a user would (background load included),
in the three-plane layout by default, and saves ``widget.grab()`` of the main window.
Works headless with ``QT_QPA_PLATFORM=offscreen``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import QPointF, QSettings
from PySide6.QtGui import QPixmap
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from medsr_viewer.core.atomic import atomic_write
from medsr_viewer.core.geometry import Orientation
from medsr_viewer.core.windowing import Window
from medsr_viewer.gui.main_window import MainWindow

LAYOUTS = ("three-plane", *[o.value for o in Orientation])



def save_png_atomic(image: QPixmap, out: Path) -> None:
    """Save a grabbed widget image as PNG at ``out`` atomically (whole file or none)."""

    def write(tmp: str) -> None:
        if not image.save(tmp, "PNG"):
            raise RuntimeError(f"{out}: could not write the PNG")

    atomic_write(out, write)


def hide_patient_data(window: MainWindow) -> None:
    """Switch the panes' patient data off: screenshots never show a patient."""
    window.viewer.overlays.options.set(patient_data=False)


def wait_for_load(app: QApplication, window: MainWindow, timeout_s: float = 120.0) -> None:
    """Process events until the window's background load has finished.

    Raises
    ------
    RuntimeError
        The load failed (message names the file) or did not finish in time.
    """
    errors: list[str] = []
    window.loader.failed.connect(errors.append)
    deadline = time.monotonic() + timeout_s
    app.processEvents()
    while window.loader.is_loading and time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.01)
    app.processEvents()
    if errors:
        raise RuntimeError(errors[0])
    if window.loader.is_loading:
        raise RuntimeError(f"loading did not finish within {timeout_s:.0f} s")


def _hover_cursor(app: QApplication, window: MainWindow) -> None:
    """Move the mouse over the crosshair point of the active pane so the readout shows."""
    view = window.viewer.active_view
    display = window.viewer.display
    if display is None:
        return
    row, col, _ = display.canonical_to_display(view.orientation, window.viewer.cursor_point)
    x, y = view.display_to_view(row, col)
    pos = view.mapFromScene(view.view_box.mapViewToScene(QPointF(x, y)))
    time.sleep(0.02)  # pyqtgraph ignores mouse moves closer than 10 ms together
    QTest.mouseMove(view.viewport(), pos)
    app.processEvents()


def save_screenshot(
    out: Path,
    study: Sequence[Path] | None = None,
    layout: str = "three-plane",
    size: tuple[int, int] = (1500, 620),
    volume: int = 1,
    window_levels: Window | None = None,
) -> Path:
    """Open ``study`` (default: the demo) in ``layout`` and save a PNG of the window to ``out``.

    ``volume`` (1-based) is the volume of a 4-D study to show, ``window_levels`` a display
    window to apply. The file is written atomically (temporary file, then rename).
    """
    app = QApplication.instance() or QApplication([sys.argv[0]])
    assert isinstance(app, QApplication)
    with tempfile.TemporaryDirectory() as settings_dir:
        settings = QSettings(
            str(Path(settings_dir) / "settings.ini"), QSettings.Format.IniFormat
        )  # keep the user's recent-files list out of it
        window = MainWindow(settings)
        hide_patient_data(window)
        window.resize(*size)
        window.show()
        if study:
            window.open_paths(list(study))
        else:
            window.open_demo()
        wait_for_load(app, window)
        for _ in range(volume - 1):
            window.volume_bar.next_action.trigger()  # what Alt+Up does
        if layout == "three-plane":
            window.set_three_plane(True)
        else:
            window.set_orientation(Orientation(layout))
        for _ in range(5):
            app.processEvents()
            time.sleep(0.02)
        window.viewer.reset_view()
        if window_levels is not None:
            window.viewer.set_window(window_levels)
        _hover_cursor(app, window)
        window.statusBar().clearMessage()
        hide_patient_data(window)
        app.processEvents()
        image = window.grab()
        save_png_atomic(image, out)
        window.close()
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m medsr_viewer.gui.export.screenshot")
    parser.add_argument("--out", type=Path, default=Path("docs/screenshot.png"))
    parser.add_argument("--study", type=Path, nargs="+", help="study to show (default: demo)")
    parser.add_argument("--layout", choices=LAYOUTS, default="three-plane")
    parser.add_argument("--size", default="1500x620", help="window size WIDTHxHEIGHT")
    parser.add_argument("--volume", type=int, default=1,
                        help="volume of a 4-D study to show (1-based)")
    parser.add_argument("--window", help="display window CENTER,WIDTH (default: the study's)")
    args = parser.parse_args(argv)
    width, height = (int(v) for v in args.size.lower().split("x"))
    levels = None
    if args.window:
        center, window_width = (float(v) for v in args.window.split(","))
        levels = Window(center, window_width)
    try:
        path = save_screenshot(args.out, args.study, args.layout, (width, height),
                               args.volume, levels)
    except RuntimeError as exc:
        print(f"screenshot: {exc}", file=sys.stderr)
        return 2
    print(path)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
