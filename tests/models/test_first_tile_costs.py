"""The first tile after S waits for no pass over the whole volume (issue #18, fixed costs).

The model's volume is a view of the displayed study (no copy), the engine normalises only
the slice it runs, and the training-domain check runs after the first slice; results are
identical to those computed on a contiguous copy.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from medsr_viewer.core.geometry import DisplayVolume
from medsr_viewer.core.io import load_volume
from medsr_viewer.core.model_volumes import ModelVolumes, display_volume_for_model
from medsr_viewer.core.volume import Volume
from medsr_viewer.models import slice_engine
from medsr_viewer.models.registry import ModelRegistry
from medsr_viewer.models.slice_engine import SliceEngine


@pytest.fixture(scope="module")
def shown(data_dir: Path) -> DisplayVolume:
    """A crop of the real head MR (stored RAS: the display flips it, a strided view)."""
    volume = load_volume(data_dir / "mri_ct" / "chris_t1.nii.gz")
    crop = volume.with_voxels(volume.voxels[60:68, 90:170, 50:130])
    return DisplayVolume(crop)


def test_the_models_volume_is_a_read_only_view_of_the_display(shown: DisplayVolume) -> None:
    made = display_volume_for_model(shown)
    assert np.shares_memory(made.voxels, shown.volume.voxels)  # no copy
    assert not made.voxels.flags.writeable
    assert shown.volume.voxels.flags.writeable  # the study itself is untouched
    np.testing.assert_array_equal(made.voxels, shown.voxels)
    np.testing.assert_array_equal(made.affine, shown.affine)
    kept = ModelVolumes()
    assert kept.copy_for(shown) is kept.copy_for(shown)  # made once, then kept


@pytest.mark.parametrize("axis", [0, 1, 2])
def test_slices_of_the_view_equal_slices_of_a_contiguous_copy(
    shown: DisplayVolume, zoo: dict[str, Path], axis: int
) -> None:
    engine = SliceEngine(ModelRegistry([("user", zoo["conv-x2"].parent)]), device="cpu")
    ref = engine.resolve(str(zoo["conv-x2"]))
    view = display_volume_for_model(shown)
    copy = view.with_voxels(np.ascontiguousarray(view.voxels))
    index = view.voxels.shape[axis] // 2
    on_view = [u.array for u in engine.iter_slice(ref, view, axis, index, "super_resolution")]
    on_copy = [u.array for u in engine.iter_slice(ref, copy, axis, index, "super_resolution")]
    assert len(on_view) == len(on_copy) > 0
    for a, b in zip(on_view, on_copy, strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(engine.cached(engine.cache_key(ref, view, axis, index)),
                                  engine.cached(engine.cache_key(ref, copy, axis, index)))


def test_the_domain_check_waits_for_the_first_slice(
    zoo: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    monkeypatch.setattr(slice_engine, "domain_message",
                        lambda *_a, **_k: calls.append("checked") or "")
    rng = np.random.default_rng(0)
    volume = Volume.from_spacing(rng.random((4, 100, 120)).astype(np.float32) * 200)
    engine = SliceEngine(ModelRegistry([("user", zoo["conv-x2"].parent)]), device="cpu")
    ref = engine.resolve(str(zoo["conv-x2"]))
    tiles = engine.iter_slice(ref, volume, 0, 1, "super_resolution")
    next(tiles)  # the first tile: no pass over the volume before it
    assert calls == []
    for _update in tiles:
        pass
    assert calls == ["checked"]  # once the slice is done
    for _update in engine.iter_slice(ref, volume, 0, 2, "super_resolution"):
        pass
    assert calls == ["checked"]  # once per (model, study)
