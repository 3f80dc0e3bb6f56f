"""Segmentation evaluation on 2-D image/label pairs: Dice, IoU and 95 % Hausdorff per image."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from medsr_viewer.core.metrics.overlap import overlap_metrics


@dataclass
class SegmentationScore:
    """Overlap of the predicted and reference masks of one class on one image."""

    name: str
    dice: float
    iou: float
    hd95: float


def map_labels(label: np.ndarray, mapping: dict[int, int]) -> np.ndarray:
    """Stored label pixel values -> class indices (values absent from ``mapping`` stay)."""
    out = label.astype(np.int64).copy()
    for stored, cls in mapping.items():
        out[label == stored] = cls
    return out


def predict_labels(module: torch.nn.Module, image: np.ndarray, bounds: tuple[float, float]
                   ) -> np.ndarray:
    """Class map (argmax of logits, or sigmoid > 0.5 for one channel) of a 2-D image."""
    lo, hi = bounds
    x = torch.from_numpy(((image - lo) / (hi - lo)).astype(np.float32))[None, None]
    with torch.inference_mode():
        logits = module(x)[0]
    if logits.shape[0] == 1:
        return (torch.sigmoid(logits[0]) > 0.5).numpy().astype(np.uint8)
    return logits.argmax(0).numpy().astype(np.uint8)


def score_masks(name: str, reference: np.ndarray, predicted: np.ndarray, target: int,
                spacing: tuple[float, float] = (1.0, 1.0)) -> SegmentationScore:
    """Dice, IoU and HD95 (in ``spacing`` units, pixels by default) of class ``target``."""
    m = overlap_metrics(reference == target, predicted == target, spacing)
    return SegmentationScore(name, float(m.dice), float(m.iou), float(m.hd95_mm))


def mean_score(scores: list[SegmentationScore]) -> SegmentationScore:
    """Mean over images (finite Hausdorff values only)."""
    hd = [s.hd95 for s in scores if np.isfinite(s.hd95)]
    return SegmentationScore(
        "overall",
        float(np.mean([s.dice for s in scores])),
        float(np.mean([s.iou for s in scores])),
        float(np.mean(hd)) if hd else float("inf"),
    )
