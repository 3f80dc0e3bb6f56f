"""Instance segmentation metrics: matching objects by IoU, mAP, COCO AP, Rand error and VI.

Two instance label maps (one id per object, 0 = background; 2-D or 3-D) are compared object
by object. Definitions, documented once here and used by ``medsr metrics --instances``,
``medsr eval segment`` and the viewer's layer-overlap panel:

- **IoU matrix**: ``IoU(g, p) = |g ∩ p| / |g ∪ p|`` for every reference object ``g`` and test
  object ``p``, from one contingency table of the two maps (no per-pair mask loops).
- **Matching at a threshold t**: reference and test objects are paired one to one, each pair
  with ``IoU > t`` (strictly, as in the 2018 Data Science Bowl), maximising the number of
  pairs (Hungarian assignment, :func:`scipy.optimize.linear_sum_assignment`; for ``t ≥ 0.5``
  the pairs are unique anyway). Paired objects are true positives (TP), unpaired test objects
  false positives (FP), unpaired reference objects false negatives (FN).
- **DSB mAP** (2018 Data Science Bowl): the mean over ``t = 0.50, 0.55, …, 0.95`` of
  ``TP / (TP + FP + FN)``; 1.0 when both maps are empty, 0.0 when only one is.
- **COCO AP50 / AP75 / AP@[.5:.95]**: average precision with COCO's 101-point interpolated
  precision-recall curve, test objects ranked by ``scores`` (all equal when none are given, so
  the curve has one operating point and AP ≈ precision × recall) and matched greedily in that
  order at ``IoU ≥ t`` (COCO's rule).
- **Adapted Rand error** and **variation of information** (split, merge), as the ISBI 2012
  challenge scored membrane segmentations, from :func:`skimage.metrics.adapted_rand_error` and
  :func:`skimage.metrics.variation_of_information`, background (0) of the reference ignored.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

#: The IoU thresholds of the DSB mAP and COCO AP@[.5:.95].
THRESHOLDS: tuple[float, ...] = tuple(round(0.5 + 0.05 * k, 2) for k in range(10))


@dataclass(frozen=True)
class IouTable:
    """IoU of every reference object with every test object.

    Attributes
    ----------
    ref_ids, test_ids
        Object ids of the two maps (background 0 left out), in increasing order.
    iou
        ``(len(ref_ids), len(test_ids))`` IoU matrix.
    ref_sizes, test_sizes
        Voxels of each object.
    """

    ref_ids: np.ndarray
    test_ids: np.ndarray
    iou: np.ndarray
    ref_sizes: np.ndarray
    test_sizes: np.ndarray


@dataclass(frozen=True)
class Matching:
    """Counts of one matching at one IoU threshold."""

    threshold: float
    tp: int
    fp: int
    fn: int

    @property
    def dsb_precision(self) -> float:
        """``TP / (TP + FP + FN)``: the Data Science Bowl's precision at this threshold."""
        total = self.tp + self.fp + self.fn
        return 1.0 if total == 0 else self.tp / total


@dataclass(frozen=True)
class InstanceMetrics:
    """What :func:`instance_metrics` reports for two instance label maps."""

    n_ref: int
    n_test: int
    dsb_map: float
    ap50: float
    ap75: float
    coco_map: float
    rand_error: float
    vi_split: float
    vi_merge: float
    matchings: tuple[Matching, ...]

    def as_dict(self) -> dict[str, object]:
        """JSON-ready values (matchings as a list of dicts)."""
        data = asdict(self)
        data["matchings"] = [asdict(m) for m in self.matchings]
        return data


