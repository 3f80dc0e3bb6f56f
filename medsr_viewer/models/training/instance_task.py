"""Training an instance segmentation U-Net (core / boundary band / outside) and its card.

The images are split three ways, never by crop: the training images, a validation split
carved from the training images (it chooses the best checkpoint and tunes the card's
post-processing, and is never trained on), and the held-out images, scored once at the end
with the tuned post-processing. The network learns three classes from the connected
components of the stored object label (:func:`segment_task.instance_class_pairs`); the
patch sampler, loss and loop are the semantic segmentation task's
(:mod:`medsr_viewer.models.training.segment_task`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch

from medsr_viewer.core.labels.instances import InstanceParams
from medsr_viewer.models.architectures import build_architecture
from medsr_viewer.models.archive import round_weights
from medsr_viewer.models.card import Label, ModelCard, Normalisation
from medsr_viewer.models.domain import summarise_voxels, training_domain
from medsr_viewer.models.evaluation.instances import (
    evaluate_instances,
    predict_probabilities,
    reference_instances,
    tune_instances,
)
from medsr_viewer.models.training.export import export_with_card
from medsr_viewer.models.training.loop import train
from medsr_viewer.models.training.patches import (
    NORM_HIGH_PERCENTILE,
    NORM_LOW_PERCENTILE,
    percentile_bounds,
)
from medsr_viewer.models.training.schedule import CardText, TrainSchedule, run_record
from medsr_viewer.models.training.segment_task import (
    PairSampler,
    dice_ce_loss,
    instance_class_pairs,
    load_initial_segmentation_weights,
)

#: (name, image raw, stored label) triples.
RawPairs = list[tuple[str, np.ndarray, np.ndarray]]

#: The three network outputs of a ``segment_instances`` model.
INSTANCE_LABELS = (Label(0, "outside", (0, 0, 0)), Label(1, "object core", (0, 200, 0)),
                   Label(2, "object boundary band", (255, 200, 0)))


@dataclass
class InstanceTrainSpec:
    """What to train (recorded in the card)."""

    name: str
    object_value: int = 255
    band: int = 2
    object_name: str = "cell"
    arch: str = "unet"
    arch_kwargs: dict[str, Any] = field(default_factory=dict)
    init_from: Path | None = None
    head_from: tuple[int, ...] | None = None
    patch_size: int = 128
    elastic: float = 0.0
    modalities: tuple[str, ...] = ("EM", "OT")
    schedule: TrainSchedule = field(default_factory=partial(TrainSchedule, batch_size=8))
    card_text: CardText = field(default_factory=CardText)


def _probabilities(model: torch.nn.Module, pairs: RawPairs, object_value: int
                   ) -> list[tuple[str, np.ndarray, np.ndarray]]:
    return [(name, predict_probabilities(model, image, percentile_bounds(image)),
             reference_instances(label, object_value)) for name, image, label in pairs]


def train_instances(
    spec: InstanceTrainSpec,
    train_pairs: RawPairs,
    val_pairs: RawPairs,
    test_pairs: RawPairs,
    out: Path,
    checkpoint: Path | None = None,
    resume: Path | None = None,
    device: str = "cpu",
    log: Callable[[str], None] = print,
) -> ModelCard:
    """Train, choose the checkpoint and post-processing on ``val_pairs``, score ``test_pairs``.

    ``*_pairs`` hold stored label images (objects = components of ``spec.object_value``).
    The checkpoint with the best validation DSB mAP under the default post-processing is
    kept; the post-processing grid is then searched on the validation images and the chosen
    setting goes into the card's ``instances`` block, with the held-out scores.
    """
    names = [{p[0] for p in s} for s in (train_pairs, val_pairs, test_pairs)]
    if names[0] & names[1] or names[0] & names[2] or names[1] & names[2]:
        raise ValueError("training, validation and held-out images overlap")
    schedule, text = spec.schedule, spec.card_text
    torch.manual_seed(schedule.seed)
    dev = torch.device(device)
    model = build_architecture(spec.arch, classes=3, **spec.arch_kwargs).to(dev)
    init_seen: list[str] = []
    if spec.init_from is not None:
        from medsr_viewer.models.archive import read_card

        seen = set(read_card(spec.init_from).training.get("train_images", []))
        if seen & names[2]:
            raise ValueError(f"{spec.init_from} was trained on held-out image(s) "
                             f"{', '.join(sorted(seen & names[2]))}")
        init_seen = sorted(seen & names[1])
        load_initial_segmentation_weights(model, spec.init_from, spec.head_from)
        log(f"starting from the weights of {spec.init_from} (head from {spec.head_from})")
    sampler = PairSampler(instance_class_pairs(train_pairs, spec.object_value, spec.band),
                          spec.patch_size, schedule.seed, spec.elastic)
    default = InstanceParams()
    log(f"training {spec.arch} on {len(train_pairs)} images, validating on {len(val_pairs)}, "
        f"{len(test_pairs)} held out")

    def validate(m: torch.nn.Module) -> dict[str, float]:
        m = m.cpu().eval()
        scores = evaluate_instances(_probabilities(m, val_pairs, spec.object_value), default)
        m.to(dev)
        return {"dsb_map": scores["overall"]["dsb_map"], "ap50": scores["overall"]["ap50"]}

    def make_batch() -> tuple[torch.Tensor, torch.Tensor]:
        x, y = sampler.batch(schedule.batch_size)
        return torch.from_numpy(x).to(dev), torch.from_numpy(y).to(dev)

    config = schedule.loop_config(checkpoint, text.command, log_every=25)
    result = train(model, make_batch, dice_ce_loss, validate, "dsb_map", config, resume=resume,
                   log=log,
                   extra_state=lambda: {"sampler_rng": sampler.rng.bit_generator.state},
                   restore_extra=lambda s: setattr(sampler.rng.bit_generator, "state",
                                                   s["sampler_rng"]))
    if schedule.stops_early:
        raise ValueError(f"stopped at step {schedule.stop_at} of {schedule.steps}; "
                         "resume to finish")
    model.load_state_dict(result.best_state)
    round_weights(model, text.weights_dtype)  # score exactly what the file will hold
    model = model.cpu().eval()
    val_probs = _probabilities(model, val_pairs, spec.object_value)
    params, val_map, tried = tune_instances(val_probs)
    log(f"tuned post-processing on validation: DSB mAP {val_map:.4f} with {params.to_dict()}")
    validation = evaluate_instances(val_probs, params)
    held_out = evaluate_instances(_probabilities(model, test_pairs, spec.object_value), params)
    ho = held_out["overall"]
    log(f"held-out: DSB mAP {ho['dsb_map']:.4f} AP50 {ho['ap50']:.4f} AP75 {ho['ap75']:.4f} "
        f"Rand error {ho['rand_error']:.4f} VI split {ho['vi_split']:.3f} "
        f"merge {ho['vi_merge']:.3f}")
    norm = Normalisation("percentile", NORM_LOW_PERCENTILE, NORM_HIGH_PERCENTILE, False)
    card = ModelCard(
        name=spec.name,
        task="segment_instances",
        **text.card_fields(),
        architecture=spec.arch,
        arch_kwargs=dict(spec.arch_kwargs),
        out_channels=3,
        normalisation=norm,
        modalities=spec.modalities,
        labels=INSTANCE_LABELS,
        tile_size=512,
        tile_overlap=64,
        instances={**params.to_dict(), "object_name": spec.object_name},
        training={
            "domain": training_domain(
                [summarise_voxels(np.asarray(p[1])[None], (1.0, 1.0, 1.0), "EM", norm,
                                  has_spacing=False) for p in train_pairs],
                spec.modalities),
            "data": text.data_description,
            "train_images": [p[0] for p in train_pairs],
            "validation_images": [p[0] for p in val_pairs],
            "held_out_images": [p[0] for p in test_pairs],
            "objects": f"connected components (face-connected) of label {spec.object_value}",
            "object_value": spec.object_value,
            "targets": f"0 outside, 1 core, 2 boundary band (object pixels within "
                       f"{spec.band} px of the object's edge)",
            "band_px": spec.band,
            "initial_weights": str(spec.init_from) if spec.init_from is not None else None,
            "head_from": list(spec.head_from) if spec.head_from is not None else None,
            **run_record(schedule, text, result, device),
            "best_step": result.best_step,
            "patch_size": spec.patch_size,
            "loss": "cross-entropy + soft Dice (core and band)",
            "augmentation": "flips, 90-degree rotations, intensity scaling x0.8-1.2"
                            + (f", elastic deformation (max shift {spec.elastic:g} px)"
                               if spec.elastic else ""),
            "checkpoint_choice": "best validation DSB mAP with the default post-processing "
                                 f"{default.to_dict()}",
            "tuning": {"grid_size": len(tried), "best_validation_dsb_map": round(val_map, 5),
                       "top": sorted(tried, key=lambda t: -t["dsb_map"])[:10]},
            "history": result.history,
            "threads": torch.get_num_threads(),
        },
        scores={"held_out": held_out, "validation_tuning": validation,
                "validation_note": "the validation images chose the checkpoint and tuned the "
                                   "post-processing, so their scores are optimistic"
                                   + (f"; the initial weights ({spec.init_from.name}) were "
                                      f"trained on {', '.join(init_seen)}"
                                      if spec.init_from is not None and init_seen else ""),
                "metric_note": "per image and overall (mean over images): DSB mAP@[.5:.95], "
                               "COCO AP50/AP75/AP@[.5:.95] (all objects score 1), adapted Rand "
                               "error, VI split/merge (nats); reference = connected "
                               "components of the object label; whole 512x512 images"},
    )
    return export_with_card(model, card, out, probe_shape=(64, 48))
