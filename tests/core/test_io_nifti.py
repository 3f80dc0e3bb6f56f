"""NIfTI and MGH loading: exact geometry, NaN handling, 4-D input, modality and slice axis."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from medsr_viewer.core.io import LoadError, load_volume


def _lps(nib_affine: np.ndarray, ijk: tuple[float, float, float]) -> np.ndarray:
    """LPS world of voxel (i, j, k) under a RAS NIfTI affine."""
    ras = nib_affine @ np.array([*ijk, 1.0])
    return np.array([-ras[0], -ras[1], ras[2]])


@pytest.mark.parametrize("name", ["chris_PD.nii.gz", "CT_pitch.nii.gz"])
def test_geometry_is_exact(data_dir: Path, name: str) -> None:
    """index_to_world((k, j, i)) equals the LPS of the NIfTI affine at (i, j, k); same voxels."""
    path = data_dir / "mri_ct" / name
    image = nib.load(path)
    volume = load_volume(path)
    data = np.asanyarray(image.dataobj)
    i, j, k = image.shape
    assert volume.shape == (k, j, i)
    rng = np.random.default_rng(0)
    for ijk in [(0, 0, 0), (i - 1, j - 1, k - 1), *rng.integers(0, [i, j, k], size=(5, 3))]:
        ii, jj, kk = (int(v) for v in ijk)
        np.testing.assert_allclose(
            volume.index_to_world((kk, jj, ii)), _lps(image.affine, (ii, jj, kk)), atol=1e-6
        )
        assert volume.voxels[kk, jj, ii] == data[ii, jj, kk]
    assert volume.voxels.dtype == np.float32 and volume.voxels.flags.c_contiguous
    assert volume.metadata["source"] == str(path)
    assert volume.name == name.removesuffix(".nii.gz")


def test_slice_axis_is_the_coarsest_axis(data_dir: Path, tmp_path: Path) -> None:
    """Thick slices along i (sagittal acquisition) give slice_axis 2; isotropic gives 0."""
    assert load_volume(data_dir / "mri_ct" / "chris_PD.nii.gz").metadata["slice_axis"] == 0
    assert load_volume(data_dir / "mri_ct" / "chris_t1.nii.gz").metadata["slice_axis"] == 0
    path = tmp_path / "sagittal.nii.gz"
    nib.save(nib.Nifti1Image(np.zeros((4, 5, 6), np.float32), np.diag([3.0, 1.0, 1.0, 1.0])), path)
    assert load_volume(path).metadata["slice_axis"] == 2


def test_nan_and_inf_replaced_with_warning(tmp_path: Path) -> None:
    """Non-finite voxels become the finite minimum, and the user is told how many."""
    data = np.arange(24, dtype=np.float32).reshape(2, 3, 4) + 5
    data[0, 0, 0] = np.nan
    data[1, 2, 3] = np.nan
    data[1, 1, 1] = np.inf
    path = tmp_path / "nans.nii"
    nib.save(nib.Nifti1Image(data, np.eye(4)), path)
    volume = load_volume(path)
    assert np.isfinite(volume.voxels).all()
    assert volume.voxels[0, 0, 0] == 6.0  # minimum of the finite values (5 was the NaN)
    assert any("2 NaN and 1 infinite voxels" in w for w in volume.warnings)


def test_4d_opens_first_volume_with_warning(tmp_path: Path) -> None:
    """A 4-D series opens at its first time point."""
    data = np.stack([np.full((3, 4, 5), t, np.int16) for t in range(7)], axis=-1)
    path = tmp_path / "fmri.nii.gz"
    nib.save(nib.Nifti1Image(data, np.eye(4)), path)
    volume = load_volume(path)
    assert volume.shape == (5, 4, 3)
    assert (volume.voxels == 0).all()
    assert any("first of 7 volumes" in w for w in volume.warnings)


def test_scaling_and_header_facts(tmp_path: Path) -> None:
    """scl_slope/inter applied; descrip gives the modality; cal_min/max the window."""
    image = nib.Nifti1Image(np.array([[[1, 2], [3, 4]]], np.int16), np.eye(4))
    image.header.set_slope_inter(2.0, -1000.0)
    image.header["descrip"] = b"CT head"
    image.header["cal_min"], image.header["cal_max"] = -100, 300
    path = tmp_path / "scaled.nii"
    nib.save(image, path)
    volume = load_volume(path)
    assert sorted(volume.voxels.ravel()) == [-998.0, -996.0, -994.0, -992.0]
    assert volume.modality == "CT" and volume.window == (100.0, 400.0)
    label = nib.Nifti1Image(np.zeros((2, 2, 2), np.uint8), np.eye(4))
    label.header.set_intent("label")
    nib.save(label, tmp_path / "labels.nii.gz")
    assert load_volume(tmp_path / "labels.nii.gz").modality == "SEG"
    assert volume.metadata["source_dtype"] == "int16"


def test_mgz_label_map(data_dir: Path) -> None:
    """FreeSurfer .mgz loads with its (LIA) geometry and integer labels kept exact."""
    path = data_dir / "labelled" / "freesurfer_subject" / "aparc.a2009s+aseg.mgz"
    image = nib.load(path)
    volume = load_volume(path)
    assert volume.shape == (256, 256, 256)
    np.testing.assert_allclose(volume.index_to_world((10, 20, 30)), _lps(image.affine, (30, 20, 10)))
    labels = np.unique(volume.voxels)
    assert len(labels) > 150 and np.array_equal(labels, np.round(labels))
    assert volume.metadata["format"] == "MGH"


def test_corrupt_nifti_is_a_load_error(tmp_path: Path, data_dir: Path) -> None:
    """Truncated gzip and garbage files: LoadError naming the file."""
    original = (data_dir / "mri_ct" / "chris_PD.nii.gz").read_bytes()
    cut = tmp_path / "cut.nii.gz"
    cut.write_bytes(original[: len(original) // 2])
    with pytest.raises(LoadError, match="cut.nii.gz: corrupt or truncated"):
        load_volume(cut)
    garbage = tmp_path / "garbage.nii"
    garbage.write_bytes(b"this is not a nifti header" * 20)
    with pytest.raises(LoadError) as info:
        load_volume(garbage)
    assert info.value.path == garbage and "NIfTI" in info.value.reason
