"""CSV and JSON export of ROI and overlap metrics, with the provenance needed to trust them.

Every exported row carries its context: the image ``file``, DICOM ``series`` UID, ``slice``
(index, or ``"volume"``), ``label`` (value and name), the ROI id and name, the ``grid`` the
numbers were computed on (``original``, ``sr`` or ``delta`` for SR − original), and the
``model`` name and its weights' ``sha256``. Metric columns follow (the union of all rows'
metric names, in first-seen order).

The CSV and the JSON hold the same numbers: floats are written with Python's shortest
round-trip representation in both. Non-finite values (``nan`` for undefined, ``inf`` for a
Hausdorff distance to an empty mask) are written as empty CSV cells and JSON ``null``.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import numpy as np

from medsr_viewer.core.atomic import write_text_atomic
from medsr_viewer.core.geometry import PLANE_AXES, DisplayVolume, Orientation
from medsr_viewer.core.labels.labelmap import LabelMap
from medsr_viewer.core.metrics.overlap import OverlapMetrics, roi_label_overlap
from medsr_viewer.core.metrics.roi_stats import (
    PairedRoiStats,
    paired_roi_statistics,
    roi_statistics,
)
from medsr_viewer.core.roi.rasterize import plane_slice_index
from medsr_viewer.core.roi.shapes import Roi
from medsr_viewer.core.volume import Volume

METRICS_FORMAT = "medsr-metrics"
METRICS_FORMAT_VERSION = 1

Number = float | int | None


@dataclass(frozen=True)
class MetricRecord:
    """One exported row: context columns plus named metric values."""

    file: str = ""
    series: str = ""
    slice: str = "volume"
    label: str = ""
    roi_id: str = ""
    roi_name: str = ""
    grid: str = ""
    model: str = ""
    sha256: str = ""
    metrics: Mapping[str, Number] = field(default_factory=dict)


#: Context column names in export order.
CONTEXT_COLUMNS = tuple(f.name for f in fields(MetricRecord) if f.name != "metrics")


def records_from_paired_stats(paired: PairedRoiStats, base: MetricRecord) -> list[MetricRecord]:
    """Three rows (``original``, ``sr``, ``delta``) for one ROI's paired statistics."""
    return [
        replace(base, grid="original", metrics=paired.original.to_dict()),
        replace(base, grid="sr", metrics=paired.sr.to_dict()),
        replace(base, grid="delta", metrics=paired.delta),
    ]


def records_from_overlap(metrics: OverlapMetrics, base: MetricRecord) -> MetricRecord:
    """One row for an overlap comparison (size columns named by their unit)."""
    values: dict[str, Number] = {
        "dice": metrics.dice,
        "iou": metrics.iou,
        "hd95_mm": metrics.hd95_mm,
        "hd_max_mm": metrics.hd_max_mm,
        "ref_count": metrics.ref_count,
        "test_count": metrics.test_count,
        "intersection_count": metrics.intersection_count,
        f"ref_{metrics.unit}": metrics.ref_size_mm,
        f"test_{metrics.unit}": metrics.test_size_mm,
    }
    return replace(base, metrics=values)


def pane_slice_text(volume: Volume, axis: int, index: int) -> str:
    """How the viewer's pane names stored slice ``index`` along array ``axis`` (z, y, x) of
    ``volume``: the display plane and its 1-based slice number, ``"axial 68"`` for the slice
    whose pane caption reads ``axial 68/140`` (display planes are reoriented, so the number
    can differ from the stored index)."""
    display = DisplayVolume(volume)
    # canonical (x, y, z) column of to_source that feeds stored axis ``axis``
    column = int(np.argmax(np.abs(display.to_source[2 - axis, :3])))
    canonical_axis = 2 - column
    point = np.zeros(3)
    point[axis] = index
    position = round(float(display.voxel_to_canonical(point)[canonical_axis]))
    plane = next(o for o in Orientation if PLANE_AXES[o].slice_axis == canonical_axis)
    return f"{plane.value} {position + 1}"


