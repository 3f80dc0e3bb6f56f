"""Simulated low-resolution and noisy acquisitions (Qt-free, torch-free).

The SR evaluation protocol and the training pairs both need a low-resolution (LR) image made
from a real high-resolution (HR) one. Here LR is the mean over each ``s x s`` in-plane block:
the signal a voxel ``s`` times larger would have collected. The GUI "simulate" mode uses the
same functions so what the user sees matches what the models were scored on.
"""

from __future__ import annotations

import numpy as np

#: Noise models for :func:`add_noise`.
NOISE_KINDS = ("gaussian", "rician")


def crop_to_multiple(image: np.ndarray, scale: int) -> np.ndarray:
    """Crop the last two axes of ``image`` down to multiples of ``scale`` (top-left kept).

    Parameters
    ----------
    image
        Array whose last two axes are ``(y, x)``.
    scale
        Block size; the result's last two sizes are divisible by it.
    """
    if scale < 1:
        raise ValueError(f"scale must be >= 1, got {scale}")
    h, w = image.shape[-2:]
    return image[..., : h - h % scale, : w - w % scale]


def block_mean_downsample(image: np.ndarray, scale: int) -> np.ndarray:
    """Mean over each ``scale x scale`` block of the last two axes (HR is cropped first).

    Parameters
    ----------
    image
        Array whose last two axes are ``(y, x)``: one slice ``(y, x)`` or a stack ``(z, y, x)``.
    scale
        Integer down-sampling factor.

    Returns
    -------
    numpy.ndarray
        Float64 array with the last two axes divided by ``scale``.
    """
    hr = crop_to_multiple(np.asarray(image, dtype=np.float64), scale)
    h, w = hr.shape[-2:]
    if h == 0 or w == 0:
        raise ValueError(f"image of shape {image.shape} is smaller than one {scale}x{scale} block")
    blocks = hr.reshape(hr.shape[:-2] + (h // scale, scale, w // scale, scale))
    return blocks.mean(axis=(-3, -1))


def add_noise(
    image: np.ndarray,
    sigma: float,
    kind: str = "gaussian",
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """Add Gaussian (CT) or Rician (magnitude MRI) noise of standard deviation ``sigma``.

    Rician noise is the magnitude of the image plus complex Gaussian noise, which is how noise
    appears in magnitude MR images (biased upwards in dark regions).

    Parameters
    ----------
    image
        Clean image in any units.
    sigma
        Standard deviation of the Gaussian noise per (real/imaginary) channel, same units.
    kind
        ``"gaussian"`` or ``"rician"``.
    rng
        Random generator (a fresh default one when omitted).
    """
    if kind not in NOISE_KINDS:
        raise ValueError(f"unknown noise kind {kind!r}; expected one of {NOISE_KINDS}")
    gen = rng if rng is not None else np.random.default_rng()
    clean = np.asarray(image, dtype=np.float64)
    if kind == "gaussian":
        return clean + gen.normal(0.0, sigma, clean.shape)
    real = clean + gen.normal(0.0, sigma, clean.shape)
    imag = gen.normal(0.0, sigma, clean.shape)
    return np.sqrt(real * real + imag * imag)
