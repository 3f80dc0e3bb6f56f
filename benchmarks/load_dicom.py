"""Benchmark: loading the real 120-slice DICOM series with ``load_volume`` vs a naive loop.

The naive loop is what a first attempt usually looks like: ``pydicom.dcmread`` every file in
full, decode ``pixel_array``, sort by InstanceNumber and stack. ``load_volume`` reads each
header once with pixel data deferred, sorts by position along the slice normal and reads
uncompressed pixels straight from the file. Prints a table (best of N runs); not a test.

Usage: ``python benchmarks/load_dicom.py [SERIES_FOLDER] [--repeat N]``
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pydicom

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a source checkout
from medsr_viewer.core.io import load_volume

DEFAULT_SERIES = (
    Path(os.environ.get("MEDSR_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data"))
    / "dicom"
    / "vs_seg_001_t1"
)


def naive_load(folder: Path) -> np.ndarray:
    """Read every file fully with pydicom, sort by InstanceNumber, stack rescaled float32."""
    slices = []
    for path in sorted(folder.iterdir()):
        ds = pydicom.dcmread(path)
        pixels = ds.pixel_array.astype(np.float32)
        pixels = pixels * float(ds.get("RescaleSlope", 1.0)) + float(ds.get("RescaleIntercept", 0.0))
        slices.append((int(ds.InstanceNumber), pixels))
    slices.sort(key=lambda item: item[0])
    return np.stack([pixels for _, pixels in slices])


def best_time(function: Callable[[], object], repeat: int) -> tuple[float, object]:
    """Best wall time over ``repeat`` runs and the last result."""
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = function()
        best = min(best, time.perf_counter() - start)
    return best, result


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", type=Path, default=DEFAULT_SERIES)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    if not args.folder.is_dir():
        print(f"series folder not found: {args.folder} (set MEDSR_DATA)", file=sys.stderr)
        return 2
    n_files = sum(1 for _ in args.folder.iterdir())
    naive_load(args.folder)  # warm the file cache for both contenders
    t_naive, naive = best_time(lambda: naive_load(args.folder), args.repeat)
    t_ours, volume = best_time(lambda: load_volume(args.folder), args.repeat)
    assert isinstance(naive, np.ndarray)
    same = np.array_equal(naive, volume.voxels)  # type: ignore[union-attr]
    print(f"series: {args.folder} ({n_files} files), best of {args.repeat} runs, warm cache")
    print(f"{'method':<34}{'time (s)':>10}{'slices/s':>10}")
    print(f"{'naive dcmread + pixel_array loop':<34}{t_naive:>10.3f}{n_files / t_naive:>10.0f}")
    print(f"{'medsr load_volume':<34}{t_ours:>10.3f}{n_files / t_ours:>10.0f}")
    print(f"speed-up (naive / load_volume): {t_naive / t_ours:.2f}x; identical voxels: {same}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
