"""core.compare_maps: robust colour ranges, maps on the SR grid, flag outlines."""

from __future__ import annotations

import numpy as np
import pytest

from medsr_viewer.core.compare_maps import (
    MIN_LIMIT,
    added_detail_image,
    consistency_map,
    difference_map,
    outline,
    robust_limit,
    width_map,
)
from medsr_viewer.core.sr_maps import consistency_map as lr_consistency
from medsr_viewer.core.upsampling import upsample


def test_robust_limit_is_the_percentile_of_magnitudes_not_the_maximum() -> None:
    values = np.concatenate([np.linspace(-1.0, 1.0, 1001), [50.0, -80.0]])
    assert robust_limit(values, 100.0) == 80.0
    assert robust_limit(values, 99.0) == pytest.approx(np.percentile(np.abs(values), 99))
    assert robust_limit(values, 99.0) < 1.0
    assert robust_limit(np.zeros(4)) == MIN_LIMIT
    assert robust_limit(np.array([np.nan, 2.0])) == 2.0
    with pytest.raises(ValueError, match="percentile"):
        robust_limit(values, 0.0)


def test_maps_lie_on_the_sr_grid_with_their_ranges() -> None:
    rng = np.random.default_rng(3)
    lr = rng.normal(100.0, 10.0, (12, 10))
    checker = 1.0 - 2.0 * (np.add.outer(np.arange(24), np.arange(20)) % 2)
    sr = upsample(lr, 2, "bicubic") + rng.normal(0.0, 1.0, (24, 20))
    sr[:8] += 40.0 * checker[:8]  # invented texture in the top third, well above the noise
    cons = consistency_map(sr, lr, 2)
    assert cons.values.shape == (24, 20) and cons.signed
    np.testing.assert_allclose(cons.values[::2, ::2], lr_consistency(sr, lr, 2), atol=1e-5)
    np.testing.assert_array_equal(cons.values[1::2, 1::2], cons.values[::2, ::2])
    assert cons.levels == (-cons.limit, cons.limit)
    diff = difference_map(sr, lr, 2, 90.0)
    np.testing.assert_allclose(diff.values, sr - upsample(lr, 2, "bicubic"), atol=1e-4)
    assert diff.limit == pytest.approx(np.percentile(np.abs(diff.values), 90), rel=1e-6)
    added = added_detail_image(sr, lr, 2)
    assert added.flagged is not None and added.sigma > 0
    assert added.flagged[:8].mean() > 0.9 and not added.flagged[8:].any()
    assert added.value_at(0, 0) == pytest.approx(float(added.values[0, 0]))
    assert added.value_at(24, 0) is None
    width = width_map(np.abs(sr), 98.0)
    assert not width.signed
    assert width.levels == pytest.approx(tuple(np.percentile(np.abs(sr), [2, 98])), rel=1e-5)
    assert width_map(np.abs(sr), 100.0).levels == pytest.approx(
        (np.abs(sr).min(), np.abs(sr).max()), rel=1e-5)


def test_outline_keeps_the_border_of_each_flagged_region() -> None:
    mask = np.zeros((7, 7), bool)
    mask[1:6, 1:6] = True
    mask[0, 6] = True
    ring = outline(mask)
    assert ring[1, 1] and ring[1, 3] and ring[5, 5] and ring[0, 6]
    assert not ring[2:5, 2:5].any() and not (ring & ~mask).any()
