"""Byte-bounded LRU cache, intensity maps and segmentation label decoding."""

from __future__ import annotations

import numpy as np
import pytest

from medsr_viewer.models.card import Normalisation
from medsr_viewer.models.normalisation import (
    IntensityMap,
    fit_intensity_map,
    labels_from_output,
)
from medsr_viewer.models.result_cache import ByteLRUCache


def test_lru_evicts_least_recently_used_by_bytes() -> None:
    cache = ByteLRUCache(max_bytes=3000)
    a, b, c = (np.zeros(250, np.float32) for _ in range(3))  # 1000 bytes each
    cache.put("a", a)
    cache.put("b", b)
    cache.put("c", c)
    assert cache.nbytes == 3000 and len(cache) == 3
    assert cache.get("a") is a  # a becomes most recent
    cache.put("d", np.zeros(250, np.float32))
    assert "b" not in cache and "a" in cache and "c" in cache
    assert not cache.put("huge", np.zeros(1000, np.float32))  # larger than the bound
    assert cache.nbytes == 3000
    with pytest.raises(ValueError):
        a[0] = 1  # stored arrays are read-only
    cache.clear()
    assert cache.nbytes == 0 and cache.get("a") is None and cache.misses == 1


def test_intensity_maps() -> None:
    vox = np.concatenate([np.linspace(0, 100, 1001), [np.nan, 1e9]]).astype(np.float32)
    pct = fit_intensity_map(Normalisation("percentile", 0.0, 99.0), vox[:-2])
    assert pct.low == pytest.approx(0) and pct.high == pytest.approx(99, abs=0.01)
    window = fit_intensity_map(Normalisation("window", -1000, 1000, clip=True), vox)
    assert window.to_model(np.array([-2000.0, 0.0, 3000.0])).tolist() == [0.0, 0.5, 1.0]
    none = fit_intensity_map(Normalisation("none"), vox)
    assert none.to_model(np.array([5.0]))[0] == 5.0
    m = IntensityMap(10.0, 30.0)
    raw = np.array([10.0, 20.0, 35.0], np.float32)
    np.testing.assert_allclose(m.from_model(m.to_model(raw)), raw)
    assert IntensityMap(5.0, 5.0).to_model(np.array([5.0]))[0] == 0.0  # constant image
    assert fit_intensity_map(Normalisation("percentile"), np.array([np.nan])).low == 0.0


def test_labels_from_output() -> None:
    logits = np.zeros((3, 2, 2), np.float32)
    logits[2, 0, 0] = 5
    logits[1, 1, 1] = 5
    assert labels_from_output(logits).tolist() == [[2, 0], [0, 1]]
    one = np.array([[[-1.0, 0.5]]], np.float32)
    out = labels_from_output(one)
    assert out.dtype == np.uint8 and out.tolist() == [[0, 1]]
    with pytest.raises(ValueError):
        labels_from_output(np.zeros((2, 2), np.float32))
