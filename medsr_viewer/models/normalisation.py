"""Intensity mapping between raw voxel values and a model's ``[0, 1]`` input, and back.

A card's :class:`~medsr_viewer.models.card.Normalisation` says *how* (percentiles of the whole
volume, a fixed raw window, or nothing); :func:`fit_intensity_map` turns it into concrete
numbers for one volume, computed once so every slice and tile of that volume is mapped the
same way. SR and enhancement outputs are mapped back to raw units with the inverse map;
segmentation outputs become label maps (:func:`labels_from_output`).

Percentiles of a large volume are taken on a deterministic strided sample of about
:data:`FIT_SAMPLE_VOXELS` voxels (every k-th voxel in memory order, k coprime with the
slice size so the sample walks across rows and columns; no copy of the volume), while the
0th and 100th percentiles stay the exact minimum and maximum. On the real studies the fitted
values equal the full fit within 0.5 % of the volume's value range (at most one grey level of
8-bit data; ``tests/models/test_intensity_fit_sample.py``), in 20–50 ms instead of 0.2–1.0 s
on a 120-slice 512² series.
"""

from __future__ import annotations

import math
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


#: Voxels a percentile fit looks at: volumes up to this size are fitted on every voxel.
FIT_SAMPLE_VOXELS = 1 << 20


def fit_intensity_map(
    norm: Normalisation, voxels: np.ndarray, sample: int | None = FIT_SAMPLE_VOXELS
) -> IntensityMap:
    """The concrete :class:`IntensityMap` a card's normalisation gives for ``voxels``.

    Parameters
    ----------
    norm
        The card's normalisation: ``percentile`` (``low``/``high`` are percentiles of the
        finite voxels of the *whole* volume, so slices are mapped consistently), ``window``
        (``low``/``high`` are raw values) or ``none`` (identity).
    voxels
        The whole volume (any shape; a view is never copied).
    sample
        Percentiles of a volume larger than this are taken on :func:`strided_sample` of about
        this many voxels (the 0th and 100th exactly, from the whole volume); ``None`` fits
        on every voxel.
    """
    if norm.mode == "none":
        return IntensityMap(0.0, 1.0, clip=False)
    if norm.mode == "window":
        return IntensityMap(float(norm.low), float(norm.high), clip=norm.clip)
    data = np.asarray(voxels)
    if sample is not None and data.size > sample:
        fitted = _sampled_percentiles(data, (float(norm.low), float(norm.high)), sample)
        if fitted is not None:
            return IntensityMap(fitted[0], fitted[1], clip=norm.clip)
    finite = _finite(data)
    if finite.size == 0:
        return IntensityMap(0.0, 1.0, clip=norm.clip)
    low, high = np.percentile(finite, [float(norm.low), float(norm.high)])
    return IntensityMap(float(low), float(high), clip=norm.clip)


def strided_sample(voxels: np.ndarray, count: int) -> np.ndarray:
    """About ``count`` voxels of ``voxels``, deterministically and without copying it.

    Every k-th voxel in memory order (``k = ceil(size / count)``, raised until it is coprime
    with the size of a slice, so consecutive slices are sampled at shifted rows and columns).
    An array that is a flip or transpose of a contiguous block is read in its memory order;
    any other view is sampled with a step along each axis. The result is a view.
    """
    data = np.asarray(voxels)
    if data.size <= count:
        return data.reshape(-1) if data.flags.c_contiguous else data
    view = _memory_view(data)
    if view.flags.c_contiguous:  # one block of memory: read it in order
        step = max(1, math.ceil(view.size / count))
        plane = math.prod(view.shape[1:]) or 1
        while math.gcd(step, plane) != 1:
            step += 1
        return view.reshape(-1)[::step]
    steps = [1] * data.ndim
    while math.prod(-(-n // s) for n, s in zip(data.shape, steps, strict=True)) > count:
        axis = max(range(data.ndim), key=lambda a: -(-data.shape[a] // steps[a]))
        steps[axis] += 1
    return data[tuple(slice(None, None, s) for s in steps)]


def _finite(data: np.ndarray) -> np.ndarray:
    """The finite values of ``data`` (a copy for floats; integers as they are)."""
    if np.issubdtype(data.dtype, np.floating):
        return data[np.isfinite(data)]
    return data.reshape(-1)


def _memory_view(data: np.ndarray) -> np.ndarray:
    """``data`` with its axes unflipped and ordered by decreasing stride (same values)."""
    view = data
    for axis in range(view.ndim):
        if view.strides[axis] < 0:
            view = np.flip(view, axis)
    order = sorted(range(view.ndim), key=lambda a: -abs(view.strides[a]))
    return view.transpose(order)


def _sampled_percentiles(
    data: np.ndarray, percentiles: tuple[float, float], count: int
) -> tuple[float, float] | None:
    """The two percentiles of the finite voxels from a strided sample (0 and 100: the exact
    minimum and maximum of the whole volume); ``None`` when the sample has no finite value."""
    finite = _finite(strided_sample(data, count))
    if finite.size == 0:
        return None
    values = [float(v) for v in np.percentile(finite, list(percentiles))]
    whole = _memory_view(data)  # the same voxels, read in memory order when they are a block
    for i, p in enumerate(percentiles):
        if p in (0.0, 100.0):
            if np.issubdtype(data.dtype, np.floating):
                extreme = float(np.nanmin(whole) if p == 0.0 else np.nanmax(whole))
            else:
                extreme = float(whole.min() if p == 0.0 else whole.max())
            if not math.isfinite(extreme):
                return None  # infinities present: the finite values need the full fit
            values[i] = extreme
    return values[0], values[1]


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
