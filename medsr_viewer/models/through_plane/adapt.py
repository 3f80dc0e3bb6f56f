"""Per-study adaptation: fine-tune the through-plane network on the study's own slices.

The study's in-plane slices are sharp along both in-plane axes. Resampled (area-weighted) to
the output slice spacing along one in-plane axis and degraded there with the study's own slice
profile (:class:`~medsr_viewer.models.through_plane.pairs.ThroughPlanePairs` with a fixed
profile), they give pairs that match this study's through-plane blur exactly; a few hundred
small steps from the bundled weights specialise the network to its contrast, noise and
profile. The run is bounded by wall time (``minutes``) and optionally by steps, and
:func:`iter_adapt` is a generator, so callers show progress and cancel by closing it.
"""

from __future__ import annotations

import copy
import math
import threading
import time
from collections.abc import Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from medsr_viewer.core.generators import run_to_end
from medsr_viewer.core.slice_profile import SliceProfile, degrade_along
from medsr_viewer.models.through_plane.apply import ThroughPlaneGeometry
from medsr_viewer.models.through_plane.pairs import PlaneSource, ThroughPlanePairs

if TYPE_CHECKING:  # the report and constants are read without torch (the viewer at start)
    import torch

#: Default adaptation budget of the CLI and the viewer, in minutes of wall time.
DEFAULT_ADAPT_MINUTES = 2.0
#: Adam learning rate of the adaptation (a tenth of the bundled training's peak).
ADAPT_LR = 1e-4
#: Pairs per step and their side.
ADAPT_BATCH = 8
ADAPT_PATCH = 64
#: Pairs held aside to measure the loss before and after.
PROBE_PAIRS = 32


@dataclass(frozen=True)
class AdaptProgress:
    """Reported after every adaptation step."""

    step: int
    seconds: float
    budget_s: float
    loss: float

    @property
    def fraction(self) -> float:
        """Share of the time budget used."""
        return min(1.0, self.seconds / self.budget_s) if self.budget_s > 0 else 1.0


@dataclass(frozen=True)
class AdaptReport:
    """What an adaptation did (goes into the output's provenance)."""

    steps: int
    seconds: float
    loss_before: float
    loss_after: float
    cancelled: bool = False
    skipped: str = ""

    def to_dict(self) -> dict[str, object]:
        """JSON form."""
        def finite(value: float) -> float | None:
            return round(value, 6) if math.isfinite(value) else None

        return {"steps": self.steps, "seconds": round(self.seconds, 2),
                "probe_l1_before": finite(self.loss_before),
                "probe_l1_after": finite(self.loss_after), "cancelled": self.cancelled,
                "skipped": self.skipped, "lr": ADAPT_LR, "batch_size": ADAPT_BATCH,
                "patch_size": ADAPT_PATCH}


def adaptation_sources(normalised: np.ndarray, geometry: ThroughPlaneGeometry
                       ) -> list[PlaneSource]:
    """The study's in-plane slices, resampled along each sharp in-plane axis to the output
    slice spacing, with that axis as the one to degrade."""
    axis, target = geometry.axis, geometry.out_spacing_mm
    others = [a for a in range(3) if a != axis]
    sources = []
    for c in geometry.sharp_axes():
        ratio = target / geometry.spacing_mm[c]
        voxels = normalised
        if ratio > 1.05 and normalised.shape[c] / ratio >= 2:
            voxels = degrade_along(normalised, c, SliceProfile(ratio, ratio))
        sources.append(PlaneSource(f"study axis {c}", voxels, axis, (others.index(c),)))
    return sources


def _probe_loss(module: torch.nn.Module, probe: tuple[torch.Tensor, torch.Tensor]) -> float:
    import torch
    import torch.nn.functional as F

    with torch.inference_mode():
        return float(F.l1_loss(module(probe[0]), probe[1]))


def iter_adapt(module: torch.nn.Module, normalised: np.ndarray, geometry: ThroughPlaneGeometry,
               minutes: float, max_steps: int | None = None, seed: int = 0,
               device: torch.device | str = "cpu", stop: threading.Event | None = None,
               ) -> Generator[AdaptProgress, None, tuple[torch.nn.Module, AdaptReport]]:
    """Fine-tune a copy of ``module`` on pairs from the study itself.

    Parameters
    ----------
    module
        The starting network (left unchanged).
    normalised
        The study in model units.
    geometry
        Its through-plane grid (slice axis, profile, output spacing).
    minutes
        Wall-time budget (``0``: no adaptation, the module is returned as is).
    max_steps
        Optional cap on steps (tests, reproducible runs).
    stop
        When set, the run ends after the current step and returns what it learnt so far
        (``AdaptReport.cancelled``); closing the generator instead discards it.

    Yields
    ------
    AdaptProgress
        After every step; closing the generator stops the run.

    Returns
    -------
    (module, AdaptReport)
        The adapted copy (eval mode) and the report.
    """
    import torch
    import torch.nn.functional as F

    if minutes <= 0 or max_steps == 0:
        return module, AdaptReport(0, 0.0, float("nan"), float("nan"), skipped="no adaptation")
    dev = torch.device(device)
    sources = adaptation_sources(normalised, geometry)
    smallest = min(min(s.voxels.shape[a] for a in range(3) if a != s.plane_axis)
                   for s in sources)
    margin = int(np.ceil(2 * geometry.profile.spacing)) + 2
    patch = min(ADAPT_PATCH, (smallest - 2 * margin) // 8 * 8)
    if patch < 16:
        return module, AdaptReport(0, 0.0, float("nan"), float("nan"),
                                   skipped=f"slices too small ({smallest} px) to adapt on")
    profile = geometry.profile
    sampler = ThroughPlanePairs(sources, patch, profile, seed=seed)
    probe_np = ThroughPlanePairs(sources, patch, profile, seed=seed + 1).batch(PROBE_PAIRS)
    probe = (torch.from_numpy(probe_np[0]).to(dev), torch.from_numpy(probe_np[1]).to(dev))
    adapted = copy.deepcopy(module).to(dev)
    adapted.eval()
    before = _probe_loss(adapted, probe)
    optimizer = torch.optim.Adam(adapted.parameters(), lr=ADAPT_LR)
    budget = minutes * 60.0
    start = time.perf_counter()
    step, running, cancelled = 0, 0.0, False
    try:
        while time.perf_counter() - start < budget and (max_steps is None or step < max_steps):
            if stop is not None and stop.is_set():
                cancelled = True
                break
            adapted.train()
            x, y = sampler.batch(ADAPT_BATCH)
            loss = F.l1_loss(adapted(torch.from_numpy(x).to(dev)), torch.from_numpy(y).to(dev))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            step += 1
            value = float(loss.detach())
            running = value if step == 1 else 0.9 * running + 0.1 * value
            yield AdaptProgress(step, time.perf_counter() - start, budget, running)
    finally:
        adapted.eval()
    after = _probe_loss(adapted, probe)
    return adapted, AdaptReport(step, time.perf_counter() - start, before, after, cancelled)


def run_adapt(module: torch.nn.Module, normalised: np.ndarray, geometry: ThroughPlaneGeometry,
              minutes: float, max_steps: int | None = None, seed: int = 0,
              device: torch.device | str = "cpu", stop: threading.Event | None = None
              ) -> tuple[torch.nn.Module, AdaptReport]:
    """:func:`iter_adapt` run to its end."""
    return run_to_end(iter_adapt(module, normalised, geometry, minutes, max_steps, seed, device,
                                 stop))
