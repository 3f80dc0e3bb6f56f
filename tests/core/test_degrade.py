"""Block-mean LR simulation and noise models on real slices."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest

from medsr_viewer.core.degrade import add_noise, block_mean_downsample, crop_to_multiple


@pytest.fixture(scope="module")
def real_slice(data_dir):
    img = nib.load(str(data_dir / "mri_ct" / "chris_PD.nii.gz"))
    return np.asarray(img.dataobj[:, :, 27], dtype=np.float64).T  # (y, x) = (256, 191)


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_block_mean_equals_explicit_loop(real_slice, scale):
    lr = block_mean_downsample(real_slice, scale)
    h, w = real_slice.shape[0] // scale, real_slice.shape[1] // scale
    assert lr.shape == (h, w)
    expected = np.empty((h, w))
    for i in range(h):
        for j in range(w):
            expected[i, j] = real_slice[i * scale:(i + 1) * scale, j * scale:(j + 1) * scale].mean()
    np.testing.assert_allclose(lr, expected, rtol=0, atol=1e-12)


def test_block_mean_of_stack_is_per_slice(real_slice):
    stack = np.stack([real_slice, real_slice[::-1]])
    lr = block_mean_downsample(stack, 2)
    np.testing.assert_array_equal(lr[1], block_mean_downsample(real_slice[::-1], 2))
    assert lr.mean() == pytest.approx(crop_to_multiple(stack, 2).mean())


def test_crop_to_multiple_and_errors(real_slice):
    assert crop_to_multiple(real_slice, 4).shape == (256, 188)
    with pytest.raises(ValueError):
        block_mean_downsample(np.ones((3, 3)), 4)
    with pytest.raises(ValueError):
        crop_to_multiple(real_slice, 0)


def test_noise_statistics():
    rng = np.random.default_rng(1)
    flat = np.full((400, 400), 100.0)
    gauss = add_noise(flat, 5.0, "gaussian", rng) - 100.0
    assert abs(gauss.std() - 5.0) < 0.1 and abs(gauss.mean()) < 0.1
    # Rician noise on zero signal is Rayleigh: mean sigma * sqrt(pi / 2)
    rice = add_noise(np.zeros((400, 400)), 5.0, "rician", rng)
    assert rice.min() >= 0
    assert rice.mean() == pytest.approx(5.0 * np.sqrt(np.pi / 2), rel=0.02)
    with pytest.raises(ValueError):
        add_noise(flat, 1.0, "poisson")
