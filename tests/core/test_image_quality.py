"""PSNR/SSIM of the protocol agree with scikit-image's independent implementation."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from medsr_viewer.core.metrics.image_quality import crop_border, psnr, ssim


@pytest.fixture(scope="module")
def pair(data_dir):
    vol = np.asarray(nib.load(str(data_dir / "mri_ct" / "chris_t1.nii.gz")).dataobj, np.float64)
    ref = vol[:, :, 95].T
    rng = np.random.default_rng(0)
    test = ref + rng.normal(0, 6.0, ref.shape)
    return ref, test, float(vol.max() - vol.min())


def test_psnr_matches_skimage(pair):
    ref, test, rng = pair
    assert psnr(ref, test, rng) == pytest.approx(
        peak_signal_noise_ratio(ref, test, data_range=rng), abs=1e-9)
    assert psnr(ref, ref, rng) == float("inf")


def test_ssim_matches_skimage(pair):
    ref, test, rng = pair
    expected = structural_similarity(ref, test, data_range=rng, gaussian_weights=True, sigma=1.5,
                                     use_sample_covariance=False)
    assert ssim(ref, test, rng) == pytest.approx(expected, abs=1e-9)
    assert ssim(ref, ref, rng) == pytest.approx(1.0)
    assert ssim(ref, test, rng) < 0.99


def test_crop_and_bad_input(pair):
    ref, test, rng = pair
    assert crop_border(ref, 4).shape == (ref.shape[0] - 8, ref.shape[1] - 8)
    with pytest.raises(ValueError):
        psnr(ref, test[:-1], rng)
    with pytest.raises(ValueError):
        ssim(ref[:5, :5], test[:5, :5], rng)
    with pytest.raises(ValueError):
        psnr(ref, test, 0.0)
