"""DICOM series loading: sorting by position, spacing, gaps, corrupt files, several series."""

from __future__ import annotations

import os
import random
import shutil
from pathlib import Path

import numpy as np
import pydicom
import pytest
from test_io_writer import write_dicom_series

from medsr_viewer.core.io import LoadCancelled, discover_series, load_volume
from medsr_viewer.core.io.nifti import load_nifti
from medsr_viewer.core.volume import Volume


@pytest.fixture(scope="module")
def pd_volume(data_dir: Path) -> Volume:
    """The real chris_PD MRI (54 oblique slices, 2.4 mm) from the shared data."""
    return load_nifti(data_dir / "mri_ct" / "chris_PD.nii.gz")


def _random_names(n: int, seed: int) -> list[str]:
    """Random, unordered file names (some without extension, as PACS exports often are)."""
    rng = random.Random(seed)
    names = set()
    while len(names) < n:
        stem = "".join(rng.choice("abcdef0123456789") for _ in range(12))
        names.add(stem + rng.choice(["", ".dcm", ".DCM"]))
    return list(names)


def test_shuffled_series_with_corrupt_and_missing_file(tmp_path: Path, pd_volume: Volume) -> None:
    """Random names, one truncated and one deleted file: right order, spacing, both reported."""
    n = pd_volume.shape[0]
    paths = write_dicom_series(
        pd_volume, tmp_path / "study", slope=0.5, intercept=-10.0, names=_random_names(n, 1)
    )
    corrupt_z, missing_z = 17, 30
    data = paths[corrupt_z].read_bytes()
    paths[corrupt_z].write_bytes(data[: len(data) - 5000])
    paths[missing_z].unlink()

    volume = load_volume(tmp_path / "study")

    assert volume.shape == pd_volume.shape
    assert volume.spacing == pytest.approx(pd_volume.spacing, abs=1e-4)
    np.testing.assert_allclose(volume.affine, pd_volume.affine, atol=1e-4)
    assert volume.metadata["blank_slices"] == [corrupt_z, missing_z]
    real = [z for z in range(n) if z not in (corrupt_z, missing_z)]
    np.testing.assert_array_equal(volume.voxels[real], pd_volume.voxels[real])
    assert volume.voxels.dtype == np.float32
    text = "\n".join(volume.warnings)
    assert paths[corrupt_z].name in text and "truncated" in text
    assert "missing slices: 1 slice" in text
    assert len(volume.warnings) == 2, volume.warnings  # nothing else (no tilt, no unevenness)
    assert volume.modality == "MR" and volume.name == "test series"
    assert volume.window == (100.0, 200.0)
    assert volume.metadata["slice_axis"] == 0
    assert volume.metadata["source"] == str(tmp_path / "study")
    assert "Test^Writer" not in repr(volume.metadata) + text


def test_duplicates_and_non_image_files_are_skipped_with_warnings(
    tmp_path: Path, pd_volume: Volume
) -> None:
    """Same SOPInstanceUID, same position and non-DICOM files: skipped, each named."""
    small = pd_volume.with_voxels(pd_volume.voxels[:6, :32, :32])
    paths = write_dicom_series(small, tmp_path)
    shutil.copy(paths[2], tmp_path / "copy_of_2.dcm")
    same_position = pydicom.dcmread(paths[4])
    same_position.SOPInstanceUID = pydicom.uid.generate_uid()
    same_position.file_meta.MediaStorageSOPInstanceUID = same_position.SOPInstanceUID
    same_position.save_as(tmp_path / "zz_same_position.dcm")
    (tmp_path / "notes.txt").write_text("not an image")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "DICOMDIR").write_bytes(b"\0" * 200)

    volume = load_volume(tmp_path)

    assert volume.shape == (6, 32, 32)
    np.testing.assert_array_equal(volume.voxels, small.voxels)
    text = "\n".join(volume.warnings)
    duplicate = [w for w in volume.warnings if "skipped, duplicate of" in w]
    assert len(duplicate) == 1 and "copy_of_2.dcm" in duplicate[0]  # either copy is named
    assert "zz_same_position.dcm: skipped, same slice position" in text
    assert "notes.txt: skipped, not a DICOM file" in text
    assert "DICOMDIR" not in text


