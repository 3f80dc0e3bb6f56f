"""The through-plane SR evaluation protocol (README "Through-plane SR", the model's card).

- HR = a real volume with about 1 mm sampling along the evaluated axis: its slice axis when
  that is within 1.5x of its finest pixel, else its finest in-plane axis (``CT_pitch`` has
  2.4 mm slices, so its 0.81 mm y axis plays the slice axis), cropped to a multiple of ``s``
  slices along it (the remainder dropped at the end).
- LR = the mean of each block of ``s`` consecutive slices (a boxcar profile ``s`` times
  thicker); LR slice ``j`` is centred at the mean position of its ``s`` HR slices, so HR slice
  ``i`` lies at LR coordinate ``(i + 0.5) / s - 0.5``. Every output lies exactly on the HR grid.
- Baselines: ``scipy.ndimage.map_coordinates`` along the slice axis at those coordinates,
  order 1 (linear) and 3 (cubic B-spline), mode ``"nearest"``.
- Scored slices: HR slices along the evaluated axis whose max exceeds 5 % of the volume max,
  leaving out ``s`` slices at each end. PSNR = ``10 log10(range^2 / MSE)`` with the MSE over
  all their voxels and range = HR max - min over them; SSIM = the mean over them of the 2-D
  SSIM of each slice (Gaussian 11 x 11, sigma 1.5, K 0.01 / 0.03), same range.
- The model sees LR normalised by its card's percentiles of the whole LR volume, optionally
  adapted to the LR study for ``adapt_minutes`` (from the LR only, never the HR).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from medsr_viewer.core.generators import run_to_end
from medsr_viewer.core.metrics.image_quality import ssim
from medsr_viewer.core.slice_profile import block_mean, fine_positions, interpolate_along
from medsr_viewer.models.card import Normalisation
from medsr_viewer.models.evaluation.sr import EMPTY_FRACTION, MethodScore
from medsr_viewer.models.normalisation import fit_intensity_map
from medsr_viewer.models.study_volumes import StudyVolume
from medsr_viewer.models.through_plane.adapt import run_adapt
from medsr_viewer.models.through_plane.apply import ThroughPlaneGeometry, iter_through_plane

#: One paragraph for the card.
PROTOCOL = (
    "HR = real volume with ~1 mm sampling along the evaluated axis (its slice axis, or its "
    "finest in-plane axis when the slices are thick), cropped to a multiple of s slices; LR = "
    "mean of each block of s slices, HR slice i at LR coordinate (i + 0.5)/s - 0.5; baselines "
    "scipy.ndimage.map_coordinates order 1 and 3, mode nearest, along that axis; PSNR over the "
    "HR slices with max > 5% of the volume max, s slices left out at each end, MSE pooled over "
    "their voxels, range = HR max - min over them; SSIM the mean 2-D SSIM of those slices "
    "(Gaussian 11x11, sigma 1.5), same range; model input = LR normalised by the card's "
    "percentiles of the whole LR volume, adapted to the LR study for the stated minutes."
)
#: Baselines in table order: name -> map_coordinates order.
BASELINES = {"linear": 1, "cubic": 3}
#: A slice axis this much coarser than the finest pixel is not ~1 mm: use an in-plane axis.
THICK_RATIO = 1.5
#: Side of the central in-plane crop of the card's quick reproduction subset.
SUBSET_SIDE = 64

#: Runs a method on the LR (raw units, evaluated axis) -> output on the HR grid (raw units).
Method = Callable[[np.ndarray, int, int, tuple[float, float, float]], np.ndarray]


def evaluation_axis(spacing: Sequence[float]) -> int:
    """The axis playing the slice axis under the protocol (see the module docstring)."""
    finest_inplane = min(spacing[1], spacing[2])
    if spacing[0] <= THICK_RATIO * finest_inplane:
        return 0
    return 1 if spacing[1] <= spacing[2] else 2


def protocol_pair(hr: np.ndarray, axis: int, factor: int) -> tuple[np.ndarray, np.ndarray]:
    """HR cropped to a multiple of ``factor`` slices along ``axis`` and its block-mean LR."""
    n = hr.shape[axis] // factor * factor
    if n < 3 * factor:
        raise ValueError(f"{hr.shape[axis]} slices are too few for factor {factor}")
    crop = np.take(np.asarray(hr, dtype=np.float32), np.arange(n), axis=axis)
    return crop, block_mean(crop, axis, factor)


def scored_slices(hr: np.ndarray, axis: int, factor: int) -> list[int]:
    """HR slices along ``axis`` that count: non-empty, ``factor`` left out at each end."""
    maxima = np.moveaxis(hr, axis, 0).reshape(hr.shape[axis], -1).max(axis=1)
    limit = EMPTY_FRACTION * float(hr.max())
    return [i for i in range(factor, hr.shape[axis] - factor) if maxima[i] > limit]


def score(hr: np.ndarray, test: np.ndarray, axis: int, slices: Sequence[int]) -> MethodScore:
    """PSNR (pooled MSE) and mean 2-D SSIM over ``slices`` along ``axis``."""
    ref = np.take(hr, list(slices), axis=axis).astype(np.float64)
    out = np.take(test, list(slices), axis=axis).astype(np.float64)
    data_range = float(ref.max() - ref.min()) or 1.0
    mse = float(np.mean((ref - out) ** 2))
    value = float("inf") if mse == 0 else float(10 * np.log10(data_range**2 / mse))
    ssims = [ssim(np.take(ref, k, axis=axis), np.take(out, k, axis=axis), data_range)
             for k in range(len(slices))]
    return MethodScore(value, float(np.mean(ssims)), [], [round(s, 5) for s in ssims])


def baseline(order: int) -> Method:
    """The protocol's interpolation baseline of ``order`` as a :data:`Method`."""
    def run(lr: np.ndarray, axis: int, factor: int, spacing: tuple[float, float, float]
            ) -> np.ndarray:
        n_lr = lr.shape[axis]
        return interpolate_along(lr, axis, fine_positions(n_lr, n_lr * factor), order)

    return run


