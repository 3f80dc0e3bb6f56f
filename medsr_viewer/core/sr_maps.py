"""Maps that show where a super-resolved slice agrees with what was measured, and what it added.

For an SR factor ``s`` the measurement model is the one the models are trained and scored
with (:mod:`medsr_viewer.core.degrade`): a low-resolution (LR) pixel is the mean of the
``s x s`` block of high-resolution (HR) pixels it covers, ``LR = D(HR)``. Its pseudo-inverse
``D+`` repeats each LR pixel over its block, and ``P = D+ D`` (replace every block by its mean)
is the orthogonal projection onto what an LR image can say. Two maps follow (Bhadra et al.,
"On hallucinations in tomographic image reconstruction", IEEE TMI 2021):

- **consistency** ``D(SR) - LR``, on the LR grid: where the SR image disagrees with the
  measurement it came from (zero for a model whose output block-averages back to its input);
- **added detail** ``(I - P)(SR - B(LR))``, on the SR grid: the part of what the model added
  beyond the protocol's bicubic baseline ``B`` that lies in the null space of ``D`` -- detail no
  LR image could confirm or refute. Zero for bicubic itself. Pixels are *flagged* where its
  magnitude exceeds ``k`` times the noise level, estimated robustly from the LR slice
  (Donoho's median absolute deviation of the finest wavelet coefficients, via
  ``skimage.restoration.estimate_sigma``), since detail below the noise is indistinguishable
  from it.

:func:`anatomy_noise_sigma` is the same estimator restricted to the anatomy of the slice: a
slice that is mostly air or padding (a CT slice; an MR with a large background) has a
whole-slice estimate set by the flat, nearly noise-free background, far below the noise where
the anatomy is.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from medsr_viewer.core.degrade import block_mean_downsample, crop_to_multiple
from medsr_viewer.core.upsampling import upsample

#: Default flag threshold, in noise standard deviations.
DEFAULT_K = 3.0


def block_project(image: np.ndarray, scale: int) -> np.ndarray:
    """``P image``: every ``scale x scale`` block replaced by its mean (same shape, cropped)."""
    image = crop_to_multiple(np.asarray(image, dtype=np.float64), scale)
    mean = block_mean_downsample(image, scale)
    return np.repeat(np.repeat(mean, scale, axis=-2), scale, axis=-1)


def consistency_map(sr: np.ndarray, lr: np.ndarray, scale: int) -> np.ndarray:
    """``D(SR) - LR`` on the LR grid (float32); SR is cropped to ``scale`` times LR's size."""
    sr, lr = _matched(sr, lr, scale)
    return (block_mean_downsample(sr, scale) - lr).astype(np.float32)


def added_detail_map(sr: np.ndarray, lr: np.ndarray, scale: int) -> np.ndarray:
    """``(I - P)(SR - bicubic(LR))`` on the SR grid (float32): unverifiable added detail."""
    sr, lr = _matched(sr, lr, scale)
    change = sr - upsample(lr, scale, "bicubic").astype(np.float64)
    return (change - block_project(change, scale)).astype(np.float32)


#: Fewest finest-scale wavelet coefficients inside the anatomy for :func:`anatomy_noise_sigma`
#: to use them (fewer: thin anatomy such as vessels, or none; the whole slice is used).
MIN_ANATOMY_COEFFICIENTS = 64
#: 75th percentile of the standard normal: ``median(|N(0, s^2)|) = 0.6745 s``.
_NORMAL_Q75 = 0.6744897501960817


def noise_sigma(image: np.ndarray) -> float:
    """Robust estimate of the noise standard deviation of a slice (0 for a constant one).

    Donoho's estimator over the *whole* slice (``skimage.restoration.estimate_sigma``: median
    absolute finest-scale ``db2`` diagonal wavelet coefficient / 0.6745, exact zeros ignored).
    """
    from skimage.restoration import estimate_sigma

    data = _checked_slice(image)
    if np.ptp(data) == 0:
        return 0.0
    return float(estimate_sigma(data, channel_axis=None))