def _check_pair(ref: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ref, test = np.asarray(ref), np.asarray(test)
    if ref.shape != test.shape:
        raise ValueError(f"instance maps differ in shape: {ref.shape} vs {test.shape}")
    for name, array in (("reference", ref), ("test", test)):
        integral = np.issubdtype(array.dtype, np.integer) or (
            bool(np.all(np.isfinite(array))) and bool(np.all(array == np.round(array))))
        if not integral:
            raise ValueError(f"the {name} instance map holds non-integer ids")
        if array.size and array.min() < 0:
            raise ValueError(f"the {name} instance map holds negative ids")
    return ref.astype(np.int64, copy=False), test.astype(np.int64, copy=False)


def iou_table(ref: np.ndarray, test: np.ndarray) -> IouTable:
    """The IoU of every pair of objects of two instance maps of the same shape."""
    ref, test = _check_pair(ref, test)
    ref_ids, ref_inverse, ref_counts = np.unique(ref, return_inverse=True, return_counts=True)
    test_ids, test_inverse, test_counts = np.unique(test, return_inverse=True,
                                                    return_counts=True)
    # One contingency table over the voxels both maps label (foreground pairs).
    both = (ref.reshape(-1) != 0) & (test.reshape(-1) != 0)
    pairs = ref_inverse.reshape(-1)[both] * len(test_ids) + test_inverse.reshape(-1)[both]
    counts = np.bincount(pairs, minlength=len(ref_ids) * len(test_ids))
    table = counts.reshape(len(ref_ids), len(test_ids)).astype(np.float64)
    keep_ref, keep_test = ref_ids != 0, test_ids != 0
    inter = table[np.ix_(keep_ref, keep_test)]
    rs, ts = ref_counts[keep_ref], test_counts[keep_test]
    union = rs[:, None] + ts[None, :] - inter
    iou = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
    return IouTable(ref_ids[keep_ref], test_ids[keep_test], iou, rs, ts)


def match(table: IouTable, threshold: float) -> Matching:
    """TP, FP, FN of the one-to-one matching with the most pairs of ``IoU > threshold``."""
    n_ref, n_test = table.iou.shape
    if n_ref == 0 or n_test == 0:
        return Matching(threshold, 0, n_test, n_ref)
    eligible = table.iou > threshold
    if threshold >= 0.5:  # each object has at most one partner above 0.5
        tp = int(eligible.sum())
    else:
        rows, cols = linear_sum_assignment(-eligible.astype(np.float64))
        tp = int(eligible[rows, cols].sum())
    return Matching(threshold, tp, n_test - tp, n_ref - tp)


def dsb_map(table: IouTable, thresholds: Sequence[float] = THRESHOLDS) -> float:
    """The 2018 Data Science Bowl mAP: mean of ``TP / (TP + FP + FN)`` over the thresholds
    (1.0 when both maps are empty)."""
    return float(np.mean([match(table, t).dsb_precision for t in thresholds]))


def coco_ap(table: IouTable, threshold: float,
            scores: Mapping[int, float] | None = None) -> float:
    """COCO average precision at one IoU threshold (101-point interpolation).

    Test objects are ranked by ``scores`` (by id when a score is missing or all are equal)
    and matched greedily in that order to the free reference object of highest IoU, a match
    needing ``IoU ≥ threshold``. ``nan`` when the reference has no object.
    """
    n_ref, n_test = table.iou.shape
    if n_ref == 0:
        return math.nan
    if n_test == 0:
        return 0.0
    score = np.array([(scores or {}).get(int(i), 1.0) for i in table.test_ids])
    order = np.argsort(-score, kind="stable")
    free = np.ones(n_ref, dtype=bool)
    hits = np.zeros(n_test, dtype=bool)
    for rank, j in enumerate(order):
        candidates = np.where(free, table.iou[:, j], -1.0)
        best = int(np.argmax(candidates))
        if candidates[best] >= threshold:
            free[best] = False
            hits[rank] = True
    tp = np.cumsum(hits)
    precision = tp / np.arange(1, n_test + 1)
    recall = tp / n_ref
    # COCO: precision made monotone from the right, sampled at 101 recall levels.
    precision = np.maximum.accumulate(precision[::-1])[::-1]
    levels = np.linspace(0.0, 1.0, 101)
    index = np.searchsorted(recall, levels, side="left")
    sampled = np.where(index < n_test, precision[np.minimum(index, n_test - 1)], 0.0)
    return float(np.mean(sampled))


def rand_and_vi(ref: np.ndarray, test: np.ndarray) -> tuple[float, float, float]:
    """Adapted Rand error, VI split and VI merge (reference background ignored)."""
    from skimage.metrics import adapted_rand_error, variation_of_information

    ref, test = _check_pair(ref, test)
    if not np.any(ref):
        return (math.nan, math.nan, math.nan)
    error = float(adapted_rand_error(ref, test, ignore_labels=(0,))[0])
    split, merge = variation_of_information(ref, test, ignore_labels=(0,))
    return (error, float(split), float(merge))


def instance_metrics(ref: np.ndarray, test: np.ndarray,
                     scores: Mapping[int, float] | None = None) -> InstanceMetrics:
    """Every metric of the module doc for a reference and a test instance map."""
    table = iou_table(ref, test)
    matchings = tuple(match(table, t) for t in THRESHOLDS)
    n_ref, n_test = table.iou.shape
    mean_ap = float(np.mean([m.dsb_precision for m in matchings]))  # 1.0: both empty
    coco = [coco_ap(table, t, scores) for t in THRESHOLDS]
    rand, split, merge = rand_and_vi(ref, test)
    return InstanceMetrics(
        n_ref=n_ref, n_test=n_test, dsb_map=mean_ap,
        ap50=coco[0], ap75=coco[5], coco_map=float(np.mean(coco)) if n_ref else math.nan,
        rand_error=rand, vi_split=split, vi_merge=merge, matchings=matchings)


def connected_instances(mask: np.ndarray, connectivity: int = 1) -> np.ndarray:
    """One id per connected component of a binary mask (``connectivity`` as in
    :func:`scipy.ndimage.generate_binary_structure`; 1 = face neighbours)."""
    from scipy import ndimage

    mask = np.asarray(mask, dtype=bool)
    structure = ndimage.generate_binary_structure(mask.ndim, connectivity)
    labels, _count = ndimage.label(mask, structure=structure)
    return labels.astype(np.int32, copy=False)