def model_method(module: torch.nn.Module, normalisation: Normalisation, adapt_minutes: float,
                 max_steps: int | None = None, device: str = "cpu",
                 reports: list[dict[str, Any]] | None = None) -> Method:
    """The network as a :data:`Method`: normalise the LR, adapt on it, refine, map back."""
    def run(lr: np.ndarray, axis: int, factor: int, spacing: tuple[float, float, float]
            ) -> np.ndarray:
        intensity = fit_intensity_map(normalisation, lr)
        normalised = intensity.to_model(lr)
        n_lr = lr.shape[axis]
        geometry = ThroughPlaneGeometry(axis, n_lr, n_lr * factor, spacing, spacing[axis])
        adapted, report = run_adapt(module, normalised, geometry, adapt_minutes, max_steps,
                                    device=device)
        if reports is not None:
            reports.append(report.to_dict())
        fine = run_to_end(iter_through_plane(adapted, normalised, geometry, device))
        return intensity.from_model(fine)

    return run


@dataclass
class ThroughPlaneScores:
    """Protocol results of one volume at one factor."""

    name: str
    modality: str
    axis: int
    factor: int
    slices: list[int]
    methods: dict[str, MethodScore]
    seconds: dict[str, float] = field(default_factory=dict)
    adaptation: list[dict[str, Any]] = field(default_factory=list)


def subset_of(volume: StudyVolume) -> StudyVolume:
    """The card's quick subset: the central ``SUBSET_SIDE`` square across the evaluated axis."""
    axis = evaluation_axis(volume.spacing)
    index: list[slice] = []
    for a, n in enumerate(volume.voxels.shape):
        side = min(n, SUBSET_SIDE)
        start = (n - side) // 2
        index.append(slice(None) if a == axis else slice(start, start + side))
    return StudyVolume(f"{volume.name} (central {SUBSET_SIDE} px)",
                       np.ascontiguousarray(volume.voxels[tuple(index)]), volume.spacing,
                       volume.modality)


def evaluate_volume(volume: StudyVolume, factor: int, methods: dict[str, Method],
                    log: Callable[[str], None] | None = None) -> ThroughPlaneScores:
    """Score the baselines and ``methods`` on one volume at one integer factor."""
    axis = evaluation_axis(volume.spacing)
    hr, lr = protocol_pair(volume.voxels, axis, factor)
    spacing = list(volume.spacing)
    spacing[axis] *= factor
    lr_spacing = (float(spacing[0]), float(spacing[1]), float(spacing[2]))
    slices = scored_slices(hr, axis, factor)
    table = ThroughPlaneScores(volume.name, volume.modality, axis, factor, slices, {})
    everything: dict[str, Method] = {name: baseline(order) for name, order in BASELINES.items()}
    everything.update(methods)
    for name, method in everything.items():
        start = time.perf_counter()
        out = method(lr, axis, factor, lr_spacing)
        table.seconds[name] = time.perf_counter() - start
        if out.shape != hr.shape:
            raise ValueError(f"{name} gave {out.shape}, expected the HR grid {hr.shape}")
        table.methods[name] = score(hr, out, axis, slices)
        if log is not None:
            s = table.methods[name]
            log(f"{volume.name} x{factor} {name}: PSNR {s.psnr:.3f} dB, SSIM {s.ssim:.4f} "
                f"({table.seconds[name]:.1f} s)")
    return table


