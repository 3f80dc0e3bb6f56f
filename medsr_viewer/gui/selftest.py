"""``medsr-viewer --selftest``: does this installation work? One line per step, exit 0 or 1.

The steps are those of a first use: the bundled resources are there, Qt starts (offscreen
when ``QT_QPA_PLATFORM`` says so; with no platform set, the display check of
:mod:`medsr_viewer.gui.display_check` comes first), the main window opens the built-in demo
study, and one slice of the bundled ``sr-x2`` model is computed through the viewer's own path
(the SR pane asks the inference worker, which runs the model on its thread), checked to be
finite and of the study slice's shape times the model's scale. The window is never shown.

The user's settings, recent files, trust decisions, autosaves and caches are left alone: the
run uses a temporary ``MEDSR_CONFIG_DIR`` and ``MEDSR_CACHE_DIR``, deleted afterwards.

It is what ``packaging/check_wheel.sh`` (a wheel in a fresh virtual environment) and
``packaging/build_frozen.sh`` (the PyInstaller app) run to pass.
"""

from __future__ import annotations

import os
import platform
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

import numpy as np

from medsr_viewer import __version__
from medsr_viewer.core.resources import freesurfer_dir, models_dir, resources_dir
from medsr_viewer.gui.display_check import display_problem

#: The model the self-test runs (bundled: it must be in every installation).
MODEL_FILE = "sr-x2.safetensors"
#: Seconds any one step may take (the first model run imports torch and loads weights).
STEP_TIMEOUT_S = 300.0
#: Environment variables pointed at the temporary folder for the run.
PRIVATE_DIRS = ("MEDSR_CONFIG_DIR", "MEDSR_CACHE_DIR")


class SelfTestFailed(RuntimeError):
    """A step failed; the message says what was expected and what happened."""


@contextmanager
def private_environment() -> Iterator[Path]:
    """A temporary folder as ``MEDSR_CONFIG_DIR``/``MEDSR_CACHE_DIR``; both restored and the
    folder deleted afterwards."""
    saved = {name: os.environ.get(name) for name in PRIVATE_DIRS}
    root = Path(tempfile.mkdtemp(prefix="medsr-selftest-"))
    try:
        os.environ["MEDSR_CONFIG_DIR"] = str(root / "config")
        os.environ["MEDSR_CACHE_DIR"] = str(root / "cache")
        yield root
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        shutil.rmtree(root, ignore_errors=True)


class _Steps:
    """Prints ``selftest: <step>: <result> (<seconds>)`` lines."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.current = "start"
        self._started = time.monotonic()

    def begin(self, name: str) -> None:
        self.current = name
        self._started = time.monotonic()

    def done(self, detail: str) -> None:
        seconds = time.monotonic() - self._started
        print(f"selftest: {self.current}: {detail} ({seconds:.1f} s)", file=self.out, flush=True)


def _wait_until(done: Callable[[], bool], failure: Callable[[], str | None],
                timeout_s: float, what: str) -> None:
    """Run Qt's event loop until ``done()``; raise on ``failure()`` text or the timeout."""
    from PySide6.QtCore import QCoreApplication, QEventLoop

    deadline = time.monotonic() + timeout_s
    while not done():
        problem = failure()
        if problem:
            raise SelfTestFailed(problem)
        if time.monotonic() > deadline:
            raise SelfTestFailed(f"{what} did not finish within {timeout_s:.0f} s")
        QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
        time.sleep(0.01)


def _check_resources(steps: _Steps) -> Path:
    steps.begin("resources")
    model = models_dir() / MODEL_FILE
    table = freesurfer_dir() / "FreeSurferColorLUT.txt"
    for needed in (model, table):
        if not needed.is_file():
            raise SelfTestFailed(f"{needed} is missing: the installation lacks its bundled "
                                 "data (reinstall medsr-viewer from a wheel or a checkout)")
    steps.done(f"{resources_dir()} ({len(list(models_dir().glob('*.safetensors')))} models)")
    return model


def _check_display(steps: _Steps) -> None:
    steps.begin("display")
    chosen = os.environ.get("QT_QPA_PLATFORM")
    if chosen:
        steps.done(f"QT_QPA_PLATFORM={chosen} (no window system needed)")
        return
    problem = display_problem()
    if problem is not None:
        raise SelfTestFailed(problem.message().removeprefix("medsr-viewer: "))
    steps.done("Qt can open windows here")


