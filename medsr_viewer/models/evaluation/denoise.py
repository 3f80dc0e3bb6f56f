"""Denoising evaluation: noisy input vs the best Gaussian filter vs the model, by PSNR/SSIM.

Noise is added to real slices at ``sigma = level x (volume max - min)``: Rician for MR (the
magnitude-image noise), Gaussian for CT, from a fixed seed so scores are reproducible. The
Gaussian-filter baseline gets the filter width that is best over the evaluated slices (an
oracle choice, so the model has to beat the strongest version of it). PSNR/SSIM use the clean
volume's range, as in the SR protocol.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from scipy.ndimage import gaussian_filter

from medsr_viewer.core.degrade import add_noise
from medsr_viewer.core.metrics.image_quality import psnr, ssim

#: Gaussian-filter widths (pixels) searched for the baseline.
GAUSSIAN_SIGMAS = (0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 2.5)
#: Evaluate slices whose max exceeds this fraction of the volume max.
EMPTY_FRACTION = 0.05

#: Denoises a stack ``(n, h, w)`` in raw units.
StackDenoiser = Callable[[np.ndarray], np.ndarray]


@dataclass
class DenoiseScores:
    """Mean PSNR/SSIM per method (``noisy``, ``gaussian``, ``model``) on one volume."""

    name: str
    noise: str
    sigma: float
    gaussian_sigma: float
    slices: list[int]
    psnr: dict[str, float]
    ssim: dict[str, float]


def model_denoiser(module: torch.nn.Module, bounds_of: Callable[[np.ndarray], tuple[float, float]]
                   ) -> Callable[[np.ndarray], StackDenoiser]:
    """Factory: given the noisy volume, a denoiser normalising by its bounds, back to raw."""
    def factory(noisy_volume: np.ndarray) -> StackDenoiser:
        lo, hi = bounds_of(noisy_volume)

        def run(stack: np.ndarray) -> np.ndarray:
            out = []
            with torch.inference_mode():
                for plane in stack:
                    x = torch.from_numpy(((plane - lo) / (hi - lo)).astype(np.float32))[None, None]
                    out.append(module(x)[0, 0].numpy().astype(np.float64) * (hi - lo) + lo)
            return np.stack(out)

        return run

    return factory


def evaluate_denoise_volume(
    name: str,
    voxels: np.ndarray,
    modality: str,
    level: float = 0.05,
    model: Callable[[np.ndarray], StackDenoiser] | None = None,
    slice_step: int = 1,
    seed: int = 0,
) -> DenoiseScores:
    """Score noisy input, the best Gaussian filter and optionally a model on one volume."""
    clean = np.asarray(voxels, dtype=np.float64)
    data_range = float(clean.max() - clean.min())
    if data_range <= 0:
        raise ValueError(f"{name}: volume is constant")
    kind = "gaussian" if modality == "CT" else "rician"
    sigma = level * data_range
    noisy = add_noise(clean, sigma, kind, np.random.default_rng(seed))
    vmax = float(clean.max())
    slices = [z for z in range(0, clean.shape[0], slice_step)
              if float(clean[z].max()) > EMPTY_FRACTION * vmax]
    if not slices:
        raise ValueError(f"{name}: no non-empty slices")
    ref, noisy_s = clean[slices], noisy[slices]

    def scores(stack: np.ndarray) -> tuple[float, float]:
        return (float(np.mean([psnr(r, t, data_range) for r, t in zip(ref, stack)])),
                float(np.mean([ssim(r, t, data_range) for r, t in zip(ref, stack)])))

    results = {"noisy": scores(noisy_s)}
    best_g, best = GAUSSIAN_SIGMAS[0], (-np.inf, 0.0)
    for g in GAUSSIAN_SIGMAS:
        filtered = np.stack([gaussian_filter(p, g) for p in noisy_s])
        mse = float(np.mean((filtered - ref) ** 2))
        if -mse > best[0]:
            best_g, best = g, (-mse, 0.0)
    results["gaussian"] = scores(np.stack([gaussian_filter(p, best_g) for p in noisy_s]))
    if model is not None:
        results["model"] = scores(model(noisy)(noisy_s))
    return DenoiseScores(name, kind, sigma, best_g, slices,
                         {k: v[0] for k, v in results.items()},
                         {k: v[1] for k, v in results.items()})