def evaluate_volumes(volumes: Sequence[StudyVolume], module: torch.nn.Module | None,
                     normalisation: Normalisation, factors: Sequence[int] = (2, 4),
                     adapt_minutes: float = 0.0, max_steps: int | None = None,
                     log: Callable[[str], None] | None = None, device: str = "cpu"
                     ) -> list[ThroughPlaneScores]:
    """:func:`evaluate_volume` for every volume and factor (the model as ``"model"``)."""
    tables = []
    for volume in volumes:
        for factor in factors:
            reports: list[dict[str, Any]] = []
            methods = {} if module is None else {
                "model": model_method(module, normalisation, adapt_minutes, max_steps, device,
                                      reports)}
            table = evaluate_volume(volume, factor, methods, log)
            table.adaptation = reports
            tables.append(table)
    return tables


def scores_dict(tables: Sequence[ThroughPlaneScores]) -> dict[str, Any]:
    """JSON form ``{"volume xS": {method: {psnr, ssim, seconds}, axis, slices, gain_db}}``."""
    out: dict[str, Any] = {}
    for t in tables:
        entry: dict[str, Any] = {
            m: {"psnr": round(s.psnr, 4), "ssim": round(s.ssim, 5),
                "seconds": round(t.seconds.get(m, 0.0), 2)} for m, s in t.methods.items()}
        entry.update({"modality": t.modality, "axis": t.axis, "factor": t.factor,
                      "slices": len(t.slices)})
        if "model" in t.methods:
            entry["gain_over_cubic_db"] = round(t.methods["model"].psnr
                                                - t.methods["cubic"].psnr, 4)
        if t.adaptation:
            entry["adaptation"] = t.adaptation[0]
        out[f"{t.name} x{t.factor}"] = entry
    return out


def time_isotropic_run(module: torch.nn.Module, normalisation: Normalisation,
                       volume: StudyVolume, slices: int = 150, factor: int = 3,
                       adapt_minutes: float = 2.0, device: str = "cpu") -> dict[str, Any]:
    """Wall time of the whole through-plane path for a ``slices`` x H x W output.

    The central ``slices`` slices of ``volume`` are block-averaged by ``factor`` (a real
    thick-slice study), then normalised, adapted for ``adapt_minutes`` and refined onto the
    ``slices``-slice grid, as ``medsr sr --through-plane`` does (file reading and writing
    excluded). Returns the seconds of each stage, the output shape and the thread count.
    """
    start = max(0, (volume.voxels.shape[0] - slices) // 2)
    hr = volume.voxels[start : start + slices]
    if hr.shape[0] != slices or slices % factor:
        raise ValueError(f"{volume.name}: needs {slices} slices, a multiple of {factor}")
    lr = block_mean(hr, 0, factor)
    spacing = (volume.spacing[0] * factor, volume.spacing[1], volume.spacing[2])
    t0 = time.perf_counter()
    intensity = fit_intensity_map(normalisation, lr)
    normalised = intensity.to_model(lr)
    geometry = ThroughPlaneGeometry(0, lr.shape[0], slices, spacing, spacing[0])
    t1 = time.perf_counter()
    adapted, report = run_adapt(module, normalised, geometry, adapt_minutes, device=device)
    t2 = time.perf_counter()
    fine = run_to_end(iter_through_plane(adapted, normalised, geometry, device))
    intensity.from_model(fine)
    t3 = time.perf_counter()
    return {"volume": volume.name, "input_shape_zyx": list(lr.shape),
            "output_shape_zyx": list(fine.shape), "threads": torch.get_num_threads(),
            "prepare_s": round(t1 - t0, 2), "adapt_s": round(t2 - t1, 2),
            "adapt_steps": report.steps, "refine_s": round(t3 - t2, 2),
            "total_s": round(t3 - t0, 2)}
