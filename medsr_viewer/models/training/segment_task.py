"""Training a 2-D segmentation U-Net on image/label pairs and exporting it with a scored card."""

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
from medsr_viewer.models.card import Label, ModelCard, Normalisation
from medsr_viewer.models.domain import summarise_voxels, training_domain
from medsr_viewer.models.evaluation.segmentation import (
    map_labels,
    mean_score,
    predict_labels,
    score_masks,
)
from medsr_viewer.models.training.export import export_with_card
from medsr_viewer.models.training.loop import train
from medsr_viewer.models.training.patches import (
    NORM_HIGH_PERCENTILE,
    NORM_LOW_PERCENTILE,
    percentile_bounds,
)
from medsr_viewer.models.training.schedule import CardText, TrainSchedule, run_record

#: (name, image raw, class map) triples.
Pairs = list[tuple[str, np.ndarray, np.ndarray]]


@dataclass
class SegTrainSpec:
    """What to train: classes, architecture and schedule (recorded in the card)."""

    name: str
    labels: tuple[Label, ...]
    label_mapping: dict[int, int]
    arch: str = "unet"
    arch_kwargs: dict[str, Any] = field(default_factory=dict)
    patch_size: int = 128
    elastic: float = 0.0
    schedule: TrainSchedule = field(
        default_factory=partial(TrainSchedule, steps=1500, batch_size=8, lr=2e-3))
    card_text: CardText = field(default_factory=CardText)


