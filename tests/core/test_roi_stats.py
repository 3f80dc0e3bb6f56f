"""ROI statistics on original and SR grids, checked against numpy on independently built masks."""

from __future__ import annotations

import math
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from scipy.ndimage import zoom

from medsr_viewer.core.metrics.roi_stats import (
    mask_statistics,
    paired_roi_statistics,
    roi_statistics,
)
from medsr_viewer.core.roi import EllipseRoi, GridSpec, Plane, RectangleRoi
from medsr_viewer.core.volume import Volume


@pytest.fixture(scope="module")
def t1_slab(data_dir: Path) -> Volume:
    """Three real axial slices of the 1 mm FLAIR image, 100 x 100 pixels."""
    image = nib.load(data_dir / "labelled/flair_lesion/FLAIR.nii.gz")
    data = np.asarray(image.dataobj, dtype=np.float32).transpose(2, 1, 0)[60:63, 20:120, 10:110]
    return Volume.from_spacing(np.ascontiguousarray(data), (3.0, 1.0, 1.0), (5.0, -7.0, 11.0))


def _sr_of(volume: Volume, factor: int = 2) -> Volume:
    """An in-plane SR stand-in: cubic spline zoom onto the finer grid over the same extent."""
    affine = volume.affine.copy()
    affine[:3, :2] /= factor
    affine[:3, 3] -= (volume.affine[:3, 0] + volume.affine[:3, 1]) * (1 - 1 / factor) / 2
    voxels = zoom(volume.voxels, (1, factor, factor), order=3, grid_mode=True, mode="nearest")
    return Volume(voxels.astype(np.float32), affine)


def test_stats_match_numpy_on_independent_mask(t1_slab: Volume) -> None:
    plane = Plane.from_slice(t1_slab, 0, 1)
    roi = EllipseRoi(plane, cu=48.3, cv=51.7, ru=20.0, rv=14.0)
    stats = roi_statistics(t1_slab, t1_slab.voxels, roi)
    yy, xx = np.mgrid[0:100, 0:100].astype(float)
    mask2d = ((xx - 48.3) / 20.0) ** 2 + ((yy - 51.7) / 14.0) ** 2 <= 1
    inside = t1_slab.voxels[1][mask2d].astype(np.float64)
    assert stats.count == inside.size == mask2d.sum()
    assert stats.mean == pytest.approx(inside.mean())
    assert stats.sd == pytest.approx(inside.std(ddof=1))
    assert stats.min == inside.min() and stats.max == inside.max()
    assert stats.median == pytest.approx(np.median(inside))
    assert stats.area_mm2 == pytest.approx(mask2d.sum() * 1.0)
    assert stats.volume_mm3 == pytest.approx(mask2d.sum() * 3.0)
    assert abs(stats.area_mm2 - roi.area_mm2) / roi.area_mm2 < 0.02


def test_paired_stats_on_original_and_sr_grid(t1_slab: Volume) -> None:
    sr = _sr_of(t1_slab)
    roi = EllipseRoi(Plane.from_slice(t1_slab, 0, 1), cu=50.2, cv=49.6, ru=25.0, rv=25.0)
    paired = paired_roi_statistics(roi, t1_slab, t1_slab.voxels, sr, sr.voxels)
    assert paired.original.count > 1900 and paired.sr.count == pytest.approx(
        4 * paired.original.count, rel=0.02)
    assert paired.sr.area_mm2 == pytest.approx(paired.sr.count * 0.25)
    assert paired.original.area_mm2 == pytest.approx(math.pi * 625, rel=0.01)
    assert paired.sr.area_mm2 == pytest.approx(math.pi * 625, rel=0.01)
    # the SR result of the same region has nearly the same mean (zoom preserves it)
    assert paired.sr.mean == pytest.approx(paired.original.mean, rel=0.02)
    for key, value in paired.delta.items():
        if key == "count":  # pixels of a grid with 4x smaller pixels: no meaningful difference
            assert value is None
        else:
            assert value == pytest.approx(getattr(paired.sr, key) - getattr(paired.original, key))
    assert paired.delta["area_mm2"] == pytest.approx(0.0, abs=0.01 * paired.original.area_mm2)
    # independent check of the SR side: numpy on a mask built from SR pixel centres
    centres = sr.index_to_world(np.stack(np.meshgrid([1], np.arange(200), np.arange(200),
                                                     indexing="ij"), -1).astype(float))[0]
    uvd = roi.plane.to_plane(centres)
    mask = (uvd[..., 0] - 50.2) ** 2 + (uvd[..., 1] - 49.6) ** 2 <= 625
    assert paired.sr.mean == pytest.approx(sr.voxels[1][mask].astype(np.float64).mean())


