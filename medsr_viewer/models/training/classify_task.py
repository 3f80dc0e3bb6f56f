"""Training a slice classifier on labelled series (the bundled ``series-type``) and exporting it
with a card that holds its held-out scores.

Training slices come from whole series (the split is by subject, see
:mod:`medsr_viewer.models.training.series_type_data`): every slice with anatomy along the
acquired axis, and for 3-D volumes (at least :data:`REFORMAT_MIN` voxels along every axis) the
coronal and sagittal reformats too, up to :data:`SLICES_PER_AXIS` evenly spaced slices per
axis, each prepared exactly as at inference (:func:`~medsr_viewer.models.classification.
prepare_slice`). A batch draws a class uniformly, then a series of that class, then a slice
(so one big class cannot swamp the others), and augments it: random flips, rotation
±15°, zoom 0.8–1.25 and shift ±10 % (one affine resampling), a lower resolution now and then
(down by 1.5–3x and back up), gamma 0.7–1.4, gain 0.85–1.15 and Gaussian noise.

Validation (logged during training, and the card's scores) runs the exported path itself
(:class:`~medsr_viewer.models.classification.SliceClassifierRun`) on the held-out series
along their acquired axis: slice-level scores over the slices with anatomy and one
per-volume prediction per series.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from medsr_viewer.core.io import load_volume
from medsr_viewer.core.metrics.classification import classification_scores
from medsr_viewer.core.volume import Volume
from medsr_viewer.models.architectures import build_architecture
from medsr_viewer.models.archive import LoadedModel, round_weights
from medsr_viewer.models.card import Label, ModelCard, Normalisation
from medsr_viewer.models.classification import (
    SliceClassifierRun,
    has_anatomy,
    prepare_slice,
)
from medsr_viewer.models.domain import summarise_voxels, training_domain
from medsr_viewer.models.normalisation import fit_intensity_map
from medsr_viewer.models.training.export import export_with_card
from medsr_viewer.models.training.loop import train
from medsr_viewer.models.training.schedule import CardText, TrainSchedule, run_record
from medsr_viewer.models.training.series_type_data import (
    SERIES_COLOURS,
    LabelledSeries,
    resolve,
)
from medsr_viewer.models.volume_processing import default_axis

#: Most slices taken per axis of one training series.
SLICES_PER_AXIS = 40
#: A volume is "3-D" (reformats used) when every axis has at least this many voxels.
REFORMAT_MIN = 24
#: The normalisation of the card (percentiles of the whole volume).
NORMALISATION = Normalisation("percentile", 0.5, 99.5, False)


@dataclass
class ClassifyTrainSpec:
    """What to train: classes, architecture and schedule (recorded in the card)."""

    name: str
    classes: tuple[str, ...]
    arch: str = "slice-classifier"
    arch_kwargs: dict[str, Any] = field(default_factory=dict)
    input_size: int = 128
    schedule: TrainSchedule = field(default_factory=partial(
        TrainSchedule, batch_size=32, lr=2e-3, val_every=200, checkpoint_every=200))
    card_text: CardText = field(default_factory=CardText)


@dataclass
class LoadedSeries:
    """A labelled series read from disk."""

    entry: LabelledSeries
    volume: Volume
    class_index: int


def load_series(entries: Sequence[LabelledSeries], root: Path, classes: Sequence[str],
                log: Callable[[str], None] = print) -> list[LoadedSeries]:
    """Read every series of ``entries`` (the loader's first volume of multi-volume series)."""
    out = []
    for entry in entries:
        volume = load_volume(resolve(entry, root))
        out.append(LoadedSeries(entry, volume, classes.index(entry.label)))
        log(f"  {entry.split:5s} {entry.label:15s} {entry.name} {volume.shape}")
    return out


def series_slices(volume: Volume, size: int, per_axis: int = SLICES_PER_AXIS) -> torch.Tensor:
    """``(n, size, size)`` prepared slices with anatomy of one training volume (all three
    axes of a 3-D volume, the acquired one otherwise)."""
    intensity = fit_intensity_map(NORMALISATION, volume.voxels)
    acquired = default_axis(volume)
    axes = [acquired]
    if min(volume.shape) >= REFORMAT_MIN:
        axes += [a for a in (0, 1, 2) if a != acquired]
    out: list[torch.Tensor] = []
    for axis in axes:
        spacing = tuple(float(s) for a, s in enumerate(volume.spacing) if a != axis)
        planes = [intensity.to_model(np.take(volume.voxels, i, axis=axis))
                  for i in range(volume.shape[axis])]
        kept = [p for p in planes if has_anatomy(p)] or planes
        picks = np.unique(np.linspace(0, len(kept) - 1, min(per_axis, len(kept))).astype(int))
        out.extend(prepare_slice(kept[i], spacing, size)[0][0]  # type: ignore[arg-type]
                   for i in picks)
    return torch.stack(out)


class SliceSampler:
    """Class-balanced, augmented batches from per-series slice stacks."""

    def __init__(self, stacks: Sequence[tuple[int, torch.Tensor]], seed: int = 0) -> None:
        self.rng = np.random.default_rng(seed)
        self.by_class: dict[int, list[torch.Tensor]] = {}
        for class_index, stack in stacks:
            self.by_class.setdefault(class_index, []).append(stack)
        self.classes = sorted(self.by_class)

    def batch(self, size: int) -> tuple[torch.Tensor, torch.Tensor]:
        """``(size, 1, S, S)`` augmented slices and their ``(size,)`` class indices."""
        rng = self.rng
        images, labels = [], []
        for _ in range(size):
            c = self.classes[int(rng.integers(len(self.classes)))]
            stacks = self.by_class[c]
            stack = stacks[int(rng.integers(len(stacks)))]
            images.append(stack[int(rng.integers(stack.shape[0]))])
            labels.append(c)
        x = torch.stack(images)[:, None]
        return self.augment(x), torch.tensor(labels, dtype=torch.int64)

    def augment(self, x: torch.Tensor) -> torch.Tensor:
        """The geometric, resolution and intensity augmentation of the module docstring."""
        rng, n = self.rng, x.shape[0]
        angle = rng.uniform(-math.pi / 12, math.pi / 12, n)
        zoom = np.exp(rng.uniform(np.log(0.8), np.log(1.25), n))
        flip_x = np.where(rng.random(n) < 0.5, -1.0, 1.0)
        flip_y = np.where(rng.random(n) < 0.5, -1.0, 1.0)
        theta = np.zeros((n, 2, 3), dtype=np.float32)
        theta[:, 0, 0] = np.cos(angle) / zoom * flip_x
        theta[:, 0, 1] = -np.sin(angle) / zoom
        theta[:, 1, 0] = np.sin(angle) / zoom
        theta[:, 1, 1] = np.cos(angle) / zoom * flip_y
        theta[:, :, 2] = rng.uniform(-0.1, 0.1, (n, 2))
        grid = F.affine_grid(torch.from_numpy(theta), list(x.shape), align_corners=False)
        x = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
        side = x.shape[-1]
        for i in np.flatnonzero(rng.random(n) < 0.3):
            low = max(8, int(side / rng.uniform(1.5, 3.0)))
            small = F.interpolate(x[i:i + 1], size=(low, low), mode="area")
            x[i:i + 1] = F.interpolate(small, size=(side, side), mode="bilinear",
                                       align_corners=False)
        gamma = torch.from_numpy(rng.uniform(0.7, 1.4, (n, 1, 1, 1)).astype(np.float32))
        gain = torch.from_numpy(rng.uniform(0.85, 1.15, (n, 1, 1, 1)).astype(np.float32))
        sigma = torch.from_numpy(rng.uniform(0.0, 0.03, (n, 1, 1, 1)).astype(np.float32))
        x = x.clamp(min=0.0).pow(gamma) * gain
        noise = torch.from_numpy(rng.standard_normal(x.shape).astype(np.float32))
        return x + sigma * noise


def evaluate_series(loaded: LoadedModel, series: Sequence[LoadedSeries],
                    header_prior: bool = False) -> dict[str, Any]:
    """Held-out scores: slice-level (slices with anatomy, acquired axis) and per series.

    ``header_prior``: score what the application shows (classes restricted by the study's
    DICOM modality, :func:`~medsr_viewer.models.classification.modality_prior`) instead of
    the classifier alone (the card's scores)."""
    classes = loaded.card.class_names
    truths: list[np.ndarray] = []
    probs: list[np.ndarray] = []
    per_series = []
    for item in series:
        result = SliceClassifierRun(loaded, item.volume, header_prior=header_prior).run()
        mask = result.anatomy if result.anatomy.any() else np.ones_like(result.anatomy)
        probs.append(result.probabilities[mask])
        truths.append(np.full(int(mask.sum()), item.class_index))
        per_series.append({"series": item.entry.name, "label": item.entry.label,
                           "subject": item.entry.subject, "predicted": result.predicted,
                           "confidence": round(result.confidence, 4),
                           "slices": int(mask.sum())})
    slices = classification_scores(np.concatenate(truths), np.concatenate(probs), classes)
    series_recall: dict[str, Any] = {}
    for name in classes:
        rows = [r for r in per_series if r["label"] == name]
        if rows:
            right = sum(r["predicted"] == name for r in rows)
            series_recall[name] = {"series": len(rows), "correct": right,
                                   "recall": right / len(rows)}
    return {"slices": slices, "series": per_series, "series_recall": series_recall}


def subject_counts(train_series: Sequence[LabelledSeries], val_series: Sequence[LabelledSeries],
                   classes: Sequence[str]) -> dict[str, Any]:
    """Per class: how many series and distinct subjects are on each side of the split."""
    out: dict[str, Any] = {}
    for name in classes:
        tr = [s for s in train_series if s.label == name]
        va = [s for s in val_series if s.label == name]
        out[name] = {"train_series": len(tr), "train_subjects": len({s.subject for s in tr}),
                     "held_out_series": len(va),
                     "held_out_subjects": len({s.subject for s in va})}
    return out


def train_classifier(
    spec: ClassifyTrainSpec,
    train_entries: Sequence[LabelledSeries],
    val_entries: Sequence[LabelledSeries],
    root: Path,
    out: Path,
    checkpoint: Path | None = None,
    resume: Path | None = None,
    device: str = "cpu",
    log: Callable[[str], None] = print,
) -> ModelCard:
    """Train, export the last step's weights and score them on the held-out series.

    The held-out series are scored during training (the log shows the curve) but do not
    choose the exported step: they are the only data of some classes that the model never
    saw, so choosing on them would make the card's scores optimistic.
    """
    schedule, text = spec.schedule, spec.card_text
    torch.manual_seed(schedule.seed)
    classes = spec.classes
    log(f"reading {len(train_entries)} training and {len(val_entries)} held-out series")
    train_series = load_series(train_entries, root, classes, log)
    val_series = load_series(val_entries, root, classes, log)
    stacks = [(s.class_index, series_slices(s.volume, spec.input_size)) for s in train_series]
    log(f"{sum(int(t.shape[0]) for _c, t in stacks)} training slices (with reformats)")
    sampler = SliceSampler(stacks, schedule.seed)
    model = build_architecture(spec.arch, classes=len(classes), **spec.arch_kwargs)
    dev = torch.device(device)
    model.to(dev)
    labels = tuple(Label(i, n, SERIES_COLOURS[i % len(SERIES_COLOURS)])
                   for i, n in enumerate(classes))
    held_out_classes = sorted({s.entry.label for s in val_series}, key=classes.index)
    card = ModelCard(
        name=spec.name, task="classify",
        architecture=spec.arch, arch_kwargs=dict(spec.arch_kwargs), out_channels=len(classes),
        normalisation=NORMALISATION, modalities=("CT", "MR", "OT"), labels=labels,
        input_size=spec.input_size, **text.card_fields(),
    )

    def as_loaded(m: torch.nn.Module) -> LoadedModel:
        return LoadedModel(m, card, Path(f"<{spec.name} in training>"))

    def validate(m: torch.nn.Module) -> dict[str, float]:
        scores = evaluate_series(as_loaded(m), val_series)
        rows = scores["series_recall"].values()
        return {"balanced_accuracy": scores["slices"]["balanced_accuracy"],
                "series_recall": float(np.mean([r["recall"] for r in rows]))}

    def make_batch() -> tuple[torch.Tensor, torch.Tensor]:
        x, y = sampler.batch(schedule.batch_size)
        return x.to(dev), y.to(dev)

    config = schedule.loop_config(checkpoint, text.command, log_every=50)
    result = train(model, make_batch, lambda logits, y: F.cross_entropy(logits, y,
                                                                       label_smoothing=0.05),
                   validate, "step", config, resume=resume, log=log,  # keep the last step
                   extra_state=lambda: {"sampler_rng": sampler.rng.bit_generator.state},
                   restore_extra=lambda s: setattr(sampler.rng.bit_generator, "state",
                                                   s["sampler_rng"]))
    if schedule.stops_early:
        log(f"stopped at step {schedule.stop_at}; resume with --resume {checkpoint}")
        return card
    model.load_state_dict(result.best_state)
    round_weights(model, text.weights_dtype)
    model = model.cpu().eval()
    scores = evaluate_series(as_loaded(model), val_series)
    not_held_out = [c for c in classes if c not in held_out_classes]
    train_domain = training_domain(
        [summarise_voxels(s.volume.voxels, s.volume.spacing, s.volume.modality, NORMALISATION,
                          default_axis(s.volume)) for s in train_series],
        ("CT", "MR", "OT"))
    from dataclasses import replace

    card = replace(card, training={
        "domain": train_domain,
        "series_types": list(classes),
        "data": text.data_description,
        "train_series": [{"series": s.entry.name, "label": s.entry.label,
                          "subject": s.entry.subject} for s in train_series],
        "held_out_series": [{"series": s.entry.name, "label": s.entry.label,
                             "subject": s.entry.subject} for s in val_series],
        "split": "by subject (series-type table in medsr_viewer/models/training/"
                 "series_type_data.py); reformats of 3-D training volumes as augmentation",
        "subjects": subject_counts(train_entries, val_entries, classes),
        "no_held_out_series": not_held_out,
        **run_record(schedule, text, result, device),
        "exported_step": result.best_step,
        "step_choice": "the last step (held-out series never chose the weights)",
        "validation_curve": [{k: round(v, 4) for k, v in row.items()}
                             for row in result.history],
        "input_size": spec.input_size,
        "loss": "cross-entropy (label smoothing 0.05), class-balanced sampling",
        "augmentation": "flips, rotation +-15 deg, zoom 0.8-1.25, shift +-10 %, resolution "
                        "down 1.5-3x (p 0.3), gamma 0.7-1.4, gain 0.85-1.15, noise sigma "
                        "0-0.03; coronal/sagittal reformats of 3-D volumes",
    }, scores={
        "held_out": scores,
        "per_class_recall": {c: scores["slices"]["per_class"][c]["recall"]
                             for c in held_out_classes},
        "note": ("slice-level scores over held-out slices with anatomy along the acquired "
                 "axis; series-level: one per-volume prediction per held-out series. "
                 f"No held-out series exists for: {', '.join(not_held_out) or 'none'}."),
    })
    written = export_with_card(model, card, out, probe_shape=(spec.input_size, spec.input_size))
    s = scores["slices"]
    log(f"exported {out}: held-out slices {s['samples']}, balanced accuracy "
        f"{s['balanced_accuracy']:.3f}, accuracy {s['accuracy']:.3f}")
    for name in held_out_classes:
        row, ser = s["per_class"][name], scores["series_recall"][name]
        log(f"  {name:15s} slice recall {row['recall']:.3f}  series {ser['correct']}/"
            f"{ser['series']}")
    return written
