"""``medsr derive RESULT --source DICOM_DIR --out DIR``: a model's result as a derived DICOM
series of its source study.

``RESULT`` is an output of ``medsr sr`` / ``medsr enhance`` (NIfTI; its provenance names the
model, version and weights SHA-256: :func:`medsr_viewer.core.writers.read_nifti_provenance`);
``--source`` the DICOM series it was made from. The series written (see
:mod:`medsr_viewer.core.io.derived_series`) reopens in any DICOM viewer on the result's own
grid, in the source's study. The result must lie in the source's patient space: its world
extent must overlap the source's.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

from medsr_viewer import __version__
from medsr_viewer.cli.main import CliError
from medsr_viewer.core.io import LoadError, load_volume
from medsr_viewer.core.io.derived_series import (
    Derivation,
    DerivedSeriesError,
    write_derived_series,
)
from medsr_viewer.core.volume import Volume
from medsr_viewer.core.writers import read_nifti_provenance

TASK_WORDS = {"super_resolution": "super-resolution", "enhance": "enhancement",
              "through_plane_sr": "through-plane super-resolution"}


def register(subparsers: Any) -> None:
    """Add the ``derive`` subcommand to the ``medsr`` parser."""
    parser = subparsers.add_parser(
        "derive", help="write a model's result as a derived DICOM series of its source study",
        description="A medsr sr/enhance output (NIfTI) as a derived DICOM series (new UIDs, "
                    "DERIVED\\SECONDARY, the model in DerivationDescription) of the DICOM "
                    "series it was made from.")
    parser.add_argument("result", type=Path, help="medsr sr / enhance output (NIfTI)")
    parser.add_argument("--source", required=True, type=Path,
                        help="the DICOM series (folder or files) the result was made from")
    parser.add_argument("--out", required=True, type=Path, help="new folder for the series")
    parser.add_argument("--description", default="", help="SeriesDescription (default: the "
                                                         "source's and the model's name)")
    parser.set_defaults(func=run)


def _extent(volume: Volume) -> tuple[np.ndarray, np.ndarray]:
    z, y, x = volume.shape
    corners = np.array([[i, j, k, 1.0] for i in (-0.5, x - 0.5) for j in (-0.5, y - 0.5)
                        for k in (-0.5, z - 0.5)])
    world = (volume.affine @ corners.T)[:3].T
    return world.min(axis=0), world.max(axis=0)


def run(args: argparse.Namespace) -> int:
    """Execute ``medsr derive``."""
    try:
        result = load_volume(args.result)
        source = load_volume(args.source)
    except LoadError as exc:
        raise CliError(str(exc)) from exc
    try:
        provenance = read_nifti_provenance(args.result)
    except (OSError, ValueError) as exc:
        raise CliError(f"{args.result}: no medsr provenance ({exc})") from exc
    if not provenance.get("model"):
        raise CliError(f"{args.result}: not a medsr sr/enhance output (no model in its "
                       "provenance)")
    (lo_r, hi_r), (lo_s, hi_s) = _extent(result), _extent(source)
    if np.any(np.minimum(hi_r, hi_s) - np.maximum(lo_r, lo_s) <= 0):
        raise CliError(f"{args.result}: does not overlap {args.source} in patient space; "
                       "not a result of this series")
    derivation = Derivation(
        model=str(provenance["model"]), model_version=str(provenance.get("model_version", "")),
        weights_sha256=str(provenance.get("sha256") or provenance.get("file_sha256", "")),
        software_version=__version__,
        what=TASK_WORDS.get(str(provenance.get("task", "")), "processing"))
    try:
        files = write_derived_series(result, source, args.out, derivation,
                                     args.description)
    except DerivedSeriesError as exc:
        raise CliError(str(exc)) from exc
    print(f"wrote {len(files)} files to {args.out} ({derivation.description()})")
    return 0
