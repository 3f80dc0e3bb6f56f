"""``medsr convert INPUT OUT.nii.gz [--series UID]``: a study as NIfTI with JSON sidecars.

Writes the study as the viewer loads it: the RAS affine in sform and qform, 4-D when the
series holds several volumes (DWI directions, fMRI time points, echoes ...), values after
rescale, colour kept as RGB24, and a BIDS-style JSON sidecar beside each file with the
per-volume labels and no patient identifier. A series holding several kinds of image
(magnitude and phase, a field map's magnitude and Hz map, derived ADC ...) gives one file per
kind: ``OUT.nii.gz`` for the shown kind and ``OUT_<Kind>.nii.gz`` for the others. Where no
image can be made, or an output may not be written, it exits with status 2 and one line
naming the file and the reason.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from medsr_viewer.cli.main import CliError
from medsr_viewer.core.io import LoadError, load_study
from medsr_viewer.core.study_writer import save_study
from medsr_viewer.core.writers import WriteError


def register(subparsers: Any) -> None:
    """Add the ``convert`` subcommand to the ``medsr`` parser."""
    parser = subparsers.add_parser(
        "convert",
        help="write a study (DICOM folder/file, NIfTI) as NIfTI + JSON sidecar",
        description="Convert a study to NIfTI (4-D for multi-volume series) with BIDS-style "
        "JSON sidecars holding the per-volume labels and no patient identifiers.",
    )
    parser.add_argument("input", type=Path, help="DICOM folder or file, or NIfTI/MGH file")
    parser.add_argument("output", type=Path, help="output .nii or .nii.gz")
    parser.add_argument("--series", metavar="UID", help="SeriesInstanceUID to convert")
    parser.add_argument("--force", action="store_true", help="overwrite existing outputs")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Load ``args.input`` and write it; load and write failures raise :class:`CliError`."""
    try:
        study = load_study(args.input, series_uid=args.series)
    except LoadError as exc:
        raise CliError(str(exc)) from exc
    input_path = args.input if args.input.is_file() else None
    try:
        written = save_study(study, args.output, input_path=input_path, force=args.force)
    except WriteError as exc:
        raise CliError(str(exc)) from exc
    for path in written:
        print(path)
    return 0
