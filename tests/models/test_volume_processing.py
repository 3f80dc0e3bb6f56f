"""Whole-volume processing: geometry of SR outputs, enhancement, segmentation, progress."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage

from medsr_viewer.core.volume import Volume
from medsr_viewer.models.archive import load_model
from medsr_viewer.models.inference import InferenceError
from medsr_viewer.models.volume_processing import (
    VolumeProcessor,
    output_shape,
    scaled_affine,
)


def _oblique_affine(spacing_xyz: tuple[float, float, float]) -> np.ndarray:
    angle = np.deg2rad(20)
    rot = np.array(
        [[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0], [0, 0, 1]]
    )
    affine = np.eye(4)
    affine[:3, :3] = rot @ np.diag(spacing_xyz)
    affine[:3, 3] = (-40.0, 12.5, 7.0)
    return affine


def _smooth_volume(shape: tuple[int, int, int], affine: np.ndarray, **kw: object) -> Volume:
    z, y, x = np.meshgrid(*(np.arange(n, dtype=np.float64) for n in shape), indexing="ij")
    vox = 100 + 40 * np.sin(x / 7.0) * np.cos(y / 9.0) + 10 * np.cos(z / 5.0)
    return Volume(vox.astype(np.float32), affine, **kw)  # type: ignore[arg-type]


def _edge_box(volume: Volume) -> np.ndarray:
    """World bounding box of the voxel *edges* (corners of the outer voxel faces)."""
    nz, ny, nx = volume.shape
    corners = np.array(
        [[z, y, x] for z in (-0.5, nz - 0.5) for y in (-0.5, ny - 0.5) for x in (-0.5, nx - 0.5)]
    )
    world = volume.index_to_world(corners)
    return np.stack([world.min(axis=0), world.max(axis=0)])


@pytest.mark.parametrize("axis", [0, 1, 2])
def test_scaled_affine_keeps_the_edge_box(axis: int) -> None:
    vol = _smooth_volume((6, 10, 12), _oblique_affine((0.8, 0.9, 2.5)))
    for scale in (2, 3, 4):
        out = Volume(
            np.zeros(output_shape(vol.shape, axis, scale), np.float32),
            scaled_affine(vol.affine, axis, scale),
        )
        np.testing.assert_allclose(_edge_box(out), _edge_box(vol), atol=1e-9)
        expected = [sp if a == axis else sp / scale for a, sp in enumerate(vol.spacing)]
        np.testing.assert_allclose(out.spacing, expected)
        np.testing.assert_allclose(out.direction, vol.direction, atol=1e-12)


@pytest.mark.parametrize("axis", [0, 1])
def test_bicubic_sr_volume_resamples_back_onto_the_input(zoo: dict[str, Path], axis: int) -> None:
    vol = _smooth_volume(
        (12, 40, 48),
        _oblique_affine((0.7, 0.7, 2.0)),
        name="smooth",
        modality="MR",
        metadata={"slice_axis": axis, "source": "/secret/path.nii"},
    )
    proc = VolumeProcessor(load_model(zoo["bicubic-x2"]), vol, tile=40)
    progress = []
    gen = proc.iter_volume()
    while True:
        try:
            progress.append(next(gen))
        except StopIteration as stop:
            out: Volume = stop.value
            break
    assert out.shape == output_shape(vol.shape, axis, 2)
    assert [p.slice_index for p in progress] == sorted(p.slice_index for p in progress)
    assert progress[-1].slice_index == vol.shape[axis] - 1 and progress[-1].fraction == 1.0
    assert out.metadata["provenance"]["sha256"] == proc.card.sha256
    assert "source" not in out.metadata and out.modality == "MR"
    np.testing.assert_allclose(_edge_box(out), _edge_box(vol), atol=1e-9)
    # Sample the SR output at the input voxel centres (via world coordinates).
    zz, yy, xx = np.meshgrid(*(np.arange(n) for n in vol.shape), indexing="ij")
    centres = np.stack([zz, yy, xx], axis=-1).astype(float)
    idx_out = out.world_to_index(vol.index_to_world(centres))
    back = ndimage.map_coordinates(out.voxels, np.moveaxis(idx_out, -1, 0), order=3, mode="nearest")
    interior = [slice(None)] * 3
    for a in range(3):
        if a != axis:
            interior[a] = slice(4, -4)
    err = np.abs(back - vol.voxels)[tuple(interior)]
    data_range = float(np.ptp(vol.voxels))
    assert err.max() < 0.002 * data_range
    # Forgetting the half-voxel origin shift (a common bug) would be visible.
    wrong_affine = out.affine.copy()
    wrong_affine[:3, 3] = vol.affine[:3, 3]
    idx_wrong = out.with_voxels(out.voxels, affine=wrong_affine).world_to_index(
        vol.index_to_world(centres)
    )
    back_wrong = ndimage.map_coordinates(
        out.voxels, np.moveaxis(idx_wrong, -1, 0), order=3, mode="nearest"
    )
    err_wrong = np.abs(back_wrong - vol.voxels)[tuple(interior)]
    assert err_wrong.max() > 5 * err.max()


def test_enhance_and_segment_keep_geometry(zoo: dict[str, Path]) -> None:
    vol = _smooth_volume((3, 30, 30), _oblique_affine((1.0, 1.0, 3.0)), name="v")
    enh = VolumeProcessor(load_model(zoo["smooth"]), vol).run_volume()
    assert enh.shape == vol.shape and enh.voxels.dtype == np.float32
    np.testing.assert_array_equal(enh.affine, vol.affine)
    expected = ndimage.uniform_filter(vol.voxels[1], 3, mode="nearest")
    np.testing.assert_allclose(enh.voxels[1], expected, rtol=1e-4, atol=1e-3)

    seg = VolumeProcessor(load_model(zoo["threshold-seg"]), vol).run_volume()
    assert seg.voxels.dtype == np.uint8 and seg.modality == "SEG"
    np.testing.assert_array_equal(seg.voxels, (vol.voxels / 255.0 > 0.5).astype(np.uint8))
    assert seg.metadata["labels"][1]["name"] == "bright"


def test_percentile_normalisation_is_fitted_on_the_whole_volume(zoo: dict[str, Path]) -> None:
    vol = _smooth_volume((4, 20, 20), np.eye(4))
    proc = VolumeProcessor(load_model(zoo["bicubic-x2"]), vol)
    assert proc.intensity.low == pytest.approx(float(vol.voxels.min()))
    assert proc.intensity.high == pytest.approx(float(vol.voxels.max()))
    # Round trip through model units back to raw is exact for bicubic of a constant.
    flat = Volume(np.full((1, 16, 16), 42.0, np.float32), np.eye(4))
    out = VolumeProcessor(load_model(zoo["bicubic-x2"]), flat).run_volume()
    np.testing.assert_allclose(out.voxels, 42.0, atol=1e-4)


def test_unsuitable_models_and_tiles_are_refused(zoo: dict[str, Path]) -> None:
    vol = _smooth_volume((2, 20, 20), np.eye(4))
    with pytest.raises(InferenceError, match="classify"):
        VolumeProcessor(load_model(zoo["wrong-task"]), vol)
    with pytest.raises(InferenceError, match="tile size 20"):
        VolumeProcessor(load_model(zoo["bicubic-x2"]), vol, tile=20)
