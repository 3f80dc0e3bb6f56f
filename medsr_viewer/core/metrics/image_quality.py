"""Full-reference image quality: PSNR and SSIM exactly as the project's evaluation protocol.

PSNR uses an explicit data range (the HR *volume* max - min, not the slice's), and SSIM is the
standard Gaussian-window form of Wang et al. (2004): 11 x 11 window, sigma 1.5, K1 = 0.01,
K2 = 0.03, population covariances. It matches ``skimage.metrics.structural_similarity`` with
``gaussian_weights=True, sigma=1.5, use_sample_covariance=False`` (tests check it), but is
written here so the protocol is pinned in one place.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter

#: SSIM window parameters (11 x 11 Gaussian, sigma 1.5: truncate 3.5 gives radius 5).
SSIM_SIGMA = 1.5
SSIM_TRUNCATE = 3.5
SSIM_K1 = 0.01
SSIM_K2 = 0.03


#: The SR protocols' "anatomy": a slice (or pixel) counts when its HR value exceeds this
#: fraction of the volume maximum.
EMPTY_FRACTION = 0.05


def anatomy_mask(hr: np.ndarray, volume_max: float, scale: int) -> np.ndarray:
    """Protocol anatomy pixels of an HR slice: above 5 % of the volume max, border removed."""
    mask = np.asarray(hr) > EMPTY_FRACTION * volume_max
    border = 2 * scale
    mask[:border] = False
    mask[-border:] = False
    mask[:, :border] = False
    mask[:, -border:] = False
    return mask


def _pair(reference: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ref = np.asarray(reference, dtype=np.float64)
    tst = np.asarray(test, dtype=np.float64)
    if ref.shape != tst.shape:
        raise ValueError(f"images differ in shape: {ref.shape} vs {tst.shape}")
    return ref, tst


def crop_border(image: np.ndarray, border: int) -> np.ndarray:
    """``image`` with ``border`` pixels removed from each side of its last two axes."""
    if border <= 0:
        return image
    return image[..., border:-border, border:-border]


def psnr(reference: np.ndarray, test: np.ndarray, data_range: float) -> float:
    """Peak signal-to-noise ratio in dB: ``10 log10(range^2 / MSE)``.

    Parameters
    ----------
    reference, test
        Images of the same shape.
    data_range
        Range of the reference data (the protocol uses the HR volume's max - min).

    Returns
    -------
    float
        PSNR in dB; ``inf`` when the images are identical.
    """
    ref, tst = _pair(reference, test)
    if data_range <= 0:
        raise ValueError(f"data_range must be positive, got {data_range}")
    mse = float(np.mean((ref - tst) ** 2))
    if mse == 0.0:
        return float("inf")
    return float(10.0 * np.log10(data_range * data_range / mse))


def ssim(reference: np.ndarray, test: np.ndarray, data_range: float) -> float:
    """Mean structural similarity of two 2-D images (Gaussian 11 x 11, sigma 1.5 window).

    Local statistics use a Gaussian filter with reflected borders; the SSIM map is averaged
    after removing the 5-pixel margin where the window leaves the image (as scikit-image does).

    Parameters
    ----------
    reference, test
        2-D images of the same shape, at least 11 x 11.
    data_range
        Range of the data, sets the stabilising constants ``(K * range)^2``.
    """
    ref, tst = _pair(reference, test)
    if ref.ndim != 2:
        raise ValueError(f"ssim expects 2-D images, got shape {ref.shape}")
    if min(ref.shape) < 11:
        raise ValueError(f"ssim needs images of at least 11x11 pixels, got {ref.shape}")
    if data_range <= 0:
        raise ValueError(f"data_range must be positive, got {data_range}")

    def smooth(a: np.ndarray) -> np.ndarray:
        return gaussian_filter(a, sigma=SSIM_SIGMA, truncate=SSIM_TRUNCATE, mode="reflect")

    ux, uy = smooth(ref), smooth(tst)
    vx = smooth(ref * ref) - ux * ux
    vy = smooth(tst * tst) - uy * uy
    vxy = smooth(ref * tst) - ux * uy
    c1 = (SSIM_K1 * data_range) ** 2
    c2 = (SSIM_K2 * data_range) ** 2
    num = (2 * ux * uy + c1) * (2 * vxy + c2)
    den = (ux * ux + uy * uy + c1) * (vx + vy + c2)
    pad = 5
    return float(np.mean((num / den)[pad:-pad, pad:-pad]))