def anatomy_noise_sigma(
    image: np.ndarray,
    threshold: float,
    erode: int = 1,
    min_coefficients: int = MIN_ANATOMY_COEFFICIENTS,
) -> float:
    """Robust noise standard deviation of a slice, estimated only inside its anatomy.

    The estimator of :func:`noise_sigma` (median absolute finest-scale ``db2`` diagonal
    wavelet coefficient / 0.6745, exact zeros ignored), restricted to the coefficients whose
    whole 4 x 4 support lies on anatomy pixels: those above ``threshold``, the mask eroded by
    ``erode`` pixels (3 x 3) so that the edges of the anatomy, where the coefficients measure
    structure rather than noise, are left out. What it measures is the finest-scale
    variability inside the anatomy: noise, plus any texture finer than the pixel grid.

    Parameters
    ----------
    image
        Finite 2-D slice of at least 4 x 4 pixels (raw units).
    threshold
        Anatomy pixels are those above it (the SR protocol: 5 % of the volume maximum).
    erode
        Erosion of the anatomy mask, in pixels (0: none).
    min_coefficients
        With fewer coefficients inside the anatomy (none, or thin structures such as
        vessels), the whole-slice :func:`noise_sigma` is returned instead.

    Returns
    -------
    float
        The noise standard deviation (raw units); 0 for a constant slice.
    """
    import pywt
    from scipy.ndimage import binary_erosion

    data = _checked_slice(image)
    if erode < 0:
        raise ValueError(f"erode must be >= 0, got {erode}")
    if np.ptp(data) == 0:
        return 0.0
    mask = data > threshold
    if erode:
        mask = binary_erosion(mask, np.ones((3, 3), bool), iterations=erode, border_value=0)
    detail = np.asarray(pywt.dwtn(data, "db2")["dd"])  # as estimate_sigma (mode "symmetric")
    # Coefficient (i, j) depends on rows 2i-2 .. 2i+1 and columns 2j-2 .. 2j+1.
    padded = np.pad(mask, ((2, 3), (2, 3)))
    rows, cols = detail.shape
    inside = np.ones(detail.shape, dtype=bool)
    for dy in range(4):
        for dx in range(4):
            inside &= padded[dy : dy + 2 * rows : 2, dx : dx + 2 * cols : 2]
    coefficients = detail[inside]
    coefficients = coefficients[coefficients != 0]
    if coefficients.size < max(min_coefficients, 1):
        return noise_sigma(data)
    return float(np.median(np.abs(coefficients)) / _NORMAL_Q75)


def _checked_slice(image: np.ndarray) -> np.ndarray:
    """``image`` as float64, checked to be a finite 2-D slice of at least 4 x 4 pixels."""
    data = np.asarray(image, dtype=np.float64)
    if data.ndim != 2 or min(data.shape) < 4 or not np.isfinite(data).all():
        raise ValueError(f"need a finite 2-D slice of at least 4x4 pixels, got {data.shape}")
    return data


@dataclass(frozen=True)
class AddedDetail:
    """The added-detail map of one slice and which of its pixels stand above the noise.

    Attributes
    ----------
    values
        :func:`added_detail_map` (SR grid).
    sigma
        Noise standard deviation estimated from the LR slice (raw units).
    k
        Threshold in noise standard deviations.
    flagged
        ``|values| > k * sigma`` (bool, SR grid).
    """

    values: np.ndarray
    sigma: float
    k: float
    flagged: np.ndarray

    @property
    def flagged_fraction(self) -> float:
        """Share of the slice's pixels that are flagged."""
        return float(self.flagged.mean()) if self.flagged.size else 0.0


def added_detail(sr: np.ndarray, lr: np.ndarray, scale: int, k: float = DEFAULT_K) -> AddedDetail:
    """Added detail of ``sr`` over ``lr`` with pixels flagged above ``k`` noise sigmas."""
    if not k > 0:
        raise ValueError(f"k must be positive, got {k}")
    values = added_detail_map(sr, lr, scale)
    sigma = noise_sigma(lr)
    return AddedDetail(values, sigma, float(k), np.abs(values) > k * sigma)


def _matched(sr: np.ndarray, lr: np.ndarray, scale: int) -> tuple[np.ndarray, np.ndarray]:
    """SR and LR as float64, SR cropped to exactly ``scale`` times LR's shape."""
    if scale < 1:
        raise ValueError(f"scale must be >= 1, got {scale}")
    sr = np.asarray(sr, dtype=np.float64)
    lr = np.asarray(lr, dtype=np.float64)
    if sr.ndim != 2 or lr.ndim != 2:
        raise ValueError("expected 2-D slices")
    h, w = lr.shape
    if sr.shape[0] < h * scale or sr.shape[1] < w * scale:
        raise ValueError(f"SR slice {sr.shape} is smaller than {scale} x LR {lr.shape}")
    return sr[: h * scale, : w * scale], lr
