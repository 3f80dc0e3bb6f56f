"""The project's SR evaluation protocol (README "Bundled models and scores", every SR card).

- HR = a real slice along the volume's slice axis (axis 0 of ``(z, y, x)``), stored values.
- LR = mean over each ``s x s`` in-plane block; HR cropped to a multiple of ``s``.
- Bicubic = ``torch.nn.functional.interpolate(LR, scale_factor=s, mode="bicubic",
  align_corners=False)``; also nearest, bilinear (same call) and Lanczos (Pillow, float images).
- PSNR with data range = HR volume max - min, on the slice minus a ``2 s`` pixel border,
  averaged over slices whose HR max exceeds 5 % of the volume max; SSIM: Gaussian 11 x 11,
  sigma 1.5, K = (0.01, 0.03), same range and crop.
- The model sees LR normalised by its card's percentiles of the whole LR volume and its output
  is mapped back to raw units (what the application does at run time).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from medsr_viewer.core.degrade import block_mean_downsample, crop_to_multiple
from medsr_viewer.core.metrics.image_quality import EMPTY_FRACTION, crop_border, psnr, ssim
from medsr_viewer.core.metrics.sr_detail import slice_detail

#: Baseline interpolators in table order.
BASELINES = ("nearest", "bilinear", "bicubic", "lanczos")
__all__ = ["BASELINES", "EMPTY_FRACTION", "MethodScore", "StackUpscaler", "VolumeScores",
           "evaluate_sr_volume", "evaluated_slices", "interpolate_stack", "model_upscaler",
           "overall"]

#: Up-scales an LR stack ``(n, h, w)`` (raw units) to ``(n, s h, s w)``.
StackUpscaler = Callable[[np.ndarray, int], np.ndarray]


def interpolate_stack(lr: np.ndarray, scale: int, method: str) -> np.ndarray:
    """Up-sample an LR stack ``(n, h, w)`` by ``scale`` with a named baseline interpolator."""
    if method == "lanczos":
        out = np.empty((lr.shape[0], lr.shape[1] * scale, lr.shape[2] * scale))
        for i, plane in enumerate(lr):
            img = Image.fromarray(np.asarray(plane, dtype=np.float32), mode="F")
            big = img.resize((plane.shape[1] * scale, plane.shape[0] * scale), Image.Resampling.LANCZOS)
            out[i] = np.asarray(big, dtype=np.float64)
        return out
    if method not in ("nearest", "bilinear", "bicubic"):
        raise ValueError(f"unknown interpolation {method!r}; expected one of {BASELINES}")
    t = torch.from_numpy(np.asarray(lr, dtype=np.float64))[:, None]
    kwargs = {} if method == "nearest" else {"align_corners": False}
    up = F.interpolate(t, scale_factor=scale, mode=method, **kwargs)
    return up[:, 0].numpy()


def model_upscaler(module: Callable[[torch.Tensor], torch.Tensor], bounds: tuple[float, float],
                   device: str = "cpu") -> StackUpscaler:
    """An upscaler running ``module`` slice by slice on ``[0, 1]``-normalised LR.

    ``module`` is a model, or any callable like one (an execution path's
    :class:`~medsr_viewer.models.execution.PlannedModel`).

    ``bounds`` are the raw values mapped to 0 and 1 (the card's percentiles of the LR volume);
    the output is mapped back to raw units.
    """
    lo, hi = bounds

    def run(lr: np.ndarray, scale: int) -> np.ndarray:
        out = []
        with torch.inference_mode():
            for plane in lr:
                x = torch.from_numpy(((plane - lo) / (hi - lo)).astype(np.float32))[None, None]
                y = module(x.to(device))[0, 0].float().cpu().numpy().astype(np.float64)
                if y.shape != (plane.shape[0] * scale, plane.shape[1] * scale):
                    raise ValueError(f"model output {y.shape} does not match x{scale} of {plane.shape}")
                out.append(y * (hi - lo) + lo)
        return np.stack(out)

    return run


@dataclass
class MethodScore:
    """Mean PSNR (dB) and SSIM of one method over the evaluated slices, with per-slice values.

    With ``detail`` evaluation (:func:`evaluate_sr_volume`), also the per-slice high-frequency
    ratio and flagged share of :mod:`medsr_viewer.core.metrics.sr_detail` (empty otherwise).
    """

    psnr: float
    ssim: float
    slice_psnr: list[float] = field(default_factory=list)
    slice_ssim: list[float] = field(default_factory=list)
    slice_hf_ratio: list[float] = field(default_factory=list)
    slice_flagged: list[float] = field(default_factory=list)

    @property
    def hf_ratio(self) -> float:
        """Mean high-frequency ratio over the slices (``nan`` without detail evaluation)."""
        return _finite_mean(self.slice_hf_ratio)

    @property
    def flagged(self) -> float:
        """Mean flagged share over the slices (``nan`` without detail evaluation)."""
        return _finite_mean(self.slice_flagged)


def _finite_mean(values: list[float]) -> float:
    finite = [v for v in values if np.isfinite(v)]
    return float(np.mean(finite)) if finite else float("nan")


@dataclass
class VolumeScores:
    """Protocol results for one volume: evaluated slice indices and a score per method."""

    name: str
    scale: int
    slices: list[int]
    data_range: float
    methods: dict[str, MethodScore]


def evaluated_slices(hr: np.ndarray, slice_step: int = 1, slice_offset: int = 0) -> list[int]:
    """Indices of non-empty HR slices (max > 5 % of the volume max), every ``slice_step``-th."""
    vol_max = float(hr.max())
    return [
        z for z in range(slice_offset, hr.shape[0], slice_step)
        if float(hr[z].max()) > EMPTY_FRACTION * vol_max
    ]


def evaluate_sr_volume(
    name: str,
    voxels: np.ndarray,
    scale: int,
    model: Callable[[np.ndarray], StackUpscaler] | None = None,
    baselines: tuple[str, ...] = BASELINES,
    slice_step: int = 1,
    slice_offset: int = 0,
    detail: bool = False,
) -> VolumeScores:
    """Score baselines (and optionally a model) on one HR volume ``(z, y, x)`` by the protocol.

    Parameters
    ----------
    name
        Label for the table.
    voxels
        HR volume in stored units; slices along axis 0 are the HR images.
    scale
        SR factor ``s``.
    model
        Factory receiving the whole LR volume (so it can take its percentiles) and returning
        a :data:`StackUpscaler`; scored as ``"model"``.
    baselines
        Interpolators to score (names from :data:`BASELINES`).
    slice_step, slice_offset
        Evaluate every ``slice_step``-th slice from ``slice_offset`` (a documented
        deterministic subset, for fast checks); ``1, 0`` is the full protocol.
    detail
        Also measure each method's high-frequency ratio and flagged share
        (:mod:`medsr_viewer.core.metrics.sr_detail`; the sharpness a perceptual model buys).
    """
    hr = crop_to_multiple(np.asarray(voxels, dtype=np.float64), scale)
    lr = block_mean_downsample(hr, scale)
    data_range = float(hr.max() - hr.min())
    if data_range <= 0:
        raise ValueError(f"{name}: volume is constant; PSNR is undefined")
    slices = evaluated_slices(hr, slice_step, slice_offset)
    if not slices:
        raise ValueError(f"{name}: no non-empty slices to evaluate")
    border = 2 * scale
    def baseline(method: str) -> StackUpscaler:
        return lambda stack, s: interpolate_stack(stack, s, method)

    upscalers: dict[str, StackUpscaler] = {m: baseline(m) for m in baselines}
    if model is not None:
        upscalers["model"] = model(lr)
    methods: dict[str, MethodScore] = {}
    ref = crop_border(hr[slices], border)
    vol_max = float(hr.max())
    for method, upscale in upscalers.items():
        full = upscale(lr[slices], scale)
        sr = crop_border(full, border)
        p = [psnr(r, t, data_range) for r, t in zip(ref, sr)]
        q = [ssim(r, t, data_range) for r, t in zip(ref, sr)]
        score = MethodScore(float(np.mean(p)), float(np.mean(q)), p, q)
        if detail:
            for z, out in zip(slices, full):
                d = slice_detail(hr[z], lr[z], out, scale, vol_max)
                score.slice_hf_ratio.append(d.high_frequency_ratio)
                score.slice_flagged.append(d.flagged_share)
        methods[method] = score
    return VolumeScores(name, scale, slices, data_range, methods)


def overall(volumes: list[VolumeScores]) -> dict[str, MethodScore]:
    """Scores over all evaluated slices of all volumes (each slice weighs the same)."""
    out: dict[str, MethodScore] = {}
    for method in volumes[0].methods:
        p = [v for vol in volumes for v in vol.methods[method].slice_psnr]
        q = [v for vol in volumes for v in vol.methods[method].slice_ssim]
        hf = [v for vol in volumes for v in vol.methods[method].slice_hf_ratio]
        fl = [v for vol in volumes for v in vol.methods[method].slice_flagged]
        out[method] = MethodScore(float(np.mean(p)), float(np.mean(q)), p, q, hf, fl)
    return out
