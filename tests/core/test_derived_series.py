"""Derived DICOM series (issue #17): a model's result written as a series of its source study."""

from __future__ import annotations

from pathlib import Path

import highdicom as hd
import numpy as np
import pydicom
import pytest

from medsr_viewer.core.io import load_volume
from medsr_viewer.core.io.derived_series import (
    CARRIED,
    Derivation,
    DerivedSeriesError,
    quantise,
    write_derived_series,
)
from medsr_viewer.core.volume import Volume

DERIVATION = Derivation("sr-x2", "0.1.0", "ab" * 32, "0.1.0")


@pytest.fixture(scope="module")
def source(data_dir: Path) -> Volume:
    return load_volume(data_dir / "dicom" / "vs_seg_001_t1")


def sr_like(source: Volume, slices: int = 6) -> Volume:
    """The source's first slices on a grid twice as fine in plane (same world extent)."""
    voxels = source.voxels[:slices].astype(np.float32)
    fine = np.repeat(np.repeat(voxels, 2, axis=1), 2, axis=2) + 0.25  # not integers
    affine = source.affine.copy()
    affine[:3, :2] /= 2.0
    # the half-voxel shift: the fine grid's first centre lies a quarter pixel before
    affine[:3, 3] -= (source.affine[:3, 0] + source.affine[:3, 1]) / 4.0
    return Volume(fine, affine, modality=source.modality, name="sr")


def test_round_trip_keeps_grid_values_study_and_says_what_made_it(
    source: Volume, tmp_path: Path
) -> None:
    result = sr_like(source)
    files = write_derived_series(result, source, tmp_path / "sr", DERIVATION)
    assert [f.name for f in files] == [f"IM_{k:04d}.dcm" for k in range(1, 7)]
    back = load_volume(tmp_path / "sr")
    assert back.warnings == () and back.modality == "MR"
    np.testing.assert_allclose(back.affine, result.affine, atol=1e-4)
    step = (float(result.voxels.max()) - float(result.voxels.min())) / 65535
    np.testing.assert_allclose(back.voxels, result.voxels, atol=step)
    first = pydicom.dcmread(files[0])
    src = pydicom.dcmread(source.metadata["slice_files"][0][0], stop_before_pixels=True)
    assert list(first.ImageType) == ["DERIVED", "SECONDARY"]
    assert "sr-x2" in first.DerivationDescription and "ab" * 32 in first.DerivationDescription
    assert first.StudyInstanceUID == src.StudyInstanceUID
    assert first.FrameOfReferenceUID == src.FrameOfReferenceUID
    assert first.SeriesInstanceUID != src.SeriesInstanceUID
    uids = {pydicom.dcmread(f, stop_before_pixels=True).SOPInstanceUID for f in files}
    assert len(uids) == 6 and src.SOPInstanceUID not in uids
    for keyword in CARRIED:
        assert str(first.get(keyword, "")) == str(src.get(keyword, "")), keyword
    # Nothing else of the source: no institution, no device, no private tags.
    assert "InstitutionName" not in first and "DeviceSerialNumber" not in first
    assert not any(element.tag.is_private for element in first)
    # highdicom reads the same grid.
    hd_volume = hd.get_volume_from_series([pydicom.dcmread(f) for f in files])
    assert hd_volume.spatial_shape == result.voxels.shape


def test_integer_results_keep_slope_one(source: Volume) -> None:
    stored, slope, intercept = quantise(np.array([[-3.0, 0.0, 1871.0]]))
    assert (slope, intercept) == (1.0, 0.0) and stored.tolist() == [[-3, 0, 1871]]
    values = np.linspace(-0.5, 1.5, 100)
    stored, slope, intercept = quantise(values)
    np.testing.assert_allclose(stored * slope + intercept, values, atol=slope / 2 + 1e-12)


def test_refusals_name_the_folder(source: Volume, tmp_path: Path) -> None:
    result = sr_like(source, 2)
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "x.txt").write_text("keep")
    with pytest.raises(DerivedSeriesError, match="busy: exists"):
        write_derived_series(result, source, busy, DERIVATION)
    assert (busy / "x.txt").read_text() == "keep"
    source_dir = Path(source.metadata["slice_files"][0][0]).parent
    with pytest.raises(DerivedSeriesError, match="source series' folder"):
        write_derived_series(result, source, source_dir, DERIVATION)
    nifti = Volume(result.voxels, result.affine, modality="MR", name="n")
    with pytest.raises(DerivedSeriesError, match="not a DICOM series"):
        write_derived_series(result, nifti, tmp_path / "x", DERIVATION)
    assert not (tmp_path / "x").exists() and not list(tmp_path.glob(".x.*"))