def elastic_field(shape: tuple[int, int], alpha: float, sigma: float,
                  rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Sampling coordinates of a smooth random deformation (Simard et al. 2003).

    Uniform noise in [-1, 1] per pixel, smoothed by a Gaussian of ``sigma`` px and scaled so
    that the largest shift is about ``alpha`` px; the U-Net paper's main augmentation for the
    few ISBI training images.
    """
    from scipy.ndimage import gaussian_filter

    shifts = []
    for _ in range(2):
        field = gaussian_filter(rng.uniform(-1, 1, shape), sigma, mode="reflect")
        peak = float(np.abs(field).max()) or 1.0
        shifts.append(field * (alpha / peak))
    yy, xx = np.meshgrid(np.arange(shape[0]), np.arange(shape[1]), indexing="ij")
    return yy + shifts[0], xx + shifts[1]


def deform_pair(image: np.ndarray, classes: np.ndarray, alpha: float, sigma: float,
                rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Apply one elastic deformation to an image (linear) and its class map (nearest)."""
    from scipy.ndimage import map_coordinates

    coords = elastic_field(image.shape, alpha, sigma, rng)
    warped = map_coordinates(image, coords, order=1, mode="reflect")
    warped_classes = map_coordinates(classes, coords, order=0, mode="reflect")
    return warped.astype(np.float32), warped_classes.astype(classes.dtype)


class PairSampler:
    """Augmented random crops of normalised images with their class maps.

    ``elastic`` is the largest elastic shift in pixels (0: none); the smoothing width is a
    tenth of the patch side, so the warp bends membranes without tearing them.
    """

    def __init__(self, pairs: Pairs, patch_size: int, seed: int = 0,
                 elastic: float = 0.0) -> None:
        self.rng = np.random.default_rng(seed)
        self.patch_size = patch_size
        self.elastic = elastic
        self.items = []
        for _name, image, classes in pairs:
            lo, hi = percentile_bounds(image)
            self.items.append((((image - lo) / (hi - lo)).astype(np.float32), classes))

    def batch(self, size: int) -> tuple[np.ndarray, np.ndarray]:
        """``(size, 1, p, p)`` float32 images and ``(size, p, p)`` int64 class maps."""
        p, rng = self.patch_size, self.rng
        images, labels = [], []
        for _ in range(size):
            image, classes = self.items[int(rng.integers(len(self.items)))]
            y = int(rng.integers(image.shape[0] - p + 1))
            x = int(rng.integers(image.shape[1] - p + 1))
            crop, crop_classes = image[y:y + p, x:x + p], classes[y:y + p, x:x + p]
            if self.elastic > 0:
                crop, crop_classes = deform_pair(crop, crop_classes, self.elastic, p / 10, rng)
            stacked = np.stack([crop, crop_classes.astype(np.float32)])
            # one geometric transform for both; intensity scaling applied to the image only
            k, flip = int(rng.integers(4)), bool(rng.random() < 0.5)
            stacked = np.rot90(stacked, k, axes=(1, 2))
            if flip:
                stacked = stacked[:, :, ::-1]
            images.append(np.ascontiguousarray(stacked[0] * float(rng.uniform(0.8, 1.2))))
            labels.append(np.ascontiguousarray(stacked[1]).astype(np.int64))
        return np.stack(images)[:, None].astype(np.float32), np.stack(labels)


def dice_ce_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Cross-entropy plus soft Dice over the foreground classes (balances thin structures)."""
    ce = F.cross_entropy(logits, target)
    probs = logits.softmax(1)
    onehot = F.one_hot(target, logits.shape[1]).permute(0, 3, 1, 2).float()
    inter = (probs * onehot).sum((0, 2, 3))
    denom = probs.sum((0, 2, 3)) + onehot.sum((0, 2, 3))
    dice = (2 * inter + 1) / (denom + 1)
    return ce + (1 - dice[1:]).mean()


def train_segmentation(
    spec: SegTrainSpec,
    train_pairs: Pairs,
    val_pairs: Pairs,
    out: Path,
    checkpoint: Path | None = None,
    resume: Path | None = None,
    device: str = "cpu",
    log: Callable[[str], None] = print,
) -> ModelCard:
    """Train a U-Net, keep the weights with the best mean validation Dice, export with card.

    ``*_pairs`` hold class maps already (stored label values mapped through
    ``spec.label_mapping``). Scores in the card: Dice, IoU, HD95 of every foreground class on
    each validation image and overall.
    """
    schedule, text = spec.schedule, spec.card_text
    torch.manual_seed(schedule.seed)
    dev = torch.device(device)
    classes = max(lab.value for lab in spec.labels) + 1
    model = build_architecture(spec.arch, classes=classes, **spec.arch_kwargs).to(dev)
    sampler = PairSampler(train_pairs, spec.patch_size, schedule.seed, spec.elastic)
    targets = [lab for lab in spec.labels if lab.value != 0]
    log(f"training {spec.arch} on {len(train_pairs)} images, validating on {len(val_pairs)}")

    def evaluate(m: torch.nn.Module) -> dict[str, Any]:
        m = m.cpu().eval() if dev.type == "cpu" else m
        out_scores: dict[str, Any] = {}
        for lab in targets:
            scores = []
            for name, image, ref in val_pairs:
                pred = predict_labels(m.cpu(), image, percentile_bounds(image))
                scores.append(score_masks(name, ref, pred, lab.value))
            scores.append(mean_score(scores))
            out_scores[lab.name] = {s.name: {"dice": round(s.dice, 5), "iou": round(s.iou, 5),
                                             "hd95_px": round(s.hd95, 3)} for s in scores}
        m.to(dev)
        return out_scores

    def validate(m: torch.nn.Module) -> dict[str, float]:
        scores = evaluate(m)
        return {"dice": float(np.mean([s["overall"]["dice"] for s in scores.values()]))}

    def make_batch() -> tuple[torch.Tensor, torch.Tensor]:
        x, y = sampler.batch(schedule.batch_size)
        return torch.from_numpy(x).to(dev), torch.from_numpy(y).to(dev)

    config = schedule.loop_config(checkpoint, text.command, log_every=25)
    result = train(model, make_batch, dice_ce_loss, validate, "dice", config, resume=resume,
                   log=log,
                   extra_state=lambda: {"sampler_rng": sampler.rng.bit_generator.state},
                   restore_extra=lambda s: setattr(sampler.rng.bit_generator, "state",
                                                   s["sampler_rng"]))
    model.load_state_dict(result.best_state)
    round_weights(model, text.weights_dtype)  # score exactly what the file will hold
    model = model.cpu().eval()
    scores = evaluate(model)
    norm = Normalisation("percentile", NORM_LOW_PERCENTILE, NORM_HIGH_PERCENTILE, False)
    card = ModelCard(
        name=spec.name,
        task="segment",
        **text.card_fields(),
        architecture=spec.arch,
        out_channels=classes,
        normalisation=norm,
        modalities=("EM", "OT"),
        labels=spec.labels,
        tile_size=256,
        tile_overlap=32,
        training={
            "domain": training_domain(
                [
                    summarise_voxels(np.asarray(p[1])[None], (1.0, 1.0, 1.0), "EM", norm,
                                     has_spacing=False)
                    for p in train_pairs
                ],
                ("EM", "OT"),
            ),
            "data": text.data_description,
            "train_images": [p[0] for p in train_pairs],
            "validation_images": [p[0] for p in val_pairs],
            "label_mapping": {str(k): v for k, v in spec.label_mapping.items()},
            **run_record(schedule, text, result, device),
            "arch_kwargs": spec.arch_kwargs,
            "best_step": result.best_step,
            "patch_size": spec.patch_size,
            "loss": "cross-entropy + soft Dice (foreground)",
            "augmentation": "flips, 90-degree rotations, intensity scaling x0.8-1.2"
                            + (f", elastic deformation (max shift {spec.elastic:g} px, "
                               f"smoothing {spec.patch_size / 10:g} px)" if spec.elastic else ""),
        },
        scores={"validation": scores, "metric_note": "Dice/IoU per image, HD95 in pixels"},
    )
    written = export_with_card(model, card, out, probe_shape=(64, 48))
    for name, per in scores.items():
        ov = per["overall"]
        log(f"exported {out}: {name} Dice {ov['dice']:.4f} IoU {ov['iou']:.4f} "
            f"HD95 {ov['hd95_px']:.2f} px")
    return written


def class_pairs(pairs: list[tuple[str, np.ndarray, np.ndarray]], mapping: dict[int, int]) -> Pairs:
    """Map stored label values of ``pairs`` to class indices."""
    return [(n, img, map_labels(lab, mapping)) for n, img, lab in pairs]


def instance_class_pairs(pairs: list[tuple[str, np.ndarray, np.ndarray]], object_value: int,
                         band: int) -> Pairs:
    """Three-class targets (0 outside, 1 core, 2 boundary band) of stored label images.

    The objects are the connected components of the pixels equal to ``object_value`` (e.g.
    255 = cell interior in ISBI 2012); see
    :func:`medsr_viewer.core.labels.instances.instance_targets`.
    """
    from medsr_viewer.core.labels.instances import instance_targets
    from medsr_viewer.core.metrics.instances import connected_instances

    return [(n, img, instance_targets(connected_instances(lab == object_value), band)
             .astype(np.int64)) for n, img, lab in pairs]


def load_initial_segmentation_weights(model: torch.nn.Module, path: Path,
                                      head_from: tuple[int, ...] | None = None) -> int:
    """Copy the weights of a bundled segmentation model into ``model`` where shapes match.

    The output layer (``head``) may have another number of classes: output channel ``i`` of
    ``model`` then starts from channel ``head_from[i]`` of the file's model (for example
    ``(1, 0, 0)`` turns a background/membrane model into membrane/core/band). Returns the
    number of tensors copied; raises ``ValueError`` when the architectures do not fit.
    """
    from medsr_viewer.models.archive import load_model

    source = load_model(path).module.state_dict()
    target = model.state_dict()
    copied = 0
    for key, value in target.items():
        if key not in source:
            raise ValueError(f"{path}: has no tensor {key!r}; not the same architecture")
        src = source[key]
        if src.shape == value.shape:
            value.copy_(src)
        elif key.startswith("head.") and head_from is not None and len(head_from) == \
                value.shape[0] and max(head_from) < src.shape[0]:
            value.copy_(src[list(head_from)])
        else:
            raise ValueError(f"{path}: tensor {key!r} has shape {tuple(src.shape)}, the new "
                             f"model {tuple(value.shape)} (give head_from for the output layer)")
        copied += 1
    model.load_state_dict(target)
    return copied
