"""Calibrating SR intervals so they hold: conformal risk control under the SR protocol.

An interval ``SR +- factor * spread`` (:mod:`medsr_viewer.models.uncertainty`) is calibrated
the distribution-free way of Angelopoulos et al., "Image-to-image regression with
distribution-free uncertainty quantification and applications in imaging" (ICML 2022):

- the risk of one calibration slice at ``factor`` is the fraction of its *anatomy* pixels
  (HR above 5 % of the volume maximum, a ``2 s`` border removed: the SR evaluation protocol)
  whose true HR value lies outside the interval; it falls as ``factor`` grows and is at most 1;
- with ``n`` calibration slices, the chosen factor is the smallest one whose adjusted mean risk
  ``n / (n + 1) * R(factor) + 1 / (n + 1)`` is at most ``alpha``. On new slices drawn like the
  calibration ones, the expected miscoverage is then at most ``alpha``.

The guarantee is about slices *like the calibration ones*. It does not hold under distribution
shift (another contrast, scanner or noise level than the calibration volumes), and the
heuristic spread cannot show errors that every augmentation makes alike. :func:`evaluate`
therefore reports coverage on volumes the calibration never saw, beside the width of the
best constant-width interval that reaches the same coverage there (an oracle baseline).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from medsr_viewer.core.degrade import block_mean_downsample, crop_to_multiple
from medsr_viewer.core.metrics.image_quality import anatomy_mask
from medsr_viewer.models.evaluation.sr import evaluated_slices
from medsr_viewer.models.uncertainty import SPREADS, SliceUpscaler, sr_with_spread

#: Makes the slice upscaler for one whole LR volume (so normalisation can use the volume).
UpscalerFactory = Callable[[np.ndarray], SliceUpscaler]
#: Default miscoverage level: 90 % intervals.
DEFAULT_ALPHA = 0.1
METHOD = "conformal risk control (Angelopoulos et al., ICML 2022)"


class CalibrationError(ValueError):
    """Calibration is impossible with these data (e.g. too few slices for the level)."""


@dataclass
class SliceSample:
    """The anatomy pixels of one protocol slice: absolute SR error and every spread there."""

    volume: str
    index: int
    errors: np.ndarray
    spreads: dict[str, np.ndarray] = field(default_factory=dict)


def collect_samples(
    name: str,
    voxels: np.ndarray,
    scale: int,
    factory: UpscalerFactory,
    slice_step: int = 1,
    slice_offset: int = 0,
) -> list[SliceSample]:
    """Run the model (with its 8 test-time augmentations) on the protocol's slices of a volume.

    ``voxels`` is the HR volume ``(z, y, x)`` in stored units; LR is its block mean. Slices
    are the protocol's non-empty ones, every ``slice_step``-th from ``slice_offset``.
    """
    hr = crop_to_multiple(np.asarray(voxels, dtype=np.float64), scale)
    lr = block_mean_downsample(hr, scale)
    upscale = factory(lr)
    vol_max = float(hr.max())
    lr_max = float(lr.max())
    samples = []
    for z in evaluated_slices(hr, slice_step, slice_offset):
        result = sr_with_spread(upscale, lr[z], scale, lr_max)
        mask = anatomy_mask(hr[z], vol_max, scale)
        if not mask.any():
            continue
        samples.append(
            SliceSample(
                name,
                z,
                np.abs(hr[z] - result.sr)[mask],
                {spread: result.spread(spread)[mask] for spread in SPREADS},
            )
        )
    return samples


def _ratios(sample: SliceSample, spread: str) -> np.ndarray:
    """Smallest factor covering each pixel: error / spread (inf where spread is 0 < error)."""
    err, u = sample.errors, sample.spreads[spread]
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(u > 0, err / np.where(u > 0, u, 1.0), np.where(err > 0, np.inf, 0.0))
    return np.sort(ratio)


def miscoverage(sorted_ratios: Sequence[np.ndarray], factor: float) -> float:
    """Mean over slices of the fraction of pixels left outside ``factor`` (the risk)."""
    return float(
        np.mean([1.0 - np.searchsorted(r, factor, side="right") / r.size for r in sorted_ratios])
    )


def conformal_factor(
    samples: Sequence[SliceSample], spread: str, alpha: float = DEFAULT_ALPHA
) -> float:
    """The conformal-risk-control factor for ``spread`` at level ``alpha`` (see module doc).

    Raises
    ------
    CalibrationError
        With fewer slices than ``1 / alpha - 1`` or when even an infinite factor leaves more
        than ``alpha`` uncovered (zero spread where the model errs).
    """
    if not 0 < alpha < 1:
        raise CalibrationError(f"alpha must lie in (0, 1), got {alpha}")
    n = len(samples)
    if n == 0:
        raise CalibrationError("no calibration slices")
    ratios = [_ratios(s, spread) for s in samples]

    def adjusted(factor: float) -> float:
        return n / (n + 1) * miscoverage(ratios, factor) + 1 / (n + 1)

    candidates = np.unique(np.concatenate([r[np.isfinite(r)] for r in ratios] + [[0.0]]))
    lo, hi = 0, len(candidates) - 1
    if adjusted(float(candidates[hi])) > alpha:
        raise CalibrationError(
            f"{spread}: cannot reach {1 - alpha:.0%} coverage with {n} slices (need more "
            "slices, or the spread is zero where the model errs)"
        )
    while lo < hi:  # smallest candidate meeting the bound (risk is monotone in the factor)
        mid = (lo + hi) // 2
        if adjusted(float(candidates[mid])) <= alpha:
            hi = mid
        else:
            lo = mid + 1
    return float(candidates[lo])


@dataclass(frozen=True)
class IntervalScore:
    """How intervals did on a set of slices: pooled pixel coverage and mean width (raw units).

    ``constant_width`` is the width of the best constant-width interval around the same SR
    reaching the target level on the same pixels (an oracle: it knows the errors).
    """

    coverage: float
    mean_width: float
    constant_width: float
    pixels: int
    slices: int

    def to_dict(self) -> dict[str, float | int]:
        """JSON form for cards and reports."""
        return {
            "coverage": round(self.coverage, 4),
            "mean_width": round(self.mean_width, 4),
            "constant_width_at_level": round(self.constant_width, 4),
            "pixels": self.pixels,
            "slices": self.slices,
        }


def evaluate(
    samples: Sequence[SliceSample], spread: str, factor: float, level: float = 1 - DEFAULT_ALPHA
) -> IntervalScore:
    """Coverage and width of ``SR +- factor * spread`` on ``samples``; the constant-width
    baseline is the narrowest constant interval covering ``level`` of the same pixels."""
    if not samples:
        raise CalibrationError("no slices to evaluate")
    errors = np.concatenate([s.errors for s in samples])
    spreads = np.concatenate([s.spreads[spread] for s in samples])
    covered = errors <= factor * spreads
    coverage = float(covered.mean())
    width = float(2 * factor * spreads.mean()) if np.isfinite(factor) else float("inf")
    constant = float(2 * np.quantile(errors, level))
    return IntervalScore(coverage, width, constant, int(errors.size), len(samples))


def calibrate(
    calibration: Sequence[SliceSample],
    alpha: float = DEFAULT_ALPHA,
    spreads: Sequence[str] = SPREADS,
) -> dict[str, Any]:
    """Calibrate every spread on ``calibration``; choose the one with the narrowest intervals.

    Returns the card's ``calibration`` block (without held-out evaluation; see
    :func:`evaluation_block`).
    """
    table: dict[str, dict[str, float]] = {}
    for spread in spreads:
        try:
            factor = conformal_factor(calibration, spread, alpha)
        except CalibrationError as exc:
            table[spread] = {"error": str(exc)}  # type: ignore[dict-item]
            continue
        score = evaluate(calibration, spread, factor, 1 - alpha)
        table[spread] = {"factor": factor, **score.to_dict()}
    usable = {k: v for k, v in table.items() if np.isfinite(v.get("factor", np.inf))}
    if not usable:
        raise CalibrationError("no spread heuristic could be calibrated: " + "; ".join(
            f"{k}: {v.get('error', 'unbounded factor')}" for k, v in table.items()))
    best = min(usable, key=lambda k: usable[k]["mean_width"])
    return {
        "method": METHOD,
        "spread": best,
        "alpha": alpha,
        "level": round(1 - alpha, 6),
        "factor": usable[best]["factor"],
        "risk": "fraction of anatomy pixels (HR > 5 % of the volume max, 2*s border removed) "
        "whose HR value lies outside SR -+ factor * spread",
        "calibration_data": sorted({s.volume for s in calibration}),
        "calibration_slices": len(calibration),
        "spreads_compared": table,
    }


def evaluation_block(
    held_out: Sequence[SliceSample], spread: str, factor: float, level: float
) -> dict[str, dict[str, float | int]]:
    """Per-volume :class:`IntervalScore` on slices the calibration never saw."""
    names = sorted({s.volume for s in held_out})
    return {
        name: evaluate([s for s in held_out if s.volume == name], spread, factor, level).to_dict()
        for name in names
    }
