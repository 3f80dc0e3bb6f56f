"""NIfTI and MGH loading: exact geometry, NaN handling, 4-D input, modality and slice axis."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from medsr_viewer.core.io import LoadError, load_study, load_volume
from medsr_viewer.core.io.nifti import RAS_TO_LPS


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


#: dcm2niix's 4-D reference of the Siemens mosaic EPI fMRI: 6 time points, TR 3.2 s.
FMRI_REF = Path("dicom_qa") / "ref" / "dcm_qa_mosaic" / "ep2d_Asc_2" / "2_ep2d_Asc.nii.gz"


def test_4d_nifti_study_has_every_volume_on_one_grid(data_dir: Path) -> None:
    """A real 4-D NIfTI (dcm2niix fMRI): T volumes as nibabel reads them, one grid, t=i/T
    labels, the repetition time from pixdim[4]."""
    path = data_dir / FMRI_REF
    image = nib.load(str(path))
    data = np.asanyarray(image.dataobj)
    assert data.shape == (64, 64, 36, 6)
    study = load_study(path)
    assert len(study.groups) == 1 and study.n_volumes == 6 and study.shown_index == 0
    first = study.shown
    for t, volume in enumerate(study.group.volumes):
        assert volume.shape == (36, 64, 64)
        np.testing.assert_array_equal(volume.affine, first.affine)
        np.testing.assert_array_equal(volume.voxels, data[..., t].T.astype(np.float32))
        assert study.group.label_text(t) == f"t={t + 1}/6"
        assert volume.metadata["volume_label"] == f"t={t + 1}/6"
    np.testing.assert_allclose(first.affine, RAS_TO_LPS @ image.affine, atol=1e-5)
    assert study.facts == {"RepetitionTime": 3.2}
    assert not any("first of" in w for w in first.warnings)
    assert study.step(3).shown_label() == "t=4/6"
    # load_volume still reads only the first volume and says how many there are
    volume = load_volume(path)
    np.testing.assert_array_equal(volume.voxels, first.voxels)
    assert any("first of 6 volumes" in w for w in volume.warnings)


def test_4d_nifti_checks_memory_for_every_volume(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A memory limit above one volume but below six: the study is refused, naming the
    limit; the first volume alone still opens."""
    path = data_dir / FMRI_REF
    one_volume = 64 * 64 * 36 * 4
    monkeypatch.setenv("MEDSR_MAX_VOLUME_BYTES", str(3 * one_volume))
    with pytest.raises(LoadError) as info:
        load_study(path)
    assert "MEDSR_MAX_VOLUME_BYTES" in info.value.reason and "6x36x64x64" in info.value.reason
    assert load_volume(path).shape == (36, 64, 64)


def test_4d_without_time_unit_has_no_repetition_time(tmp_path: Path) -> None:
    """nibabel's default pixdim[4] of 1.0 with no time unit is no TR; volumes still load."""
    data = np.stack([np.full((3, 4, 5), t, np.int16) for t in range(3)], axis=-1)
    path = tmp_path / "series.nii.gz"
    nib.save(nib.Nifti1Image(data, np.eye(4)), path)
    study = load_study(path)
    assert study.n_volumes == 3 and study.facts == {}
    assert [float(v.voxels.max()) for v in study.group.volumes] == [0.0, 1.0, 2.0]


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
