"""ROIs to and from JSON (the ROI export format, also embedded in session files).

Floats are written with Python's shortest round-trip representation, so an exported ROI set
re-imports exactly (equal planes, vertices and ids). Format::

    {"format": "medsr-rois", "version": 1,
     "rois": [{"kind": "ellipse", "id": "...", "name": "...", "color": [r, g, b],
               "plane": {"origin": [x, y, z], "u": [...], "v": [...]},
               "params": {"cu": 0.0, "cv": 0.0, "ru": 5.0, "rv": 5.0},
               "world_outline": [[x, y, z], ...]}]}

``world_outline`` is written for other tools' convenience and ignored on import. Rulers and
angles (:mod:`~medsr_viewer.core.roi.measurements`) are entries of kind ``"ruler"``
(``params``: ``start``, ``end``) and ``"angle"`` (``first``, ``vertex``, ``second``), with
``"measurement": {"value": 23.4, "unit": "mm" | "deg"}`` for other tools (ignored on import).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from medsr_viewer.core.atomic import write_text_atomic
from medsr_viewer.core.roi.measurements import MEASUREMENT_KINDS, Measurement
from medsr_viewer.core.roi.plane import Plane
from medsr_viewer.core.roi.shapes import (
    ROI_KINDS,
    BrushRoi,
    BrushStroke,
    PolygonRoi,
    Roi,
)

#: Every kind an ROI document may hold: the area shapes and the measurements.
ALL_KINDS: dict[str, type[Roi]] = {**ROI_KINDS, **MEASUREMENT_KINDS}

ROI_FORMAT = "medsr-rois"
ROI_FORMAT_VERSION = 1


class RoiFormatError(ValueError):
    """An ROI file or JSON document is unreadable or malformed (message names the problem)."""


def roi_to_dict(roi: Roi) -> dict[str, Any]:
    """JSON-ready dict of one ROI (a measurement also gets its ``value`` and ``unit``)."""
    data: dict[str, Any] = {
        "kind": roi.kind,
        "id": roi.roi_id,
        "name": roi.name,
        "color": list(roi.color),
        "plane": roi.plane.to_dict(),
        "params": roi.params(),
        "world_outline": roi.outline_world(64).tolist(),
    }
    if isinstance(roi, Measurement):
        value = roi.value
        data["measurement"] = {"value": value if math.isfinite(value) else None,
                               "unit": "mm" if roi.kind == "ruler" else "deg"}
    return data


def roi_from_dict(data: dict[str, Any]) -> Roi:
    """Rebuild one ROI from :func:`roi_to_dict` output; raises :class:`RoiFormatError`."""
    try:
        kind = data["kind"]
        cls = ALL_KINDS.get(kind)
        if cls is None:
            raise RoiFormatError(f"unknown ROI kind {kind!r}")
        params = dict(data["params"])
        if issubclass(cls, PolygonRoi):
            params["vertices"] = tuple(tuple(p) for p in params["vertices"])
        elif issubclass(cls, BrushRoi):
            params["strokes"] = tuple(
                BrushStroke(tuple(tuple(p) for p in s["points"]), float(s["radius"]),
                            bool(s.get("erase", False)))
                for s in params["strokes"]
            )
        color = tuple(int(c) for c in data.get("color", (255, 255, 0)))
        if len(color) != 3:
            raise RoiFormatError(f"ROI colour must have 3 components, got {color}")
        return cls(
            Plane.from_dict(data["plane"]),
            roi_id=str(data["id"]),
            name=str(data.get("name", "")),
            color=(color[0], color[1], color[2]),
            **params,
        )
    except RoiFormatError:
        raise
    except (KeyError, TypeError, ValueError) as exc:
        raise RoiFormatError(f"malformed ROI entry: {exc.__class__.__name__}: {exc}") from exc


def rois_to_json(rois: Iterable[Roi]) -> str:
    """Serialise ROIs to the JSON document described in the module docstring."""
    doc = {
        "format": ROI_FORMAT,
        "version": ROI_FORMAT_VERSION,
        "rois": [roi_to_dict(r) for r in rois],
    }
    return json.dumps(doc, indent=1)


def rois_from_json(text: str | bytes) -> list[Roi]:
    """Parse a JSON ROI document (or a bare list of ROI dicts)."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RoiFormatError(f"not valid JSON: {exc}") from exc
    return rois_from_data(doc)


def rois_from_data(doc: Any) -> list[Roi]:
    """ROIs from an already-parsed JSON document (dict with ``rois`` or a list)."""
    if isinstance(doc, dict):
        if doc.get("format", ROI_FORMAT) != ROI_FORMAT:
            raise RoiFormatError(f"not an ROI document (format {doc.get('format')!r})")
        if int(doc.get("version", 1)) > ROI_FORMAT_VERSION:
            raise RoiFormatError(f"ROI format version {doc['version']} is newer than supported")
        items = doc.get("rois")
    else:
        items = doc
    if not isinstance(items, list):
        raise RoiFormatError("ROI document holds no list of ROIs")
    return [roi_from_dict(item) for item in items]


def save_rois(rois: Iterable[Roi], path: str | os.PathLike[str]) -> Path:
    """Write ROIs to a JSON file atomically (temporary file, then rename)."""
    target = Path(path)
    write_text_atomic(target, rois_to_json(rois))
    return target


def load_rois(path: str | os.PathLike[str]) -> list[Roi]:
    """Read an ROI JSON file; raises :class:`RoiFormatError` naming the file and problem."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RoiFormatError(f"{path}: cannot read ROI file ({exc})") from exc
    try:
        return rois_from_json(text)
    except RoiFormatError as exc:
        raise RoiFormatError(f"{path}: {exc}") from exc
