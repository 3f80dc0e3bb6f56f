"""CSV and JSON metric exports hold the same numbers, with provenance columns."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np

from medsr_viewer.core.metrics.export import (
    CONTEXT_COLUMNS,
    MetricRecord,
    read_metrics_csv,
    read_metrics_json,
    records_from_overlap,
    records_from_paired_stats,
    write_metrics_csv,
    write_metrics_json,
)
from medsr_viewer.core.metrics.overlap import overlap_metrics
from medsr_viewer.core.metrics.roi_stats import paired_roi_statistics
from medsr_viewer.core.roi import EllipseRoi, Plane, rasterize
from medsr_viewer.core.volume import Volume


def _records() -> list[MetricRecord]:
    rng = np.random.default_rng(3)
    native = Volume.from_spacing(rng.normal(100, 20, (2, 40, 40)).astype(np.float32),
                                 (2.0, 0.9, 0.9))
    sr_affine = native.affine.copy()
    sr_affine[:3, :2] /= 2
    sr_affine[:3, 3] -= (native.affine[:3, 0] + native.affine[:3, 1]) / 4
    sr = Volume(np.repeat(np.repeat(native.voxels, 2, 1), 2, 2) + 1.5, sr_affine)
    roi = EllipseRoi(Plane.from_slice(native, 0, 1), cu=17.1, cv=18.3, ru=8, rv=6, name="ROI 1")
    paired = paired_roi_statistics(roi, native, native.voxels, sr, sr.voxels)
    base = MetricRecord(file="/data/study.nii.gz", series="1.2.3", slice="1", label="",
                        roi_id=roi.roi_id, roi_name=roi.name, model="sr-x2",
                        sha256="ab" * 32)
    records = records_from_paired_stats(paired, base)
    labels = np.zeros(native.shape, bool)
    labels[1, 10:25, 10:30] = True
    mask = rasterize(roi, native)
    records.append(records_from_overlap(
        overlap_metrics(labels[1], mask[1], native.spacing[1:]),
        MetricRecord(file="/data/study.nii.gz", slice="1", label="1 lesion",
                     roi_id=roi.roi_id, roi_name=roi.name, grid="original")))
    records.append(records_from_overlap(
        overlap_metrics(np.zeros((4, 4), bool), np.ones((4, 4), bool), (1, 1)),
        MetricRecord(label="2 empty", grid="original")))
    return records


def test_csv_and_json_hold_the_same_numbers(tmp_path: Path) -> None:
    records = _records()
    csv_path = write_metrics_csv(records, tmp_path / "m.csv")
    json_path = write_metrics_json(records, tmp_path / "m.json")
    from_csv = read_metrics_csv(csv_path)
    from_json = read_metrics_json(json_path)
    assert len(from_csv) == len(from_json) == len(records) == 5
    for original, a, b in zip(records, from_csv, from_json, strict=True):
        for name in CONTEXT_COLUMNS:
            assert getattr(a, name) == getattr(b, name) == getattr(original, name)
        for key, value in original.metrics.items():
            finite = value is not None and math.isfinite(float(value))
            expected = value if finite else None
            assert a.metrics[key] == b.metrics[key] == expected, key
    with csv_path.open() as handle:
        header = next(csv.reader(handle))
    assert header[: len(CONTEXT_COLUMNS)] == list(CONTEXT_COLUMNS)
    assert {"file", "series", "slice", "label", "model", "sha256"} <= set(header)
    assert {"mean", "sd", "median", "dice", "hd95_mm", "ref_mm2"} <= set(header)
    doc = json.loads(json_path.read_text())
    assert doc["format"] == "medsr-metrics"
    assert [r["grid"] for r in doc["records"][:3]] == ["original", "sr", "delta"]
    assert doc["records"][2]["metrics"]["mean"] == records[2].metrics["mean"]
    assert abs(records[2].metrics["mean"] - 1.5) < 0.5  # SR adds 1.5 to every value
    assert doc["records"][4]["metrics"]["hd_max_mm"] is None  # inf -> null
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.csv", "m.json"]


def test_measure_roi_freehand_on_sr_pane_against_real_label(data_dir: Path,
                                                            tmp_path: Path) -> None:
    """The issue's workflow: freehand ROI drawn on the SR pane, Dice vs a label, before/after
    statistics; the CSV holds exactly the numbers computed directly."""
    import nibabel as nib
    from scipy.ndimage import zoom

    from medsr_viewer.core.labels import load_label_map
    from medsr_viewer.core.metrics.export import measure_roi
    from medsr_viewer.core.metrics.overlap import roi_label_overlap
    from medsr_viewer.core.metrics.roi_stats import roi_statistics
    from medsr_viewer.core.roi import FreehandRoi

    folder = data_dir / "labelled/flair_lesion"
    lesion = load_label_map(folder / "lesion.nii.gz")
    image = nib.load(folder / "FLAIR.nii.gz")
    voxels = np.asarray(image.dataobj, np.float32).transpose(2, 1, 0)
    original = Volume(voxels, lesion.volume.affine, name="FLAIR")
    z = int(np.argmax((lesion.labels == 1).sum(axis=(1, 2))))
    box = (slice(z, z + 1), slice(None), slice(None))
    start = original.index_to_world((z, 0, 0))
    affine = original.affine.copy()
    affine[:3, 3] = start
    original = Volume(np.ascontiguousarray(voxels[box]), affine)
    labels = type(lesion)(Volume(np.ascontiguousarray(lesion.labels[box]), affine),
                          lesion.table, "lesion")
    sr_affine = affine.copy()
    sr_affine[:3, :2] /= 2
    sr_affine[:3, 3] -= (affine[:3, 0] + affine[:3, 1]) / 4
    sr = Volume(zoom(original.voxels, (1, 2, 2), order=3, grid_mode=True, mode="nearest"),
                sr_affine)
    ys, xs = np.nonzero(labels.labels[0] == 1)
    cy, cx = ys.mean(), xs.mean()
    angles = np.linspace(0, 2 * np.pi, 60, endpoint=False)
    # a lasso on the SR pane: SR pixel coordinates -> in-plane mm of the SR slice's plane
    lasso = [((2 * cx + 0.5 + 14 * np.cos(t)) * 0.5, (2 * cy + 0.5 + 10 * np.sin(t)) * 0.5)
             for t in angles]
    roi = FreehandRoi(Plane.from_slice(sr, 0, 0), vertices=tuple(lasso), name="lasso")
    rows = measure_roi(roi, original, sr, labels, 1,
                       MetricRecord(file=str(folder / "FLAIR.nii.gz"), model="sr-x2",
                                    sha256="ef" * 32))
    assert [r.grid for r in rows] == ["original", "sr", "delta"]
    # the slice as the pane names it (plane, 1-based), not the 0-based array index
    assert rows[0].slice == "axial 1" and rows[0].label == "1 label 1"
    assert rows[0].roi_name == "lasso"
    on_original = roi_label_overlap(roi, labels.labels, 1, original)
    on_sr = roi_label_overlap(roi, labels.on_grid(sr).labels, 1, sr)
    assert 0 < on_original.dice < 1 and rows[0].metrics["dice"] == on_original.dice
    assert rows[1].metrics["dice"] == on_sr.dice
    assert rows[0].metrics["mean"] == roi_statistics(original, original.voxels, roi).mean
    assert rows[1].metrics["mean"] == roi_statistics(sr, sr.voxels, roi).mean
    path = write_metrics_csv(rows, tmp_path / "roi.csv")
    back = read_metrics_csv(path)
    for row, again in zip(rows, back, strict=True):
        for key, value in row.metrics.items():
            assert again.metrics[key] == (value if value is not None and math.isfinite(value)
                                          else None)
    assert back[0].sha256 == "ef" * 32 and back[0].model == "sr-x2"


def test_rows_name_the_slice_as_the_pane_does(data_dir: Path) -> None:
    """Issue #15, bug 5: the ROI table and CSV said "67" where the pane says "axial 68/140".
    The real T1 is stored RAS, so its coronal and sagittal panes count the other way."""
    import nibabel as nib

    from medsr_viewer.core.geometry import DisplayVolume, Orientation
    from medsr_viewer.core.metrics.export import measure_roi, pane_slice_text

    image = nib.load(data_dir / "mri_ct" / "chris_t1.nii.gz")
    lps = np.diag([-1.0, -1.0, 1.0, 1.0]) @ image.affine
    t1 = Volume(np.zeros(image.shape[::-1], np.float32), lps)  # (190, 256, 188) as loaded
    display = DisplayVolume(t1)
    for axis, index, orientation in [(0, 67, Orientation.AXIAL), (1, 100, Orientation.CORONAL),
                                     (2, 40, Orientation.SAGITTAL)]:
        point = np.zeros(3)
        point[axis] = index
        shown = int(display.canonical_to_display(orientation,
                                                 display.voxel_to_canonical(point))[2])
        text = pane_slice_text(t1, axis, index)
        assert text == f"{orientation.value} {shown + 1}"
        roi = EllipseRoi(Plane.from_slice(t1, axis, index), cu=60.0, cv=50.0, ru=5.0, rv=4.0)
        (row,) = measure_roi(roi, t1)
        assert row.slice == text
    assert pane_slice_text(t1, 0, 67) == "axial 68"
    assert pane_slice_text(t1, 1, 100) == "coronal 156"  # stored y 100 = display 255 - 100
    assert pane_slice_text(t1, 2, 40) == "sagittal 148"  # stored x 40 = display 187 - 40
