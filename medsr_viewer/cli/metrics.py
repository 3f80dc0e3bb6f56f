"""``medsr metrics --ref A --test B``: compare two label maps or two images, headless.

- **Label maps** (NIfTI/MGZ label volumes or DICOM SEG): Dice, IoU, 95 % and max Hausdorff
  distance (mm) and sizes per label; the test map is resampled onto the reference grid by
  nearest neighbour in world space if the grids differ. With ``--roi``, each ROI is also
  compared with each label of both maps on the slice the ROI was drawn on, counting the label's
  parts near the ROI (2-D metrics, sizes in mm², when the ROI lies on a slice of the reference
  grid; see
  :func:`medsr_viewer.core.metrics.overlap.roi_label_overlap`).
- **Instance maps** (``--instances``: one id per object, e.g. a ``segment_instances`` model's
  output or the connected components of a mask): objects matched by IoU, the 2018 Data
  Science Bowl mAP@[.5:.95], COCO AP50/AP75/AP@[.5:.95], the adapted Rand error and the
  variation of information (split, merge) of the ISBI 2012 challenge
  (:mod:`medsr_viewer.core.metrics.instances`), over the whole map, one ``--slice``, or each
  z slice on its own (``--per-slice``: 2-D objects of a stack of images, averaged).
- **Images**: PSNR and SSIM over the whole volume (or ``--slice``) and inside each ROI. The
  data range is the reference volume's max − min (the project's evaluation protocol); SSIM of
  a volume is the mean of its z-slices' SSIM; inside an ROI, SSIM is the SSIM map averaged over
  the ROI's pixels (see :func:`medsr_viewer.core.metrics.roi_stats.masked_ssim`). A test image
  on another grid (an ``medsr sr`` output against its input, a scan of other resolution) is
  resampled onto the reference grid in world space by trilinear interpolation
  (:func:`medsr_viewer.core.simulate.resample_linear`), and the output says so; reference
  voxels the test image does not cover are left out (PSNR over the covered voxels, SSIM maps
  averaged over them). Only images that do not overlap in world space are refused.

The kind is detected (``--kind auto``): label maps when either file is a DICOM SEG, a NIfTI
with the label intent, when ``--label`` is given, or when a file name says so (seg, label,
mask, aseg, aparc, lesion, parc); images otherwise. Non-finite values (``inf`` PSNR of
identical images, ``inf`` Hausdorff distance to an empty label, undefined ``nan``) are printed
as ``inf``/``nan`` in text and ``null`` in JSON.
"""

from __future__ import annotations

import argparse
import json
import math
import re
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np
import pydicom
import pydicom.errors

from medsr_viewer.cli.main import CliError
from medsr_viewer.core.io import LoadError, load_volume
from medsr_viewer.core.labels import (
    DicomSegError,
    LabelMap,
    LabelMapError,
    load_label_map,
    read_dicom_seg,
    same_grid,
)
from medsr_viewer.core.labels.dicom_seg import SEGMENTATION_STORAGE
from medsr_viewer.core.labels.labelmap import NIFTI_INTENT_LABEL
from medsr_viewer.core.metrics.image_quality import psnr, ssim
from medsr_viewer.core.metrics.instances import instance_metrics
from medsr_viewer.core.metrics.overlap import (
    OverlapMetrics,
    label_values,
    per_label_overlap,
    roi_label_overlap,
)
from medsr_viewer.core.metrics.roi_stats import masked_psnr, masked_ssim
from medsr_viewer.core.roi import Roi, RoiFormatError, area_rois, load_rois, rasterize
from medsr_viewer.core.simulate import resample_linear
from medsr_viewer.core.strict_json import json_safe
from medsr_viewer.core.volume import Volume

#: File-name words that mark a label map for ``--kind auto``.
LABEL_NAME_PATTERN = re.compile(r"seg|label|mask|aseg|aparc|lesion|parc", re.IGNORECASE)