def measure_roi(
    roi: Roi,
    original: Volume,
    sr: Volume | None = None,
    label_map: LabelMap | None = None,
    label_value: int | None = None,
    base: MetricRecord | None = None,
) -> list[MetricRecord]:
    """Every metric of one ROI as export rows: what the metrics panel shows and CSV/JSON hold.

    Rows: ROI statistics on the ``original`` grid; with ``sr``, statistics on the SR grid and
    the ``delta`` (SR − original); with ``label_map`` and ``label_value``, the overlap of the
    ROI against that label on each grid (the label resampled onto the grid by nearest
    neighbour), merged into the same rows. ``slice`` names the ROI's slice as the viewer's
    pane does when it lies on one slice of the original grid (``"axial 68"``: plane and
    1-based number, see :func:`pane_slice_text`).
    """
    base = base or MetricRecord()
    located = plane_slice_index(roi.plane, original)
    slice_text = base.slice
    if located is not None:
        slice_text = pane_slice_text(original, *located)
    label_text = base.label
    if label_map is not None and label_value is not None:
        label_text = f"{label_value} {label_map.table.name(label_value)}"
    base = replace(base, roi_id=roi.roi_id, roi_name=roi.name, slice=slice_text,
                   label=label_text)

    def overlap_on(grid: Volume) -> dict[str, Number]:
        if label_map is None or label_value is None:
            return {}
        labels = label_map.on_grid(grid).labels
        row = records_from_overlap(roi_label_overlap(roi, labels, label_value, grid), base)
        return dict(row.metrics)

    if sr is None:
        stats = roi_statistics(original, original.voxels, roi)
        return [replace(base, grid="original",
                        metrics={**stats.to_dict(), **overlap_on(original)})]
    paired = paired_roi_statistics(roi, original, original.voxels, sr, sr.voxels)
    rows = records_from_paired_stats(paired, base)
    rows[0] = replace(rows[0], metrics={**rows[0].metrics, **overlap_on(original)})
    rows[1] = replace(rows[1], metrics={**rows[1].metrics, **overlap_on(sr)})
    return rows


def metric_columns(records: Iterable[MetricRecord]) -> list[str]:
    """Union of metric names over ``records`` in first-seen order."""
    seen: dict[str, None] = {}
    for record in records:
        for key in record.metrics:
            seen.setdefault(key, None)
    return list(seen)


def to_csv(records: Sequence[MetricRecord]) -> str:
    """CSV text: context columns, then metric columns (see module doc)."""
    columns = metric_columns(records)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([*CONTEXT_COLUMNS, *columns])
    for record in records:
        context = [getattr(record, name) for name in CONTEXT_COLUMNS]
        writer.writerow([*context, *(_csv_cell(record.metrics.get(c)) for c in columns)])
    return buffer.getvalue()


def to_json(records: Sequence[MetricRecord]) -> str:
    """JSON text ``{"format": "medsr-metrics", "version": 1, "records": [...]}``."""
    doc = {
        "format": METRICS_FORMAT,
        "version": METRICS_FORMAT_VERSION,
        "records": [
            {**{name: getattr(r, name) for name in CONTEXT_COLUMNS},
             "metrics": {k: _json_value(v) for k, v in r.metrics.items()}}
            for r in records
        ],
    }
    return json.dumps(doc, indent=1, allow_nan=False)


def write_metrics_csv(records: Sequence[MetricRecord], path: str | os.PathLike[str]) -> Path:
    """Write :func:`to_csv` output atomically."""
    target = Path(path)
    write_text_atomic(target, to_csv(records))
    return target


def write_metrics_json(records: Sequence[MetricRecord], path: str | os.PathLike[str]) -> Path:
    """Write :func:`to_json` output atomically."""
    target = Path(path)
    write_text_atomic(target, to_json(records))
    return target


def read_metrics_csv(path: str | os.PathLike[str]) -> list[MetricRecord]:
    """Read a metrics CSV written by :func:`write_metrics_csv` (empty cells become ``None``)."""
    with Path(path).open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    records = []
    for row in rows:
        context = {name: row.pop(name, "") for name in CONTEXT_COLUMNS}
        metrics = {k: (None if v == "" else _number(v)) for k, v in row.items()}
        records.append(MetricRecord(**context, metrics=metrics))
    return records


def read_metrics_json(path: str | os.PathLike[str]) -> list[MetricRecord]:
    """Read a metrics JSON written by :func:`write_metrics_json`."""
    doc = json.loads(Path(path).read_text(encoding="utf-8"))
    if doc.get("format") != METRICS_FORMAT:
        raise ValueError(f"{path}: not a metrics export (format {doc.get('format')!r})")
    records = []
    for item in doc["records"]:
        context = {name: str(item.get(name, "")) for name in CONTEXT_COLUMNS}
        records.append(MetricRecord(**context, metrics=dict(item.get("metrics", {}))))
    return records


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, int):
        return str(value)
    number = float(value)
    return repr(number) if math.isfinite(number) else ""


def _json_value(value: Any) -> Number:
    if value is None or isinstance(value, int) and not isinstance(value, bool):
        return value  # type: ignore[no-any-return]
    number = float(value)
    return number if math.isfinite(number) else None


def _number(text: str) -> float | int:
    try:
        return int(text)
    except ValueError:
        return float(text)