def test_two_series_discovered_and_selectable(tmp_path: Path, pd_volume: Volume) -> None:
    """A folder with two series: both found; the largest loads unless a UID picks one."""
    big = pd_volume.with_voxels(pd_volume.voxels[:12, :40, :30])
    small = pd_volume.with_voxels(pd_volume.voxels[20:25, :40, :30])
    write_dicom_series(big, tmp_path / "a", series_uid="1.2.3.1", description="big",
                       series_number=2)
    write_dicom_series(small, tmp_path / "b" / "deeper", series_uid="1.2.3.2",
                       description="small", series_number=1)

    progress: list[tuple[int, int]] = []
    series = discover_series(tmp_path, progress=lambda d, t: progress.append((d, t)))
    assert [(s.uid, s.n_slices, s.description) for s in series] == [
        ("1.2.3.2", 5, "small"), ("1.2.3.1", 12, "big")
    ]
    assert progress[-1] == (17, 17)
    assert len(series[1].files) == 12 and series[1].rows == 40 and series[1].cols == 30

    largest = load_volume(tmp_path)
    assert largest.name == "big" and largest.shape == (12, 40, 30)
    assert any("2 series found" in w and "1.2.3.2" in w for w in largest.warnings)
    picked = load_volume(tmp_path, series_uid="1.2.3.2")
    assert picked.name == "small" and picked.metadata["series_uid"] == "1.2.3.2"
    np.testing.assert_array_equal(picked.voxels, small.voxels)
    # The files of one series can also be given as a list.
    listed = load_volume(list(series[0].files))
    np.testing.assert_array_equal(listed.voxels, small.voxels)


def test_uneven_spacing_is_reported(tmp_path: Path, pd_volume: Volume) -> None:
    """A slice displaced by a third of the spacing triggers the uneven-spacing warning."""
    small = pd_volume.with_voxels(pd_volume.voxels[:8, :16, :16])
    paths = write_dicom_series(small, tmp_path)
    ds = pydicom.dcmread(paths[5])
    moved = small.index_to_world((5.33, 0, 0))
    ds.ImagePositionPatient = [f"{v:.6f}" for v in moved]
    ds.save_as(paths[5])
    volume = load_volume(tmp_path)
    assert volume.shape == (8, 16, 16)
    assert any(w.startswith("uneven slice spacing") for w in volume.warnings)


def test_progress_and_cancel(tmp_path: Path, pd_volume: Volume) -> None:
    """progress reaches done == total; cancelled() stops the load with LoadCancelled."""
    small = pd_volume.with_voxels(pd_volume.voxels[:5, :16, :16])
    write_dicom_series(small, tmp_path)
    calls: list[tuple[int, int]] = []
    load_volume(tmp_path, progress=lambda d, t: calls.append((d, t)))
    assert calls and calls[-1][0] == calls[-1][1]
    assert all(d <= t for d, t in calls)
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)
    polls = iter(range(100))
    with pytest.raises(LoadCancelled):
        load_volume(tmp_path, cancelled=lambda: next(polls) >= 3)


def test_real_120_slice_series(data_dir: Path) -> None:
    """The real Siemens T1 series: 120 slices of 512x512, 0.41 mm pixels, 1.5 mm slices."""
    folder = data_dir / "dicom" / "vs_seg_001_t1"
    volume = load_volume(folder)
    assert volume.shape == (120, 512, 512)
    assert volume.spacing == pytest.approx((1.5, 0.41015625, 0.41015625), abs=1e-6)
    assert volume.modality == "MR" and volume.name == "t1_mpr_tra_gk_v4"
    assert volume.warnings == ()
    # Slices follow ImagePositionPatient: 1.5 mm apart, each file's pixels at its position.
    positions = volume.index_to_world(np.array([[k, 0, 0] for k in range(120)], dtype=float))
    assert np.allclose(np.diff(positions[:, 2]), 1.5, atol=1e-3)
    for name in ("1-001.dcm", "1-050.dcm", "1-120.dcm"):
        ds = pydicom.dcmread(folder / name)
        z, y, x = volume.world_to_index([float(v) for v in ds.ImagePositionPatient])
        k = round(float(z))
        assert abs(z - k) < 1e-3 and abs(y) < 1e-3 and abs(x) < 1e-3
        np.testing.assert_array_equal(volume.voxels[k], ds.pixel_array.astype(np.float32))
    assert os.fspath(folder) == volume.metadata["source"]
