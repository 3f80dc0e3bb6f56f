"""Overlap metrics checked against independent computations on real label maps."""

from __future__ import annotations

import math
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from scipy.ndimage import binary_erosion
from scipy.spatial import cKDTree
from scipy.spatial.distance import directed_hausdorff

from medsr_viewer.core.metrics import overlap


@pytest.fixture(scope="module")
def lesion(data_dir: Path) -> np.ndarray:
    """The real FLAIR lesion label map (values 0-3), cropped around lesions of all 3 labels."""
    data = np.asarray(nib.load(data_dir / "labelled/flair_lesion/lesion.nii.gz").dataobj)
    labels = np.rint(data[10:60, 10:80, 50:90]).astype(np.int16)
    assert sorted(np.unique(labels)) == [0, 1, 2, 3]
    return labels


def _surface_points(mask: np.ndarray, spacing: tuple[float, ...]) -> np.ndarray:
    """Surface voxel centres in mm, computed independently of the module under test."""
    padded = np.pad(mask, 1)
    inner = binary_erosion(padded)  # default cross structure = face neighbours
    surf = (padded & ~inner)[tuple(slice(1, -1) for _ in mask.shape)]
    return np.argwhere(surf) * np.asarray(spacing)


def test_dice_iou_of_shifted_real_label_matches_hand_count(lesion: np.ndarray) -> None:
    mask = lesion == 1
    assert mask.sum() > 50
    shifted = np.zeros_like(mask)
    shifted[:, 1:, :] = mask[:, :-1, :]
    inter = int((mask & shifted).sum())
    union = int((mask | shifted).sum())
    assert overlap.dice(mask, shifted) == pytest.approx(2 * inter / (mask.sum() + shifted.sum()))
    assert overlap.iou(mask, shifted) == pytest.approx(inter / union)
    assert 0 < overlap.dice(mask, shifted) < 1
    assert overlap.dice(mask, mask) == 1.0


def test_hausdorff_matches_scipy_on_anisotropic_grid(lesion: np.ndarray) -> None:
    spacing = (2.4, 0.9, 0.6)
    ref = lesion == 1
    test = np.zeros_like(ref)
    test[1:, :, 2:] = ref[:-1, :, :-2]
    test |= lesion == 2
    hd95, hd_max = overlap.hausdorff(ref, test, spacing)
    pa, pb = _surface_points(ref, spacing), _surface_points(test, spacing)
    expected_max = max(directed_hausdorff(pa, pb)[0], directed_hausdorff(pb, pa)[0])
    assert hd_max == pytest.approx(expected_max, rel=1e-9)
    d_ab = cKDTree(pb).query(pa)[0]
    d_ba = cKDTree(pa).query(pb)[0]
    expected_95 = max(np.percentile(d_ab, 95), np.percentile(d_ba, 95))
    assert hd95 == pytest.approx(expected_95, rel=1e-9)
    assert hd95 <= hd_max


def test_shift_by_one_voxel_gives_one_spacing_hausdorff() -> None:
    ref = np.zeros((20, 30, 30), bool)
    ref[5:15, 8:20, 10:22] = True
    test = np.roll(ref, 1, axis=0)
    _, hd_max = overlap.hausdorff(ref, test, (3.0, 0.5, 0.5))
    assert hd_max == pytest.approx(3.0)
    # a shift along x with 0.5 mm columns moves the surface by 0.5 mm
    _, hd_max_x = overlap.hausdorff(ref, np.roll(ref, 1, axis=2), (3.0, 0.5, 0.5))
    assert hd_max_x == pytest.approx(0.5)


def test_empty_masks_follow_documented_rules() -> None:
    empty = np.zeros((4, 4), bool)
    full = np.ones((4, 4), bool)
    m = overlap.overlap_metrics(empty, empty, (1, 1))
    assert math.isnan(m.dice) and math.isnan(m.iou) and math.isnan(m.hd95_mm)
    m = overlap.overlap_metrics(empty, full, (1, 1))
    assert m.dice == 0.0 and m.iou == 0.0 and math.isinf(m.hd_max_mm)
    with pytest.raises(ValueError, match="shape"):
        overlap.dice(empty, np.zeros((3, 4), bool))


def test_area_and_volume_use_anisotropic_spacing(lesion: np.ndarray) -> None:
    mask = lesion == 1
    m = overlap.overlap_metrics(mask, mask, (2.0, 0.5, 0.25))
    assert m.unit == "mm3"
    assert m.ref_size_mm == pytest.approx(mask.sum() * 2.0 * 0.5 * 0.25)
    z = int(np.argmax(mask.sum(axis=(1, 2))))
    m2 = overlap.overlap_metrics(mask[z], mask[z], (0.5, 0.25))
    assert m2.unit == "mm2" and m2.ref_size_mm == pytest.approx(mask[z].sum() * 0.125)


