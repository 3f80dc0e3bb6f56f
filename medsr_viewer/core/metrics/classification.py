"""Scores of a classifier: accuracy, balanced accuracy, per-class precision/recall, one-vs-rest
ROC AUC, the confusion matrix and mean average precision (numpy only).

Definitions follow scikit-learn's, so the numbers can be compared with it (the tests do):

- ``confusion[i, j]``: samples of true class ``i`` predicted as ``j``;
- balanced accuracy: mean recall over the classes present in ``y_true``;
- precision of a class never predicted, recall of a class never present: ``nan`` (not 0:
  "not measured" is not "wrong"), and left out of the means;
- ROC AUC one-vs-rest per class: the Mann–Whitney probability that a positive scores above
  a negative, ties counting one half; ``nan`` for a class with no positives or no negatives;
  the macro mean is over the defined ones;
- average precision per class: ``sum_n (R_n - R_{n-1}) P_n`` over the distinct score
  thresholds in decreasing order (no interpolation, as ``average_precision_score``); mAP is
  the mean over the classes present in ``y_true``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np


def _labels(y: Sequence[int] | np.ndarray) -> np.ndarray:
    return np.asarray(y, dtype=np.int64).reshape(-1)


def confusion_matrix(y_true: Sequence[int] | np.ndarray, y_pred: Sequence[int] | np.ndarray,
                     n_classes: int) -> np.ndarray:
    """``(n_classes, n_classes)`` counts: rows true class, columns predicted class."""
    t, p = _labels(y_true), _labels(y_pred)
    if t.shape != p.shape:
        raise ValueError(f"{t.size} true labels but {p.size} predictions")
    if t.size and (min(t.min(), p.min()) < 0 or max(t.max(), p.max()) >= n_classes):
        raise ValueError(f"labels must lie in 0..{n_classes - 1}")
    out = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(out, (t, p), 1)
    return out


def accuracy(confusion: np.ndarray) -> float:
    """Share of samples on the diagonal (``nan`` without samples)."""
    total = confusion.sum()
    return float(np.trace(confusion) / total) if total else float("nan")


def recall_per_class(confusion: np.ndarray) -> np.ndarray:
    """Recall of each class (``nan`` where the class has no samples)."""
    support = confusion.sum(axis=1).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(support > 0, np.diag(confusion) / support, np.nan)


def precision_per_class(confusion: np.ndarray) -> np.ndarray:
    """Precision of each class (``nan`` where the class was never predicted)."""
    predicted = confusion.sum(axis=0).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(predicted > 0, np.diag(confusion) / predicted, np.nan)


def balanced_accuracy(confusion: np.ndarray) -> float:
    """Mean recall over the classes present (``nan`` without samples)."""
    recall = recall_per_class(confusion)
    defined = recall[~np.isnan(recall)]
    return float(defined.mean()) if defined.size else float("nan")


def binary_roc_auc(positive: np.ndarray, scores: np.ndarray) -> float:
    """ROC AUC of ``scores`` for the boolean ``positive`` (``nan`` if one side is empty)."""
    pos = np.asarray(positive, dtype=bool).reshape(-1)
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    n_pos, n_neg = int(pos.sum()), int((~pos).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    order = np.argsort(s, kind="mergesort")
    ranks = np.empty(s.size, dtype=np.float64)
    sorted_s = s[order]
    # average ranks of ties (1-based)
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_s)) + 1]
    ends = np.r_[starts[1:], s.size]
    for a, b in zip(starts, ends):
        ranks[order[a:b]] = (a + b + 1) / 2.0
    u = ranks[pos].sum() - n_pos * (n_pos + 1) / 2.0
    return float(u / (n_pos * n_neg))


def binary_average_precision(positive: np.ndarray, scores: np.ndarray) -> float:
    """Average precision of ``scores`` for ``positive`` (``nan`` without positives)."""
    pos = np.asarray(positive, dtype=bool).reshape(-1)
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    n_pos = int(pos.sum())
    if n_pos == 0:
        return float("nan")
    order = np.argsort(-s, kind="mergesort")
    s_sorted, hits = s[order], pos[order]
    last = np.r_[np.flatnonzero(np.diff(s_sorted)), s.size - 1]  # end of each threshold
    tp = np.cumsum(hits)[last].astype(np.float64)
    precision = tp / (last + 1)
    recall = tp / n_pos
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def _nanmean(values: np.ndarray) -> float:
    defined = values[~np.isnan(values)]
    return float(defined.mean()) if defined.size else float("nan")


def classification_scores(y_true: Sequence[int] | np.ndarray, probabilities: np.ndarray,
                          classes: Sequence[str]) -> dict[str, Any]:
    """Every score of the module for labels ``y_true`` and ``(N, classes)`` probabilities.

    The prediction is the most probable class. Returns a JSON-friendly dict: ``samples``,
    ``accuracy``, ``balanced_accuracy``, ``macro_roc_auc``, ``mean_average_precision``,
    ``per_class`` (``support``, ``precision``, ``recall``, ``roc_auc``,
    ``average_precision`` by class name) and ``confusion`` (rows true, columns predicted,
    in ``classes`` order).
    """
    probs = np.asarray(probabilities, dtype=np.float64)
    t = _labels(y_true)
    k = len(classes)
    if probs.ndim != 2 or probs.shape != (t.size, k):
        raise ValueError(f"probabilities of shape {probs.shape}, expected ({t.size}, {k})")
    confusion = confusion_matrix(t, probs.argmax(axis=1) if t.size else t, k)
    precision, recall = precision_per_class(confusion), recall_per_class(confusion)
    auc = np.array([binary_roc_auc(t == i, probs[:, i]) for i in range(k)])
    ap = np.array([binary_average_precision(t == i, probs[:, i]) for i in range(k)])
    return {
        "samples": int(t.size),
        "accuracy": accuracy(confusion),
        "balanced_accuracy": balanced_accuracy(confusion),
        "macro_roc_auc": _nanmean(auc),
        "mean_average_precision": _nanmean(ap),
        "per_class": {
            name: {"support": int(confusion[i].sum()), "precision": float(precision[i]),
                   "recall": float(recall[i]), "roc_auc": float(auc[i]),
                   "average_precision": float(ap[i])}
            for i, name in enumerate(classes)
        },
        "confusion": confusion.tolist(),
        "classes": list(classes),
    }


def format_scores(scores: dict[str, Any], title: str = "") -> list[str]:
    """Plain-text lines of :func:`classification_scores` (a table and the confusion matrix)."""
    def f(v: float) -> str:
        return "   n/a" if math.isnan(v) else f"{v:6.3f}"

    classes = scores["classes"]
    lines = [title] if title else []
    lines.append(f"samples {scores['samples']}  accuracy {f(scores['accuracy'])}  balanced "
                 f"accuracy {f(scores['balanced_accuracy'])}  macro ROC AUC "
                 f"{f(scores['macro_roc_auc'])}  mAP {f(scores['mean_average_precision'])}")
    width = max(len(c) for c in classes)
    lines.append(f"{'class':<{width}}  support precision recall ROC-AUC    AP")
    for name in classes:
        row = scores["per_class"][name]
        lines.append(f"{name:<{width}}  {row['support']:7d}   {f(row['precision'])} "
                     f"{f(row['recall'])}  {f(row['roc_auc'])} {f(row['average_precision'])}")
    lines.append("confusion (rows: true, columns: predicted, in the order above)")
    for name, row in zip(classes, scores["confusion"]):
        lines.append(f"{name:<{width}}  " + " ".join(f"{v:5d}" for v in row))
    return lines
