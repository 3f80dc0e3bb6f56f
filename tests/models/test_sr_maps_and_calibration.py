"""Trust tools for SR output: torch-free bicubic, consistency and added-detail maps, spreads
and their conformal calibration (issue: show where super-resolution invented detail)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from medsr_viewer.core.degrade import block_mean_downsample
from medsr_viewer.core.sr_maps import (
    added_detail,
    added_detail_map,
    anatomy_noise_sigma,
    block_project,
    consistency_map,
    noise_sigma,
)
from medsr_viewer.core.upsampling import upsample
from medsr_viewer.models.calibration import (
    CalibrationError,
    SliceSample,
    calibrate,
    conformal_factor,
    evaluate,
)
from medsr_viewer.models.uncertainty import (
    DIHEDRAL,
    dihedral,
    hr_noise_sigma,
    interval,
    sr_with_spread,
    undo_dihedral,
)


@pytest.fixture(scope="module")
def mr_slice(data_dir) -> np.ndarray:
    from medsr_viewer.models.study_volumes import load_study

    voxels = load_study(data_dir / "mri_ct" / "chris_t1.nii.gz").voxels
    return np.asarray(voxels[90, 40:200, 30:170], dtype=np.float64)


@pytest.mark.parametrize("mode", ["bilinear", "bicubic", "nearest"])
@pytest.mark.parametrize("scale", [2, 3, 4])
def test_numpy_upsampling_matches_torch(mode: str, scale: int) -> None:
    image = np.random.default_rng(scale).random((37, 29)).astype(np.float32) * 1000
    kwargs = {} if mode == "nearest" else {"align_corners": False}
    expected = F.interpolate(torch.from_numpy(image)[None, None], scale_factor=float(scale),
                             mode=mode, **kwargs)[0, 0].numpy()
    np.testing.assert_allclose(upsample(image, scale, mode), expected, rtol=0, atol=0.05)


def test_consistency_is_zero_for_a_model_that_block_averages_back(mr_slice) -> None:
    lr = block_mean_downsample(mr_slice, 2)
    consistent = np.repeat(np.repeat(lr, 2, 0), 2, 1) + (mr_slice - block_project(mr_slice, 2))
    assert np.abs(consistency_map(consistent, lr, 2)).max() < 1e-9
    bicubic = upsample(lr, 2, "bicubic")
    off = consistency_map(bicubic, lr, 2)
    assert off.shape == lr.shape and np.abs(off).max() > 1.0  # bicubic is not consistent


def test_added_detail_is_zero_for_bicubic_and_finds_invented_texture(mr_slice) -> None:
    lr = block_mean_downsample(mr_slice, 2)
    bicubic = upsample(lr, 2, "bicubic")
    assert np.abs(added_detail_map(bicubic, lr, 2)).max() < 1e-3
    # Invent a checkerboard the LR cannot see (zero block means): all of it is "added".
    checker = 20.0 * (np.indices(bicubic.shape).sum(axis=0) % 2 * 2 - 1)
    result = added_detail(bicubic + checker, lr, 2, k=3.0)
    np.testing.assert_allclose(result.values, checker, atol=1e-3)
    assert result.sigma > 0 and result.flagged.mean() > 0.99
    # Detail below the noise level is not flagged.
    faint = added_detail(bicubic + checker * (0.2 * result.sigma / 20.0), lr, 2, k=3.0)
    assert faint.flagged_fraction == 0.0


def test_noise_estimate_follows_added_noise(mr_slice) -> None:
    rng = np.random.default_rng(0)
    base = noise_sigma(mr_slice)
    noisy = noise_sigma(mr_slice + rng.normal(0, 10.0, mr_slice.shape))
    assert noisy == pytest.approx(np.hypot(10.0, base), rel=0.15)
    assert noise_sigma(np.full((16, 16), 5.0)) == 0.0


def _object_on_quiet_background(sigma: float, seed: int = 0) -> np.ndarray:
    """A 256 x 256 slice: a nearly noise-free background (sigma 0.2, like CT air or MR
    background) covering ~83 % of it, and a disc with a ramp and Gaussian noise ``sigma``."""
    rng = np.random.default_rng(seed)
    image = rng.normal(0.0, 0.2, (256, 256))
    yy, xx = np.mgrid[:256, :256]
    disc = (yy - 128) ** 2 + (xx - 128) ** 2 < 60**2
    image[disc] += 200.0 + 0.3 * xx[disc] + rng.normal(0.0, sigma, int(disc.sum()))
    return image


def test_anatomy_noise_estimate_ignores_the_background() -> None:
    for sigma in (2.0, 8.0):
        image = _object_on_quiet_background(sigma)
        threshold = 0.05 * image.max()
        assert anatomy_noise_sigma(image, threshold) == pytest.approx(sigma, rel=0.15)
        # The whole-slice estimate is set by the background: far below the object's noise.
        assert noise_sigma(image) < 0.5 * sigma
    assert anatomy_noise_sigma(np.full((16, 16), 5.0), 1.0) == 0.0
    with pytest.raises(ValueError):
        anatomy_noise_sigma(np.ones((3, 3)), 0.0)
    with pytest.raises(ValueError):
        anatomy_noise_sigma(np.ones((8, 8)), 0.0, erode=-1)


def test_anatomy_noise_estimate_falls_back_to_the_whole_slice_for_thin_anatomy() -> None:
    rng = np.random.default_rng(1)
    image = rng.normal(0.0, 1.0, (64, 64))
    image[30:32, :] += 100.0  # a 2-pixel vessel: no coefficient's support inside, eroded
    assert anatomy_noise_sigma(image, 5.0) == noise_sigma(image)
    assert anatomy_noise_sigma(image, 1e9) == noise_sigma(image)  # no anatomy at all


def test_tta_noise_floor_is_the_anatomy_noise_at_hr_scale() -> None:
    lr = _object_on_quiet_background(4.0)
    result = sr_with_spread(lambda x: np.repeat(np.repeat(x, 2, 0), 2, 1), lr, 2)
    assert result.hr_noise == pytest.approx(2 * 4.0, rel=0.15)
    assert result.hr_noise == pytest.approx(hr_noise_sigma(lr, 2, float(lr.max())))
    np.testing.assert_allclose(result.spread("tta+noise"), result.hr_noise, rtol=1e-9)
    # The anatomy is the LR pixels above 5 % of the *volume's* maximum when it is given.
    high = sr_with_spread(lambda x: np.repeat(np.repeat(x, 2, 0), 2, 1), lr, 2, 1e9)
    assert high.hr_noise == pytest.approx(2 * noise_sigma(lr))


def test_dihedral_round_trip() -> None:
    image = np.arange(12.0).reshape(3, 4)
    for k, flip in DIHEDRAL:
        np.testing.assert_array_equal(undo_dihedral(dihedral(image, k, flip), k, flip), image)
    assert len({dihedral(image, k, f).tobytes() for k, f in DIHEDRAL}) == 8


def test_equivariant_model_has_zero_spread_and_intervals_never_invert(mr_slice) -> None:
    lr = block_mean_downsample(mr_slice, 2)
    result = sr_with_spread(lambda x: np.repeat(np.repeat(x, 2, 0), 2, 1), lr, 2)
    spread = result.spread("tta-std")
    assert np.abs(spread).max() < 1e-9  # nearest upsampling commutes with every symmetry
    lower, upper = interval(result.sr, spread, 5.0)
    np.testing.assert_allclose(upper - lower, 0.0, atol=1e-8)  # zero width where spread is 0
    lower, upper = interval(result.sr, result.spread("tta+residual"), 2.0)
    assert (lower <= upper).all() and ((upper - lower) > 0).mean() > 0.5
    with pytest.raises(ValueError):
        interval(result.sr, spread, -1.0)


def _synthetic(n: int, seed: int) -> list[SliceSample]:
    """Slices whose errors are |N(0, spread)|: exchangeable, so conformal must hold."""
    rng = np.random.default_rng(seed)
    samples = []
    for i in range(n):
        spread = rng.uniform(0.5, 3.0, 4000)
        errors = np.abs(rng.normal(0, spread))
        samples.append(SliceSample("synthetic", i, errors, {"tta-std": spread}))
    return samples


def test_conformal_coverage_holds_on_held_out_slices() -> None:
    calibration, held_out = _synthetic(60, 1), _synthetic(60, 2)
    factor = conformal_factor(calibration, "tta-std", alpha=0.1)
    score = evaluate(held_out, "tta-std", factor, level=0.9)
    assert 0.88 <= score.coverage <= 0.93
    # An adaptive interval beats the constant-width one when the spread predicts the error.
    assert score.mean_width < score.constant_width
    assert factor == pytest.approx(1.645, rel=0.06)  # the 90 % two-sided normal quantile


def test_calibration_refuses_impossible_levels() -> None:
    with pytest.raises(CalibrationError, match="cannot reach"):
        conformal_factor(_synthetic(5, 3), "tta-std", alpha=0.1)  # 1/(n+1) > alpha
    zero = [SliceSample("z", 0, np.ones(10), {"tta-std": np.zeros(10)}) for _ in range(30)]
    with pytest.raises(CalibrationError):
        conformal_factor(zero, "tta-std", alpha=0.1)
    block = calibrate(_synthetic(40, 4), alpha=0.1, spreads=("tta-std",))
    assert block["spread"] == "tta-std" and block["level"] == 0.9
