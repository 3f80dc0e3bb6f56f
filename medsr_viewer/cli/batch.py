"""``medsr batch INPUTS... --task sr|enhance|segment|convert --model M --out DIR``.

Runs one study per task on Dask distributed: a ``LocalCluster`` of ``--workers`` processes
(one thread each, so each holds one model and one study) by default, or an existing cluster
with ``--scheduler ADDRESS`` (e.g. ``tcp://head:8786``; with ``dask-jobqueue`` start a
``SLURMCluster``/``PBSCluster`` and pass its ``scheduler_address``). Each worker loads the
model once; a study whose output exists with the same model (provenance) is skipped, so a
batch can be run again after an interruption; a failing study is reported and never stops the
rest. A progress bar on stderr; ``batch_report.csv`` in ``DIR`` (study, status, seconds,
output, error, worker). Exit status 0 when no study failed, 1 otherwise.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from medsr_viewer.cli.main import CliError
from medsr_viewer.cli.progress import ProgressBar


def register(subparsers: Any) -> None:
    """Add the ``batch`` subcommand to the ``medsr`` parser."""
    parser = subparsers.add_parser(
        "batch", help="run a model (or convert) over many studies on a Dask cluster",
        description="One study per task on Dask distributed; resumable; a report CSV.")
    parser.add_argument("inputs", nargs="+",
                        help="study files, DICOM folders, folders of studies or .csv manifests")
    parser.add_argument("--task", required=True, choices=("sr", "enhance", "segment",
                                                         "convert"))
    parser.add_argument("--model", help="model name or file (not for convert)")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--workers", type=int, default=2,
                        help="local worker processes (default 2; ignored with --scheduler)")
    parser.add_argument("--scheduler", help="address of a running Dask scheduler")
    parser.add_argument("--device", default="auto",
                        help="auto (one GPU per worker when present, else CPU), cpu, cuda:N")
    parser.add_argument("--axis", type=int, choices=(0, 1, 2),
                        help="slice axis (default: each study's acquired one)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Execute ``medsr batch``."""
    from medsr_viewer.models.batch import BatchError, plan_studies, process_study, write_report

    if args.task != "convert" and not args.model:
        raise CliError(f"--model NAME|PATH is required for --task {args.task}")
    if args.workers < 1:
        raise CliError(f"--workers {args.workers}: at least 1")
    try:
        items = plan_studies(args.inputs, args.out)
    except BatchError as exc:
        raise CliError(str(exc)) from exc
    try:
        from distributed import Client, LocalCluster, as_completed
    except ImportError as exc:
        raise CliError("medsr batch needs dask distributed (pip install 'dask[distributed]')"
                       ) from exc
    cluster = None
    try:
        if args.scheduler:
            client = Client(args.scheduler, timeout="10s")
        else:
            cluster = LocalCluster(n_workers=args.workers, threads_per_worker=1,
                                   processes=True, dashboard_address=None)
            client = Client(cluster)
    except (OSError, TimeoutError) as exc:
        raise CliError(f"{args.scheduler or 'local cluster'}: cannot connect ({exc})") from exc
    bar = None if args.quiet else ProgressBar(sys.stderr, f"batch {args.task}")
    rows = {}
    try:
        # Local workers share this machine's cores; a cluster's workers keep their own.
        threads = None if args.scheduler else max(1, (os.cpu_count() or 1) // args.workers)
        futures = {client.submit(process_study, item, args.task, args.model, args.device,
                                 args.axis, threads, pure=False): item for item in items}
        for done, future in enumerate(as_completed(futures), start=1):
            row = future.result()
            rows[row.study] = row
            if bar is not None:
                bar.update(done / len(items), f"{done}/{len(items)} ({row.status})")
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    if bar is not None:
        bar.finish()
    ordered = [rows[item.study] for item in items]
    report = write_report(ordered, args.out)
    counts = {s: sum(r.status == s for r in ordered) for s in ("done", "skipped", "failed")}
    print(f"{counts['done']} done, {counts['skipped']} skipped, {counts['failed']} failed; "
          f"report {report}")
    for r in ordered:
        if r.status == "failed":
            print(f"failed: {r.study}: {r.error}", file=sys.stderr)
    return 1 if counts["failed"] else 0
