"""Training a super-resolution model on real volumes and exporting it with a scored card."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from medsr_viewer.models.architectures import build_architecture
from medsr_viewer.models.archive import round_weights
from medsr_viewer.models.card import ModelCard, Normalisation
from medsr_viewer.models.evaluation.sr import (
    BASELINES,
    VolumeScores,
    evaluate_sr_volume,
    model_upscaler,
    overall,
)
from medsr_viewer.models.study_volumes import StudyVolume
from medsr_viewer.models.training.adversarial import (
    PERCEPTUAL_NOTE,
    AdversarialLoss,
    load_initial_weights,
)
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

#: One-paragraph protocol written into every SR card.
PROTOCOL = (
    "HR = real slice along the volume's slice axis, stored intensities; LR = mean over each "
    "s x s in-plane block, HR cropped to a multiple of s; bicubic = torch interpolate(LR, "
    "scale_factor=s, mode='bicubic', align_corners=False); PSNR with data range = HR volume "
    "max - min on the slice minus a 2s border, mean over slices with HR max > 5% of the volume "
    "max; SSIM Gaussian 11x11 sigma 1.5, K1 0.01, K2 0.03, same range and crop; the model "
    "input is LR normalised by the card's percentiles of the whole LR volume."
)
#: Deterministic subset stored in cards for fast reproduction checks.
SUBSET_STEP = 4


@dataclass
class SRTrainSpec:
    """What to train: data, architecture and schedule (everything that goes into the card)."""

    name: str
    scale: int
    arch: str = "edsr-lite"
    arch_kwargs: dict[str, Any] = field(default_factory=dict)
    patch_size: int = 64
    init_from: Path | None = None
    adversarial_weight: float = 0.0
    schedule: TrainSchedule = field(default_factory=TrainSchedule)
    card_text: CardText = field(default_factory=CardText)


def make_sr_batch(sampler: PatchSampler, batch_size: int, scale: int,
                  device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """LR/HR pair batch: HR patches and their ``scale x scale`` block means."""
    hr = torch.from_numpy(sampler.batch(batch_size)).to(device)
    return F.avg_pool2d(hr, scale), hr


def score_tables(volumes: Sequence[StudyVolume], scale: int, module: torch.nn.Module | None,
                 slice_step: int = 1, baselines: tuple[str, ...] = BASELINES
                 ) -> list[VolumeScores]:
    """Protocol scores of ``module`` (optional) and baselines on each volume."""
    def factory(lr: np.ndarray) -> Callable[[np.ndarray, int], np.ndarray]:
        assert module is not None
        return model_upscaler(module, percentile_bounds(lr, NORM_LOW_PERCENTILE,
                                                        NORM_HIGH_PERCENTILE))

    return [
        evaluate_sr_volume(v.name, v.voxels, scale, factory if module is not None else None,
                           baselines, slice_step=slice_step)
        for v in volumes
    ]


def scores_dict(tables: list[VolumeScores]) -> dict[str, Any]:
    """JSON form ``{volume: {method: {psnr, ssim}}, "overall": ..., "slices": ...}``."""
    def pack(methods: dict[str, Any]) -> dict[str, dict[str, float]]:
        return {m: {"psnr": round(s.psnr, 4), "ssim": round(s.ssim, 5)} for m, s in methods.items()}

    out: dict[str, Any] = {t.name: pack(t.methods) for t in tables}
    out["overall"] = pack(overall(tables))
    out["slices"] = {t.name: len(t.slices) for t in tables}
    return out


def train_sr(
    spec: SRTrainSpec,
    train_volumes: list[StudyVolume],
    val_volumes: list[StudyVolume],
    out: Path,
    checkpoint: Path | None = None,
    resume: Path | None = None,
    device: str = "cpu",
    log: Callable[[str], None] = print,
) -> ModelCard:
    """Train an SR model, keep the weights with the best validation PSNR, export with card.

    The card records the data, the exact command, the schedule, and the protocol scores of
    the model and all baselines on the validation volumes (all slices, and the every-4th-slice
    subset used by the fast reproduction test), plus the CPU latency for a 512 x 512 output.
    """
    schedule, text = spec.schedule, spec.card_text
    torch.manual_seed(schedule.seed)
    dev = torch.device(device)
    model = build_architecture(spec.arch, scale=spec.scale, **spec.arch_kwargs).to(dev)
    if spec.init_from is not None:
        load_initial_weights(model, spec.init_from, spec.arch, spec.scale)
        log(f"starting from the weights of {spec.init_from}")
    sampler = PatchSampler(train_volumes, spec.patch_size, seed=schedule.seed)
    log(f"training {spec.arch} x{spec.scale} on {len(sampler.volumes)} volumes "
        f"({', '.join(v.name for v in sampler.volumes)}), validating on "
        f"{', '.join(v.name for v in val_volumes)}")
    baseline = overall(score_tables(val_volumes, spec.scale, None, SUBSET_STEP, ("bicubic",)))

    def validate(m: torch.nn.Module) -> dict[str, float]:
        tables = score_tables(val_volumes, spec.scale, m, SUBSET_STEP, ())
        model_psnr = overall(tables)["model"].psnr
        return {"psnr": model_psnr, "gain_db": model_psnr - baseline["bicubic"].psnr,
                "ssim": overall(tables)["model"].ssim}

    config = schedule.loop_config(checkpoint, text.command)
    adversarial = (AdversarialLoss(spec.adversarial_weight, device=dev)
                   if spec.adversarial_weight > 0 else None)

    def extra_state() -> dict[str, Any]:
        state: dict[str, Any] = {"sampler_rng": sampler.rng.bit_generator.state}
        if adversarial is not None:
            state["adversarial"] = adversarial.state_dict()
        return state

    def restore_extra(state: dict[str, Any]) -> None:
        sampler.rng.bit_generator.state = state["sampler_rng"]
        if adversarial is not None and "adversarial" in state:
            adversarial.load_state_dict(state["adversarial"])

    def progress(line: str) -> None:
        if adversarial is not None and line.startswith("step "):
            line = f"{line} {adversarial.report()}"
        log(line)

    result = train(
        model,
        lambda: make_sr_batch(sampler, schedule.batch_size, spec.scale, dev),
        adversarial if adversarial is not None else F.l1_loss,
        validate,
        # PSNR would pick the least adversarial weights; a GAN run keeps its last ones.
        "step" if adversarial is not None else "psnr",
        config,
        resume=resume,
        log=progress,
        extra_state=extra_state,
        restore_extra=restore_extra,
    )
    model.load_state_dict(result.best_state)
    round_weights(model, text.weights_dtype)  # score exactly what the file will hold
    model = model.cpu().eval()
    log("scoring the best weights on the validation volumes (full protocol)")
    full = score_tables(val_volumes, spec.scale, model)
    subset = score_tables(val_volumes, spec.scale, model, SUBSET_STEP)
    latency = measure_latency(model, spec.scale)
    description = text.description
    if adversarial is not None:
        description = f"{PERCEPTUAL_NOTE}. {description}".strip()
    norm = Normalisation("percentile", NORM_LOW_PERCENTILE, NORM_HIGH_PERCENTILE, False)
    modalities = ("MR", "CT")
    card = ModelCard(
        name=spec.name,
        task="super_resolution",
        **text.card_fields(description),
        architecture=spec.arch,
        scale=spec.scale,
        normalisation=norm,
        modalities=modalities,
        tile_size=256,
        tile_overlap=16,
        training={
            **volumes_record(text, train_volumes, val_volumes, norm, modalities),
            **run_record(schedule, text, result, device),
            "arch_kwargs": spec.arch_kwargs,
            "best_step": result.best_step,
            "patch_size_hr": spec.patch_size,
            "loss": (f"L1 + {spec.adversarial_weight:g} x adversarial (patch discriminator, "
                     "spectral norm)" if adversarial is not None else "L1"),
            "initial_weights": str(spec.init_from) if spec.init_from is not None else None,
            "variant": "perceptual (adversarial)" if adversarial is not None else "fidelity",
            "augmentation": "flips, 90-degree rotations, intensity scaling x0.75-1.25, slices "
                            "from every axis with near-square in-plane voxels",
            "degradation": f"block mean {spec.scale}x{spec.scale}",
        },
        scores={
            "protocol": PROTOCOL,
            "validation": scores_dict(full),
            "validation_subset": {"slice_step": SUBSET_STEP, **scores_dict(subset)},
            "cpu_latency_s_512_output": round(latency, 3),
        },
    )
    written = export_with_card(model, card, out)
    ov = written.scores["validation"]["overall"]
    log(f"exported {out}: model PSNR {ov['model']['psnr']:.2f} dB / SSIM {ov['model']['ssim']:.4f}"
        f", bicubic {ov['bicubic']['psnr']:.2f} dB / {ov['bicubic']['ssim']:.4f}; "
        f"512x512 output in {latency:.3f} s on CPU")
    return written


def measure_latency(module: torch.nn.Module, scale: int, output_side: int = 512,
                    repeats: int = 3) -> float:
    """Median CPU seconds of the scripted module for one ``output_side``-square output slice."""
    scripted = torch.jit.script(module.cpu().eval())
    x = torch.rand(1, 1, output_side // scale, output_side // scale)
    times = []
    with torch.inference_mode():
        for _ in range(3):
            scripted(x)
        for _ in range(repeats):
            t = time.perf_counter()
            scripted(x)
            times.append(time.perf_counter() - t)
    return float(np.median(times))
