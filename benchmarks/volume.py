"""Benchmark: ``medsr sr`` end to end on a whole DICOM series, in fresh processes.

Each run is the real command line (``python -m medsr_viewer.cli sr IN OUT.nii.gz --model
sr-x2``) started by a small wrapper process of its own, which reports the command's peak
resident memory from ``getrusage(RUSAGE_CHILDREN)`` (``ru_maxrss`` survives ``exec``, so the
wrapper must be fresh and small: its own size at the fork is the floor). Reported per run:
wall seconds, slices per second, peak RSS, output file size, and the sum of the per-slice
model times the command prints (``timing:`` line; the old code prints none), so the overhead
of loading, fitting and writing is the difference.

Runs: ``auto`` (output in the input's integer type, the default), ``float32`` (``--dtype
float32``) and, with ``--baseline-rev REV``, the code of that git revision (exported with
``git archive`` into a temporary folder; its output is float32, written through a contiguous
copy) as the baseline of the ratios. ``--slices N`` takes N adjacent files from the middle of
the series for a quicker run. ``--rounds R`` repeats the runs interleaved and reports medians.

``--write-stage`` instead times only the writing of a x2 output of the series (the input
bilinearly upsampled, in this process, no model): the old way (a contiguous transposed copy,
float32), ``save_nifti`` from the transposed view (float32), and the stream of the new runs
(plane by plane in the input's type), with the Python-side peak memory each needs
(``tracemalloc``).

Not a test: the numbers depend on the machine and its load (run it alone:
``flock /tmp/medsr-bench.lock python benchmarks/volume.py --slices 24``).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_SERIES = Path(os.environ.get("MEDSR_DATA", "/work/shared/data")) / "dicom" / "vs_seg_001_t1"
#: ``python -c WRAPPER LOG CMD...``: runs CMD (its stdout into LOG) and prints its exit
#: status, peak RSS (kB) and wall seconds as JSON.
WRAPPER = """
import json, resource, subprocess, sys, time
start = time.perf_counter()
with open(sys.argv[1], "w") as log:
    rc = subprocess.run(sys.argv[2:], stdout=log).returncode