def _run_window(steps: _Steps, model: Path, timeout_s: float) -> None:
    from PySide6 import __version__ as pyside_version
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from medsr_viewer.core.demo import DemoUnavailable, demo_study_path
    from medsr_viewer.gui.main_window import MainWindow

    steps.begin("qt")
    app = QApplication.instance() or QApplication([sys.argv[0] if sys.argv else "medsr-viewer"])
    steps.done(f"PySide6 {pyside_version}, platform {QApplication.platformName()}")

    steps.begin("demo study")
    try:
        demo = demo_study_path()
    except DemoUnavailable as exc:
        raise SelfTestFailed(str(exc)) from exc
    settings = QSettings(str(Path(os.environ["MEDSR_CONFIG_DIR"]) / "settings.ini"),
                         QSettings.Format.IniFormat)
    window = MainWindow(settings)
    errors: list[str] = []
    window.loader.failed.connect(errors.append)
    window.compare.errorOccurred.connect(errors.append)
    try:
        window.open_demo()
        _wait_until(lambda: window.viewer.volume is not None,
                    lambda: errors[0] if errors else None, timeout_s, "loading the demo study")
        volume = window.viewer.volume
        assert volume is not None
        steps.done(f"{demo.name}, {'x'.join(map(str, volume.shape))} voxels")

        steps.begin("model")
        if not window.select_model(model):
            raise SelfTestFailed(f"the SR pane refused {model}: "
                                 f"{window.error_banner.text() or 'no reason given'}")
        steps.done(f"{model.name} selected")

        steps.begin("sr slice")
        compare = window.compare
        window.set_sr_enabled(True)
        _wait_until(lambda: compare.complete, lambda: errors[0] if errors else None, timeout_s,
                    "the sr-x2 slice")
        steps.done(_check_result(window))
    finally:
        window.close()
        window.deleteLater()
        app.processEvents()


def _check_result(window: object) -> str:
    """Check the SR pane's slice: finite, the study slice's shape times the scale."""
    compare = window.compare  # type: ignore[attr-defined]
    result = compare.buffer
    display = compare.display
    if result is None or display is None:
        raise SelfTestFailed("the SR pane reported a finished slice but holds none")
    rows, cols = display.slice_shape(compare.orientation)
    expected = (rows * compare.scale, cols * compare.scale)
    if compare.scale != 2 or tuple(result.shape[:2]) != expected:
        raise SelfTestFailed(f"SR slice of shape {result.shape} (scale {compare.scale}); "
                             f"expected {expected} (scale 2)")
    values = np.asarray(result, dtype=np.float64)
    if not np.isfinite(values).all():
        raise SelfTestFailed(f"SR slice has {int((~np.isfinite(values)).sum())} non-finite "
                             "values")
    if float(values.max()) <= float(values.min()):
        raise SelfTestFailed("SR slice is constant (the model computed nothing)")
    device = compare.worker.device_type or "?"
    return (f"{expected[0]}x{expected[1]} on {device}, finite, "
            f"values {values.min():.3g}..{values.max():.3g}")


def run_selftest(out: TextIO | None = None, timeout_s: float = STEP_TIMEOUT_S) -> int:
    """Run every step, printing one line each to ``out`` (stdout); 0 if all pass, else 1
    with ``selftest: FAILED at <step>: <why>``."""
    out = sys.stdout if out is None else out
    steps = _Steps(out)
    frozen = " (frozen)" if getattr(sys, "frozen", False) else ""
    print(f"selftest: medsr-viewer {__version__}{frozen}, Python {platform.python_version()} "
          f"on {platform.system()} {platform.machine()}", file=out, flush=True)
    try:
        with private_environment():
            model = _check_resources(steps)
            _check_display(steps)
            _run_window(steps, model, timeout_s)
    except SelfTestFailed as exc:
        print(f"selftest: FAILED at {steps.current}: {exc}", file=out, flush=True)
        return 1
    except Exception as exc:  # noqa: BLE001 - any crash is a failed self-test, said clearly
        print(f"selftest: FAILED at {steps.current}: {type(exc).__name__}: {exc}", file=out,
              flush=True)
        return 1
    print("selftest: passed", file=out, flush=True)
    return 0
