"""How much fine detail an SR slice has, and how much of it no measurement could confirm.

PSNR and SSIM reward the conditional mean, which is smooth; a perceptual (adversarially
fine-tuned) model trades some of both for texture. Two numbers make that trade visible beside
them, both over the anatomy pixels of a slice (the protocol's ``HR > 5 %`` of the volume max):

- **high-frequency ratio**: the energy of the discrete Laplacian of the SR slice over that of
  the HR truth. ``1`` = as much pixel-scale detail as the real image; interpolation gives less
  (bicubic about 0.3–0.5 at x2); above 1 = more fine structure than the truth (noise, ringing
  or invented texture).
- **flagged share**: the fraction of those pixels whose *added detail* (the null-space part of
  SR, :func:`medsr_viewer.core.sr_maps.added_detail`) exceeds ``k`` noise sigmas: detail that no
  low-resolution image could confirm, which is what the viewer's "added detail" map outlines.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import laplace

from medsr_viewer.core.metrics.image_quality import anatomy_mask
from medsr_viewer.core.sr_maps import DEFAULT_K, added_detail


@dataclass(frozen=True)
class SliceDetail:
    """Detail statistics of one SR slice (see the module docstring)."""

    high_frequency_ratio: float
    flagged_share: float


def high_frequency_ratio(reference: np.ndarray, test: np.ndarray, mask: np.ndarray) -> float:
    """Laplacian energy of ``test`` over that of ``reference`` inside ``mask``.

    Returns ``nan`` when the reference has no Laplacian energy there (a flat region).
    """
    ref = np.asarray(reference, dtype=np.float64)
    out = np.asarray(test, dtype=np.float64)
    if ref.shape != out.shape or ref.shape != np.shape(mask):
        raise ValueError(f"shapes differ: reference {ref.shape}, test {out.shape}, "
                         f"mask {np.shape(mask)}")
    m = np.asarray(mask, dtype=bool)
    ref_energy = float((laplace(ref, mode="nearest")[m] ** 2).sum())
    if ref_energy <= 0:
        return float("nan")
    return float((laplace(out, mode="nearest")[m] ** 2).sum()) / ref_energy


def slice_detail(hr: np.ndarray, lr: np.ndarray, sr: np.ndarray, scale: int,
                 volume_max: float, k: float = DEFAULT_K) -> SliceDetail:
    """Both statistics for one protocol slice.

    Parameters
    ----------
    hr, sr
        The HR truth and the SR result, same shape (``scale`` times ``lr``'s).
    lr
        The LR slice the SR came from (its noise sets the flag threshold).
    volume_max
        The HR volume's maximum (anatomy: :func:`~medsr_viewer.core.metrics.image_quality.
        anatomy_mask`, pixels above 5 % of it with the protocol's ``2 s`` border removed).
    k
        Flag threshold in noise sigmas.
    """
    hr = np.asarray(hr, dtype=np.float64)
    sr = np.asarray(sr, dtype=np.float64)
    if hr.shape != sr.shape:
        raise ValueError(f"HR {hr.shape} and SR {sr.shape} differ")
    mask = anatomy_mask(hr, volume_max, scale)
    flagged = added_detail(sr, lr, scale, k).flagged
    share = float(flagged[mask].mean()) if mask.any() else float("nan")
    return SliceDetail(high_frequency_ratio(hr, sr, mask), share)