wall = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({"rc": rc, "peak_kb": peak, "wall_s": wall}))
"""
TIMING_RE = re.compile(r"timing: (\d+) slices, model ([0-9.]+) s")


@dataclass
class Run:
    """One measured command run."""

    seconds: float
    peak_mb: float
    file_mb: float
    model_s: float | None


def select_slices(series: Path, count: int | None, folder: Path) -> tuple[Path, int]:
    """``series`` itself, or a copy of ``count`` adjacent files from its middle."""
    files = sorted(p for p in series.iterdir() if p.is_file())
    if count is None or count >= len(files):
        return series, len(files)
    start = (len(files) - count) // 2
    subset = folder / "series"
    subset.mkdir()
    for path in files[start:start + count]:
        shutil.copy(path, subset / path.name)
    return subset, count


def export_revision(rev: str, folder: Path) -> Path:
    """The source tree of git revision ``rev`` (with its bundled models) under ``folder``."""
    tree = folder / f"src-{rev}"
    tree.mkdir()
    archive = subprocess.run(["git", "-C", str(REPO), "archive", rev], check=True,
                             capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
    return tree


def run_once(source: Path, series: Path, out: Path, options: list[str], tree: Path,
             python: str) -> Run:
    """One ``medsr sr`` run from source tree ``tree`` in a fresh wrapper process."""
    out.unlink(missing_ok=True)
    command = [python, "-m", "medsr_viewer.cli", "sr", str(series), str(out), "--model",
               "sr-x2", "--force", "--quiet", *options]
    env = {**os.environ, "PYTHONPATH": str(tree)}
    log = out.parent / f"{out.name}.log"
    done = subprocess.run([python, "-c", WRAPPER, str(log), *command], cwd=tree, env=env,
                          capture_output=True, text=True, check=False)
    try:
        report = json.loads(done.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise SystemExit(f"{source}: wrapper failed: {done.stdout}{done.stderr}") from None
    if report["rc"] != 0:
        raise SystemExit(f"{source}: medsr sr failed (exit {report['rc']}): {done.stderr}")
    match = TIMING_RE.search(log.read_text())
    return Run(report["wall_s"], report["peak_kb"] / 1024.0, out.stat().st_size / 1e6,
               float(match.group(2)) if match else None)


def _median(values: list[float]) -> float:
    return statistics.median(values)


def table(results: dict[str, list[Run]], slices: int, baseline: str) -> str:
    """Markdown table of the medians, with ratios against ``baseline``."""
    base = results[baseline]
    b_s, b_mb, b_file = (_median([getattr(r, k) for r in base])
                         for k in ("seconds", "peak_mb", "file_mb"))
    header = ("| run | seconds | slices/s | peak RSS (MB) | file (MB) | model s (sum) | "
              "other s | speed-up | RSS ratio | size ratio |")
    lines = [header, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for name, runs in results.items():
        seconds = _median([r.seconds for r in runs])
        peak = _median([r.peak_mb for r in runs])
        size = _median([r.file_mb for r in runs])
        models = [r.model_s for r in runs if r.model_s is not None]
        model = f"{_median(models):.1f}" if models else "–"
        other = f"{seconds - _median(models):.1f}" if models else "–"
        lines.append(f"| {name} | {seconds:.1f} | {slices / seconds:.2f} | {peak:.0f} | "
                     f"{size:.1f} | {model} | {other} | {b_s / seconds:.2f}× | "
                     f"{peak / b_mb:.2f} | {size / b_file:.2f} |")
    return "\n".join(lines)


def write_stage(series: Path, folder: Path) -> str:
    """Markdown table: seconds, traced peak and file size of three ways to write the output."""
    import tracemalloc

    import nibabel as nib
    import numpy as np
    from scipy.ndimage import zoom

    sys.path.insert(0, str(REPO))
    from medsr_viewer.core.io import load_volume
    from medsr_viewer.core.nifti_stream import NiftiPlaneWriter, planned_volume
    from medsr_viewer.core.quantise import output_quantisation
    from medsr_viewer.core.writers import _nifti_image, save_nifti

    source = load_volume(series)
    quantisation = output_quantisation(source)
    planes = np.stack([zoom(plane, 2, order=1) for plane in source.voxels]).astype(np.float32)
    volume = source.with_voxels(planes, metadata={})
    results = []

    def old(path: Path) -> None:
        data = np.ascontiguousarray(volume.voxels.transpose(2, 1, 0))
        nib.save(_nifti_image(data, volume, "", None), str(path))

    def view(path: Path) -> None:
        save_nifti(volume, path)

    def stream(path: Path) -> None:
        writer = NiftiPlaneWriter(str(path), planned_volume(volume, np.float32), quantisation)
        try:
            for index, plane in enumerate(volume.voxels):
                writer.put(index, plane)
            writer.finish()
        finally:
            writer.close()

    stored = quantisation.dtype if quantisation else "float32"
    for name, write in [("before: contiguous copy, float32", old),
                        ("save_nifti from the view, float32", view),
                        (f"stream, plane by plane, {stored}", stream)]:
        path = folder / f"{write.__name__}.nii.gz"
        tracemalloc.start()
        start = time.perf_counter()
        write(path)
        seconds = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        results.append((name, seconds, peak / 1e6, path.stat().st_size / 1e6))
    base = results[0][1]
    title = (f"writing {planes.shape[0]}x{planes.shape[1]}x{planes.shape[2]} voxels "
             f"({planes.nbytes / 1e6:.0f} MB float32) to .nii.gz:\n")
    lines = [title,
             "| write | seconds | extra memory (MB) | file (MB) | speed-up |",
             "|---|---:|---:|---:|---:|"]
    lines += [f"| {name} | {sec:.1f} | {peak:.0f} | {size:.1f} | {base / sec:.1f}× |"
              for name, sec, peak, size in results]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--series", type=Path, default=DEFAULT_SERIES, help="DICOM folder")
    parser.add_argument("--slices", type=int, default=None, metavar="N",
                        help="N adjacent files from the middle of the series (default: all)")
    parser.add_argument("--baseline-rev", metavar="REV",
                        help="also run the code of this git revision (the ratios' baseline)")
    parser.add_argument("--rounds", type=int, default=1, help="interleaved repetitions")
    parser.add_argument("--runs", default="before,float32,auto",
                        help="comma-separated runs to make (default: all; 'before' needs "
                        "--baseline-rev)")
    parser.add_argument("--python", default=sys.executable, help="interpreter of the runs")
    parser.add_argument("--write-stage", action="store_true",
                        help="time only the writing of the output (no model, in-process)")
    args = parser.parse_args(argv)
    if not args.series.is_dir():
        raise SystemExit(f"{args.series}: series folder not found (set MEDSR_DATA)")
    with tempfile.TemporaryDirectory(prefix="medsr-volume-bench-") as tmp:
        folder = Path(tmp)
        series, slices = select_slices(args.series, args.slices, folder)
        if args.write_stage:
            print(write_stage(series, folder))
            return 0
        wanted = set(args.runs.split(","))
        runs: list[tuple[str, Path, list[str]]] = []
        if args.baseline_rev and "before" in wanted:
            runs.append((f"before ({args.baseline_rev})",
                         export_revision(args.baseline_rev, folder), []))
        if "float32" in wanted:
            runs.append(("float32 (--dtype float32)", REPO, ["--dtype", "float32"]))
        if "auto" in wanted:
            runs.append(("auto (input's type)", REPO, []))
        if not runs:
            raise SystemExit(f"--runs {args.runs}: nothing to run")
        results: dict[str, list[Run]] = {name: [] for name, _, _ in runs}
        started = time.perf_counter()
        for round_ in range(args.rounds):
            for index, (name, tree, options) in enumerate(runs):
                run = run_once(args.series, series, folder / f"out{index}.nii.gz", options,
                               tree, args.python)
                results[name].append(run)
                print(f"round {round_ + 1}: {name}: {run.seconds:.1f} s, {run.peak_mb:.0f} MB,"
                      f" {run.file_mb:.1f} MB file", file=sys.stderr)
        print(f"medsr sr --model sr-x2 on {slices} slices of {args.series.name} "
              f"({os.cpu_count()} CPUs, {args.rounds} round(s), "
              f"{time.perf_counter() - started:.0f} s in all); medians:\n")
        print(table(results, slices, runs[0][0]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
