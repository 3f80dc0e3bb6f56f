"""Training the bundled through-plane SR model on real in-plane slices, and exporting it.

Pairs come from :class:`~medsr_viewer.models.through_plane.pairs.ThroughPlanePairs` over many
slice profiles (factors 1.5-5, with and without slice gaps), so one network serves any study;
a per-study adaptation (:mod:`medsr_viewer.models.through_plane.adapt`) then specialises it.
The weights kept are those with the best PSNR gain over the cubic B-spline on validation pairs
at factors 2 and 4 from a validation volume; the card is scored on held-out test volumes under
the through-plane protocol (:mod:`medsr_viewer.models.evaluation.through_plane`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from medsr_viewer.core.slice_profile import SliceProfile
from medsr_viewer.models.architectures import build_architecture
from medsr_viewer.models.archive import round_weights
from medsr_viewer.models.card import ModelCard, Normalisation
from medsr_viewer.models.study_volumes import StudyVolume
from medsr_viewer.models.through_plane.pairs import PlaneSource, ProfilePrior, ThroughPlanePairs
from medsr_viewer.models.training.export import export_with_card
from medsr_viewer.models.training.loop import train
from medsr_viewer.models.training.patches import (
    NORM_HIGH_PERCENTILE,
    NORM_LOW_PERCENTILE,
    percentile_bounds,
    usable_axes,
)
from medsr_viewer.models.training.schedule import (
    CardText,
    TrainSchedule,
    run_record,
    volumes_record,
)

#: The card's intensity normalisation (percentiles of the whole input volume).
NORMALISATION = Normalisation("percentile", NORM_LOW_PERCENTILE, NORM_HIGH_PERCENTILE, False)
#: Validation pairs per factor.
VAL_PAIRS = 48
#: Adaptation steps behind the card's ``test_adapted`` scores (reproducible, unlike minutes).
CARD_ADAPT_STEPS = 300


@dataclass
class ThroughPlaneTrainSpec:
    """What to train (everything goes into the card)."""

    name: str = "sr-through-plane"
    arch: str = "through-plane-resnet"
    arch_kwargs: dict[str, Any] = field(default_factory=lambda: {"channels": 32, "blocks": 6})
    patch_size: int = 64
    #: Which weights to export: ``best`` (by validation gain) or ``last`` (end of schedule).
    keep: str = "best"
    schedule: TrainSchedule = field(default_factory=partial(TrainSchedule, steps=6000))
    card_text: CardText = field(default_factory=CardText)


def normalised(volume: StudyVolume) -> np.ndarray:
    """``volume``'s voxels mapped by the card's percentiles to about ``[0, 1]``."""
    lo, hi = percentile_bounds(volume.voxels, NORM_LOW_PERCENTILE, NORM_HIGH_PERCENTILE)
    return ((volume.voxels - lo) / (hi - lo)).astype(np.float32)


def training_sources(volumes: Sequence[StudyVolume]) -> list[PlaneSource]:
    """Every axis of every volume whose slices have near-square pixels, both directions."""
    sources = []
    for vol in volumes:
        norm = normalised(vol)
        for axis in usable_axes(vol.spacing):
            if norm.shape[axis] >= 1:
                sources.append(PlaneSource(vol.name, norm, axis))
    return sources


def validation_pairs(volumes: Sequence[StudyVolume], patch_size: int, seed: int = 1234
                     ) -> dict[float, tuple[torch.Tensor, torch.Tensor]]:
    """Fixed validation pairs at factors 2 and 4 (contiguous slices), by factor."""
    out = {}
    for factor in (2.0, 4.0):
        sampler = ThroughPlanePairs(training_sources(volumes), patch_size,
                                    SliceProfile(factor, factor), seed=seed)
        x, y = sampler.batch(VAL_PAIRS)
        out[factor] = (torch.from_numpy(x), torch.from_numpy(y))
    return out


def psnr_gain(module: torch.nn.Module, pairs: tuple[torch.Tensor, torch.Tensor]) -> float:
    """PSNR gain in dB of ``module`` over its own (cubic) input on normalised pairs."""
    x, y = pairs
    with torch.inference_mode():
        pred = module(x)
    mse_model = float(F.mse_loss(pred, y))
    mse_cubic = float(F.mse_loss(x[:, :1], y))
    return 10.0 * float(np.log10(mse_cubic / max(mse_model, 1e-12)))


def train_through_plane(
    spec: ThroughPlaneTrainSpec,
    train_volumes: list[StudyVolume],
    val_volumes: list[StudyVolume],
    test_volumes: list[StudyVolume],
    out: Path,
    checkpoint: Path | None = None,
    resume: Path | None = None,
    device: str = "cpu",
    log: Callable[[str], None] = print,
    timing_volume: StudyVolume | None = None,
) -> ModelCard | None:
    """Train, keep the best validation weights, score on ``test_volumes``, export with a card.

    Returns ``None`` (nothing exported) when ``spec.schedule.stop_at`` ends this session
    early; the checkpoint holds the run and a later call with ``resume`` continues it.
    """
    schedule, text = spec.schedule, spec.card_text
    torch.manual_seed(schedule.seed)
    dev = torch.device(device)
    model = build_architecture(spec.arch, **spec.arch_kwargs).to(dev)
    sampler = ThroughPlanePairs(training_sources(train_volumes), spec.patch_size, ProfilePrior(),
                                seed=schedule.seed)
    val = validation_pairs(val_volumes, spec.patch_size)
    log(f"training {spec.arch} on {len(sampler.sources)} slice sources "
        f"({', '.join(sorted({s.name for s in sampler.sources}))}), validating on "
        f"{', '.join(v.name for v in val_volumes)}")

    def make_batch() -> tuple[torch.Tensor, torch.Tensor]:
        x, y = sampler.batch(schedule.batch_size)
        return torch.from_numpy(x).to(dev), torch.from_numpy(y).to(dev)

    def validate(m: torch.nn.Module) -> dict[str, float]:
        gains = {f"gain_x{int(f)}_db": psnr_gain(m, (x.to(dev), y.to(dev)))
                 for f, (x, y) in val.items()}
        gains["gain_db"] = float(np.mean(list(gains.values())))
        return gains

    config = schedule.loop_config(checkpoint, text.command)
    result = train(
        model, make_batch, F.l1_loss, validate, "gain_db", config, resume=resume, log=log,
        extra_state=lambda: {"sampler_rng": sampler.rng.bit_generator.state},
        restore_extra=lambda s: setattr(sampler.rng.bit_generator, "state", s["sampler_rng"]),
    )
    if schedule.stops_early:
        log(f"stopped at step {schedule.stop_at} of {schedule.steps}; continue with --resume")
        return None
    from medsr_viewer.models.evaluation.through_plane import (
        PROTOCOL,
        evaluate_volumes,
        scores_dict,
        subset_of,
        time_isotropic_run,
    )
    if spec.keep == "best":
        model.load_state_dict(result.best_state)
    round_weights(model, text.weights_dtype)
    model = model.cpu().eval()
    log("scoring the best weights on the test volumes (through-plane protocol, no adaptation)")
    tables = evaluate_volumes(test_volumes, model, NORMALISATION, factors=(2, 4),
                              adapt_minutes=0.0, log=log)
    log(f"scoring with {CARD_ADAPT_STEPS} adaptation steps on each LR test study")
    adapted = evaluate_volumes(test_volumes, model, NORMALISATION, factors=(2, 4),
                               adapt_minutes=60.0, max_steps=CARD_ADAPT_STEPS, log=log)
    subset = evaluate_volumes([subset_of(v) for v in test_volumes], model, NORMALISATION,
                              factors=(2, 4), adapt_minutes=0.0, log=log)
    timing = None
    if timing_volume is not None:
        log(f"timing a 150-slice isotropic output from {timing_volume.name}")
        timing = time_isotropic_run(model, NORMALISATION, timing_volume)
        log(f"timing: {timing}")
    card = ModelCard(
        name=spec.name,
        task="through_plane_sr",
        architecture=spec.arch,
        arch_kwargs=spec.arch_kwargs,
        scale=1,
        in_channels=3,
        normalisation=NORMALISATION,
        modalities=("MR", "CT"),
        tile_size=256,
        tile_overlap=16,
        **text.card_fields(),
        training={
            **volumes_record(text, train_volumes, val_volumes, NORMALISATION, ("MR", "CT")),
            "test_volumes": [v.name for v in test_volumes],
            **run_record(schedule, text, result, device),
            "best_step": result.best_step,
            "best_validation": result.best_metrics,
            "exported_weights": (f"best validation step {result.best_step}"
                                 if spec.keep == "best" else f"last step {schedule.steps}"),
            "validation_history": result.history,
            "patch_size": spec.patch_size,
            "loss": "L1",
            "degradation": "boxcar slice profile along the rows of real in-plane slices: "
                           "factor 2 or 4 (half the draws) or uniform 1.5-5, 30 % with a "
                           "slice gap (thickness 0.5-1 x spacing); input = cubic B-spline "
                           "(map_coordinates order 3, mode nearest) back onto the fine rows",
            "augmentation": "row and column flips, intensity scaling x0.75-1.25, either "
                            "in-plane axis as the slice axis",
        },
        scores={
            "protocol": PROTOCOL,
            "test": scores_dict(tables),
            "test_adapted": {"adapt_steps": CARD_ADAPT_STEPS, **scores_dict(adapted)},
            "test_subset": {"note": "central 64 px across the evaluated axis, no adaptation",
                            **scores_dict(subset)},
            **({"timing_2_cores": timing} if timing is not None else {}),
        },
    )
    written = export_with_card(model, card, out)
    log(f"exported {out}")
    return written
