"""Save screenshots of the viewer for the documentation.

``python -m medsr_viewer.gui.export.screenshot [--out docs/screenshot.png] [--study PATH]
[--layout three-plane|axial|coronal|sagittal] [--size 1500x620] [--volume N]
[--window CENTER,WIDTH] [--labels PATH ...] [--hover-label VALUE] [--rois FILE]
[--colormap grey|hot|inferno|viridis] [--invert] [--cine slices|volumes]``

``--volume N`` steps a 4-D study (DWI, fMRI ...) to its N-th volume with the next-volume key,
as a user would, so the volume bar and the label in the panes show; the window stays the one
the study opened with unless ``--window`` sets another (as a right-drag would, e.g. for the
darker b=1000 images of a DWI that opens at its b=0 volume).

``--labels`` opens label maps over the study as File ▸ Open Label Map… does (the Labels
dock shows their names); ``--hover-label VALUE`` puts the cursor on the voxel of that label
of the top layer nearest its centre, so the readout names it, and scrolls the dock to it.

``--rois FILE`` imports an ROI file (File ▸ Import ROIs…; rulers and angles too), shown on
the slice they lie in (the cursor moves to the first one's slice). ``--colormap`` and
``--invert`` colour the panes as the W/L menu does; ``--cine`` starts cine playback (Space or
Shift+Space) and grabs a few frames later, with the rate box in the status bar.

Opens the demo study (or ``--study``) exactly as a user would (background load included),
in the three-plane layout by default, and saves ``widget.grab()`` of the main window.
Works headless with ``QT_QPA_PLATFORM=offscreen``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from PySide6.QtCore import QPointF, QSettings
from PySide6.QtGui import QPixmap
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QAbstractItemView, QApplication

from medsr_viewer.core.atomic import atomic_write
from medsr_viewer.core.geometry import Orientation
from medsr_viewer.core.process_exit import exit_process
from medsr_viewer.core.view_model import COLORMAPS
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


@contextmanager
def screenshot_window(size: tuple[int, int]) -> Iterator[tuple[QApplication, MainWindow]]:
    """A shown main window of ``size`` for a documentation screenshot, closed on exit.

    Its settings live in a temporary file (the user's recent files and layout stay out of the
    picture, and the picture out of them) and the panes' patient data is switched off.
    """
    app = QApplication.instance() or QApplication([sys.argv[0]])
    assert isinstance(app, QApplication)
    with tempfile.TemporaryDirectory() as settings_dir:
        settings = QSettings(str(Path(settings_dir) / "settings.ini"), QSettings.Format.IniFormat)
        window = MainWindow(settings)
        hide_patient_data(window)
        try:
            window.resize(*size)
            window.show()
            yield app, window
        finally:
            window.close()


def wait_until(app: QApplication, condition: Callable[[], object], timeout_s: float = 120.0,
               what: str = "the viewer") -> None:
    """Process events until ``condition()`` is true; ``TimeoutError`` naming ``what`` after
    ``timeout_s`` seconds."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} did not get there within {timeout_s:.0f} s")
        app.processEvents()
        time.sleep(0.02)


def settle(app: QApplication, rounds: int = 5) -> None:
    """Let queued repaints and coalesced redraws run before a grab."""
    for _ in range(rounds):
        app.processEvents()
        time.sleep(0.02)


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


def _cursor_on_label(window: MainWindow, value: int) -> None:
    """Move the cursor to the voxel of label ``value`` of the top layer nearest the label's
    centre (raises ``RuntimeError`` when the layer has no such voxel)."""
    layer = window.label_overlay.active_layer
    display = window.viewer.display
    if layer is None or display is None:
        raise RuntimeError("--hover-label needs --labels")
    voxels = np.argwhere(layer.labels == value)
    if not len(voxels):
        raise RuntimeError(f"layer {layer.name} has no label {value}")
    nearest = voxels[np.argmin(np.linalg.norm(voxels - voxels.mean(axis=0), axis=1))]
    window.view_model.set_cursor(display.voxel_to_canonical(nearest.astype(np.float64)))
    table = window.label_dock.table
    item = table.item(table.row_of(value), 0)
    if item is not None:  # the label's row of the Labels dock in sight too
        table.scrollToItem(item, QAbstractItemView.ScrollHint.PositionAtCenter)


