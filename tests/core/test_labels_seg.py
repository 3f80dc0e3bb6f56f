"""DICOM SEG round trip: a real label map on a small DICOM series written by the test."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
import pytest
from pydicom.dataset import FileDataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, MRImageStorage, generate_uid

from medsr_viewer.core.labels import (
    DicomSegError,
    LabelEntry,
    LabelMap,
    LabelTable,
    load_label_map,
    read_dicom_seg,
    series_grid,
    write_dicom_seg,
)
from medsr_viewer.core.labels.labelmap import RAS_TO_LPS
from medsr_viewer.core.roi import GridSpec
from medsr_viewer.core.volume import Volume

BOX = (slice(63, 69), slice(0, 32), slice(16, 52))  # (z, y, x) crop of the 1 mm FLAIR grid


@pytest.fixture(scope="module")
def flair_crop(data_dir: Path) -> tuple[Volume, LabelMap]:
    """A crop of the real FLAIR image and its lesion labels (oblique real geometry)."""
    folder = data_dir / "labelled/flair_lesion"
    image = nib.load(folder / "FLAIR.nii.gz")
    voxels = np.asarray(image.dataobj, dtype=np.float32).transpose(2, 1, 0)
    affine = RAS_TO_LPS @ image.affine
    start = np.array([s.start for s in BOX], float)
    crop_affine = affine.copy()
    crop_affine[:3, 3] = (affine @ np.r_[start[::-1], 1])[:3]
    vol = Volume(np.ascontiguousarray(voxels[BOX]), crop_affine, modality="MR")
    lesion = load_label_map(folder / "lesion.nii.gz")
    labels = lesion.labels[BOX]
    remapped = np.select([labels == 1, labels == 2, labels == 3], [7, 40, 2], 0).astype(np.uint8)
    assert len(np.unique(remapped)) >= 3
    table = LabelTable([LabelEntry(7, "lesion A", (255, 0, 0)),
                        LabelEntry(40, "lesion B", (0, 200, 30)),
                        LabelEntry(2, "lesion C", (20, 40, 250))])
    return vol, LabelMap(Volume(np.ascontiguousarray(remapped), crop_affine), table, "lesions")


def _write_series(volume: Volume, folder: Path) -> list[Path]:
    """Write ``volume`` as a single-frame MR DICOM series (one file per slice)."""
    folder.mkdir()
    study, series, frame = generate_uid(), generate_uid(), generate_uid()
    sx = volume.affine[:3, 0] / np.linalg.norm(volume.affine[:3, 0])
    sy = volume.affine[:3, 1] / np.linalg.norm(volume.affine[:3, 1])
    spacing_z, spacing_y, spacing_x = volume.spacing
    paths = []
    order = np.random.default_rng(1).permutation(volume.shape[0])  # files out of order
    for k in order:
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = MRImageStorage
        meta.MediaStorageSOPInstanceUID = generate_uid()
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = FileDataset(None, {}, file_meta=meta, preamble=b"\0" * 128)
        ds.SOPClassUID = MRImageStorage
        ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study, series, frame
        ds.Modality = "MR"
        ds.PatientName, ds.PatientID, ds.PatientBirthDate, ds.PatientSex = "Anon^Test", "T1", "", "O"
        ds.StudyDate, ds.StudyTime, ds.AccessionNumber = "20240101", "120000", ""
        ds.ReferringPhysicianName, ds.StudyID, ds.Manufacturer = "", "1", "test"
        ds.SeriesNumber, ds.InstanceNumber = 1, int(k) + 1
        ds.ImagePositionPatient = [float(c) for c in volume.index_to_world((k, 0, 0))]
        ds.ImageOrientationPatient = [float(c) for c in (*sx, *sy)]
        ds.PixelSpacing = [spacing_y, spacing_x]
        ds.SliceThickness = spacing_z
        ds.Rows, ds.Columns = volume.shape[1:]
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
        ds.PixelData = np.clip(volume.voxels[k], 0, 65535).astype(np.uint16).tobytes()
        path = folder / f"img{k:03d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths


def test_seg_round_trip_on_real_labels(tmp_path: Path,
                                       flair_crop: tuple[Volume, LabelMap]) -> None:
    image, labels = flair_crop
    sources = [pydicom.dcmread(p) for p in _write_series(image, tmp_path / "series")]
    grid, _ = series_grid(sources)
    assert np.allclose(grid.affine, image.affine, atol=1e-4)
    out = write_dicom_seg(labels, sources, tmp_path / "out" / "seg.dcm")
    seg = read_dicom_seg(out)
    assert seg.volume.metadata["referenced_series_uid"] == sources[0].SeriesInstanceUID
    assert seg.volume.metadata["frame_of_reference_uid"] == sources[0].FrameOfReferenceUID
    on_image = seg.on_grid(grid)
    assert np.array_equal(on_image.labels, labels.labels)
    assert seg.table.name(40) == "lesion B"
    for value in (7, 40, 2):
        got = np.array(seg.table.entry(value).color)
        assert np.abs(got - np.array(labels.table.entry(value).color)).max() <= 2
    raw = pydicom.dcmread(out)
    assert raw.Modality == "SEG" and len(raw.SegmentSequence) == 3
    assert raw.SegmentSequence[0].SegmentAlgorithmType == "MANUAL"
    assert list((tmp_path / "out").iterdir()) == [out]


def test_seg_from_sr_grid_and_model_output(tmp_path: Path,
                                           flair_crop: tuple[Volume, LabelMap]) -> None:
    image, labels = flair_crop
    sources = [pydicom.dcmread(p) for p in _write_series(image, tmp_path / "series")]
    fine_affine = image.affine.copy()
    fine_affine[:3, :2] /= 2
    fine_affine[:3, 3] -= (image.affine[:3, 0] + image.affine[:3, 1]) / 4
    sr_grid = GridSpec((image.shape[0], image.shape[1] * 2, image.shape[2] * 2), fine_affine)
    on_sr = labels.on_grid(sr_grid)  # e.g. a segmentation run on the SR image
    out = write_dicom_seg(on_sr, sources, tmp_path / "seg_sr.dcm",
                          algorithm_name="medsr-seg", algorithm_version="1.0")
    seg = read_dicom_seg(out)
    assert np.array_equal(seg.on_grid(image).labels, labels.labels)
    raw = pydicom.dcmread(out)
    assert raw.SegmentSequence[0].SegmentAlgorithmType == "AUTOMATIC"


def test_seg_errors_are_clear(tmp_path: Path, flair_crop: tuple[Volume, LabelMap]) -> None:
    image, labels = flair_crop
    paths = _write_series(image, tmp_path / "series")
    with pytest.raises(DicomSegError, match="img.*not a DICOM Segmentation"):
        read_dicom_seg(paths[0])
    junk = tmp_path / "junk.dcm"
    junk.write_bytes(b"junk")
    with pytest.raises(DicomSegError, match="junk.dcm"):
        read_dicom_seg(junk)
    empty = labels.with_labels(np.zeros_like(labels.labels))
    sources = [pydicom.dcmread(p) for p in paths]
    with pytest.raises(DicomSegError, match="empty"):
        write_dicom_seg(empty, sources, tmp_path / "empty.dcm")
    assert not (tmp_path / "empty.dcm").exists()


def test_reads_labelmap_type_seg_from_highdicom(tmp_path: Path,
                                                flair_crop: tuple[Volume, LabelMap]) -> None:
    """A LABELMAP-type SEG (DICOM 2024c) written by highdicom itself reads back equal."""
    import highdicom as hd

    image, labels = flair_crop
    sources = [pydicom.dcmread(p) for p in _write_series(image, tmp_path / "series")]
    grid, ordered = series_grid(sources)
    values = sorted(int(v) for v in np.unique(labels.labels) if v)
    numbered = np.zeros(labels.labels.shape, np.uint8)
    for number, value in enumerate(values, 1):
        numbered[labels.labels == value] = number
    tissue = hd.sr.CodedConcept("85756007", "SCT", "Tissue")
    descriptions = [hd.seg.SegmentDescription(n, f"seg {n}", tissue, tissue, "MANUAL")
                    for n in range(1, len(values) + 1)]
    seg = hd.seg.Segmentation(ordered, numbered, "LABELMAP", descriptions, hd.UID(), 5,
                              hd.UID(), 1, "other tool", "model", "1", "0")
    seg.save_as(tmp_path / "labelmap.dcm")
    assert pydicom.dcmread(tmp_path / "labelmap.dcm").SegmentationType == "LABELMAP"
    back = read_dicom_seg(tmp_path / "labelmap.dcm")
    assert np.array_equal(back.on_grid(grid).labels, numbered)
    assert back.table.name(2) == "seg 2"


def test_writing_a_seg_never_warns_with_the_patient_name(tmp_path, data_dir):
    """highdicom's person-name warning quotes PatientName; it must not reach logs."""
    import warnings

    from medsr_viewer.core.io import load_volume
    from medsr_viewer.core.labels import LabelMap, write_dicom_seg
    from medsr_viewer.core.labels.table import LabelEntry, LabelTable

    folder = data_dir / "dicom" / "vs_seg_001_t1"
    volume = load_volume(folder)
    labels = np.zeros(volume.shape, np.uint8)
    labels[volume.shape[0] // 2, 10:20, 10:20] = 1
    lm = LabelMap(volume.with_voxels(labels), LabelTable([LabelEntry(1, "box", (255, 0, 0))]))
    sources = [pydicom.dcmread(f) for f in sorted(folder.glob("*.dcm"))]
    name = str(sources[0].PatientName)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        write_dicom_seg(lm, sources, tmp_path / "seg.dcm")
    assert not [w for w in caught if name and name in str(w.message)]
