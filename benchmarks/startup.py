"""Benchmark: start to first image, and first tile after the first S (issue #18, fixed costs).

Each run launches the real application offscreen in a fresh process (this file with
``--child``) on a study (default: the 120-slice 512² DICOM series) and times, from just
before the process is spawned: the application's imports, the window, the first image (the
loader's study shown), then S and the first tile of the bundled ``sr-x2`` (the worker's
``tileReady``) and the finished slice. S is pressed either once the app is ready (the model
engine made, at least ``--settle`` s after the first image: a user looking at the study
first) or at the first image itself (the worst case: the background warm-up has not run).
It also records whether torch was loaded at the first image and the longest gap of a 5 ms
timer between the first image and S (the GUI stall of importing torch in the background).

``--baseline REV`` also runs the code of git revision ``REV`` (extracted with ``git archive``
into a temporary folder; the repository is not touched), interleaved with this checkout
round by round, and prints medians with ratios. Then, in this process, the fixed costs on
the study: the percentile fit over every voxel vs the strided sample, a contiguous copy of
the displayed volume vs the view the model now reads, and ``import torch``.

Not a test: numbers depend on the machine and its load (run it under the benchmark lock).
Usage: ``python benchmarks/startup.py [STUDY] [--rounds N] [--settle S] [--baseline REV]``
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_STUDY = (
    Path(os.environ.get("MEDSR_DATA", ROOT.parent / "shared" / "data")) / "dicom" / "vs_seg_001_t1"
)
#: Modes of pressing S: once the app is ready, or at the first image.
MODES = ("ready", "at-once")


# ------------------------------------------------------------------------------- the child


def child(study: str, mode: str, settle_s: float) -> int:
    """One app run (in a fresh process); prints one JSON line of times since the spawn."""
    spawned = float(os.environ["MEDSR_BENCH_T0"])
    root = os.environ.get("MEDSR_BENCH_ROOT", str(ROOT))
    sys.path.insert(0, root)
    marks: dict[str, object] = {}

    def mark(name: str) -> None:
        marks[name] = time.monotonic() - spawned

    mark("python")
    from PySide6.QtCore import Qt, QTimer
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    import medsr_viewer
    import medsr_viewer.gui.app as app_module

    marks["package"] = str(Path(medsr_viewer.__file__).parents[1])
    mark("imported")
    app = QApplication([sys.argv[0]])
    window = app_module.create_window([study])
    window.show()
    mark("window")
    worker = window.compare.worker
    gaps: list[float] = []
    last = [0.0]

    def tick() -> None:
        now = time.monotonic()
        gaps.append(now - last[0])
        last[0] = now

    ticker = QTimer()
    ticker.setInterval(5)
    ticker.timeout.connect(tick)

    def on_tile(*_args: object) -> None:
        if "tile" not in marks:
            mark("tile")

    def shown(*_args: object) -> None:
        app.processEvents()  # the first image is drawn
        mark("image")
        marks["torch_at_image"] = "torch" in sys.modules
        last[0] = time.monotonic()
        ticker.start()
        QTimer.singleShot(0, press_when_ready)

    def press_when_ready() -> None:
        # Ready: the engine made (older code: at start) and the background warm-up done.
        ready = bool(getattr(worker, "device_type", "cpu")) and not worker.busy
        if ready and "engine" not in marks:
            mark("engine")
        waited = time.monotonic() - spawned - float(marks["image"])  # type: ignore[arg-type]
        if mode == "ready" and (not ready or waited < settle_s):
            QTimer.singleShot(10, press_when_ready)
            return
        ticker.stop()
        marks["stall_ms"] = 1000.0 * max(gaps, default=0.0)
        worker.tileReady.connect(on_tile)
        mark("s")
        QTest.keyClick(window, Qt.Key.Key_S)
        QTimer.singleShot(5, wait_for_slice)

    def wait_for_slice() -> None:
        if not window.compare.complete:
            QTimer.singleShot(5, wait_for_slice)
            return
        mark("slice")
        print(json.dumps(marks), flush=True)
        window.close()
        app.quit()

    window.loader.loaded.connect(shown)
    QTimer.singleShot(180_000, app.quit)
    app.exec()
    from medsr_viewer.core.process_exit import exit_process

    exit_process(0 if "slice" in marks else 1)  # as the app ends (a call abandoned at close)


# ------------------------------------------------------------------------------ the parent


def run_child(study: Path, mode: str, settle_s: float, root: Path, config: Path) -> dict:
    """Spawn one app run of the code in ``root``; its times (seconds since the spawn)."""
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", MEDSR_CONFIG_DIR=str(config),
               MEDSR_BENCH_ROOT=str(root))
    env["MEDSR_BENCH_T0"] = repr(time.monotonic())
    result = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--child", str(study), "--mode", mode,
         "--settle", str(settle_s)],
        capture_output=True, text=True, env=env, cwd=str(root), timeout=600, check=False,
    )
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    if result.returncode != 0 or not lines:
        raise RuntimeError(f"app run failed ({root}, {mode}):\n{result.stderr[-3000:]}")
    marks = json.loads(lines[-1])
    if Path(marks["package"]).resolve() != root.resolve():
        raise RuntimeError(f"the run imported {marks['package']}, not {root}")
    return marks


def extract(revision: str, folder: Path) -> Path:
    """The tree of ``revision`` written into ``folder`` by ``git archive`` (read-only git)."""
    archive = folder / "tree.tar"
    with archive.open("wb") as out:
        subprocess.run(["git", "-C", str(ROOT), "archive", revision], stdout=out, check=True)
    tree = folder / "tree"
    with tarfile.open(archive) as tar:
        tar.extractall(tree, filter="data")
    return tree


def metrics(marks: dict) -> dict[str, float]:
    """The measured quantities of one run (seconds; stall in ms)."""
    return {
        "imports": marks["imported"] - marks["python"],
        "first image": marks["image"],
        "first tile after S": marks["tile"] - marks["s"],
        "slice after S": marks["slice"] - marks["s"],
        "GUI stall before S": marks["stall_ms"],
    }


def fixed_costs(study: Path, repeat: int) -> list[tuple[str, float, float]]:
    """In this process, on ``study``: (what, old seconds, new seconds), best of ``repeat``."""
    import numpy as np

    sys.path.insert(0, str(ROOT))
    from medsr_viewer.core.geometry import DisplayVolume
    from medsr_viewer.core.io import load_volume
    from medsr_viewer.models.card import Normalisation
    from medsr_viewer.models.normalisation import fit_intensity_map

    display = DisplayVolume(load_volume(study))
    norm = Normalisation("percentile", 0.0, 99.9)  # the bundled models'

    def best(function: object) -> float:
        times = []
        for _ in range(repeat):
            start = time.perf_counter()
            function()  # type: ignore[operator]
            times.append(time.perf_counter() - start)
        return min(times)

    full = fit_intensity_map(norm, display.voxels, sample=None)
    fast = fit_intensity_map(norm, display.voxels)
    print(f"fit (0, 99.9): every voxel low {full.low:g} high {full.high:g}; "
          f"sample low {fast.low:g} high {fast.high:g}")
    torch_s = best(lambda: subprocess.run([sys.executable, "-c", "import torch"], check=True))
    python_s = best(lambda: subprocess.run([sys.executable, "-c", "pass"], check=True))
    return [
        ("percentile fit", best(lambda: fit_intensity_map(norm, display.voxels, sample=None)),
         best(lambda: fit_intensity_map(norm, display.voxels))),
        ("volume for the model", best(lambda: np.ascontiguousarray(display.voxels)),
         best(lambda: display.voxels.view())),
        ("import torch (at start)", torch_s - python_s, 0.0),
    ]


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark (or, with ``--child``, one app run) and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("study", nargs="?", type=Path, default=DEFAULT_STUDY)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--settle", type=float, default=2.0,
                        help="seconds from the first image to S at the least (mode 'ready')")
    parser.add_argument("--baseline", metavar="REV", help="also run git revision REV")
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--mode", default="ready", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(str(args.study), args.mode, args.settle)
    modes = [m for m in args.modes.split(",") if m]
    with tempfile.TemporaryDirectory(prefix="medsr-startup-") as tmp:
        variants = [("after", ROOT)]
        if args.baseline:
            variants.insert(0, ("before", extract(args.baseline, Path(tmp))))
        results: dict[tuple[str, str], list[dict[str, float]]] = {}
        for round_ in range(args.rounds):
            for mode in modes:
                for name, root in variants:
                    marks = run_child(args.study, mode, args.settle, root, Path(tmp) / "config")
                    results.setdefault((name, mode), []).append(metrics(marks))
                    print(f"round {round_ + 1} {mode:8s} {name:6s} " + "  ".join(
                        f"{k} {v:.3f}" for k, v in metrics(marks).items())
                        + f"  torch at image: {marks['torch_at_image']}", flush=True)
    label = f"before ({args.baseline})" if args.baseline else ""
    print(f"\n{args.study.name}: median of {args.rounds} runs per cell (seconds; stall in ms)")
    print(f"{'S pressed':<10} {'measure':<22} {label:>20} {'after':>10} {'ratio':>7}")
    for mode in modes:
        for key in ("imports", "first image", "first tile after S", "slice after S",
                    "GUI stall before S"):
            if mode != modes[0] and key in ("imports", "first image"):
                continue
            after = statistics.median(r[key] for r in results[("after", mode)])
            if args.baseline:
                before = statistics.median(r[key] for r in results[("before", mode)])
                ratio = f"{before / after:6.2f}x" if after > 0 else ""
                print(f"{mode:<10} {key:<22} {before:>20.3f} {after:>10.3f} {ratio:>7}")
            else:
                print(f"{mode:<10} {key:<22} {'':>20} {after:>10.3f}")
    print("\nfixed costs in this process, best of 3 (seconds)")
    print(f"{'cost':<26} {'old':>8} {'new':>8} {'ratio':>7}")
    for what, old, new in fixed_costs(args.study, 3):
        ratio = f"{old / new:6.0f}x" if new > 1e-6 else "   gone"
        print(f"{what:<26} {old:>8.3f} {new:>8.4f} {ratio:>7}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
