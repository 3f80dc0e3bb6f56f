"""Instance metrics (issue #16): IoU matching, DSB mAP, COCO AP, Rand error and VI."""

from __future__ import annotations

import math

import numpy as np
import pytest
from skimage.metrics import adapted_rand_error, variation_of_information

from medsr_viewer.core.metrics.instances import (
    THRESHOLDS,
    coco_ap,
    connected_instances,
    dsb_map,
    instance_metrics,
    iou_table,
    match,
)


def squares(shift: int = 0, size: int = 10, n: int = 3) -> np.ndarray:
    """``n`` separate ``size``² squares in a row, moved right by ``shift`` pixels."""
    labels = np.zeros((20, 20 + 30 * n), np.int32)
    for k in range(n):
        labels[5:5 + size, 5 + 30 * k + shift:5 + 30 * k + shift + size] = k + 1
    return labels


def test_identical_maps_score_perfectly() -> None:
    ref = squares()
    test = np.where(ref > 0, ref + 10, 0)  # other ids, same objects
    m = instance_metrics(ref, test)
    assert (m.n_ref, m.n_test) == (3, 3)
    assert m.dsb_map == 1.0 and m.ap50 == 1.0 and m.ap75 == 1.0 and m.coco_map == 1.0
    assert m.rand_error == pytest.approx(0.0, abs=1e-12)
    assert m.vi_split == pytest.approx(0.0, abs=1e-12)
    assert m.vi_merge == pytest.approx(0.0, abs=1e-12)


def test_shifted_objects_match_below_their_iou_only() -> None:
    # 10×10 squares moved 2 px: intersection 80, union 120, IoU 2/3 for each pair.
    table = iou_table(squares(), squares(shift=2))
    np.testing.assert_allclose(np.diag(table.iou), [2 / 3] * 3)
    assert match(table, 0.65).tp == 3 and match(table, 0.7).tp == 0
    assert match(table, 0.7).fp == 3 and match(table, 0.7).fn == 3
    # TP at 0.50, 0.55, 0.60, 0.65: 4 of 10 thresholds at precision 1, the rest 0.
    assert dsb_map(table) == pytest.approx(0.4)
    m = instance_metrics(squares(), squares(shift=2))
    assert m.ap50 == 1.0 and m.ap75 == 0.0 and m.coco_map == pytest.approx(0.4)


def test_split_object_counts_as_misses_and_false_positives() -> None:
    ref = np.zeros((10, 20), np.int32)
    ref[2:8, 2:18] = 1
    test = np.zeros_like(ref)
    test[2:8, 2:10], test[2:8, 10:18] = 1, 2  # halves: IoU exactly 0.5, not > 0.5
    table = iou_table(ref, test)
    assert match(table, 0.5) == match(table, 0.5).__class__(0.5, 0, 2, 1)
    assert instance_metrics(ref, test).dsb_map == 0.0
    # Below 0.5 the one-to-one matching pairs the object with one half only.
    assert match(table, 0.4).tp == 1 and match(table, 0.4).fp == 1


def test_hungarian_matching_finds_the_most_pairs_below_one_half() -> None:
    # Two reference objects, two test objects: a greedy best-IoU match would pair ref 1 with
    # test 1 and leave ref 2 unmatched; the assignment pairs 1-2 and 2-1.
    iou = np.array([[0.45, 0.35], [0.40, 0.0]])
    table = iou_table(np.zeros((1, 1), np.int32), np.zeros((1, 1), np.int32))
    table = table.__class__(np.array([1, 2]), np.array([1, 2]), iou, np.ones(2), np.ones(2))
    assert match(table, 0.3).tp == 2


def test_coco_ap_ranks_by_score() -> None:
    test = squares(n=3)  # objects 1 and 2 are right, object 3 matches nothing
    ref = np.where(test == 3, 0, test)
    table = iou_table(ref, test)
    # Ranked: the wrong object first (0.9), then the two right ones.
    ap = coco_ap(table, 0.5, {3: 0.9, 1: 0.8, 2: 0.7})
    assert ap == pytest.approx(2 / 3)
    # Ranked right first, the false positive last: every recall level at precision 1.
    assert coco_ap(table, 0.5, {3: 0.1, 1: 0.8, 2: 0.7}) == pytest.approx(1.0)
    assert math.isnan(coco_ap(iou_table(np.zeros((4, 4), int), test[:4, :4]), 0.5))


def test_empty_maps_and_bad_input() -> None:
    empty = np.zeros((8, 8), np.int32)
    assert instance_metrics(empty, empty).dsb_map == 1.0
    some = empty.copy()
    some[2:4, 2:4] = 1
    assert instance_metrics(some, empty).dsb_map == 0.0
    assert instance_metrics(empty, some).dsb_map == 0.0
    with pytest.raises(ValueError, match="shape"):
        iou_table(empty, np.zeros((8, 9), np.int32))
    with pytest.raises(ValueError, match="negative"):
        iou_table(empty - 1, empty)
    with pytest.raises(ValueError, match="non-integer"):
        iou_table(empty + 0.5, empty)


def test_rand_and_vi_are_skimage_s_with_background_ignored() -> None:
    rng = np.random.default_rng(3)
    ref = connected_instances(rng.random((40, 40)) > 0.6)
    test = connected_instances(rng.random((40, 40)) > 0.6)
    m = instance_metrics(ref, test)
    assert m.rand_error == pytest.approx(adapted_rand_error(ref, test, ignore_labels=(0,))[0])
    split, merge = variation_of_information(ref, test, ignore_labels=(0,))
    assert (m.vi_split, m.vi_merge) == pytest.approx((split, merge))
    assert len(m.matchings) == len(THRESHOLDS) and m.as_dict()["matchings"][0]["threshold"] == 0.5


def test_connected_instances_of_a_mask() -> None:
    mask = np.zeros((6, 6), bool)
    mask[0:2, 0:2] = mask[3:5, 3:5] = True
    mask[2, 2] = True  # touches both diagonally only
    assert connected_instances(mask).max() == 3
    assert connected_instances(mask, connectivity=2).max() == 1
