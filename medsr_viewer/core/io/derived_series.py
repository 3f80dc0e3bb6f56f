"""Write a model's result (SR, denoised) as a derived DICOM series of its source study.

The series belongs to the source study and patient (their attributes are carried over) and
describes its own grid: new Series and SOP Instance UIDs, ``ImageType``
``DERIVED\\SECONDARY``, a ``DerivationDescription`` naming the model, its version and the
SHA-256 of its weights, and per slice the position, orientation and pixel spacing of the new
grid (so the series overlays the source in any viewer). Only these are written:

- Patient and study: PatientName, PatientID, PatientBirthDate, PatientSex, PatientAge,
  StudyInstanceUID, StudyDate, StudyTime, StudyID, AccessionNumber, ReferringPhysicianName,
  StudyDescription, and the FrameOfReferenceUID (the same patient space) — copied from the
  source, nothing else of it (no institution, device or private tags).
- The modality's image attributes a receiver needs (MR: ScanningSequence, SequenceVariant,
  ScanOptions, MRAcquisitionType, RepetitionTime, EchoTime, EchoTrainLength; CT: KVP) from the
  source, empty when the source lacks them.
- Pixels as 16-bit integers with RescaleSlope/Intercept chosen so the result's range fits
  (slope 1 when its values are integers that fit int16), WindowCenter/Width of the result.

MR and CT sources are supported (MR/CT Image Storage); the files go to a new folder, written
as a whole (a temporary folder renamed at the end), never into the source's folder.
"""

from __future__ import annotations

import datetime
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from medsr_viewer.core.volume import Volume

SOP_CLASSES = {"MR": "1.2.840.10008.5.1.4.1.1.4", "CT": "1.2.840.10008.5.1.4.1.1.2"}
#: Patient, study and frame-of-reference attributes carried over from the source.
CARRIED = ("PatientName", "PatientID", "PatientBirthDate", "PatientSex", "PatientAge",
           "StudyInstanceUID", "StudyDate", "StudyTime", "StudyID", "AccessionNumber",
           "ReferringPhysicianName", "StudyDescription", "FrameOfReferenceUID")
#: Image attributes of each modality's IOD carried over (type 1/2 for MR and CT images).
MODALITY_ATTRIBUTES = {
    "MR": ("ScanningSequence", "SequenceVariant", "ScanOptions", "MRAcquisitionType",
           "RepetitionTime", "EchoTime", "EchoTrainLength"),
    "CT": ("KVP",),
}
INT16 = np.iinfo(np.int16)


class DerivedSeriesError(ValueError):
    """The derived series cannot be written (message names the file or folder and why)."""


@dataclass(frozen=True)
class Derivation:
    """What made the result, for DerivationDescription and SeriesDescription."""

    model: str
    model_version: str
    weights_sha256: str
    software_version: str
    what: str = "super-resolution"

    def description(self) -> str:
        """``DerivationDescription`` (at most 1024 characters, as the VR allows)."""
        text = (f"{self.what} by MedSR Viewer {self.software_version}: model {self.model} "
                f"v{self.model_version}, weights sha256 {self.weights_sha256}")
        return text[:1024]


def quantise(values: np.ndarray) -> tuple[np.ndarray, float, float]:
    """``(stored int16, slope, intercept)`` with ``stored * slope + intercept ≈ values``.

    Integer-valued data within int16 keeps slope 1; otherwise the finite range is spread over
    the int16 range (quantisation step ``(max - min) / 65535``).
    """
    values = np.asarray(values, dtype=np.float64)
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return np.zeros(values.shape, np.int16), 1.0, 0.0
    low, high = float(finite.min()), float(finite.max())
    clean = np.where(np.isfinite(values), values, low)
    if np.all(clean == np.round(clean)) and low >= INT16.min and high <= INT16.max:
        return clean.astype(np.int16), 1.0, 0.0
    slope = (high - low) / float(INT16.max - INT16.min) if high > low else 1.0
    intercept = low - INT16.min * slope
    stored = np.clip(np.round((clean - intercept) / slope), INT16.min, INT16.max)
    return stored.astype(np.int16), float(slope), float(intercept)


def _source_dataset(source: Volume) -> Dataset:
    files = [f for f in source.metadata.get("slice_files") or [] if f]
    if not files:
        raise DerivedSeriesError(f"{source.metadata.get('source', source.name)}: not a DICOM "
                                 "series (a derived DICOM series needs its source's files)")
    path = Path(files[0][0])
    try:
        return pydicom.dcmread(path, stop_before_pixels=True)
    except (OSError, pydicom.errors.InvalidDicomError) as exc:
        raise DerivedSeriesError(f"{path}: cannot read the source file ({exc})") from exc


def _format(value: float) -> str:
    """A decimal string (DS) of at most 16 characters."""
    text = f"{value:.10g}"
    return text if len(text) <= 16 else f"{value:.6g}"


