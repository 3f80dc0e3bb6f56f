"""Training a denoising model on real volumes with simulated noise; export with scored card."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from medsr_viewer.models.architectures import build_architecture
from medsr_viewer.models.archive import round_weights
from medsr_viewer.models.card import ModelCard, Normalisation
from medsr_viewer.models.evaluation.denoise import evaluate_denoise_volume, model_denoiser
from medsr_viewer.models.study_volumes import StudyVolume
from medsr_viewer.models.training.export import export_with_card
from medsr_viewer.models.training.loop import train
from medsr_viewer.models.training.patches import (
    NORM_HIGH_PERCENTILE,
    NORM_LOW_PERCENTILE,
    PatchSampler,
    percentile_bounds,
)
from medsr_viewer.models.training.schedule import (
    CardText,
    TrainSchedule,
    run_record,
    volumes_record,
)

#: Slice subset used for validation during training and for the card's fast-check scores.
SUBSET_STEP = 4


@dataclass
class DenoiseTrainSpec:
    """What to train: noise levels, architecture and schedule (recorded in the card)."""

    name: str
    arch: str = "dncnn"
    arch_kwargs: dict[str, Any] = field(default_factory=dict)
    sigma_range: tuple[float, float] = (0.01, 0.10)
    eval_level: float = 0.05
    patch_size: int = 64
    schedule: TrainSchedule = field(default_factory=partial(TrainSchedule, steps=1500))
    card_text: CardText = field(default_factory=CardText)


def noisy_batch(clean: torch.Tensor, sigma_range: tuple[float, float],
                generator: torch.Generator) -> torch.Tensor:
    """Add per-sample Gaussian or Rician noise (50/50) with sigma uniform in ``sigma_range``."""
    n = clean.shape[0]
    lo, hi = sigma_range
    sigma = lo + (hi - lo) * torch.rand(n, 1, 1, 1, generator=generator)
    rician = torch.rand(n, 1, 1, 1, generator=generator) < 0.5
    n1 = torch.randn(clean.shape, generator=generator) * sigma
    n2 = torch.randn(clean.shape, generator=generator) * sigma
    magnitude = torch.sqrt((clean + n1) ** 2 + n2**2)
    return torch.where(rician, magnitude, clean + n1)


def train_denoise(
    spec: DenoiseTrainSpec,
    train_volumes: list[StudyVolume],
    val_volumes: list[StudyVolume],
    out: Path,
    checkpoint: Path | None = None,
    resume: Path | None = None,
    device: str = "cpu",
    log: Callable[[str], None] = print,
) -> ModelCard:
    """Train a denoiser, keep the best weights by validation PSNR, export with card.

    Card scores: PSNR/SSIM of noisy input, best Gaussian filter and model at
    ``sigma = eval_level x range`` (Rician for MR, Gaussian for CT) per validation volume,
    on all slices and on the every-4th-slice subset.
    """
    schedule, text = spec.schedule, spec.card_text
    torch.manual_seed(schedule.seed)
    dev = torch.device(device)
    gen = torch.Generator().manual_seed(schedule.seed)
    model = build_architecture(spec.arch, **spec.arch_kwargs).to(dev)
    sampler = PatchSampler(train_volumes, spec.patch_size, seed=schedule.seed)
    log(f"training {spec.arch} on {', '.join(v.name for v in sampler.volumes)}; validating on "
        f"{', '.join(v.name for v in val_volumes)}")

    def bounds(vox: np.ndarray) -> tuple[float, float]:
        return percentile_bounds(vox, NORM_LOW_PERCENTILE, NORM_HIGH_PERCENTILE)

    def evaluate(m: torch.nn.Module, step: int) -> list[Any]:
        return [evaluate_denoise_volume(v.name, v.voxels, v.modality, spec.eval_level,
                                        model_denoiser(m, bounds), slice_step=step)
                for v in val_volumes]

    def validate(m: torch.nn.Module) -> dict[str, float]:
        res = evaluate(m.cpu(), SUBSET_STEP)
        m.to(dev)
        return {"psnr": float(np.mean([r.psnr["model"] for r in res])),
                "gain_db": float(np.mean([r.psnr["model"] - r.psnr["noisy"] for r in res]))}

    def make_batch() -> tuple[torch.Tensor, torch.Tensor]:
        clean = torch.from_numpy(sampler.batch(schedule.batch_size))
        return noisy_batch(clean, spec.sigma_range, gen).to(dev), clean.to(dev)

    config = schedule.loop_config(checkpoint, text.command)
    def restore(state: dict[str, Any]) -> None:
        sampler.rng.bit_generator.state = state["sampler_rng"]
        gen.set_state(state["noise_rng"])

    result = train(model, make_batch, F.mse_loss, validate, "psnr", config, resume=resume, log=log,
                   extra_state=lambda: {"sampler_rng": sampler.rng.bit_generator.state,
                                        "noise_rng": gen.get_state()},
                   restore_extra=restore)
    model.load_state_dict(result.best_state)
    round_weights(model, text.weights_dtype)  # score exactly what the file will hold
    model = model.cpu().eval()

    def pack(results: list[Any]) -> dict[str, Any]:
        return {r.name: {"noise": r.noise, "slices": len(r.slices),
                         "gaussian_sigma_px": r.gaussian_sigma,
                         **{m: {"psnr": round(r.psnr[m], 4), "ssim": round(r.ssim[m], 5)}
                            for m in r.psnr}} for r in results}

    full, subset = pack(evaluate(model, 1)), pack(evaluate(model, SUBSET_STEP))
    norm = Normalisation("percentile", NORM_LOW_PERCENTILE, NORM_HIGH_PERCENTILE, False)
    modalities = ("MR", "CT")
    card = ModelCard(
        name=spec.name,
        task="enhance",
        **text.card_fields(),
        architecture=spec.arch,
        normalisation=norm,
        modalities=modalities,
        tile_size=256,
        tile_overlap=16,
        training={
            **volumes_record(text, train_volumes, val_volumes, norm, modalities),
            **run_record(schedule, text, result, device),
            "arch_kwargs": spec.arch_kwargs,
            "noise": f"Gaussian or Rician (50/50), sigma uniform in {list(spec.sigma_range)} "
                     "of the normalised range",
            "best_step": result.best_step,
            "patch_size": spec.patch_size,
            "loss": "MSE",
            "augmentation": "flips, 90-degree rotations, intensity scaling x0.75-1.25",
        },
        scores={
            "protocol": f"sigma = {spec.eval_level} x (clean volume max - min); Rician for MR, "
                        "Gaussian for CT; noise seed 0; PSNR/SSIM as the SR protocol (no crop); "
                        "gaussian = Gaussian filter of the best width (oracle)",
            "level": spec.eval_level,
            "validation": full,
            "validation_subset": {"slice_step": SUBSET_STEP, **subset},
        },
    )
    written = export_with_card(model, card, out)
    for name, s in full.items():
        log(f"{name}: noisy {s['noisy']['psnr']:.2f} dB, gaussian {s['gaussian']['psnr']:.2f} dB, "
            f"model {s['model']['psnr']:.2f} dB")
    return written
