"""Classification scores against hand-made cases and scikit-learn."""

from __future__ import annotations

import math

import numpy as np
import pytest

from medsr_viewer.core.metrics.classification import (
    binary_average_precision,
    binary_roc_auc,
    classification_scores,
    confusion_matrix,
    format_scores,
)


def test_hand_made_case():
    # 3 classes; class 2 never occurs in truth, class 1 is never predicted.
    y = [0, 0, 0, 1, 1]
    probs = np.array([[0.9, 0.05, 0.05], [0.8, 0.1, 0.1], [0.2, 0.1, 0.7],
                      [0.6, 0.3, 0.1], [0.4, 0.2, 0.4]])
    s = classification_scores(y, probs, ["a", "b", "c"])
    assert s["confusion"] == [[2, 0, 1], [2, 0, 0], [0, 0, 0]]
    assert s["accuracy"] == pytest.approx(2 / 5)
    # recall a = 2/3, b = 0 -> balanced = 1/3 (c has no samples: left out)
    assert s["balanced_accuracy"] == pytest.approx(1 / 3)
    assert s["per_class"]["a"]["precision"] == pytest.approx(0.5)
    assert math.isnan(s["per_class"]["b"]["precision"])  # never predicted
    assert math.isnan(s["per_class"]["c"]["recall"])  # never present
    # AUC of b: positives score .3, .2; negatives .05, .1, .1 -> all pairs ranked right
    assert s["per_class"]["b"]["roc_auc"] == pytest.approx(1.0)
    # AP of a: scores .9(+) .8(+) .6(-) .4(-) .2(+): P at hits 1, 1, 3/5 -> (1+1+.6)/3
    assert s["per_class"]["a"]["average_precision"] == pytest.approx((1 + 1 + 0.6) / 3)
    assert s["mean_average_precision"] == pytest.approx(
        np.mean([s["per_class"]["a"]["average_precision"],
                 s["per_class"]["b"]["average_precision"]]))
    text = "\n".join(format_scores(s))
    assert "n/a" in text and "confusion" in text


def test_ties_count_half_and_degenerate_cases():
    assert binary_roc_auc(np.array([1, 0]), np.array([0.5, 0.5])) == pytest.approx(0.5)
    assert math.isnan(binary_roc_auc(np.array([1, 1]), np.array([0.1, 0.2])))
    assert math.isnan(binary_average_precision(np.array([0, 0]), np.array([0.1, 0.2])))
    # a tie between a hit and a miss at the top: one threshold, precision 1/2
    assert binary_average_precision(np.array([1, 0]), np.array([0.7, 0.7])) == pytest.approx(0.5)
    with pytest.raises(ValueError):
        confusion_matrix([0, 3], [0, 1], 3)


def test_against_scikit_learn():
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(3)
    k, n = 4, 300
    y = rng.integers(k, size=n)
    logits = rng.normal(size=(n, k)) + 1.5 * np.eye(k)[y]
    logits = np.round(logits, 1)  # ties
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    s = classification_scores(y, probs, [str(i) for i in range(k)])
    pred = probs.argmax(1)
    assert s["accuracy"] == pytest.approx(metrics.accuracy_score(y, pred))
    assert s["balanced_accuracy"] == pytest.approx(metrics.balanced_accuracy_score(y, pred))
    assert s["confusion"] == metrics.confusion_matrix(y, pred, labels=range(k)).tolist()
    prec = metrics.precision_score(y, pred, average=None, labels=range(k), zero_division=0)
    rec = metrics.recall_score(y, pred, average=None, labels=range(k))
    for i in range(k):
        row = s["per_class"][str(i)]
        assert row["precision"] == pytest.approx(prec[i])
        assert row["recall"] == pytest.approx(rec[i])
        assert row["roc_auc"] == pytest.approx(metrics.roc_auc_score(y == i, probs[:, i]))
        assert row["average_precision"] == pytest.approx(
            metrics.average_precision_score(y == i, probs[:, i]))
    assert s["macro_roc_auc"] == pytest.approx(
        metrics.roc_auc_score(y, probs, multi_class="ovr", average="macro"))
