"""``medsr convert``: NIfTI (4-D for multi-volume series) + sidecar, no PHI, refusals exit 2."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
import pytest
from pydicom.dataset import FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from medsr_viewer.cli.main import main
from tests.core.test_dicom_conformance import match_reference

#: Attributes that identify a patient: never in a sidecar or on the console.
PHI_KEYWORDS = ("PatientName", "PatientID", "PatientBirthDate", "PatientSex", "PatientAge",
                "PatientAddress", "OtherPatientIDs", "AccessionNumber", "StudyDate",
                "SeriesDate", "AcquisitionDate", "ContentDate", "InstitutionName",
                "ReferringPhysicianName", "OperatorsName", "StudyInstanceUID",
                "SeriesInstanceUID", "SOPInstanceUID")
DWI = "dicom_qa/series/dcm_qa_decubitus/HFS/4_ep2d_diff_mddw_20_p2"
DWI_REF = "dicom_qa/ref/dcm_qa_decubitus/HFS/4_ep2d_diff_mddw_20_p2/4_ep2d_diff_mddw_20_p2"


def _world_directions(bvec: np.ndarray, affine: np.ndarray) -> np.ndarray:
    """FSL bvec columns as unit RAS world directions (the x flip of det > 0 undone)."""
    rotation = affine[:3, :3] / np.linalg.norm(affine[:3, :3], axis=0)
    vectors = bvec.copy()
    if np.linalg.det(rotation) > 0:
        vectors[0] = -vectors[0]
    return rotation @ vectors


def test_dwi_mosaic_converts_to_4d_matching_dcm2niix(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """13 mosaic volumes -> one 4-D NIfTI on dcm2niix's grid, bval/bvec, sidecar labels."""
    out = tmp_path / "dwi.nii.gz"
    assert main(["convert", str(data_dir / DWI), str(out)]) == 0
    printed = capsys.readouterr().out
    assert str(out) in printed
    image = nib.load(str(out))
    assert image.shape == (128, 128, 25, 13)
    assert int(image.header["sform_code"]) == 1 and int(image.header["qform_code"]) == 1
    np.testing.assert_allclose(image.get_qform(), image.get_sform(), atol=1e-4)
    ref = nib.load(str(data_dir / (DWI_REF + ".nii.gz")))
    # Same world grid: every reference voxel centre is one of ours, with the same value.
    written = np.asarray(image.dataobj, dtype=np.float32).transpose(3, 2, 1, 0)
    from medsr_viewer.core.study import Study, VolumeGroup
    from medsr_viewer.core.volume import Volume

    lps = np.diag([-1.0, -1.0, 1.0, 1.0]) @ image.affine
    volumes = tuple(Volume(written[t], lps) for t in range(written.shape[0]))
    assert match_reference(Study((VolumeGroup("dwi", volumes),)),
                           data_dir / (DWI_REF + ".nii.gz")) is None
    bvals = np.loadtxt(out.with_name("dwi.bval"))
    np.testing.assert_allclose(bvals, np.loadtxt(data_dir / (DWI_REF + ".bval")))
    ours = _world_directions(np.loadtxt(out.with_name("dwi.bvec")), image.affine)
    theirs = _world_directions(np.loadtxt(data_dir / (DWI_REF + ".bvec")), ref.affine)
    dots = np.abs(np.sum(ours * theirs, axis=0))
    moving = bvals > 0
    np.testing.assert_allclose(dots[moving], 1.0, atol=1e-3)  # same axis (sign is free)
    sidecar = json.loads(out.with_name("dwi.json").read_text())
    assert sidecar["SeriesDescription"] == "ep2d_diff_mddw_20_p2"
    assert sidecar["EchoTime"] == pytest.approx(0.069)
    assert sidecar["RepetitionTime"] == pytest.approx(3.0)
    assert len(sidecar["VolumeLabels"]) == 13
    assert sidecar["DiffusionBValues"][:2] == [0.0, 1000.0]
    assert sidecar["VolumeLabels"][1]["DiffusionDirectionNumber"] == 1
    text = out.with_name("dwi.json").read_text() + printed
    for keyword in PHI_KEYWORDS:
        assert keyword not in text


def test_ge_dti_directions_match_dcm2niix(data_dir: Path, tmp_path: Path) -> None:
    """GE's private gradient (image frame) ends up along dcm2niix's world directions."""
    series = data_dir / "dicom_qa/series/dcm_qa_ge/01_Ax_DWI_TENSOR_R2"
    ref = data_dir / "dicom_qa/ref/dcm_qa_ge/01_Ax_DWI_TENSOR_R2/1_Brain_Advanced_Sequences"
    out = tmp_path / "dti.nii"
    assert main(["convert", str(series), str(out)]) == 0
    image = nib.load(str(out))
    assert image.shape == (256, 256, 2, 7)
    ours = _world_directions(np.loadtxt(tmp_path / "dti.bvec"), image.affine)
    theirs = _world_directions(np.loadtxt(str(ref) + ".bvec"), nib.load(str(ref) + ".nii.gz").affine)
    dots = np.abs(np.sum(ours * theirs, axis=0))[1:]
    np.testing.assert_allclose(dots, 1.0, atol=1e-3)


