"""Detail statistics of SR slices: high-frequency ratio and flagged added-detail share."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter

from medsr_viewer.core.degrade import block_mean_downsample
from medsr_viewer.core.metrics.sr_detail import high_frequency_ratio, slice_detail
from medsr_viewer.core.sr_maps import block_project
from medsr_viewer.core.upsampling import upsample


def _phantom(seed: int = 0) -> np.ndarray:
    """A textured disc on a dark background, 128x128."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:128, :128]
    disc = ((yy - 64) ** 2 + (xx - 64) ** 2 < 50**2).astype(float)
    texture = gaussian_filter(rng.normal(size=(128, 128)), 1.0)
    return disc * (100 + 20 * texture / texture.std())


def test_high_frequency_ratio_is_one_for_the_truth_and_below_for_interpolation():
    hr = _phantom()
    mask = hr > 5
    lr = block_mean_downsample(hr, 2)
    bicubic = upsample(lr, 2, "bicubic").astype(np.float64)
    assert high_frequency_ratio(hr, hr, mask) == pytest.approx(1.0)
    ratio = high_frequency_ratio(hr, bicubic, mask)
    assert 0.05 < ratio < 0.8
    noisy = hr + np.random.default_rng(1).normal(0, 10, hr.shape)
    assert high_frequency_ratio(hr, noisy, mask) > 1.5
    assert np.isnan(high_frequency_ratio(np.ones((8, 8)), np.ones((8, 8)), np.ones((8, 8), bool)))
    with pytest.raises(ValueError, match="shapes differ"):
        high_frequency_ratio(hr, bicubic[:-1], mask)


def test_flagged_share_is_zero_for_bicubic_and_counts_invented_null_space_detail():
    hr = _phantom()
    lr = block_mean_downsample(hr, 2)
    bicubic = upsample(lr, 2, "bicubic").astype(np.float64)
    detail = slice_detail(hr, lr, bicubic, 2, float(hr.max()))
    assert detail.flagged_share == 0.0
    # Invent a checkerboard in the null space of the block mean (it averages to 0 per block)
    # over the left half of the disc: the block mean of the result is still the LR slice.
    checker = np.indices(hr.shape).sum(axis=0) % 2 * 2.0 - 1.0
    invented = np.zeros_like(hr)
    invented[:, :64] = 40.0 * checker[:, :64]
    invented -= block_project(invented, 2)
    sr = bicubic + invented
    np.testing.assert_allclose(block_mean_downsample(sr, 2), block_mean_downsample(bicubic, 2))
    flagged = slice_detail(hr, lr, sr, 2, float(hr.max()))
    anatomy = hr[4:-4, 4:-4] > 0.05 * hr.max()
    left = np.zeros_like(hr, bool)
    left[:, :64] = True
    expected = left[4:-4, 4:-4][anatomy].mean()
    assert flagged.flagged_share == pytest.approx(expected, abs=0.02)
    assert flagged.high_frequency_ratio > detail.high_frequency_ratio
