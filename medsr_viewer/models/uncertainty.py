"""Per-pixel spread of an SR result: the heuristic that calibrated intervals scale.

An interval for an SR pixel is ``SR +- factor * spread`` (:mod:`medsr_viewer.models.calibration`
finds ``factor``). Three spreads are available, measured against each other when a model is
calibrated (the narrowest at the calibrated coverage wins, and the card records the table):

- ``tta-std``: the standard deviation over the 8 flips/rotations of the LR slice (test-time
  augmentation; a convolutional model is nearly but not exactly equivariant, and it
  disagrees with itself most where the input does not determine the output);
- ``residual``: the local (3 x 3) mean of ``|SR - bicubic(LR)|``: what the model changed;
- ``tta+residual``: the root sum of squares of both;
- ``tta+noise``: the root sum of squares of ``tta-std`` and the HR noise level, because the
  HR truth itself carries noise no model can predict: the LR slice's robust noise estimate
  *inside the anatomy* (:func:`~medsr_viewer.core.sr_maps.anatomy_noise_sigma`: LR pixels
  above 5 % of the LR volume's maximum, the rule of the SR protocol's anatomy mask, eroded
  by one pixel) times ``s`` (averaging ``s x s`` white-noise pixels divides the noise by
  ``s``). It is one number per slice, and what it measures is the finest-scale variability
  of the anatomy: noise, and texture too fine for the LR grid (e.g. trabecular bone).
  Until issue #14 the estimate was taken over the whole slice, whose flat air or padding
  pulled it far below the noise in the anatomy (CT above all).

A model that is exactly equivariant and deterministic has zero ``tta-std``: its intervals are
then zero-width exactly where the spread is zero, and never inverted.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass

import numpy as np
from scipy.ndimage import uniform_filter

from medsr_viewer.core.generators import run_to_end
from medsr_viewer.core.metrics.image_quality import EMPTY_FRACTION
from medsr_viewer.core.sr_maps import anatomy_noise_sigma
from medsr_viewer.core.upsampling import upsample

#: Spread heuristics by name.
SPREADS = ("tta-std", "residual", "tta+residual", "tta+noise")
#: The 8 symmetries of the square: (quarter turns, mirrored).
DIHEDRAL = tuple((k, flip) for flip in (False, True) for k in range(4))

#: Maps an LR slice (raw units, 2-D) to its SR slice (raw units, 2-D).
SliceUpscaler = Callable[[np.ndarray], np.ndarray]


def dihedral(image: np.ndarray, k: int, flip: bool) -> np.ndarray:
    """``image`` turned ``k`` quarter turns, then mirrored left-right when ``flip``."""
    turned = np.rot90(image, k)
    return turned[:, ::-1] if flip else turned


def undo_dihedral(image: np.ndarray, k: int, flip: bool) -> np.ndarray:
    """Inverse of :func:`dihedral`."""
    if flip:
        image = image[:, ::-1]
    return np.rot90(image, -k)


@dataclass(frozen=True)
class SrWithSpread:
    """One slice's SR result with the ingredients of every spread heuristic.

    Attributes
    ----------
    sr
        The model's output for the untransformed slice (what the viewer shows).
    tta
        The 8 outputs of :data:`DIHEDRAL`, transformed back: ``(8, H, W)``.
    bicubic
        The protocol's bicubic upsampling of the LR slice.
    hr_noise
        Estimated noise standard deviation of the HR truth inside the anatomy (raw units;
        see the module docstring).
    """

    sr: np.ndarray
    tta: np.ndarray
    bicubic: np.ndarray
    hr_noise: float = 0.0

    def spread(self, name: str) -> np.ndarray:
        """The named heuristic spread (:data:`SPREADS`), float64, same shape as ``sr``."""
        if name not in SPREADS:
            raise ValueError(f"unknown spread {name!r}; expected one of {SPREADS}")
        tta = self.tta.std(axis=0)
        if name == "tta-std":
            return tta
        if name == "tta+noise":
            return np.sqrt(tta**2 + self.hr_noise**2)
        residual = uniform_filter(np.abs(self.sr - self.bicubic), size=3, mode="nearest")
        if name == "residual":
            return residual
        return np.sqrt(tta**2 + residual**2)


def sr_with_spread(
    upscale: SliceUpscaler, lr: np.ndarray, scale: int, volume_max: float | None = None
) -> SrWithSpread:
    """Run ``upscale`` on the 8 dihedral copies of ``lr`` and collect :class:`SrWithSpread`.

    Parameters
    ----------
    upscale
        The model on one LR slice.
    lr
        The LR slice (raw units, 2-D).
    scale
        The SR factor.
    volume_max
        Maximum of the whole LR volume the slice belongs to: the anatomy whose noise sets
        ``hr_noise`` is the LR pixels above 5 % of it. ``None``: the slice's own maximum.
    """
    return run_to_end(iter_sr_with_spread(upscale, lr, scale, volume_max))


def iter_sr_with_spread(
    upscale: SliceUpscaler, lr: np.ndarray, scale: int, volume_max: float | None = None
) -> Generator[int, None, SrWithSpread]:
    """:func:`sr_with_spread` yielding the number of model runs done after each of the 8.

    Closing the generator between runs (a cancelled request) runs the model no further.
    """
    lr = np.asarray(lr, dtype=np.float64)
    outputs = []
    for k, flip in DIHEDRAL:
        out = upscale(np.ascontiguousarray(dihedral(lr, k, flip)))
        outputs.append(undo_dihedral(np.asarray(out, dtype=np.float64), k, flip))
        yield len(outputs)
    tta = np.stack(outputs)
    expected = (lr.shape[0] * scale, lr.shape[1] * scale)
    if tta.shape[1:] != expected:
        raise ValueError(f"model output {tta.shape[1:]} is not x{scale} of {lr.shape}")
    noise = hr_noise_sigma(lr, scale, volume_max) if min(lr.shape) >= 4 else 0.0
    return SrWithSpread(tta[0], tta, upsample(lr, scale, "bicubic").astype(np.float64), noise)


def hr_noise_sigma(lr: np.ndarray, scale: int, volume_max: float | None = None) -> float:
    """The ``tta+noise`` floor: ``scale`` times the LR slice's noise inside the anatomy.

    The anatomy is the LR pixels above 5 % of ``volume_max`` (the LR volume's maximum; the
    slice's own when ``None``), eroded by one pixel; see
    :func:`~medsr_viewer.core.sr_maps.anatomy_noise_sigma`.
    """
    lr = np.asarray(lr, dtype=np.float64)
    top = float(lr.max()) if volume_max is None else float(volume_max)
    return anatomy_noise_sigma(lr, EMPTY_FRACTION * top) * scale


def interval(sr: np.ndarray, spread: np.ndarray, factor: float) -> tuple[np.ndarray, np.ndarray]:
    """``(lower, upper) = SR -+ factor * spread``; never inverted (spread >= 0, factor >= 0)."""
    if factor < 0:
        raise ValueError(f"factor must be non-negative, got {factor}")
    half = factor * np.maximum(np.asarray(spread, dtype=np.float64), 0.0)
    sr = np.asarray(sr, dtype=np.float64)
    return sr - half, sr + half