def test_per_slice_and_per_label(lesion: np.ndarray) -> None:
    spacing = (1.0, 1.0, 1.0)
    shifted = np.roll(lesion, 2, axis=2)
    per_label = overlap.per_label_overlap(lesion, shifted, spacing)
    assert sorted(per_label) == sorted(int(v) for v in np.unique(lesion) if v != 0)
    for value, metrics in per_label.items():
        assert metrics.dice == pytest.approx(overlap.dice(lesion == value, shifted == value))
        assert metrics.ref_count == int((lesion == value).sum())
    slices = overlap.per_slice_overlap(lesion == 1, shifted == 1, spacing, axis=0)
    nonempty = np.flatnonzero(((lesion == 1) | (shifted == 1)).any(axis=(1, 2)))
    assert sorted(slices) == [int(i) for i in nonempty]
    z = int(nonempty[len(nonempty) // 2])
    assert slices[z].dice == pytest.approx(overlap.dice(lesion[z] == 1, shifted[z] == 1))
    assert slices[z].unit == "mm2"
    total = sum(s.intersection_count for s in slices.values())
    assert total == per_label[1].intersection_count


def test_roi_against_label_on_its_slice(data_dir: Path) -> None:
    from medsr_viewer.core.labels import load_label_map
    from medsr_viewer.core.roi import EllipseRoi, Plane

    lesion = load_label_map(data_dir / "labelled/flair_lesion/lesion.nii.gz")
    z = int(np.argmax((lesion.labels == 1).sum(axis=(1, 2))))
    ys, xs = np.nonzero(lesion.labels[z] == 1)
    cy, cx = float(ys.mean()), float(xs.mean())
    roi = EllipseRoi(Plane.from_slice(lesion.volume, 0, z), cu=cx + 0.3, cv=cy + 0.2, ru=6, rv=4)
    m = overlap.roi_label_overlap(roi, lesion.labels, 1, lesion.volume)
    yy, xx = np.mgrid[0 : lesion.labels.shape[1], 0 : lesion.labels.shape[2]].astype(float)
    disc = ((xx - cx - 0.3) / 6) ** 2 + ((yy - cy - 0.2) / 4) ** 2 <= 1  # 1 mm pixels
    label = lesion.labels[z] == 1
    assert m.unit == "mm2" and m.test_count == disc.sum() and m.ref_count == label.sum()
    assert m.dice == pytest.approx(2 * (disc & label).sum() / (disc.sum() + label.sum()))
    # an oblique ROI is compared over the slab its plane cuts, in 3-D
    oblique = Plane(roi.plane.origin, (1.0, 0.0, 0.0), (0.0, 0.8, 0.6))
    m3 = overlap.roi_label_overlap(EllipseRoi(oblique, cu=cx, cv=cy, ru=6, rv=4),
                                   lesion.labels, 1, lesion.volume)
    assert m3.unit == "mm3"


def test_roi_is_compared_with_the_label_here_not_every_lesion_of_the_slice(
    data_dir: Path,
) -> None:
    """Issue #15, bug 9: a small ROI on one lesion got HD95 against every lesion of the slice
    (148 mm); it is compared with the lesion parts near it."""
    from scipy import ndimage

    from medsr_viewer.core.labels import load_label_map
    from medsr_viewer.core.roi import EllipseRoi, Plane, rasterize

    lesion = load_label_map(data_dir / "labelled/flair_lesion/lesion.nii.gz")
    value = 2
    counts = [ndimage.label(lesion.labels[z] == value, np.ones((3, 3)))[1]
              for z in range(lesion.labels.shape[0])]
    z = int(np.argmax(counts))
    parts, n = ndimage.label(lesion.labels[z] == value, np.ones((3, 3)))
    assert n >= 5  # several separate lesions on this real slice
    sizes = ndimage.sum(np.ones_like(parts), parts, range(1, n + 1))
    target = parts == int(np.argmax(sizes)) + 1
    ys, xs = np.nonzero(target)
    cy, cx = float(ys.mean()), float(xs.mean())
    radius = max(float(np.ptp(xs)), float(np.ptp(ys))) / 2 + 1.0
    roi = EllipseRoi(Plane.from_slice(lesion.volume, 0, z), cu=cx, cv=cy, ru=radius, rv=radius)
    m = overlap.roi_label_overlap(roi, lesion.labels, value, lesion.volume)
    disc = rasterize(roi, lesion.volume)[z]
    # the lesion here: the parts reaching the ROI's box grown by half its size (>= 5 mm)
    box = []
    for coords in np.nonzero(disc):
        lo, hi = int(coords.min()), int(coords.max()) + 1
        grow = max((hi - lo) / 2, 5.0)
        box.append(slice(max(int(np.floor(lo - grow)), 0), int(np.ceil(hi + grow))))
    near = {int(v) for v in np.unique(parts[tuple(box)]) if v}
    here = np.isin(parts, sorted(near))
    assert here.sum() < (lesion.labels[z] == value).sum()  # some lesions are far away
    expected = overlap.overlap_metrics(here, disc, (1.0, 1.0))
    assert m.ref_count == here.sum() and m.test_count == disc.sum()
    assert m.dice == pytest.approx(expected.dice)
    assert m.hd95_mm == pytest.approx(expected.hd95_mm, abs=1e-6)
    whole = overlap.overlap_metrics(lesion.labels[z] == value, disc, (1.0, 1.0))
    assert m.hd95_mm < whole.hd95_mm / 2  # the far lesions no longer count
    assert m.dice > whole.dice