def test_area_of_roi_on_through_plane_sr_grid_is_not_doubled(t1_slab: Volume) -> None:
    affine = t1_slab.affine.copy()
    affine[:3, 2] /= 2
    affine[:3, 3] -= t1_slab.affine[:3, 2] / 4
    fine = GridSpec((6, 100, 100), affine)
    roi = RectangleRoi(Plane.from_slice(t1_slab, 0, 1), u0=10.5, v0=20.5, u1=40.5, v1=30.5)
    values = np.ones(fine.shape, np.float32)
    stats = roi_statistics(fine, values, roi)
    assert stats.count == 2 * 30 * 10  # two fine slices
    assert stats.area_mm2 == pytest.approx(300.0)
    assert stats.volume_mm3 == pytest.approx(300.0 * 3.0)


def test_empty_and_single_voxel_masks() -> None:
    values = np.arange(27, dtype=np.float32).reshape(3, 3, 3)
    empty = mask_statistics(values, np.zeros(values.shape, bool), np.eye(4))
    assert empty.count == 0 and math.isnan(empty.mean) and empty.area_mm2 == 0.0
    one = np.zeros(values.shape, bool)
    one[1, 1, 1] = True
    single = mask_statistics(values, one, np.diag([0.5, 0.5, 2.0, 1.0]))
    assert single.mean == 13 and math.isnan(single.sd)
    assert single.area_mm2 == pytest.approx(0.25) and single.volume_mm3 == pytest.approx(0.5)
    with pytest.raises(ValueError, match="does not fit"):
        mask_statistics(values, np.zeros((2, 2, 2), bool), np.eye(4))


def test_masked_psnr_and_ssim_against_skimage(t1_slab: Volume) -> None:
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    from medsr_viewer.core.metrics.image_quality import ssim
    from medsr_viewer.core.metrics.roi_stats import masked_psnr, masked_ssim

    ref = t1_slab.voxels.astype(np.float64)
    test = ref + np.random.default_rng(2).normal(0, 5, ref.shape)
    data_range = float(ref.max() - ref.min())
    full = np.ones(ref.shape, bool)
    assert masked_psnr(ref, test, full, data_range) == pytest.approx(
        peak_signal_noise_ratio(ref, test, data_range=data_range))
    assert masked_ssim(ref[1], test[1], full[1], data_range) == pytest.approx(
        ssim(ref[1], test[1], data_range))
    mask = np.zeros(ref.shape, bool)
    mask[1, 30:60, 20:70] = True
    _, smap = structural_similarity(ref[1], test[1], data_range=data_range,
                                    gaussian_weights=True, sigma=1.5,
                                    use_sample_covariance=False, full=True)
    assert masked_ssim(ref, test, mask, data_range) == pytest.approx(smap[30:60, 20:70].mean())
    assert math.isnan(masked_psnr(ref, test, np.zeros(ref.shape, bool), data_range))


def test_roi_trust_is_the_mean_width_and_the_flagged_share_inside() -> None:
    from medsr_viewer.core.metrics.roi_trust import roi_trust

    mask = np.zeros((4, 4), bool)
    mask[:2, :2] = True
    flagged = np.zeros((4, 4), bool)
    flagged[0, 0] = True
    flagged[3, 3] = True  # outside: not counted
    width = np.arange(16, dtype=np.float32).reshape(4, 4)
    values = roi_trust(mask, flagged, width)
    assert values == {"pct_flagged": 25.0, "interval_width": (0 + 1 + 4 + 5) / 4}
    assert roi_trust(mask) == {}
    assert math.isnan(roi_trust(np.zeros((4, 4), bool), flagged)["pct_flagged"])
    with pytest.raises(ValueError, match="grid"):
        roi_trust(mask, flagged[:2])
