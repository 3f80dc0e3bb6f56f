"""Instance label maps from class probabilities (core.labels.instances)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from medsr_viewer.core.labels.instances import (
    InstanceParams,
    instance_dtype,
    instance_targets,
    instances_from_probabilities,
)
from medsr_viewer.core.metrics.instances import instance_metrics


def _onehot(targets: np.ndarray) -> np.ndarray:
    return np.stack([targets == c for c in range(3)]).astype(np.float32)


def _two_touching() -> np.ndarray:
    objects = np.zeros((24, 24), dtype=np.int32)
    objects[3:20, 3:11] = 1
    objects[3:20, 11:20] = 2
    return objects


def test_targets_mark_band_on_edges_and_between_touching_objects() -> None:
    targets = instance_targets(_two_touching(), band=1)
    assert targets.dtype == np.uint8
    assert set(np.unique(targets)) == {0, 1, 2}
    assert (targets[3:20, 10] == 2).all() and (targets[3:20, 11] == 2).all()
    assert targets[10, 6] == 1 and targets[10, 15] == 1
    assert targets[0, 0] == 0
    # the image border is not an edge
    full = np.ones((8, 8), dtype=np.int32)
    assert (instance_targets(full, band=2) == 1).all()


def test_watershed_separates_touching_objects_that_components_merge() -> None:
    objects = _two_touching()
    probs = _onehot(instance_targets(objects, band=1))
    ws = instances_from_probabilities(probs, InstanceParams(sigma=0, min_size=0, min_seed=0))
    cc = instances_from_probabilities(probs, InstanceParams(method="components", sigma=0,
                                                            min_size=0))
    assert ws.dtype == np.uint32 and ws.max() == 2
    assert instance_metrics(objects, ws).dsb_map == pytest.approx(1.0)
    assert cc.max() == 1  # the band alone does not split them


def test_objects_without_a_core_are_kept_and_small_ones_removed() -> None:
    targets = np.zeros((20, 20), dtype=np.uint8)
    targets[2:5, 2:5] = 2  # 9 px of band only: no seed
    targets[10:18, 10:18] = 2
    targets[12:16, 12:16] = 1
    probs = _onehot(targets)
    kept = instances_from_probabilities(probs, InstanceParams(sigma=0, min_size=0, min_seed=0))
    assert kept.max() == 2
    removed = instances_from_probabilities(probs, InstanceParams(sigma=0, min_size=10,
                                                                 min_seed=0))
    assert removed.max() == 1 and removed[3, 3] == 0 and removed[14, 14] == 1


def test_volume_ids_are_unique_across_planes() -> None:
    plane = _onehot(instance_targets(_two_touching(), band=1))
    volume = np.stack([plane, plane], axis=1)
    ids = instances_from_probabilities(volume, InstanceParams(sigma=0, min_size=0, min_seed=0))
    assert ids.shape == (2, 24, 24)
    assert set(np.unique(ids[0])) == {0, 1, 2} and set(np.unique(ids[1])) == {0, 3, 4}


def test_params_round_trip_and_validation() -> None:
    params = InstanceParams(method="components", sigma=0.5, threshold=0.4, min_size=7)
    assert InstanceParams.from_dict({**params.to_dict(), "object_name": "cell"}) == params
    with pytest.raises(ValueError, match="unknown instance method"):
        InstanceParams(method="magic")
    with pytest.raises(ValueError, match="thresholds"):
        InstanceParams(threshold=1.5)
    with pytest.raises(ValueError, match="channel"):
        instances_from_probabilities(np.zeros((2, 4, 4)), InstanceParams())
    assert instance_dtype(100) == np.uint16 and instance_dtype(70000) == np.uint32


def test_instance_colours_cycle_distinct_hues_and_rows_measure_objects() -> None:
    from medsr_viewer.core.labels.instances import (
        highlight_instance,
        instance_at,
        instance_colour,
        instance_rows,
        instance_table,
    )

    assert instance_colour(0) == (0, 0, 0)
    assert len({instance_colour(v) for v in range(1, 25)}) == 24
    assert instance_colour(1) != instance_colour(2)
    table = instance_table(np.array([0, 3, 3, 7]), "cell")
    assert table.values() == [3, 7] and table.name(7) == "cell 7"
    assert table.colour_lut(7)[0][3] == 0  # background clear
    ids = np.zeros((6, 8), dtype=np.uint32)
    ids[1:3, 1:4] = 2
    ids[4:6, 5:8] = 5
    image = np.arange(48, dtype=np.float64).reshape(6, 8)
    rows = instance_rows(ids, image, (0.5, 2.0))
    assert [(r.value, r.area_px, r.area_mm2) for r in rows] == [(2, 6, 6.0), (5, 6, 6.0)]
    assert rows[0].mean == pytest.approx(image[1:3, 1:4].mean())
    assert np.isnan(instance_rows(ids, None)[0].mean)
    assert instance_at(ids, 1, 1) == 2 and instance_at(ids, 0, 0) == 0
    assert instance_at(ids, -1, 3) == 0 and instance_at(ids, 9, 3) == 0
    rgba = np.zeros((6, 8, 4), dtype=np.uint8)
    lit = highlight_instance(rgba, ids, 5)
    assert np.all(lit[4:6, 5:8] == 255) and not lit[1:3, 1:4].any()
    assert not highlight_instance(rgba, ids, 0).any()


def test_instance_files_are_recognised_by_their_provenance_and_sessions_keep_the_flag(
        tmp_path: Path) -> None:
    from medsr_viewer.core.labels.labelmap import load_label_map
    from medsr_viewer.core.session import LabelMapRef, Session, session_from_dict, session_to_dict
    from medsr_viewer.core.volume import Volume
    from medsr_viewer.core.writers import save_nifti

    ids = np.zeros((1, 8, 8), np.uint16)
    ids[0, 1:3, 1:3], ids[0, 5:7, 4:8] = 1, 2
    volume = Volume(ids, np.eye(4), modality="SEG", metadata={"labels": True})
    cells = save_nifti(volume, tmp_path / "cells.nii.gz",
                       extra={"task": "segment_instances", "object_name": "cell"})
    plain = save_nifti(volume, tmp_path / "plain.nii.gz", extra={"task": "segment"})
    foreign = save_nifti(volume, tmp_path / "foreign.nii.gz")
    loaded = load_label_map(cells)
    assert loaded.instances and loaded.table.name(2) == "cell 2"
    np.testing.assert_array_equal(loaded.labels, ids)
    assert not load_label_map(plain).instances and not load_label_map(foreign).instances

    session = Session("study.nii.gz", label_maps=[LabelMapRef(str(cells), "cells", instances=True),
                                                   LabelMapRef(str(plain), "plain")])
    back = session_from_dict(session_to_dict(session))
    assert [lm.instances for lm in back.label_maps] == [True, False]
    old = session_to_dict(session)
    del old["label_maps"][0]["instances"]  # sessions written before the flag existed
    assert not session_from_dict(old).label_maps[0].instances