def test_field_map_magnitude_and_hz_are_separate_files(data_dir: Path, tmp_path: Path) -> None:
    """The Philips enhanced field map gives a magnitude file and a Hz file, never one mix."""
    out = tmp_path / "b0.nii.gz"
    assert main(["convert", str(data_dir / "dicom_qa/series/dcm_qa_enh/Philips"), str(out)]) == 0
    magnitude = nib.load(str(out)).get_fdata()
    hz = nib.load(str(tmp_path / "b0_FieldMap.nii.gz")).get_fdata()
    assert magnitude.shape == hz.shape == (64, 64, 32)
    assert magnitude.min() >= 0 and hz.min() < 0  # Hz maps are signed, magnitudes are not
    facts = json.loads((tmp_path / "b0_FieldMap.json").read_text())
    assert facts["ImageKind"] == "field map"
    assert "FIELD_MAP" in facts["ImageType"]


def test_existing_output_and_input_are_refused(data_dir: Path, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    """An existing output needs --force; a NIfTI input is never overwritten, even forced."""
    source = data_dir / "dicom_qa/series/dcm_qa_ts/series_1"
    out = tmp_path / "ts.nii.gz"
    assert main(["convert", str(source), str(out)]) == 0
    assert main(["convert", str(source), str(out)]) == 2
    assert "already exists" in capsys.readouterr().err
    assert main(["convert", str(out), str(out), "--force"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "refusing to overwrite the input" in err[0]
    assert main(["convert", str(source), str(out), "--force"]) == 0


def _report_without_pixels(folder: Path) -> Path:
    """A Siemens-style Phoenix report: a DICOM file with no image (no Rows, no pixels)."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = pydicom.Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.SeriesInstanceUID = generate_uid()
    ds.Modality = "OT"
    ds.PatientName = "Secret^Person"
    ds.SeriesDescription = "PhoenixZIPReport"
    path = folder / "report.dcm"
    ds.save_as(path, enforce_file_format=True)
    return path


def test_folder_without_image_exits_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A report-only folder: exit 2, one line naming the file and why, no PHI, no output."""
    folder = tmp_path / "report"
    folder.mkdir()
    report = _report_without_pixels(folder)
    out = tmp_path / "out.nii.gz"
    for given in (folder, report):
        assert main(["convert", str(given), str(out)]) == 2
        captured = capsys.readouterr()
        lines = captured.err.strip().splitlines()
        assert len(lines) == 1 and str(given) in lines[0]
        assert "Secret" not in captured.err + captured.out
    assert not out.exists()


def test_output_beside_series_copy_is_not_read_back(data_dir: Path, tmp_path: Path) -> None:
    """Converting a folder twice with the output inside it still finds the one series."""
    folder = tmp_path / "series"
    shutil.copytree(data_dir / "dicom_qa/series/dcm_qa_ts/series_9", folder)
    assert main(["convert", str(folder), str(folder / "a.nii.gz")]) == 0
    assert main(["convert", str(folder), str(folder / "b.nii.gz")]) == 0
    np.testing.assert_array_equal(nib.load(str(folder / "a.nii.gz")).get_fdata(),
                                  nib.load(str(folder / "b.nii.gz")).get_fdata())


def test_4d_nifti_round_trips_4d(data_dir: Path, tmp_path: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    """dcm2niix's 4-D fMRI NIfTI (6 time points) converts back to a 4-D NIfTI: the same
    voxels, affine and TR (pixdim[4]), the TR in the sidecar too; and reads back 4-D."""
    source = data_dir / "dicom_qa/ref/dcm_qa_mosaic/ep2d_Asc_2/2_ep2d_Asc.nii.gz"
    out = tmp_path / "fmri.nii.gz"
    assert main(["convert", str(source), str(out)]) == 0
    assert capsys.readouterr().out.split() == [str(out), str(tmp_path / "fmri.json")]
    original, written = nib.load(str(source)), nib.load(str(out))
    assert written.shape == original.shape == (64, 64, 36, 6)
    np.testing.assert_array_equal(np.asanyarray(written.dataobj),
                                  np.asanyarray(original.dataobj))
    np.testing.assert_allclose(written.affine, original.affine, atol=1e-4)
    assert written.header.get_zooms()[3] == pytest.approx(3.2)
    assert written.header.get_xyzt_units()[1] == "sec"
    facts = json.loads((tmp_path / "fmri.json").read_text())
    assert facts["RepetitionTime"] == 3.2 and facts["ConversionSoftware"] == "medsr convert"
    again = tmp_path / "again.nii.gz"
    assert main(["convert", str(out), str(again)]) == 0
    np.testing.assert_array_equal(np.asanyarray(nib.load(str(again)).dataobj),
                                  np.asanyarray(original.dataobj))
