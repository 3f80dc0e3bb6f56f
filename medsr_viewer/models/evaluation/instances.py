"""Instance segmentation evaluation on 2-D image/label pairs: DSB mAP, COCO AP, Rand and VI.

The reference objects of a stored label image are the connected components of the pixels
equal to the object value (ISBI 2012: 255 = cell interior), face-connected. The model's
class probabilities of the whole image go through the card's post-processing
(:mod:`medsr_viewer.core.labels.instances`) and the two instance maps are compared by
:func:`medsr_viewer.core.metrics.instances.instance_metrics`. Used by ``medsr train segment
--instances`` (checkpoint choice, tuning, held-out scores), ``medsr eval segment`` and the
bundled-model test, so the card's numbers and a re-measurement are computed one way.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import torch

from medsr_viewer.core.labels.instances import InstanceParams, instances_from_probabilities
from medsr_viewer.core.metrics.instances import connected_instances, instance_metrics

#: Scores kept per image (names as in the card).
SCORE_KEYS = ("dsb_map", "ap50", "ap75", "coco_map", "rand_error", "vi_split", "vi_merge")


def predict_probabilities(module: torch.nn.Module, image: np.ndarray,
                          bounds: tuple[float, float]) -> np.ndarray:
    """Softmax class probabilities ``(classes, H, W)`` of a 2-D image (whole image at once)."""
    lo, hi = bounds
    x = torch.from_numpy(((image - lo) / (hi - lo)).astype(np.float32))[None, None]
    with torch.inference_mode():
        logits = module(x)[0]
    return logits.softmax(0).numpy()


def reference_instances(label: np.ndarray, object_value: int) -> np.ndarray:
    """Reference instance map of a stored label image (components of ``object_value``)."""
    return connected_instances(np.asarray(label) == object_value)


def score_instances(reference: np.ndarray, predicted: np.ndarray) -> dict[str, Any]:
    """The :data:`SCORE_KEYS` of one image plus object counts, rounded for a card."""
    m = instance_metrics(reference, predicted)
    out: dict[str, Any] = {k: round(float(getattr(m, k)), 5) for k in SCORE_KEYS}
    out.update(n_ref=m.n_ref, n_pred=m.n_test)
    return out


def mean_scores(per_image: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Mean of every score over images (counts summed)."""
    out: dict[str, Any] = {k: round(float(np.mean([s[k] for s in per_image])), 5)
                           for k in SCORE_KEYS}
    out.update(n_ref=int(sum(s["n_ref"] for s in per_image)),
               n_pred=int(sum(s["n_pred"] for s in per_image)))
    return out


def evaluate_instances(probabilities: Sequence[tuple[str, np.ndarray, np.ndarray]],
                       params: InstanceParams) -> dict[str, Any]:
    """Per-image and ``overall`` scores of ``(name, probabilities, reference ids)`` triples."""
    per = {name: score_instances(ref, instances_from_probabilities(probs, params))
           for name, probs, ref in probabilities}
    return {**per, "overall": mean_scores(list(per.values()))}


def default_grid() -> list[InstanceParams]:
    """Post-processing settings tried when tuning (watershed and plain components)."""
    grid = [InstanceParams(method="watershed", sigma=1.0, threshold=t, seed_threshold=st,
                           min_seed=10, min_size=ms)
            for t, st, ms in itertools.product((0.4, 0.5, 0.6, 0.7), (0.3, 0.5, 0.7, 0.9),
                                               (0, 25, 50, 80))]
    grid += [InstanceParams(method="components", sigma=1.0, threshold=t, min_size=ms)
             for t, ms in itertools.product((0.3, 0.5, 0.7), (0, 25, 50))]
    return grid


def tune_instances(probabilities: Sequence[tuple[str, np.ndarray, np.ndarray]],
                   grid: Iterable[InstanceParams] | None = None
                   ) -> tuple[InstanceParams, float, list[dict[str, Any]]]:
    """The setting of ``grid`` with the highest mean DSB mAP on ``probabilities``.

    Returns the best parameters, their mean DSB mAP and every tried setting with its score
    (for the card). Ties keep the earlier setting.
    """
    tried: list[dict[str, Any]] = []
    best: tuple[InstanceParams, float] | None = None
    for params in grid if grid is not None else default_grid():
        score = float(np.mean([
            instance_metrics(ref, instances_from_probabilities(probs, params)).dsb_map
            for _name, probs, ref in probabilities]))
        tried.append({**params.to_dict(), "dsb_map": round(score, 5)})
        if best is None or score > best[1]:
            best = (params, score)
    if best is None:
        raise ValueError("empty tuning grid")
    return best[0], best[1], tried

