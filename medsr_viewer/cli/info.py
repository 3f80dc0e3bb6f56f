"""``medsr info PATH``: what a study holds, without opening the viewer.

Prints the geometry (shape, spacing, origin, orientation codes), modality, value range, default
window, the DICOM series found in a folder, and every loading warning. ``--json`` prints the
same facts as one strict JSON object for scripts (a non-finite number, which JSON cannot
hold, is printed as ``null``). No patient-identifying attribute is ever shown.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np
from nibabel.orientations import aff2axcodes

from medsr_viewer.cli.main import CliError
from medsr_viewer.core.io import LoadError, SeriesInfo, discover_series, load_volume
from medsr_viewer.core.strict_json import json_safe
from medsr_viewer.core.volume import Volume

#: (negative, positive) direction labels of the LPS world axes x, y, z.
LPS_LABELS = (("R", "L"), ("A", "P"), ("I", "S"))


def register(subparsers: Any) -> None:
    """Add the ``info`` subcommand to the ``medsr`` parser."""
    parser = subparsers.add_parser(
        "info",
        help="describe a study (DICOM folder/file, NIfTI, image)",
        description="Print geometry, modality, value range, series and warnings of a study.",
    )
    parser.add_argument("path", type=Path, help="DICOM folder or file, NIfTI/MGH file, or image")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--series", metavar="UID", help="SeriesInstanceUID to describe")
    parser.set_defaults(func=run)


def axis_codes(affine: np.ndarray) -> str:
    """Patient directions of the voxel x, y, z axes in LPS terms, e.g. ``"LPS"`` or ``"RAS"``."""
    codes = aff2axcodes(affine, labels=LPS_LABELS)
    return "".join(code if code is not None else "?" for code in codes)


def _series_entry(series: SeriesInfo) -> dict[str, Any]:
    """JSON-ready summary of one discovered series."""
    return {
        "uid": series.uid,
        "number": series.series_number,
        "description": series.description,
        "modality": series.modality,
        "slices": series.n_slices,
        "rows": series.rows,
        "cols": series.cols,
        "files": len(series.files),
    }


def describe(volume: Volume, series: list[SeriesInfo]) -> dict[str, Any]:
    """The facts ``medsr info`` reports about a loaded volume, as JSON-ready values."""
    meta = volume.metadata
    low, high = volume.value_range()
    return {
        "source": meta.get("source", ""),
        "format": meta.get("format", ""),
        "name": volume.name,
        "modality": volume.modality,
        "shape": list(volume.shape),
        "spacing": [round(v, 6) for v in volume.spacing],
        "origin": [round(v, 4) for v in volume.origin],
        "orientation": axis_codes(volume.affine),
        "affine": [[round(float(v), 6) for v in row] for row in volume.affine],
        "dtype": str(volume.voxels.dtype),
        "source_dtype": meta.get("source_dtype"),
        "value_range": [low, high],
        "window": None if volume.window is None else list(volume.window),
        "stored_windows": [list(w) for w in meta.get("stored_windows", [])],
        "slice_axis": meta.get("slice_axis"),
        "series_uid": meta.get("series_uid"),
        "transfer_syntax": meta.get("transfer_syntax_name"),
        "series": [_series_entry(s) for s in series],
        "warnings": list(volume.warnings),
    }


def to_json(facts: dict[str, Any]) -> str:
    """One line of strict JSON (no NaN/Infinity: such numbers become ``null``)."""
    return json.dumps(json_safe(facts), allow_nan=False)


def _fmt_triplet(values: list[float], unit: str = "") -> str:
    """``a x b x c`` with compact numbers."""
    return " x ".join(f"{v:.6g}" for v in values) + unit


def format_text(facts: dict[str, Any]) -> str:
    """Human-readable report of :func:`describe`'s facts."""
    lines = [
        f"source:       {facts['source']}",
        f"format:       {facts['format']}",
        f"name:         {facts['name']}",
        f"modality:     {facts['modality']}",
        f"shape (z,y,x): {_fmt_triplet(facts['shape'])}",
        f"spacing (mm): {_fmt_triplet(facts['spacing'])}",
        f"origin (LPS mm): {', '.join(f'{v:.6g}' for v in facts['origin'])}",
        f"orientation:  {facts['orientation']} (voxel x, y, z axes point towards)",
        f"dtype:        {facts['dtype']}"
        + (f" (stored as {facts['source_dtype']})" if facts.get("source_dtype") else ""),
        f"value range:  {facts['value_range'][0]:.6g} .. {facts['value_range'][1]:.6g}",
        "window:       "
        + ("none" if facts["window"] is None
           else f"center {facts['window'][0]:.6g}, width {facts['window'][1]:.6g}"),
    ]
    stored = facts.get("stored_windows") or []
    if stored and stored[0][2]:
        lines[-1] += f" ({stored[0][2]})"
    lines.extend(f"              center {c:.6g}, width {w:.6g}" + (f" ({e})" if e else "")
                 for c, w, e in stored[1:])
    if facts.get("transfer_syntax"):
        lines.append(f"transfer syntax: {facts['transfer_syntax']}")
    if facts.get("series_uid"):
        lines.append(f"series uid:   {facts['series_uid']}")
    if len(facts["series"]) > 1:
        lines.append(f"series ({len(facts['series'])}):")
        for entry in facts["series"]:
            number = "" if entry["number"] is None else f"#{entry['number']} "
            lines.append(
                f"  {number}{entry['description'] or '(no description)'} [{entry['modality']}] "
                f"{entry['slices']} slices {entry['rows']}x{entry['cols']}  uid {entry['uid']}"
            )
    lines.append(f"warnings ({len(facts['warnings'])}):" if facts["warnings"] else "warnings: none")
    lines.extend(f"  - {warning}" for warning in facts["warnings"])
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Load ``args.path`` and print its description; unreadable input raises CliError."""
    try:
        volume = load_volume(args.path, series_uid=args.series)
        series = discover_series(args.path) if args.path.is_dir() else []
    except LoadError as exc:
        raise CliError(str(exc)) from exc
    facts = describe(volume, series)
    if args.json:
        print(to_json(facts))
    else:
        print(format_text(facts))
    return 0
