"""Elastic augmentation of segmentation pairs: image and labels move together, smoothly."""

from __future__ import annotations

import numpy as np

from medsr_viewer.models.training.segment_task import PairSampler, deform_pair, elastic_field


def test_zero_alpha_is_identity():
    rng = np.random.default_rng(1)
    image = rng.random((64, 64)).astype(np.float32)
    classes = (image > 0.5).astype(np.int64)
    warped, warped_classes = deform_pair(image, classes, 0.0, 6.4, rng)
    np.testing.assert_allclose(warped, image, atol=1e-6)
    assert (warped_classes == classes).all()


def test_field_is_bounded_and_smooth():
    yy, xx = elastic_field((96, 96), 8.0, 9.6, np.random.default_rng(2))
    grid_y, grid_x = np.mgrid[:96, :96]
    dy, dx = yy - grid_y, xx - grid_x
    assert np.abs(dy).max() <= 8.0 + 1e-9 and np.abs(dy).max() > 4.0
    # smooth: neighbouring shifts differ by far less than the shift itself
    assert np.abs(np.diff(dy, axis=0)).max() < 1.0 and np.abs(np.diff(dx, axis=1)).max() < 1.0


def test_labels_follow_the_image():
    # a step edge: after warping, the class map is still the thresholded image
    rng = np.random.default_rng(3)
    image = np.zeros((128, 128), np.float32)
    image[:, 64:] = 1.0
    classes = (image > 0.5).astype(np.int64)
    warped, warped_classes = deform_pair(image, classes, 10.0, 12.8, rng)
    agree = (warped > 0.5) == (warped_classes == 1)
    assert agree.mean() > 0.99
    assert not (warped_classes == classes).all()  # it did move


def test_sampler_with_elastic_keeps_class_values():
    rng = np.random.default_rng(4)
    image = rng.random((200, 200)).astype(np.float32) * 100
    classes = (image > 50).astype(np.int64)
    x, y = PairSampler([("a", image, classes)], 64, seed=0, elastic=8.0).batch(4)
    assert x.shape == (4, 1, 64, 64) and y.shape == (4, 64, 64)
    assert set(np.unique(y)) <= {0, 1}
