"""Entry point of the ``medsr-viewer`` desktop application.

``medsr-viewer [PATH ...] [--demo]``: opens the given files/folders (several files are one
series) or the built-in demo study. ``--selftest`` checks the installation
(:mod:`medsr_viewer.gui.selftest`), ``--check-display`` the system libraries Qt needs to open a
window (:mod:`medsr_viewer.gui.display_check`, also checked at every start).
"""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Sequence

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from medsr_viewer import __version__
from medsr_viewer.core.atomic import sweep_stale_temp_files
from medsr_viewer.core.process_exit import exit_process
from medsr_viewer.core.recovery import autosave_dir
from medsr_viewer.gui.display_check import check_display_report, display_problem
from medsr_viewer.gui.main_window import APP_TITLE, MainWindow


def build_parser() -> argparse.ArgumentParser:
    """The ``medsr-viewer`` argument parser."""
    parser = argparse.ArgumentParser(
        prog="medsr-viewer",
        description="View DICOM/NIfTI studies and run super-resolution, enhancement and "
        "segmentation models beside the original.",
    )
    parser.add_argument(
        "paths",
        nargs="*",
        metavar="PATH",
        help="study to open: a NIfTI/MGZ/image file, DICOM file(s) or a DICOM folder",
    )
    parser.add_argument(
        "--demo",
        action="store_true",
        help="open the built-in demo study (MNI152 T1 template; needs the 'demo' extra)",
    )
    parser.add_argument(
        "--selftest",
        action="store_true",
        help="check this installation: open the demo study, run one sr-x2 slice, exit 0 if "
        "all is well (works offscreen; leaves the user's settings alone)",
    )
    parser.add_argument(
        "--check-display",
        action="store_true",
        help="check that Qt can open a window here (on Linux: the xcb plugin's system "
        "libraries); prints the apt command for what is missing",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return parser


def create_window(argv: Sequence[str] | None = None) -> MainWindow:
    """Parse ``argv``, build the main window and start opening what was asked for.

    A ``QApplication`` must exist. The window is returned unshown (tests drive it).
    """
    args = build_parser().parse_args(argv)
    window = MainWindow()
    if args.demo:
        window.open_demo()
    elif args.paths:
        window.open_paths(args.paths)
    return window


def main(argv: Sequence[str] | None = None) -> int:
    """Run the application; returns the process exit status."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(arguments)  # --help / --version / usage errors before Qt
    if args.check_display:
        status, report = check_display_report()
        print(report)
        return status
    if args.selftest:
        from medsr_viewer.gui.selftest import run_selftest

        return run_selftest()
    problem = display_problem()  # missing xcb libraries: say which, instead of Qt's abort
    if problem is not None:
        print(problem.message(), file=sys.stderr)
        return 1
    sweep_stale_temp_files([autosave_dir()])  # left by writers killed mid-write
    app = QApplication.instance() or QApplication([sys.argv[0]])
    app.setApplicationName(APP_TITLE)
    app.setOrganizationName("medsr-viewer")
    window = create_window(arguments)
    window.show()
    # Let Ctrl+C in the terminal close the window (Python handles signals between Qt events).
    signal.signal(signal.SIGINT, lambda *_: window.close())
    timer = QTimer()
    timer.timeout.connect(lambda: None)
    timer.start(250)
    return int(app.exec())


def entry() -> None:
    """The ``medsr-viewer`` console script: :func:`main`, then a safe process exit (a model
    call abandoned at close must not abort the process: ``core.process_exit``)."""
    exit_process(main())


if __name__ == "__main__":  # pragma: no cover
    entry()