def _show_rois(window: MainWindow, path: Path) -> None:
    """Import the ROIs of ``path`` and move the cursor onto the first one's slice."""
    if window.roi_files.import_rois(path) == 0:
        raise RuntimeError(f"{path}: no ROIs imported")
    display = window.viewer.display
    first = next(iter(window.rois))
    if display is not None:
        point = first.plane.to_world(np.asarray(first.outline_uv()).mean(axis=0))
        window.view_model.set_cursor_world(point)


#: Frames cine plays before the grab, and the longest wait for them (a 4-D series plays at
#: its repetition time: 0.3 fps for TR 3 s).
CINE_FRAMES = 2
CINE_WAIT_S = 20.0


def _play_cine(app: QApplication, window: MainWindow, what: str) -> None:
    """Start cine over ``what`` ("slices", "volumes") and let it play :data:`CINE_FRAMES`."""
    frames = [0]
    event = "volume" if what == "volumes" else "cursor"
    unsubscribe = window.view_model.subscribe(event, lambda: frames.__setitem__(0, frames[0] + 1))
    window.actions_.action(f"view.cine_{what}").trigger()
    deadline = time.monotonic() + CINE_WAIT_S
    while frames[0] < CINE_FRAMES and time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.02)
    unsubscribe()


def save_screenshot(
    out: Path,
    study: Sequence[Path] | None = None,
    layout: str = "three-plane",
    size: tuple[int, int] = (1500, 620),
    volume: int = 1,
    window_levels: Window | None = None,
    labels: Sequence[Path] = (),
    hover_label: int | None = None,
    *,
    rois: Path | None = None,
    colormap: str = "grey",
    invert: bool = False,
    cine: str | None = None,
) -> Path:
    """Open ``study`` (default: the demo) in ``layout`` and save a PNG of the window to ``out``.

    ``volume`` (1-based) is the volume of a 4-D study to show, ``window_levels`` a display
    window to apply, ``labels`` label maps to open over it and ``hover_label`` a label value
    of the top one to put the cursor (and the mouse) on; ``rois``, ``colormap``, ``invert``
    and ``cine`` are the module doc's options. The file is written atomically (temporary
    file, then rename).
    """
    with screenshot_window(size) as (app, window):
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
        settle(app)
        window.viewer.reset_view()
        if window_levels is not None:
            window.viewer.set_window(window_levels)
        for path in labels:
            if not window.open_label_map(path):
                raise RuntimeError(window.error_banner.text())
        if hover_label is not None:
            _cursor_on_label(window, hover_label)
        if rois is not None:
            _show_rois(window, rois)
        window.view_model.set_lut(colormap, invert)
        if cine is not None:
            _play_cine(app, window, cine)
        settle(app)
        _hover_cursor(app, window)
        window.statusBar().clearMessage()
        hide_patient_data(window)
        app.processEvents()
        save_png_atomic(window.grab(), out)
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
    parser.add_argument("--labels", type=Path, nargs="+", default=[],
                        help="label maps to open over the study")
    parser.add_argument("--hover-label", type=int,
                        help="put the cursor on this label of the top label map")
    parser.add_argument("--rois", type=Path, help="ROI file to import (rulers, angles too)")
    parser.add_argument("--colormap", choices=COLORMAPS, default="grey")
    parser.add_argument("--invert", action="store_true", help="invert the grey levels")
    parser.add_argument("--cine", choices=("slices", "volumes"), help="play cine, then grab")
    args = parser.parse_args(argv)
    width, height = (int(v) for v in args.size.lower().split("x"))
    levels = None
    if args.window:
        center, window_width = (float(v) for v in args.window.split(","))
        levels = Window(center, window_width)
    try:
        path = save_screenshot(args.out, args.study, args.layout, (width, height),
                               args.volume, levels, args.labels, args.hover_label,
                               rois=args.rois, colormap=args.colormap, invert=args.invert,
                               cine=args.cine)
    except RuntimeError as exc:
        print(f"screenshot: {exc}", file=sys.stderr)
        return 2
    print(path)
    return 0


if __name__ == "__main__":  # pragma: no cover
    # A model call the warm-up had started may still run when the window closes: end as the
    # viewer does, without tearing torch down under it (core.process_exit).
    exit_process(main())
