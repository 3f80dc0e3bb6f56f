"""Intensity mapping between raw voxel values and a model's ``[0, 1]`` input, and back.

A card's :class:`~medsr_viewer.models.card.Normalisation` says *how* (percentiles of the whole
volume, a fixed raw window, or nothing); :func:`fit_intensity_map` turns it into concrete
numbers for one volume, computed once so every slice and tile of that volume is mapped the
same way. SR and enhancement outputs are mapped back to raw units with the inverse map;
segmentation outputs become label maps (:func:`labels_from_output`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from medsr_viewer.models.card import Normalisation


@dataclass(frozen=True)
class IntensityMap:
    """A concrete affine map ``model = (raw - low) / (high - low)`` for one volume.

    Parameters
    ----------
    low, high
        Raw values mapped to 0 and 1. For mode ``none`` they are 0 and 1 (identity).
    clip
        Whether model input is clipped to ``[0, 1]`` (values outside the window saturate).
    """

    low: float = 0.0
    high: float = 1.0
    clip: bool = False

    @property
    def span(self) -> float:
        """``high - low``, never zero (a constant image maps to 0)."""
        span = self.high - self.low
        return span if span != 0 else 1.0

    def to_model(self, raw: np.ndarray) -> np.ndarray:
        """Raw voxel values -> float32 model input."""
        out = (np.asarray(raw, dtype=np.float32) - np.float32(self.low)) / np.float32(self.span)
        if self.clip:
            np.clip(out, 0.0, 1.0, out=out)
        return np.nan_to_num(out, copy=False, nan=0.0, posinf=1.0, neginf=0.0)

    def from_model(self, values: np.ndarray) -> np.ndarray:
        """Model output (SR / enhancement) -> float32 raw units (inverse of :meth:`to_model`)."""
        return np.asarray(values, dtype=np.float32) * np.float32(self.span) + np.float32(self.low)


def fit_intensity_map(norm: Normalisation, voxels: np.ndarray) -> IntensityMap:
    """The concrete :class:`IntensityMap` a card's normalisation gives for ``voxels``.

    Parameters
    ----------
    norm
        The card's normalisation: ``percentile`` (``low``/``high`` are percentiles of the
        finite voxels of the *whole* volume, so slices are mapped consistently), ``window``
        (``low``/``high`` are raw values) or ``none`` (identity).
    voxels
        The whole volume (any shape).
    """
    if norm.mode == "none":
        return IntensityMap(0.0, 1.0, clip=False)
    if norm.mode == "window":
        return IntensityMap(float(norm.low), float(norm.high), clip=norm.clip)
    data = np.asarray(voxels)
    finite = data[np.isfinite(data)] if np.issubdtype(data.dtype, np.floating) else data.ravel()
    if finite.size == 0:
        return IntensityMap(0.0, 1.0, clip=norm.clip)
    low, high = np.percentile(finite, [float(norm.low), float(norm.high)])
    return IntensityMap(float(low), float(high), clip=norm.clip)


def labels_from_output(output: np.ndarray) -> np.ndarray:
    """Segmentation model output ``(C, H, W)`` -> ``uint8`` label map ``(H, W)``.

    Several channels: argmax (channel index = label value). One channel: the model gives a
    logit per pixel, so ``sigmoid > 0.5`` (i.e. logit > 0) is label 1.
    """
    out = np.asarray(output)
    if out.ndim != 3:
        raise ValueError(f"segmentation output must be (C, H, W), got shape {out.shape}")
    if out.shape[0] == 1:
        return (out[0] > 0.0).astype(np.uint8)
    if out.shape[0] > 256:
        raise ValueError(f"{out.shape[0]} classes do not fit a uint8 label map")
    return np.argmax(out, axis=0).astype(np.uint8)
