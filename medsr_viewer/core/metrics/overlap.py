"""Overlap of two binary masks: Dice, IoU, Hausdorff distances (mm), area and volume.

Used to compare an ROI or a label against a chosen label of a label map, on one slice or over
the whole volume, and to compare two label maps label by label (``medsr metrics``).

Definitions (documented once here, relied on by the GUI panel, CSV export and the CLI):

- **Dice** ``2|A∩B| / (|A|+|B|)`` and **IoU** ``|A∩B| / |A∪B|``; when both masks are empty
  they are undefined and reported as ``nan`` (``null`` in JSON, empty in CSV).
- **Surface** of a mask: its voxels that have at least one face neighbour (6-connectivity in
  3-D, 4-connectivity in 2-D) outside the mask; voxels on the array border count as surface.
- **Hausdorff distances** are measured between voxel *centres* of the two surfaces in mm, with
  each axis scaled by its own spacing (anisotropic grids are handled exactly). ``hd_max`` is the
  symmetric Hausdorff distance (max of both directed maxima); ``hd95`` is the larger of the two
  directed 95th percentiles (the MONAI convention). When exactly one mask is empty both are
  ``inf``; when both are empty both are ``nan``.
- **Area** (2-D masks) is ``count × row spacing × column spacing`` in mm²; **volume** (3-D) is
  ``count × voxel volume`` in mm³.
- **An ROI against a label** (:func:`roi_label_overlap`) means "this ROI against the label
  *here*": only the connected parts of the label (8-connected on a slice, 26-connected in a
  slab) that reach the ROI's neighbourhood are compared — the ROI's bounding box grown on
  every side by half the ROI's size along that axis, at least :data:`ROI_NEIGHBOURHOOD_MM`.
  Other lesions elsewhere on the slice do not count against a small ROI (they made HD95 the
  distance to the farthest lesion, not a measure of this one).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass

import numpy as np
from scipy import ndimage

from medsr_viewer.core.roi.plane import Grid
from medsr_viewer.core.roi.rasterize import plane_slab_mask, plane_slice_index, rasterize
from medsr_viewer.core.roi.shapes import Roi

#: Least margin (mm) around an ROI's bounding box within which label parts count as "here".
ROI_NEIGHBOURHOOD_MM = 5.0


@dataclass(frozen=True)
class OverlapMetrics:
    """Overlap of a test mask against a reference mask.

    Attributes
    ----------
    dice, iou
        Overlap ratios in ``[0, 1]`` (``nan`` when both masks are empty).
    hd95_mm, hd_max_mm
        95th-percentile and maximum symmetric Hausdorff distance in mm.
    ref_count, test_count, intersection_count
        Voxel counts.
    ref_size_mm, test_size_mm
        Area in mm² (2-D masks) or volume in mm³ (3-D masks) of each mask.
    unit
        ``"mm2"`` or ``"mm3"``: the unit of the size fields.
    """

    dice: float
    iou: float
    hd95_mm: float
    hd_max_mm: float
    ref_count: int
    test_count: int
    intersection_count: int
    ref_size_mm: float
    test_size_mm: float
    unit: str

    def to_dict(self) -> dict[str, float | int | str]:
        """Plain dict of all fields (non-finite values kept as floats)."""
        return asdict(self)


def dice(ref: np.ndarray, test: np.ndarray) -> float:
    """Dice coefficient of two boolean masks of the same shape (``nan`` if both empty)."""
    a, b = _pair(ref, test)
    total = int(a.sum()) + int(b.sum())
    if total == 0:
        return math.nan
    return 2.0 * int(np.logical_and(a, b).sum()) / total


def iou(ref: np.ndarray, test: np.ndarray) -> float:
    """Intersection over union (Jaccard index) of two boolean masks (``nan`` if both empty)."""
    a, b = _pair(ref, test)
    union = int(np.logical_or(a, b).sum())
    if union == 0:
        return math.nan
    return int(np.logical_and(a, b).sum()) / union


def surface(mask: np.ndarray) -> np.ndarray:
    """Boolean surface of a mask: mask voxels with a face neighbour outside it (see module doc)."""
    mask = np.asarray(mask, dtype=bool)
    if not mask.any():
        return mask.copy()
    structure = ndimage.generate_binary_structure(mask.ndim, 1)
    eroded = ndimage.binary_erosion(mask, structure=structure, border_value=0)
    return mask & ~eroded


def surface_distances(
    ref: np.ndarray, test: np.ndarray, spacing: Sequence[float]
) -> tuple[np.ndarray, np.ndarray]:
    """Directed surface distances in mm: (each ref surface voxel -> test surface, and back).

    Both masks must be non-empty. Work is restricted to the bounding box of the two masks, so
    small structures in large volumes are cheap.
    """
    a, b = _pair(ref, test)
    spacing = _spacing(spacing, a.ndim)
    if not a.any() or not b.any():
        raise ValueError("surface distances need two non-empty masks")
    box = _bounding_box(a | b, margin=1)
    a, b = a[box], b[box]
    sa, sb = surface(a), surface(b)
    dist_to_b = ndimage.distance_transform_edt(~sb, sampling=spacing)
    dist_to_a = ndimage.distance_transform_edt(~sa, sampling=spacing)
    return np.asarray(dist_to_b[sa], dtype=np.float64), np.asarray(dist_to_a[sb], dtype=np.float64)


def hausdorff(
    ref: np.ndarray, test: np.ndarray, spacing: Sequence[float], percentile: float = 95.0
) -> tuple[float, float]:
    """``(hd_percentile_mm, hd_max_mm)`` between two masks (see module doc for empty masks)."""
    a, b = _pair(ref, test)
    has_a, has_b = bool(a.any()), bool(b.any())
    if not has_a and not has_b:
        return (math.nan, math.nan)
    if not has_a or not has_b:
        return (math.inf, math.inf)
    d_ab, d_ba = surface_distances(a, b, spacing)
    hd_p = max(float(np.percentile(d_ab, percentile)), float(np.percentile(d_ba, percentile)))
    hd_max = max(float(d_ab.max()), float(d_ba.max()))
    return (hd_p, hd_max)


def mask_size_mm(mask: np.ndarray, spacing: Sequence[float]) -> float:
    """Area in mm² of a 2-D mask or volume in mm³ of a 3-D mask (count × pixel/voxel size)."""
    mask = np.asarray(mask, dtype=bool)
    return int(mask.sum()) * float(np.prod(_spacing(spacing, mask.ndim)))


def overlap_metrics(
    ref: np.ndarray, test: np.ndarray, spacing: Sequence[float], percentile: float = 95.0
) -> OverlapMetrics:
    """All overlap metrics of ``test`` against ``ref`` (2-D or 3-D boolean masks).

    Parameters
    ----------
    ref, test
        Boolean masks of equal shape on the same grid.
    spacing
        Pixel/voxel size in mm per array axis (``(z, y, x)`` for volumes, ``(y, x)`` for slices).
    percentile
        Percentile of the ``hd95_mm`` field (95 unless told otherwise).
    """
    a, b = _pair(ref, test)
    sp = _spacing(spacing, a.ndim)
    hd_p, hd_max = hausdorff(a, b, sp, percentile)
    return OverlapMetrics(
        dice=dice(a, b),
        iou=iou(a, b),
        hd95_mm=hd_p,
        hd_max_mm=hd_max,
        ref_count=int(a.sum()),
        test_count=int(b.sum()),
        intersection_count=int(np.logical_and(a, b).sum()),
        ref_size_mm=mask_size_mm(a, sp),
        test_size_mm=mask_size_mm(b, sp),
        unit="mm2" if a.ndim == 2 else "mm3",
    )


def per_slice_overlap(
    ref: np.ndarray, test: np.ndarray, spacing: Sequence[float], axis: int = 0
) -> dict[int, OverlapMetrics]:
    """2-D overlap metrics on every slice along ``axis`` where either 3-D mask is non-empty.

    Returns a dict ``slice index -> metrics``; spacing is the 3-D ``(z, y, x)`` spacing and the
    in-plane spacing of the slices is taken from it.
    """
    a, b = _pair(ref, test)
    if a.ndim != 3:
        raise ValueError(f"per-slice overlap needs 3-D masks, got {a.ndim}-D")
    sp = _spacing(spacing, 3)
    plane_spacing = tuple(s for i, s in enumerate(sp) if i != axis)
    either = (a | b).any(axis=tuple(i for i in range(3) if i != axis))
    out: dict[int, OverlapMetrics] = {}
    for index in np.flatnonzero(either):
        sl: list[slice | int] = [slice(None)] * 3
        sl[axis] = int(index)
        out[int(index)] = overlap_metrics(a[tuple(sl)], b[tuple(sl)], plane_spacing)
    return out


def label_values(*label_maps: np.ndarray, background: int = 0) -> list[int]:
    """Sorted label values (other than ``background``) present in any of the label maps."""
    values: set[int] = set()
    for labels in label_maps:
        values.update(int(v) for v in np.unique(labels))
    values.discard(background)
    return sorted(values)


def per_label_overlap(
    ref_labels: np.ndarray,
    test_labels: np.ndarray,
    spacing: Sequence[float],
    labels: Iterable[int] | None = None,
    background: int = 0,
) -> dict[int, OverlapMetrics]:
    """Overlap metrics for each label value of two label maps on the same grid.

    ``labels`` defaults to every non-background value present in either map.
    """
    ref_labels = np.asarray(ref_labels)
    test_labels = np.asarray(test_labels)
    if ref_labels.shape != test_labels.shape:
        raise ValueError(
            f"label maps differ in shape: {ref_labels.shape} vs {test_labels.shape}"
        )
    wanted = label_values(ref_labels, test_labels, background=background) if labels is None \
        else [int(v) for v in labels]
    return {
        value: overlap_metrics(ref_labels == value, test_labels == value, spacing)
        for value in wanted
    }


def label_near_mask(label: np.ndarray, mask: np.ndarray, spacing: Sequence[float],
                    margin_mm: float = ROI_NEIGHBOURHOOD_MM) -> np.ndarray:
    """The connected parts of ``label`` that reach the neighbourhood of ``mask``.

    The neighbourhood is the bounding box of ``mask`` grown on every side by half the box's
    size along that axis, and by at least ``margin_mm``. Parts are 8-connected in 2-D and
    26-connected in 3-D; a part that reaches the box is kept whole. An empty ``mask`` has no
    neighbourhood: the result is empty.
    """
    a, b = _pair(label, mask)
    sp = _spacing(spacing, a.ndim)
    if not a.any() or not b.any():
        return np.zeros_like(a)
    box = []
    for axis, (part, step) in enumerate(zip(_bounding_box(b), sp, strict=True)):
        grow = max((part.stop - part.start) / 2.0, margin_mm / step)
        lo = max(int(np.floor(part.start - grow)), 0)
        hi = min(int(np.ceil(part.stop + grow)), a.shape[axis])
        box.append(slice(lo, hi))
    parts, _count = ndimage.label(a, structure=np.ones((3,) * a.ndim, bool))
    near = np.unique(parts[tuple(box)])
    near = near[near != 0]
    return np.isin(parts, near)


def roi_label_overlap(roi: Roi, labels: np.ndarray, value: int, grid: Grid) -> OverlapMetrics:
    """Overlap of an ROI (test) with label ``value`` of a label array (reference) on ``grid``.

    The label is restricted to the voxels the ROI's plane passes through (the slice the ROI was
    drawn on, see :func:`~medsr_viewer.core.roi.rasterize.plane_slab_mask`), and there to its
    parts near the ROI (:func:`label_near_mask`: "the label here", not every lesion of the
    slice). When the slab is exactly one whole slice of the grid (the usual case: an ROI drawn
    on a slice of this grid's orientation), the metrics are 2-D on that slice (area in mm²);
    otherwise they are 3-D over the slab (volume in mm³).
    """
    labels = np.asarray(labels)
    if tuple(labels.shape) != tuple(grid.shape):
        raise ValueError(f"labels {labels.shape} do not fit the grid {tuple(grid.shape)}")
    mask = rasterize(roi, grid)
    spacing = tuple(float(s) for s in np.linalg.norm(np.asarray(grid.affine)[:3, :3],
                                                     axis=0)[::-1])
    on_slice = plane_slice_index(roi.plane, grid)
    if on_slice is not None:
        # the slab is exactly this slice: compare there without whole-volume masks
        axis, position = on_slice
        index: list[slice | int] = [slice(None)] * 3
        index[axis] = position
        plane_spacing = tuple(s for i, s in enumerate(spacing) if i != axis)
        on_plane = mask[tuple(index)]
        here = label_near_mask(labels[tuple(index)] == value, on_plane, plane_spacing)
        return overlap_metrics(here, on_plane, plane_spacing)
    target = plane_slab_mask(roi.plane, grid) & (labels == value)
    return overlap_metrics(label_near_mask(target, mask, spacing), mask, spacing)


def _pair(ref: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(ref, dtype=bool)
    b = np.asarray(test, dtype=bool)
    if a.shape != b.shape:
        raise ValueError(f"masks differ in shape: {a.shape} vs {b.shape}")
    return a, b


def _spacing(spacing: Sequence[float], ndim: int) -> tuple[float, ...]:
    values = tuple(float(s) for s in spacing)
    if len(values) != ndim:
        raise ValueError(f"spacing {values} does not match a {ndim}-D mask")
    if any(not math.isfinite(s) or s <= 0 for s in values):
        raise ValueError(f"spacing must be positive, got {values}")
    return values


def _bounding_box(mask: np.ndarray, margin: int = 0) -> tuple[slice, ...]:
    box = []
    for axis in range(mask.ndim):
        other = tuple(i for i in range(mask.ndim) if i != axis)
        idx = np.flatnonzero(mask.any(axis=other))
        lo = max(int(idx[0]) - margin, 0)
        hi = min(int(idx[-1]) + 1 + margin, mask.shape[axis])
        box.append(slice(lo, hi))
    return tuple(box)
