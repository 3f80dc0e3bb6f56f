"""A small DICOM series writer used by the loader tests, and a check that it writes what it says.

Real volumes (NIfTI from the shared data folder) are written slice by slice as MR DICOM files
with pydicom, so the loader is tested against known pixels and known geometry.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, MRImageStorage, generate_uid

from medsr_viewer.core.volume import Volume


def write_dicom_series(
    volume: Volume,
    folder: Path,
    *,
    series_uid: str | None = None,
    description: str = "test series",
    slope: float = 1.0,
    intercept: float = 0.0,
    names: Sequence[str] | None = None,
    series_number: int = 1,
) -> list[Path]:
    """Write ``volume`` as one single-frame MR file per z slice; returns paths in z order.

    Stored values are ``(voxels - intercept) / slope`` rounded to uint16, so choose ``slope`` /
    ``intercept`` that keep the volume's values exact. ``names`` gives the file names.
    """
    folder.mkdir(parents=True, exist_ok=True)
    series_uid = series_uid or generate_uid()
    study_uid, frame_uid = generate_uid(), generate_uid()
    direction = volume.direction
    sz, sy, sx = volume.spacing
    stored = np.rint((volume.voxels - intercept) / slope)
    assert stored.min() >= 0 and stored.max() < 65536
    stored = stored.astype(np.uint16)
    paths = []
    for z in range(volume.shape[0]):
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = MRImageStorage
        meta.MediaStorageSOPInstanceUID = generate_uid()
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = Dataset()
        ds.file_meta = meta
        ds.SOPClassUID = MRImageStorage
        ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
        ds.StudyInstanceUID = study_uid
        ds.SeriesInstanceUID = series_uid
        ds.FrameOfReferenceUID = frame_uid
        ds.Modality = "MR"
        ds.SeriesDescription = description
        ds.SeriesNumber = series_number
        ds.PatientName = "Test^Writer"
        ds.PatientID = "TEST-0001"
        # InstanceNumber deliberately scrambled: the loader must sort by position.
        ds.InstanceNumber = (z * 7919) % volume.shape[0] + 1
        ds.ImagePositionPatient = [f"{v:.6f}" for v in volume.index_to_world((z, 0, 0))]
        ds.ImageOrientationPatient = [f"{v:.8f}" for v in direction[:, 0]] + [
            f"{v:.8f}" for v in direction[:, 1]
        ]
        ds.PixelSpacing = [f"{sy:.6f}", f"{sx:.6f}"]
        ds.SliceThickness = f"{sz * 0.8:.3f}"  # thinner than the spacing, as often on scanners
        ds.RescaleSlope = f"{slope:g}"
        ds.RescaleIntercept = f"{intercept:g}"
        ds.WindowCenter = "100"
        ds.WindowWidth = "200"
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.Rows, ds.Columns = volume.shape[1], volume.shape[2]
        ds.BitsAllocated = 16
        ds.BitsStored = 16
        ds.HighBit = 15
        ds.PixelRepresentation = 0
        ds.PixelData = stored[z].tobytes()
        name = names[z] if names is not None else f"slice_{z:04d}.dcm"
        path = folder / name
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths


def test_writer_round_trip(tmp_path: Path) -> None:
    """The writer stores the pixels, rescale and position it is given."""
    voxels = np.arange(3 * 4 * 5, dtype=np.float32).reshape(3, 4, 5)
    volume = Volume.from_spacing(voxels, (2.0, 0.5, 0.25), origin_xyz=(10.0, 20.0, 30.0))
    paths = write_dicom_series(volume, tmp_path, slope=0.5, intercept=-1.0)
    assert len(paths) == 3
    ds = pydicom.dcmread(paths[2])
    np.testing.assert_array_equal(ds.pixel_array * 0.5 - 1.0, voxels[2])
    np.testing.assert_allclose([float(v) for v in ds.ImagePositionPatient], [10.0, 20.0, 34.0])
    assert [float(v) for v in ds.PixelSpacing] == [0.5, 0.25]