def register(subparsers: Any) -> None:
    """Add the ``metrics`` subcommand to the ``medsr`` parser."""
    parser = subparsers.add_parser(
        "metrics",
        help="Dice/IoU/Hausdorff of two label maps, or PSNR/SSIM of two images",
        description="Compare a test label map or image with a reference, optionally in ROIs.",
    )
    parser.add_argument("--ref", required=True, type=Path, help="reference label map or image")
    parser.add_argument("--test", required=True, type=Path, help="test label map or image")
    parser.add_argument("--label", type=int, action="append", metavar="N",
                        help="label value to compare (repeatable; default: all present)")
    parser.add_argument("--roi", type=Path, metavar="ROI.json",
                        help="ROI file (medsr-rois JSON) to measure inside")
    parser.add_argument("--slice", type=int, metavar="Z",
                        help="restrict to one z slice of the reference grid")
    parser.add_argument("--kind", choices=("auto", "labels", "images"), default="auto",
                        help="what the two files are (default: detect)")
    parser.add_argument("--instances", action="store_true",
                        help="compare instance maps (one id per object): mAP, AP, Rand, VI")
    parser.add_argument("--per-slice", action="store_true",
                        help="with --instances: each z slice on its own, then the mean")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Execute ``medsr metrics``."""
    kind = args.kind
    if kind == "auto":
        kind = "labels" if args.label or is_label_file(args.ref) or is_label_file(args.test) \
            else "images"
    if kind == "images" and args.label:
        raise CliError("--label applies to label maps, but the inputs are images")
    if args.per_slice and not args.instances:
        raise CliError("--per-slice applies to --instances")
    if args.instances:
        result = compare_instances(args.ref, args.test, args.slice, args.per_slice)
        print(json.dumps(json_safe(result), allow_nan=False) if args.json
              else format_instances(result))
        return 0
    rois = _load_rois(args.roi) if args.roi else []
    result = (compare_labels(args.ref, args.test, args.label, rois, args.slice)
              if kind == "labels" else compare_images(args.ref, args.test, rois, args.slice))
    if args.json:
        print(json.dumps(json_safe(result), allow_nan=False))
    else:
        print(format_text(result))
    return 0


def is_label_file(path: Path) -> bool:
    """Whether ``path`` looks like a label map (DICOM SEG, NIfTI label intent, or its name)."""
    if path.is_file():
        if _is_nifti_name(path):
            if _nifti_intent(path) == NIFTI_INTENT_LABEL:
                return True
        elif _is_dicom_seg(path):
            return True
    return bool(LABEL_NAME_PATTERN.search(path.name))


def _is_dicom_seg(path: Path) -> bool:
    try:
        ds = pydicom.dcmread(str(path), stop_before_pixels=True)
    except (pydicom.errors.InvalidDicomError, OSError, ValueError, TypeError, AttributeError):
        return False
    return bool(ds.get("SOPClassUID") == SEGMENTATION_STORAGE or ds.get("Modality") == "SEG")


def _nifti_intent(path: Path) -> int:
    try:
        header: Any = nib.load(str(path)).header
        return int(header["intent_code"]) if "intent_code" in header else 0
    except Exception:  # noqa: BLE001 - nibabel raises many types; the loader reports it later
        return 0


def load_labels(path: Path) -> LabelMap:
    """A label map from NIfTI/MGZ or DICOM SEG; :class:`CliError` with a one-line reason."""
    if not path.exists():
        raise CliError(f"{path}: not found")
    try:
        if not _is_nifti_name(path):
            return read_dicom_seg(path)
        return load_label_map(path)
    except (LabelMapError, DicomSegError) as exc:
        raise CliError(str(exc)) from exc


def compare_labels(ref_path: Path, test_path: Path, wanted: list[int] | None,
                   rois: list[Roi], slice_index: int | None) -> dict[str, Any]:
    """Per-label overlap of two label maps (and of each ROI against each label)."""
    ref = load_labels(ref_path)
    test = load_labels(test_path)
    resampled = not same_grid(ref.volume, test.volume)
    if resampled:
        test = test.on_grid(ref.volume)
    ref_labels, test_labels = ref.labels, test.labels
    spacing: tuple[float, ...] = ref.volume.spacing
    if slice_index is not None:
        _check_slice(slice_index, ref.volume)
        ref_labels, test_labels = ref_labels[slice_index], test_labels[slice_index]
        spacing = spacing[1:]
    values = wanted or label_values(ref_labels, test_labels)
    per_label = per_label_overlap(ref_labels, test_labels, spacing, values)
    result: dict[str, Any] = {
        "kind": "labels",
        "ref": str(ref_path),
        "test": str(test_path),
        "grid": _grid_facts(ref.volume),
        "test_resampled_to_ref_grid": resampled,
        "slice": slice_index,
        "labels": [
            {"value": v, "name": ref.table.name(v), **_overlap_dict(m)}
            for v, m in per_label.items()
        ],
        "rois": [],
    }
    for roi in rois:
        entry: dict[str, Any] = {"roi_id": roi.roi_id, "name": roi.name, "kind": roi.kind,
                                 "voxels": int(rasterize(roi, ref.volume).sum()), "labels": []}
        for value in values:
            for which, labels in (("ref", ref.labels), ("test", test.labels)):
                metrics = roi_label_overlap(roi, labels, value, ref.volume)
                entry["labels"].append({"value": value, "against": which,
                                        **_overlap_dict(metrics)})
        result["rois"].append(entry)
    return result


def compare_instances(ref_path: Path, test_path: Path, slice_index: int | None,
                      per_slice: bool) -> dict[str, Any]:
    """Instance metrics of two instance maps (test resampled onto the reference grid)."""
    ref = load_labels(ref_path)
    test = load_labels(test_path)
    resampled = not same_grid(ref.volume, test.volume)
    if resampled:
        test = test.on_grid(ref.volume)
    ref_ids, test_ids = ref.labels, test.labels
    if slice_index is not None:
        _check_slice(slice_index, ref.volume)
        ref_ids, test_ids = ref_ids[slice_index:slice_index + 1], test_ids[slice_index:
                                                                          slice_index + 1]
    per: list[dict[str, Any]]
    try:
        if per_slice or slice_index is not None:
            per = [instance_metrics(r, t).as_dict() for r, t in zip(ref_ids, test_ids,
                                                                    strict=True)]
        else:
            per = [instance_metrics(ref_ids, test_ids).as_dict()]
    except ValueError as exc:
        raise CliError(f"{test_path}: {exc}") from exc
    keys = ("dsb_map", "ap50", "ap75", "coco_map", "rand_error", "vi_split", "vi_merge")
    mean = {k: _nanmean([float(p[k]) for p in per]) for k in keys}
    return {"kind": "instances", "ref": str(ref_path), "test": str(test_path),
            "grid": _grid_facts(ref.volume), "test_resampled_to_ref_grid": resampled,
            "slice": slice_index, "per_slice": per_slice or slice_index is not None,
            "n_ref": sum(int(p["n_ref"]) for p in per),
            "n_test": sum(int(p["n_test"]) for p in per),
            **mean, "slices": per if len(per) > 1 else [], "matchings": per[0]["matchings"]
            if len(per) == 1 else []}


def format_instances(result: dict[str, Any]) -> str:
    """Human-readable lines of a :func:`compare_instances` result."""
    where = ("whole map" if not result["per_slice"] else
             f"slice {result['slice']}" if result["slice"] is not None else
             f"mean of {len(result['slices'])} slices")
    lines = [f"reference: {result['ref']}", f"test:      {result['test']}",
             f"{where}: {result['n_ref']} reference objects, {result['n_test']} test objects"]
    if result["test_resampled_to_ref_grid"]:
        lines.append("(test resampled onto the reference grid, nearest neighbour)")
    lines.append(f"DSB mAP@[.5:.95] {_fmt(result['dsb_map'])}  COCO AP50 {_fmt(result['ap50'])}"
                 f"  AP75 {_fmt(result['ap75'])}  AP@[.5:.95] {_fmt(result['coco_map'])}")
    lines.append(f"adapted Rand error {_fmt(result['rand_error'])}  VI split "
                 f"{_fmt(result['vi_split'])}  merge {_fmt(result['vi_merge'])}")
    for m in result["matchings"]:
        lines.append(f"  IoU > {m['threshold']:.2f}: TP {m['tp']}  FP {m['fp']}  FN {m['fn']}")
    return "\n".join(lines)


def _nanmean(values: list[float]) -> float:
    finite = [v for v in values if not math.isnan(v)]
    return float(np.mean(finite)) if finite else math.nan


def compare_images(ref_path: Path, test_path: Path, rois: list[Roi],
                   slice_index: int | None) -> dict[str, Any]:
    """PSNR/SSIM of two images on the same grid, whole and inside each ROI."""
    ref = _load_image(ref_path)
    test = _load_image(test_path)
    low, high = ref.value_range()
    data_range = high - low
    if data_range <= 0:
        raise CliError(f"{ref_path}: the reference image is constant; PSNR/SSIM are undefined")
    if min(ref.shape[1:]) < 11:
        raise CliError(f"{ref_path}: slices of {ref.shape[1:]} pixels are too small for SSIM")
    ref_vox = ref.voxels.astype(np.float64)
    resampled = not same_grid(ref, test, atol=1e-3)
    if resampled:
        test_vox = resample_linear(test, ref)  # NaN where the test image does not reach
        covered = np.isfinite(test_vox)
        if not covered.any():
            raise CliError(f"{test_path}: grid {test.shape} differs from the reference grid "
                           f"{ref.shape} and does not overlap it in world space; nothing to "
                           "compare")
        test_vox = np.where(covered, test_vox, ref_vox)  # uncovered voxels are left out below
    else:
        test_vox = test.voxels.astype(np.float64)
        covered = np.ones(ref.shape, dtype=bool)
    if slice_index is not None:
        _check_slice(slice_index, ref)
        chosen = [slice_index]
    else:
        chosen = [k for k in range(ref.shape[0]) if covered[k].any()]
    if not any(covered[k].any() for k in chosen):
        raise CliError(f"{test_path}: does not cover slice {slice_index} of the reference")
    whole_psnr, whole_ssim = _image_quality(ref_vox, test_vox, covered, chosen, data_range)
    result: dict[str, Any] = {
        "kind": "images",
        "ref": str(ref_path),
        "test": str(test_path),
        "grid": _grid_facts(ref),
        "test_grid": _grid_facts(test),
        "test_resampled_to_ref_grid": resampled,
        "resampling": "trilinear, world space" if resampled else None,
        "covered_fraction": float((covered if slice_index is None
                                   else covered[slice_index]).mean()),
        "slice": slice_index,
        "data_range": data_range,
        "whole": {"psnr_db": whole_psnr, "ssim": whole_ssim},
        "rois": [],
        "warnings": [],
    }
    for roi in rois:
        mask = rasterize(roi, ref) & covered
        if slice_index is not None:
            keep = np.zeros_like(mask)
            keep[slice_index] = mask[slice_index]
            mask = keep
        result["rois"].append({
            "roi_id": roi.roi_id, "name": roi.name, "kind": roi.kind, "voxels": int(mask.sum()),
            "psnr_db": masked_psnr(ref_vox, test_vox, mask, data_range),
            "ssim": masked_ssim(ref_vox, test_vox, mask, data_range),
        })
    return result


def _image_quality(ref: np.ndarray, test: np.ndarray, covered: np.ndarray, chosen: list[int],
                   data_range: float) -> tuple[float, float]:
    """PSNR over the covered voxels of the ``chosen`` z slices, and the mean of their SSIM
    (each slice's SSIM map averaged over its covered pixels; plain SSIM when all are)."""
    if covered[chosen].all():
        return (psnr(ref[chosen], test[chosen], data_range),
                float(np.mean([ssim(ref[k], test[k], data_range) for k in chosen])))
    scores = [masked_ssim(ref[k], test[k], covered[k], data_range) for k in chosen]
    finite = [v for v in scores if math.isfinite(v)]
    return (masked_psnr(ref[chosen], test[chosen], covered[chosen], data_range),
            float(np.mean(finite)) if finite else math.nan)


def format_text(result: dict[str, Any]) -> str:
    """Human-readable table of a :func:`compare_labels` / :func:`compare_images` result."""
    lines = [f"reference: {result['ref']}", f"test:      {result['test']}"]
    if result["kind"] == "labels":
        if result["test_resampled_to_ref_grid"]:
            lines.append("(test resampled onto the reference grid, nearest neighbour)")
        unit = "mm2" if result["slice"] is not None else "mm3"
        lines.append(f"{'label':>6} {'name':<24} {'dice':>7} {'iou':>7} {'hd95 mm':>8} "
                     f"{'max mm':>8} {'ref ' + unit:>12} {'test ' + unit:>12}")
        for row in result["labels"]:
            lines.append(f"{row['value']:>6} {row['name'][:24]:<24} {_fmt(row['dice'])} "
                         f"{_fmt(row['iou'])} {_fmt(row['hd95_mm'], 8)} "
                         f"{_fmt(row['hd_max_mm'], 8)} {_fmt(row['ref_size'], 12, 1)} "
                         f"{_fmt(row['test_size'], 12, 1)}")
        for roi in result["rois"]:
            lines.append(f"ROI {roi['name'] or roi['roi_id']} ({roi['kind']}, "
                         f"{roi['voxels']} voxels):")
            for row in roi["labels"]:
                lines.append(f"  vs {row['against']} label {row['value']}: dice "
                             f"{_fmt(row['dice'])} iou {_fmt(row['iou'])} hd95 "
                             f"{_fmt(row['hd95_mm'])} mm max {_fmt(row['hd_max_mm'])} mm")
    else:
        whole = result["whole"]
        where = "whole volume" if result["slice"] is None else f"slice {result['slice']}"
        if result["test_resampled_to_ref_grid"]:
            shape = "x".join(str(n) for n in result["test_grid"]["shape_zyx"])
            lines.append(f"(test {shape} resampled onto the reference grid, "
                         f"{result['resampling']}; covers "
                         f"{100 * result['covered_fraction']:.1f} % of the reference "
                         f"{'voxels' if result['slice'] is None else 'slice'})")
        lines.append(f"data range {result['data_range']:g}")
        lines.append(f"{where}: PSNR {_fmt(whole['psnr_db'])} dB  SSIM {_fmt(whole['ssim'])}")
        for roi in result["rois"]:
            lines.append(f"ROI {roi['name'] or roi['roi_id']} ({roi['voxels']} voxels): PSNR "
                         f"{_fmt(roi['psnr_db'])} dB  SSIM {_fmt(roi['ssim'])}")
        lines.extend(f"warning: {w}" for w in result["warnings"])
    return "\n".join(lines)


def _overlap_dict(metrics: OverlapMetrics) -> dict[str, Any]:
    return {
        "dice": metrics.dice, "iou": metrics.iou, "hd95_mm": metrics.hd95_mm,
        "hd_max_mm": metrics.hd_max_mm, "ref_count": metrics.ref_count,
        "test_count": metrics.test_count, "ref_size": metrics.ref_size_mm,
        "test_size": metrics.test_size_mm, "size_unit": metrics.unit,
    }


def _load_image(path: Path) -> Volume:
    try:
        return load_volume(path)
    except LoadError as exc:
        raise CliError(str(exc)) from exc


def _load_rois(path: Path) -> list[Roi]:
    try:
        rois = area_rois(load_rois(path))  # rulers and angles enclose no region
    except RoiFormatError as exc:
        raise CliError(str(exc)) from exc
    if not rois:
        raise CliError(f"{path}: holds no ROIs with an area (rulers and angles are not "
                       "measured inside)")
    return rois


def _check_slice(index: int, grid: Volume) -> None:
    if not 0 <= index < grid.shape[0]:
        raise CliError(f"--slice {index} is outside the reference's 0..{grid.shape[0] - 1}")


def _grid_facts(volume: Volume) -> dict[str, Any]:
    return {"shape_zyx": list(volume.shape), "spacing_zyx_mm": list(volume.spacing)}


def _is_nifti_name(path: Path) -> bool:
    name = path.name.lower()
    return name.endswith((".nii", ".nii.gz", ".mgz", ".mgh"))


def _fmt(value: float, width: int = 7, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return f"{value!s:>{width}}"
    return f"{value:>{width}.{digits}f}"
