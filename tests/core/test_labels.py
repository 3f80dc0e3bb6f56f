"""Label maps: loading real NIfTI/MGZ labels, world-space nearest resampling, saving, editing."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from scipy.ndimage import map_coordinates

from medsr_viewer.core.labels import (
    LabelMap,
    LabelMapError,
    LabelTable,
    PaintLabels,
    load_label_map,
    resample_labels,
    save_label_map_nifti,
)
from medsr_viewer.core.labels.labelmap import RAS_TO_LPS
from medsr_viewer.core.roi import GridSpec
from medsr_viewer.core.volume import Volume


@pytest.fixture(scope="module")
def lesion_path(data_dir: Path) -> Path:
    return data_dir / "labelled/flair_lesion/lesion.nii.gz"


@pytest.fixture(scope="module")
def lesion(lesion_path: Path) -> LabelMap:
    return load_label_map(lesion_path)


def _finer(grid: Volume | GridSpec, factor: int) -> GridSpec:
    """Grid ``factor`` times finer on every axis, covering the same extent."""
    affine = np.asarray(grid.affine).copy()
    affine[:3, :3] = grid.affine[:3, :3] / factor
    affine[:3, 3] = grid.affine[:3, :3] @ np.full(3, (1 / factor - 1) / 2) + grid.affine[:3, 3]
    return GridSpec(tuple(s * factor for s in grid.shape), affine)


def _crop(label_map: LabelMap, box: tuple[slice, slice, slice]) -> Volume:
    start = np.array([s.start for s in box], float)
    origin = label_map.volume.index_to_world(start)
    affine = label_map.volume.affine.copy()
    affine[:3, 3] = origin
    return Volume(np.ascontiguousarray(label_map.labels[box]), affine)


def test_loads_real_nifti_labels_in_lps(lesion_path: Path, lesion: LabelMap) -> None:
    image = nib.load(lesion_path)
    assert lesion.labels.shape == image.shape[::-1]
    assert lesion.labels.dtype == np.uint8
    assert lesion.present_values() == [1, 2, 3]
    assert np.allclose(lesion.volume.affine, RAS_TO_LPS @ image.affine)
    raw = np.asarray(image.dataobj)
    assert np.array_equal(lesion.labels, raw.transpose(2, 1, 0))
    # a voxel's world position agrees with nibabel's (RAS -> LPS)
    ras = image.affine @ np.array([10, 20, 30, 1.0])
    assert np.allclose(lesion.volume.index_to_world((30, 20, 10)), ras[:3] * [-1, -1, 1])


def test_loads_real_mgz_labels(data_dir: Path) -> None:
    aseg = load_label_map(data_dir / "labelled/freesurfer_subject/aparc.a2009s+aseg.mgz")
    assert aseg.labels.shape == (256, 256, 256)
    assert np.issubdtype(aseg.labels.dtype, np.integer)
    values = aseg.present_values()
    assert len(values) > 150 and 17 in values  # Left-Hippocampus in FreeSurfer numbering
    assert aseg.volume.spacing == pytest.approx((1.0, 1.0, 1.0))


def test_bad_label_files_give_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(LabelMapError, match="missing.nii.gz: label file not found"):
        load_label_map(tmp_path / "missing.nii.gz")
    junk = tmp_path / "junk.nii.gz"
    junk.write_bytes(b"not a nifti")
    with pytest.raises(LabelMapError, match="junk.nii.gz"):
        load_label_map(junk)
    smooth = tmp_path / "image.nii.gz"
    nib.save(nib.Nifti1Image(np.linspace(0, 1, 64, dtype=np.float32).reshape(4, 4, 4),
                             np.eye(4)), smooth)
    with pytest.raises(LabelMapError, match="image.nii.gz: holds non-integer values"):
        load_label_map(smooth)


def test_resample_to_2x_grid_and_back_is_exact(lesion: LabelMap) -> None:
    crop = _crop(lesion, (slice(40, 70), slice(50, 90), slice(30, 70)))  # oblique real affine
    fine = _finer(crop, 2)
    up = resample_labels(crop, fine)
    assert up.shape == (60, 80, 80)
    assert np.array_equal(up[::2, ::2, ::2], crop.voxels)
    assert np.array_equal(up[1::2, 1::2, 1::2], crop.voxels)
    back = resample_labels(Volume(up, fine.affine), crop)
    assert np.array_equal(back, crop.voxels)


def test_resample_matches_map_coordinates_on_rotated_grid(lesion: LabelMap) -> None:
    crop = _crop(lesion, (slice(40, 70), slice(50, 90), slice(30, 70)))
    angle = 0.2
    rot = np.eye(4)
    rot[:2, :2] = [[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]]
    target_affine = crop.affine @ np.diag([0.7, 0.8, 0.9, 1.0]) @ rot
    target_affine[:3, 3] += [0.37, -0.21, 0.13]
    target = GridSpec((25, 45, 50), target_affine)
    got = resample_labels(crop, target)
    # independent: map target voxel centres to source indices, nearest via map_coordinates
    zz, yy, xx = np.meshgrid(*(np.arange(n) for n in target.shape), indexing="ij")
    xyz1 = np.stack([xx, yy, zz, np.ones_like(xx)], axis=-1).reshape(-1, 4).astype(float)
    src = (xyz1 @ (np.linalg.inv(crop.affine) @ target_affine).T)[:, :3]
    expected = map_coordinates(crop.voxels, src[:, ::-1].T, order=0, mode="nearest")
    size_xyz = np.array(crop.shape[::-1])
    inside = np.all((src >= -0.5) & (src < size_xyz - 0.5), axis=1)  # within a source voxel
    assert np.array_equal(got.reshape(-1)[inside], expected[inside])
    assert not got.reshape(-1)[~inside].any() and (~inside).any()
    assert got.any()


def test_separable_fast_path_equals_general_path(data_dir: Path) -> None:
    tissue = load_label_map(data_dir / "labelled/template_tissue/mni152_pveseg.nii.gz")
    crop = _crop(tissue, (slice(100, 120), slice(80, 140), slice(70, 130)))
    # axis-permuted, flipped and rescaled target: separable path
    affine = np.zeros((4, 4))
    affine[:3, :3] = crop.affine[:3, :3][:, [1, 2, 0]] * [0.45, -0.61, 1.37]
    affine[:3, 3] = crop.index_to_world((10.23, 30.17, 29.71))
    affine[3, 3] = 1
    target = GridSpec((40, 50, 45), affine)
    fast = resample_labels(crop, target)
    nudged = affine.copy()
    nudged[:3, :3] += 1e-7 * np.random.default_rng(0).standard_normal((3, 3))  # general path
    general = resample_labels(crop, GridSpec(target.shape, nudged))
    assert fast.any() and np.array_equal(fast, general)


def test_on_grid_same_grid_is_identity_and_sr_grid_lines_up(lesion: LabelMap) -> None:
    assert lesion.on_grid(lesion.volume) is lesion
    fine = _finer(lesion.volume, 2)
    on_sr = lesion.on_grid(fine)
    world = on_sr.volume.index_to_world((101, 81, 61))
    native_index = np.rint(lesion.volume.world_to_index(world)).astype(int)
    assert on_sr.labels[101, 81, 61] == lesion.labels[tuple(native_index)]


def test_save_nifti_round_trip_and_refuses_to_overwrite_source(tmp_path: Path,
                                                               lesion_path: Path) -> None:
    lesion = load_label_map(lesion_path)  # own copy: the test edits its table
    edited = lesion.with_labels(np.where(lesion.labels == 3, 0, lesion.labels).astype(np.uint8))
    edited.table.update(1, name="small lesion", color=(250, 10, 20))
    edited.table.update(2, name="big lesion", color=(10, 200, 20), visible=False, opacity=0.5)
    out = save_label_map_nifti(edited, tmp_path / "edited.nii.gz", write_table=True)
    again = load_label_map(out)
    assert np.array_equal(again.labels, edited.labels)
    assert np.allclose(again.volume.affine, edited.volume.affine, atol=1e-5)
    assert int(nib.load(out).header["intent_code"]) == 1002
    assert (tmp_path / "edited.label").is_file()
    assert again.table == edited.table and again.table.name(2) == "big lesion"
    # the saved file is now the map's source: saving over it is refused, even with force
    with pytest.raises(LabelMapError, match="refusing to overwrite the input"):
        save_label_map_nifti(again, out, force=True)
    with pytest.raises(LabelMapError, match="already exists"):
        save_label_map_nifti(edited, out)
    save_label_map_nifti(edited, out, force=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["edited.label", "edited.nii.gz"]


def test_paint_labels_command_undoes_exactly(lesion: LabelMap) -> None:
    labels = lesion.labels.copy()
    before = labels.copy()
    mask = np.zeros(labels.shape, bool)
    mask[60:70, 60:80, 60:80] = True
    paint = PaintLabels(labels, mask, 5)
    paint.apply()
    assert (labels[mask] == 5).all() and paint.changed_count == int((before[mask] != 5).sum())
    paint.revert()
    assert np.array_equal(labels, before)
    erase_two = PaintLabels(labels, np.ones(labels.shape, bool), 0, only_value=2)
    erase_two.apply()
    assert not (labels == 2).any() and (labels == 3).sum() == (before == 3).sum()
    erase_two.revert()
    assert np.array_equal(labels, before)
    with pytest.raises(ValueError, match="does not fit"):
        PaintLabels(labels, mask, 300)


def test_label_map_requires_integers() -> None:
    with pytest.raises(LabelMapError):
        LabelMap(Volume(np.zeros((2, 2, 2), np.float32), np.eye(4)), LabelTable())
