"""Save a screenshot of the before/after comparison for the documentation.

``python -m medsr_viewer.gui.export.compare_screenshot [--out docs/sr_compare.png] [--model sr-x2]
[--study PATH] [--mode MODE] [--size 1500x700] [--orientation coronal]``

Opens the demo study (or ``--study``) as a user would, switches super-resolution on with the
chosen model (name or path), waits for the current slice's result (and, in a map mode such as
``consistency``, ``added detail`` or ``interval width``, for its map), puts the mouse on the
map's most extreme pixel so the readout shows its value, and saves the window.
Works headless with ``QT_QPA_PLATFORM=offscreen``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PySide6.QtCore import QPointF

from medsr_viewer.core.geometry import Orientation
from medsr_viewer.core.process_exit import exit_process
from medsr_viewer.gui.export.screenshot import (
    hide_patient_data,
    save_png_atomic,
    screenshot_window,
    settle,
    wait_for_load,
    wait_until,
)
from medsr_viewer.gui.main_window import MainWindow
from medsr_viewer.gui.views.compare_panel import MAP_MODES, CompareMode


def save_compare_screenshot(
    out: Path,
    model: str = "sr-x2",
    study: Sequence[Path] | None = None,
    mode: str = CompareMode.SIDE_BY_SIDE.value,
    size: tuple[int, int] = (1500, 700),
    timeout_s: float = 300.0,
    orientation: str = Orientation.AXIAL.value,
) -> Path:
    """Show ``study`` (default: demo) with ``model`` beside it and save a PNG to ``out``.

    Raises
    ------
    RuntimeError
        Loading or the model failed, or the result did not arrive within ``timeout_s``.
    """
    with screenshot_window(size) as (app, window):
        window.open_paths(list(study)) if study else window.open_demo()
        wait_for_load(app, window)
        picker = window.compare.model_picker
        index = picker.findText(model)
        if index >= 0:
            picker.setCurrentIndex(index)
        else:
            picker.add_path(model)
        errors: list[str] = []
        window.compare.errorOccurred.connect(errors.append)
        window.set_orientation(Orientation(orientation))
        window.set_sr_enabled(True)
        window.compare.set_mode(mode)
        compare = window.compare

        def ready() -> bool:
            if errors:
                return True
            if CompareMode(mode) in MAP_MODES:
                return compare.complete and compare.shown_map() is not None
            return compare.complete

        try:
            wait_until(app, ready, timeout_s, "the model result")
        except TimeoutError as exc:
            raise RuntimeError(f"no model result within {timeout_s:.0f} s") from exc
        if errors:
            raise RuntimeError(errors[0])
        _point_at_extreme(window)
        window.statusBar().clearMessage()
        hide_patient_data(window)
        settle(app)
        save_png_atomic(window.grab(), out)
    return out


def _point_at_extreme(window: MainWindow) -> None:
    """Report the shown map's largest |value| pixel in the readout, as hovering it would."""
    compare = window.compare
    shown = compare.shown_map()
    if shown is None:
        return
    row, col = np.unravel_index(int(np.argmax(np.abs(shown.values))), shown.values.shape)
    row_mm, col_mm = compare.sr_view.pixel_spacing
    x = (int(col) + 0.5) * col_mm / compare.scale
    y = (int(row) + 0.5) * row_mm / compare.scale
    scene = compare.sr_view.view_box.mapViewToScene(QPointF(x, y))
    compare.sr_view.scene().sigMouseMoved.emit(scene)


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m medsr_viewer.gui.export.compare_screenshot")
    parser.add_argument("--out", type=Path, default=Path("docs/sr_compare.png"))
    parser.add_argument("--model", default="sr-x2", help="model name or path")
    parser.add_argument("--study", type=Path, nargs="+", help="study to show (default: demo)")
    parser.add_argument("--mode", choices=[m.value for m in CompareMode], default="side-by-side")
    parser.add_argument("--size", default="1500x700", help="window size WIDTHxHEIGHT")
    parser.add_argument("--orientation", choices=[o.value for o in Orientation],
                        default=Orientation.AXIAL.value,
                        help="plane shown (coronal/sagittal for through-plane models)")
    args = parser.parse_args(argv)
    width, height = (int(v) for v in args.size.lower().split("x"))
    try:
        path = save_compare_screenshot(args.out, args.model, args.study, args.mode,
                                       (width, height), orientation=args.orientation)
    except RuntimeError as exc:
        print(f"compare screenshot: {exc}", file=sys.stderr)
        return 2
    print(path)
    return 0


if __name__ == "__main__":  # pragma: no cover
    # A model call the warm-up had started may still run when the window closes: end as the
    # viewer does, without tearing torch down under it (core.process_exit).
    exit_process(main())
