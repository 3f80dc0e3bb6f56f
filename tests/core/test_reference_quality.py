"""Reference quality of results: protocol crop and range, masked forms, coverage."""

from __future__ import annotations

import math

import numpy as np
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from medsr_viewer.core.metrics.reference import roi_quality, slice_quality


def pair() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    ref = rng.random((40, 36)) * 200
    return ref, ref + rng.normal(0, 5, ref.shape)


def test_slice_quality_equals_skimage_on_the_cropped_slice():
    ref, test = pair()
    got = slice_quality(ref, test, 250.0, border=4)
    crop = (slice(4, -4), slice(4, -4))
    want_psnr = peak_signal_noise_ratio(ref[crop], test[crop], data_range=250.0)
    assert math.isclose(got["psnr_db"], want_psnr, rel_tol=1e-9)
    want = structural_similarity(ref[crop], test[crop], data_range=250.0, gaussian_weights=True,
                                 sigma=1.5, use_sample_covariance=False)
    assert math.isclose(got["ssim"], want, rel_tol=1e-6)


def test_uncovered_reference_gives_nan_and_masks_skip_uncovered_pixels():
    ref, test = pair()
    ref[:, :3] = np.nan
    assert math.isnan(slice_quality(ref, test, 250.0, border=2)["psnr_db"])
    assert not math.isnan(slice_quality(ref, test, 250.0, border=3)["psnr_db"])
    mask = np.zeros(ref.shape, bool)
    mask[10:20, 0:20] = True
    got = roi_quality(ref, test, mask, 250.0)
    inside = mask & np.isfinite(ref)
    mse = np.mean((ref[inside] - test[inside]) ** 2)
    assert math.isclose(got["psnr_db"], 10 * math.log10(250.0 ** 2 / mse), rel_tol=1e-9)
    assert 0 < got["ssim"] < 1
