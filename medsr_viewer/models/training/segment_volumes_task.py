"""Training a 2-D tissue U-Net on slices of 3-D image/label volume pairs, with a scored card.

The data side is :mod:`medsr_viewer.models.training.volume_pairs`; the loop, loss and export
are those of the 2-D segmentation task. Test volumes (other subjects) are scored at the end
(Dice per class and for the brain, pooled over every 4th slice of all three axes) and on a
small *subset* (every 16th slice along axis 0) that ``tests/models`` re-measures. The exported
weights are those of the last step: the test volumes are never used to choose a step.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from medsr_viewer.models.architectures import build_architecture
from medsr_viewer.models.archive import round_weights
from medsr_viewer.models.card import ModelCard, Normalisation
from medsr_viewer.models.domain import summarise_voxels, training_domain
from medsr_viewer.models.training.export import export_with_card
from medsr_viewer.models.training.loop import train
from medsr_viewer.models.training.patches import NORM_HIGH_PERCENTILE, NORM_LOW_PERCENTILE
from medsr_viewer.models.training.schedule import run_record
from medsr_viewer.models.training.segment_task import SegTrainSpec, dice_ce_loss
from medsr_viewer.models.training.volume_pairs import (
    FREESURFER_TISSUE,
    VolumePair,
    VolumeSliceSampler,
    augmented_extremes,
    score_volume,
)

#: Full held-out scoring: every 4th slice of each axis.
FULL_STEP = 4
#: The quick subset the tests re-measure: every 16th slice along axis 0.
SUBSET_STEP, SUBSET_AXES = 16, (0,)


def pair_scores(module: torch.nn.Module, pairs: Sequence[VolumePair], names: Sequence[str],
                step: int, axes: Sequence[int]) -> dict[str, Any]:
    """``{pair: {variant: scores}}`` for every image variant of each pair."""
    out: dict[str, Any] = {}
    for pair in pairs:
        out[pair.name] = {
            variant: score_volume(module, pair.name, image, pair.classes, names, step,
                                  axes).as_dict()
            for variant, image in pair.variants.items()
        }
    return out


def slice_seconds(module: torch.nn.Module, size: int = 256, repeats: int = 5) -> float:
    """Median CPU seconds of one ``size``² slice (after one warm-up call)."""
    x = torch.rand(1, 1, size, size, generator=torch.Generator().manual_seed(0))
    times = []
    with torch.inference_mode():
        module(x)
        for _ in range(repeats):
            start = time.perf_counter()
            module(x)
            times.append(time.perf_counter() - start)
    return float(np.median(times))


def volume_pairs_domain(pairs: Sequence[VolumePair]) -> dict[str, Any]:
    """The card's training domain: every stored variant and its :func:`augmented_extremes`
    (synthetic head, noise), along all three axes, with the real voxel spacing."""
    as_is = Normalisation("none")  # the variants are normalised already
    images = [(pair, image) for pair in pairs
              for image in [*pair.variants.values(), *augmented_extremes(pair)]]
    return training_domain(
        [summarise_voxels(np.asarray(image), pair.spacing, "MR", as_is, axis)
         for pair, image in images for axis in range(3)],
        ("MR",),
    )


def train_volume_segmentation(
    spec: SegTrainSpec,
    train_pairs: Sequence[VolumePair],
    test_pairs: Sequence[VolumePair],
    out: Path,
    checkpoint: Path | None = None,
    resume: Path | None = None,
    device: str = "cpu",
    log: Callable[[str], None] = print,
    held_out: dict[str, Any] | None = None,
    mappings: dict[str, str] | None = None,
) -> ModelCard:
    """Train on slices of ``train_pairs``; score ``test_pairs``; export with the card.

    ``held_out`` (e.g. the scores of leave-one-subject-out runs, copied from their cards) is
    recorded in the card as ``scores["held_out"]``; ``mappings`` names each pair's label
    mapping for the card.
    """
    schedule, text = spec.schedule, spec.card_text
    torch.manual_seed(schedule.seed)
    dev = torch.device(device)
    names = [lab.name for lab in sorted(spec.labels, key=lambda lab: lab.value)]
    model = build_architecture(spec.arch, classes=len(names), **spec.arch_kwargs).to(dev)
    sampler = VolumeSliceSampler(train_pairs, spec.patch_size, schedule.seed)
    for pair in train_pairs:
        log(f"{pair.name}: {pair.classes.shape} at {pair.spacing[0]:.2f} mm, variants "
            f"{', '.join(pair.variants)} (share of the image outside the tissue: "
            f"{pair.skull_share:.1%})")
    log(f"training {spec.arch} on {len(train_pairs)} volume pairs, testing on {len(test_pairs)}")
    calls = [0]

    def validate(m: torch.nn.Module) -> dict[str, float]:
        calls[0] += 1
        metrics: dict[str, float] = {"order": float(calls[0])}  # always the newest: last step
        m = m.cpu()
        for pair in test_pairs:
            image = pair.variants["as stored"]
            s = score_volume(m, pair.name, image, pair.classes, names, SUBSET_STEP, SUBSET_AXES)
            for key, value in s.dice.items():
                metrics[f"{pair.name}:{key}"] = value
        m.to(dev)
        return metrics

    def make_batch() -> tuple[torch.Tensor, torch.Tensor]:
        x, y = sampler.batch(schedule.batch_size)
        return torch.from_numpy(x).to(dev), torch.from_numpy(y).to(dev)

    config = schedule.loop_config(checkpoint, text.command, log_every=25)
    result = train(model, make_batch, dice_ce_loss, validate, "order", config, resume=resume,
                   log=log,
                   extra_state=lambda: {"sampler_rng": sampler.rng.bit_generator.state},
                   restore_extra=lambda s: setattr(sampler.rng.bit_generator, "state",
                                                   s["sampler_rng"]))
    model.load_state_dict(result.best_state)
    round_weights(model, text.weights_dtype)
    model = model.cpu().eval()
    test_full = pair_scores(model, test_pairs, names, FULL_STEP, (0, 1, 2))
    test_subset = pair_scores(model, test_pairs, names, SUBSET_STEP, SUBSET_AXES)
    train_subset = pair_scores(model, train_pairs, names, SUBSET_STEP, SUBSET_AXES)
    seconds = slice_seconds(model)
    norm = Normalisation("percentile", NORM_LOW_PERCENTILE, NORM_HIGH_PERCENTILE, False)
    scores: dict[str, Any] = {
        "test": test_full,
        "test_subset": test_subset,
        "train_subset": train_subset,
        "slice_seconds_256": round(seconds, 4),
        "metric_note": (f"Dice pooled over every {FULL_STEP}th slice of all three axes "
                        f"(test) or every {SUBSET_STEP}th slice of axis 0 (subsets); "
                        "'brain' = union of the non-background classes; weights of the "
                        "last step (no step chosen on test data)"),
    }
    if held_out:
        scores["held_out"] = held_out
    card = ModelCard(
        name=spec.name,
        task="segment",
        **text.card_fields(),
        architecture=spec.arch,
        out_channels=len(names),
        normalisation=norm,
        modalities=("MR",),
        labels=spec.labels,
        tile_size=256,
        tile_overlap=32,
        training={
            "domain": volume_pairs_domain(train_pairs),
            "data": text.data_description,
            "train_volumes": [p.name for p in train_pairs],
            "test_volumes": [p.name for p in test_pairs],
            "label_mappings": mappings or {},
            "freesurfer_tissue_table": [[first, last, cls, reason]
                                        for (first, last), cls, reason in FREESURFER_TISSUE],
            **run_record(schedule, text, result, device),
            "arch_kwargs": spec.arch_kwargs,
            "kept_step": schedule.stop_at or schedule.steps,
            "patch_size": spec.patch_size,
            "loss": "cross-entropy + soft Dice (foreground)",
            "slices": "all three axes, slices with >= 2 % tissue",
            "augmentation": ("rotation +-15 deg and zoom 0.85-1.15 about a tissue pixel, "
                             "90-degree turns, flips, intensity x0.85-1.15, gamma 0.7-1.5, "
                             "bias field up to +-30 %, synthetic skull/scalp on half of the "
                             "slices of skull-stripped images, skull-stripped variant of "
                             "images with a skull"),
        },
        scores=scores,
    )
    written = export_with_card(model, card, out, probe_shape=(64, 48))
    for name, variants in test_full.items():
        for variant, s in variants.items():
            shown = " ".join(f"{k} {v:.4f}" for k, v in s["dice"].items())
            log(f"test {name} ({variant}): Dice {shown}")
    log(f"exported {out}; one 256x256 slice {seconds:.3f} s on {torch.get_num_threads()} "
        "thread(s)")
    return written
