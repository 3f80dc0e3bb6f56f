"""Benchmark: ``medsr batch`` on 8 studies with 1 and 2 Dask workers against a plain loop.

Makes ``--studies`` copies of a real volume (default: the axial slices ``--slices`` of
``chris_t1``) and runs the bundled ``sr-x2`` (or ``--model``) over them three ways in the same
run: a plain loop in this process (:func:`medsr_viewer.models.batch.process_study` one after
the other, the model loaded once), and ``medsr batch`` on a ``LocalCluster`` of 1 and of 2
worker processes (cluster start and each worker's model load included, as a user pays them).
Prints a table: seconds, studies/s, speed-up against 1 worker, and the per-study overhead of
the cluster against the loop ``(t_cluster(1) - t_loop) / n``.

Usage: ``python benchmarks/batch.py [--studies 8] [--slices 8] [--model sr-x2]``
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a source checkout

DATA = Path(os.environ.get("MEDSR_DATA", Path(__file__).resolve().parents[1].parent / "shared"
                           / "data"))


def make_studies(folder: Path, count: int, slices: int) -> Path:
    """``count`` NIfTI copies of ``slices`` axial slices of chris_t1."""
    import nibabel as nib
    import numpy as np

    image = nib.load(DATA / "mri_ct" / "chris_t1.nii.gz")
    data = np.asarray(image.dataobj, dtype=np.float32)
    mid = data.shape[2] // 2
    part = data[:, :, mid - slices // 2: mid - slices // 2 + slices]
    studies = folder / "studies"
    studies.mkdir()
    for k in range(count):
        nib.save(nib.Nifti1Image(part, image.affine), studies / f"study{k:02d}.nii.gz")
    return studies


def main() -> int:
    """Run the comparison and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--studies", type=int, default=8)
    parser.add_argument("--slices", type=int, default=8)
    parser.add_argument("--model", default="sr-x2")
    args = parser.parse_args()

    from medsr_viewer.cli.main import main as medsr
    from medsr_viewer.models.batch import plan_studies, process_study

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        studies = make_studies(root, args.studies, args.slices)
        times: dict[str, float] = {}
        start = time.perf_counter()
        for item in plan_studies([studies], root / "loop"):
            row = process_study(item, "sr", args.model, "cpu")
            assert row.status == "done", row.error
        times["plain loop (1 process)"] = time.perf_counter() - start
        for workers in (1, 2):
            out = root / f"dask{workers}"
            start = time.perf_counter()
            status = medsr(["batch", str(studies), "--task", "sr", "--model", args.model,
                            "--out", str(out), "--workers", str(workers), "--quiet"])
            times[f"medsr batch, {workers} worker{'s' if workers > 1 else ''}"] = (
                time.perf_counter() - start)
            assert status == 0
            shutil.rmtree(out)
    n = args.studies
    one = times["medsr batch, 1 worker"]
    print(f"{n} studies of {args.slices} slices, model {args.model}, {os.cpu_count()} CPUs")
    print(f"{'run':<28}{'seconds':>9}{'studies/s':>11}{'vs 1 worker':>13}")
    for name, seconds in times.items():
        print(f"{name:<28}{seconds:>9.1f}{n / seconds:>11.2f}{one / seconds:>12.2f}x")
    overhead = (one - times["plain loop (1 process)"]) / n
    print(f"per-study overhead of the cluster (1 worker vs loop): {overhead:+.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
