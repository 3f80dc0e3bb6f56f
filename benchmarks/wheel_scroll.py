"""Benchmark: GUI-thread cost of wheel-scrolling, SR off against SR side by side (and maps).

Opens the real 120-slice 512² MR series in the main window (offscreen), then turns the mouse
wheel over the original pane ``--events`` times, one notch every ``--interval-ms`` (a user
spinning the wheel), and lets the window process everything that arrives meanwhile (tiles
streamed back by the inference worker included). The cost per event is the **CPU time of the
GUI thread** (``time.thread_time``) over the whole run divided by the number of events, so the
model's own threads, which run beside it, are not counted; the wall time of the run is shown
as well. Each configuration is measured in the same run, interleaved for ``--rounds`` rounds
(median shown), and compared with SR off, the baseline.

Usage: ``QT_QPA_PLATFORM=offscreen python benchmarks/wheel_scroll.py [SERIES] [--events N]``
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a source checkout

DEFAULT_SERIES = (
    Path(os.environ.get("MEDSR_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data"))
    / "dicom"
    / "vs_seg_001_t1"
)
MODEL = Path(__file__).resolve().parents[1] / "resources" / "models" / "sr-x2.safetensors"
#: (label, SR on, compare mode)
CONFIGS = [
    ("SR off (baseline)", False, "side-by-side"),
    ("SR side by side", True, "side-by-side"),
    ("SR swipe", True, "swipe"),
    ("SR difference map", True, "difference"),
]


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("series", nargs="?", type=Path, default=DEFAULT_SERIES)
    parser.add_argument("--events", type=int, default=120)
    parser.add_argument("--interval-ms", type=float, default=20.0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)

    from PySide6.QtCore import QPoint, QPointF, QSettings, Qt
    from PySide6.QtGui import QWheelEvent
    from PySide6.QtWidgets import QApplication

    from medsr_viewer.core.notify import Notifier
    from medsr_viewer.gui.main_window import MainWindow
    from medsr_viewer.gui.workers.inference_worker import InferenceWorker
    from medsr_viewer.models.registry import ModelRegistry
    from medsr_viewer.models.slice_engine import SliceEngine

    app = QApplication.instance() or QApplication([])
    tmp = Path(tempfile.mkdtemp(prefix="medsr-wheel-"))
    os.environ.setdefault("MEDSR_CONFIG_DIR", str(tmp / "config"))
    engine = SliceEngine(ModelRegistry([("user", tmp / "none")]), device="cpu",
                         notifier=Notifier())
    worker = InferenceWorker(engine=engine, notifier=engine.notifier)
    settings = QSettings(str(tmp / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(settings, worker=worker,
                        registry=ModelRegistry([("bundled", MODEL.parent)]))
    window.resize(1600, 1000)
    window.show()
    loaded: list[object] = []
    window.loader.loaded.connect(loaded.append)
    window.open_paths([args.series])
    deadline = time.monotonic() + 60
    while not loaded and time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.005)
    if not loaded:
        print(f"{args.series}: did not load", file=sys.stderr)
        return 1
    window.select_model(MODEL)

    def pump(seconds: float) -> None:
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            app.processEvents()
            time.sleep(0.001)

    def run(sr: bool, mode: str) -> tuple[float, float, float]:
        window.set_sr_enabled(sr)
        if sr:
            window.compare.set_mode(mode)
        window.viewer.set_slice(10)
        pump(1.5)  # the first slice's model run and map, before timing
        view = window.viewer.active_view.viewport()
        pos = QPointF(view.rect().center())
        cpu0, wall0 = time.thread_time(), time.perf_counter()
        handler = 0.0
        for i in range(args.events):
            notch = 1 if (i // 50) % 2 == 0 else -1  # back and forth through the series
            event = QWheelEvent(pos, QPointF(view.mapToGlobal(pos.toPoint())), QPoint(0, 0),
                                QPoint(0, 120 * notch), Qt.MouseButton.NoButton,
                                Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase,
                                False)
            start = time.thread_time()
            QApplication.sendEvent(view, event)
            handler += time.thread_time() - start
            pump(args.interval_ms / 1000.0)
        cpu = (time.thread_time() - cpu0) * 1000.0 / args.events
        wall = (time.perf_counter() - wall0) * 1000.0 / args.events
        return handler * 1000.0 / args.events, cpu, wall

    results: dict[str, list[tuple[float, float, float]]] = {
        label: [] for label, _s, _m in CONFIGS}
    for _round in range(args.rounds):
        for label, sr, mode in CONFIGS:
            results[label].append(run(sr, mode))
    window.set_sr_enabled(False)
    window.close()
    pump(0.2)

    def median(label: str, column: int) -> float:
        return statistics.median(row[column] for row in results[label])

    base_label = CONFIGS[0][0]
    print(f"{args.series.name}: {args.events} wheel notches every {args.interval_ms:g} ms, "
          f"window 1600x1000, median of {args.rounds} rounds")
    print(f"{'configuration':<20} {'wheel handler':>14} {'vs off':>7} {'all GUI work':>13} "
          f"{'vs off':>7} {'wall':>7}")
    for label, _sr, _mode in CONFIGS:
        handler, total, wall = (median(label, c) for c in range(3))
        print(f"{label:<20} {handler:>11.2f} ms {handler / median(base_label, 0):>6.2f}x "
              f"{total:>10.2f} ms {total / median(base_label, 1):>6.2f}x {wall:>5.0f} ms")
    print("per wheel notch, CPU time of the GUI thread: 'wheel handler' = handling the event "
          "itself (new slice, requests, drawing into the items); 'all GUI work' adds what "
          "follows on the GUI thread before the next notch (painting both panes, tiles and "
          "maps arriving); wall includes the interval between notches")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