def write_derived_series(volume: Volume, source: Volume, out_dir: str | os.PathLike[str],
                         derivation: Derivation, series_description: str = "") -> list[Path]:
    """Write ``volume`` (on its own grid) as a derived series of ``source``'s study.

    Parameters
    ----------
    volume
        The result (``(z, y, x)`` voxels and its affine, LPS).
    source
        The DICOM volume it was made from (its ``metadata["slice_files"]`` name the files).
    out_dir
        A new folder (it must not exist, or be empty) for the files ``IM_0001.dcm`` ….
    derivation
        The model and software that made it.
    series_description
        Defaults to the source's description plus the model's name.

    Returns
    -------
    list of Path
        The files written, in slice order.
    """
    modality = source.modality
    if modality not in SOP_CLASSES:
        raise DerivedSeriesError(f"{source.name}: derived series are written for MR and CT "
                                 f"studies, not {modality}")
    template = _source_dataset(source)
    out = Path(out_dir)
    source_dirs = {Path(f[0]).parent.resolve() for f in source.metadata.get("slice_files", [])
                   if f}
    if out.resolve() in source_dirs:
        raise DerivedSeriesError(f"{out}: is the source series' folder; choose a new one")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise DerivedSeriesError(f"{out}: exists and is not an empty folder")
    stored, slope, intercept = quantise(volume.voxels)
    affine = np.asarray(volume.affine, dtype=np.float64)
    spacing = np.linalg.norm(affine[:3, :3], axis=0)
    row_cos, col_cos = affine[:3, 0] / spacing[0], affine[:3, 1] / spacing[1]
    series_uid = generate_uid()
    now = datetime.datetime.now()
    low, high = float(np.nanmin(volume.voxels)), float(np.nanmax(volume.voxels))
    description = series_description or (
        f"{template.get('SeriesDescription', '')} {derivation.model}".strip())[:64]
    series_number = int(template.get("SeriesNumber", 0) or 0) + 1000
    parent = out.parent if out.parent.exists() else Path.cwd()
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=parent))
    written = []
    try:
        for k in range(stored.shape[0]):
            ds = _slice_dataset(template, modality, derivation, series_uid, series_number,
                                description, now)
            position = affine @ np.array([0.0, 0.0, float(k), 1.0])
            ds.InstanceNumber = k + 1
            ds.ImagePositionPatient = [_format(v) for v in position[:3]]
            ds.ImageOrientationPatient = [_format(v) for v in (*row_cos, *col_cos)]
            ds.PixelSpacing = [_format(spacing[1]), _format(spacing[0])]
            ds.SliceThickness = _format(spacing[2])
            ds.SpacingBetweenSlices = _format(spacing[2])
            ds.Rows, ds.Columns = int(stored.shape[1]), int(stored.shape[2])
            ds.SamplesPerPixel = 1
            ds.PhotometricInterpretation = "MONOCHROME2"
            ds.BitsAllocated = ds.BitsStored = 16
            ds.HighBit = 15
            ds.PixelRepresentation = 1
            ds.RescaleSlope, ds.RescaleIntercept = _format(slope), _format(intercept)
            ds.RescaleType = "US"
            ds.WindowCenter, ds.WindowWidth = _format((low + high) / 2), _format(
                max(high - low, 1e-6))
            ds.PixelData = np.ascontiguousarray(stored[k]).tobytes()
            name = tmp / f"IM_{k + 1:04d}.dcm"
            ds.save_as(name, enforce_file_format=True)
            written.append(out / name.name)
        if out.exists():
            out.rmdir()
        tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return written


def _slice_dataset(template: Dataset, modality: str, derivation: Derivation, series_uid: str,
                   series_number: int, description: str, now: datetime.datetime) -> Dataset:
    ds = Dataset()
    sop_class = SOP_CLASSES[modality]
    sop_uid = generate_uid()
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = pydicom.uid.UID(sop_class)
    meta.MediaStorageSOPInstanceUID = sop_uid
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta = meta
    ds.SOPClassUID = pydicom.uid.UID(sop_class)
    ds.SOPInstanceUID = sop_uid
    for keyword in CARRIED:
        ds.__setattr__(keyword, template.get(keyword, ""))
    for keyword in MODALITY_ATTRIBUTES[modality]:
        ds.__setattr__(keyword, template.get(keyword, ""))
    ds.Modality = modality
    ds.SeriesInstanceUID = series_uid
    ds.SeriesNumber = series_number
    ds.SeriesDescription = description
    ds.SeriesDate = ds.ContentDate = now.strftime("%Y%m%d")
    ds.SeriesTime = ds.ContentTime = now.strftime("%H%M%S")
    ds.ImageType = ["DERIVED", "SECONDARY"]
    ds.DerivationDescription = derivation.description()
    ds.Manufacturer = "MedSR Viewer"
    ds.SoftwareVersions = derivation.software_version
    ds.PositionReferenceIndicator = ""
    ds.PatientPosition = template.get("PatientPosition", "")
    ds.Laterality = ""
    ds.BurnedInAnnotation = "NO"
    return ds

