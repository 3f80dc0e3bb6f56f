"""Each execution path of an SR model scored by the SR protocol against fp32 (``--paths``).

Every path (:data:`~medsr_viewer.models.execution.MEASURED_PATHS`, or those asked for) runs
the protocol of :mod:`medsr_viewer.models.evaluation.sr` with bare whole-slice calls. Reported
per path: PSNR/SSIM per volume and overall, the PSNR change against the fp32 NCHW path, the
largest absolute difference of its outputs from fp32 in the model's ``[0, 1]`` units, and the
seconds spent in the model. A reduced precision is *validated* when no path in it loses more
than :data:`~medsr_viewer.models.execution.MAX_PSNR_LOSS_DB` on any volume or overall;
:func:`execution_block` is what ``--write-card`` stores in the card.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from medsr_viewer.models.card import ModelCard
from medsr_viewer.models.evaluation.sr import (
    MethodScore,
    StackUpscaler,
    evaluate_sr_volume,
    model_upscaler,
    overall,
)
from medsr_viewer.models.execution import (
    MAX_PSNR_LOSS_DB,
    ExecutionPlan,
    PlannedModel,
    measurement_plan,
)

#: ``(name, HR voxels)`` of one validation volume.
NamedVolume = tuple[str, np.ndarray]
#: The card's intensity bounds of an LR volume (raw values mapped to 0 and 1).
BoundsFn = Callable[[np.ndarray], tuple[float, float]]
#: The path every other is compared with.
REFERENCE = "fp32"


@dataclass
class PathScore:
    """One path's results.

    Parameters
    ----------
    plan
        The plan measured.
    volumes
        Model PSNR/SSIM per volume name, and ``"overall"``.
    max_abs_diff
        Largest ``|output - fp32 output|`` over all evaluated pixels, model units.
    seconds
        Time spent in the model's calls.
    """

    plan: ExecutionPlan
    volumes: dict[str, MethodScore] = field(default_factory=dict)
    max_abs_diff: float = 0.0
    seconds: float = 0.0

    @property
    def name(self) -> str:
        """The path name."""
        return self.plan.name

    def delta(self, reference: PathScore, volume: str = "overall") -> float:
        """PSNR change (dB) against ``reference`` on ``volume``."""
        return self.volumes[volume].psnr - reference.volumes[volume].psnr

    def worst_delta(self, reference: PathScore) -> float:
        """The largest PSNR loss against ``reference`` over every volume and overall."""
        return min(self.delta(reference, v) for v in self.volumes)


class _Recorder:
    """A :data:`StackUpscaler` factory that times its model and keeps its outputs (model units)."""

    def __init__(self, model: PlannedModel, bounds: BoundsFn) -> None:
        self.model = model
        self.bounds = bounds
        self.seconds = 0.0
        self.outputs: list[np.ndarray] = []

    def timed(self, x: torch.Tensor) -> torch.Tensor:
        start = time.perf_counter()
        y = self.model(x)
        self.seconds += time.perf_counter() - start
        return y

    def __call__(self, lr: np.ndarray) -> StackUpscaler:
        lo, hi = self.bounds(lr)
        inner = model_upscaler(self.timed, (lo, hi))

        def run(stack: np.ndarray, scale: int) -> np.ndarray:
            out = inner(stack, scale)
            self.outputs.append((out - lo) / (hi - lo))
            return out

        return run


def evaluate_paths(
    module: torch.nn.Module,
    card: ModelCard,
    volumes: Sequence[NamedVolume],
    bounds: BoundsFn,
    paths: Sequence[str],
    device: str = "cpu",
    slice_step: int = 1,
    model_sha256: str = "",
    progress: Callable[[str], None] | None = None,
) -> list[PathScore]:
    """Score ``module`` on ``volumes`` along every path in ``paths`` (fp32 first, always).

    Raises
    ------
    ValueError
        From the protocol (a constant volume, no slice to evaluate).
    ExecutionError
        For a path name that does not exist or cannot run on ``device``.
    """
    order = [REFERENCE, *[p for p in paths if p != REFERENCE]]
    plans = [measurement_plan(p, card, device, model_sha256=model_sha256) for p in order]
    results: list[PathScore] = []
    reference_outputs: list[np.ndarray] = []
    for plan in plans:
        if progress is not None:
            progress(plan.name)
        recorder = _Recorder(PlannedModel(module, plan), bounds)
        tables = [evaluate_sr_volume(name, voxels, card.scale, recorder, baselines=(),
                                     slice_step=slice_step) for name, voxels in volumes]
        score = PathScore(plan, {t.name: t.methods["model"] for t in tables},
                          seconds=recorder.seconds)
        score.volumes["overall"] = overall(tables)["model"]
        if not reference_outputs:
            reference_outputs = recorder.outputs
        else:
            score.max_abs_diff = max(float(np.abs(a - b).max())
                                     for a, b in zip(recorder.outputs, reference_outputs))
        results.append(score)
    return results


def validated(scores: Sequence[PathScore]) -> tuple[str, ...]:
    """Reduced precisions all of whose measured paths lose at most
    :data:`~medsr_viewer.models.execution.MAX_PSNR_LOSS_DB` against fp32 on every volume."""
    reference = next(s for s in scores if s.name == REFERENCE)
    verdict: dict[str, bool] = {}
    for score in scores:
        precision = score.plan.precision
        if precision == "fp32":
            continue
        ok = score.worst_delta(reference) >= -MAX_PSNR_LOSS_DB
        verdict[precision] = verdict.get(precision, True) and ok
    return tuple(p for p in ("bf16", "fp16") if verdict.get(p))


def execution_block(card: ModelCard, scores: Sequence[PathScore], data: Sequence[str],
                    slice_step: int, machine: str) -> dict[str, Any]:
    """The card's ``execution`` block after these measurements: earlier validations kept
    unless re-measured, each path's PSNR change per volume recorded in ``checks``."""
    reference = next(s for s in scores if s.name == REFERENCE)
    measured = {s.plan.precision for s in scores}
    kept = [p for p in card.validated_precisions if p not in measured]
    checks = dict(card.execution.get("checks", {}))
    for score in scores:
        if score.name == REFERENCE:
            continue
        checks[score.name] = {
            "psnr_delta_db": {v: round(score.delta(reference, v), 5) for v in score.volumes},
            "max_abs_diff": float(f"{score.max_abs_diff:.3g}"),
            "data": list(data),
            "slice_step": slice_step,
            "torch": torch.__version__,
            "machine": machine,
        }
    return {
        **card.execution,
        "validated_precisions": sorted(set(kept) | set(validated(scores))),
        "max_psnr_loss_db": MAX_PSNR_LOSS_DB,
        "checks": checks,
    }
