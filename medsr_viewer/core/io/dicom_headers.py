"""Per-file DICOM header summaries: the facts needed to group, sort and decode image planes.

Discovery reads each file once with pixel data deferred (fast, and it tells where the pixel
bytes start so uncompressed data can later be read straight into the volume). Each image plane
(a single-frame file, or one frame of a multi-frame/enhanced file) gets a :class:`PlaneHeader`
with its own position, orientation, pixel spacing and rescale, taken from the per-frame and
shared functional groups where present. No patient-identifying attribute is kept.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian

#: Pixel data larger than this is deferred (not read) while scanning headers.
DEFER_SIZE = 512
#: Uncompressed little-endian syntaxes whose pixel bytes can be read without pydicom.
RAW_SYNTAXES = (str(ExplicitVRLittleEndian), str(ImplicitVRLittleEndian))
#: Suffixes of files that may be DICOM without the "DICM" preamble (parsed with force=True).
RAW_DICOM_SUFFIXES = ("", ".dcm", ".dicom", ".dic", ".ima", ".img", ".raw")
#: Suffixes of the other formats the viewer opens (never parsed as DICOM).
OTHER_FORMAT_SUFFIXES = (".nii", ".nii.gz", ".mgz", ".mgh", ".png", ".tif", ".tiff", ".jpg", ".jpeg",
                         ".bmp")
#: (0x7FE0, 0x0010) Pixel Data, and the float/double float variants.
PIXEL_DATA_TAGS = (0x7FE00010, 0x7FE00008, 0x7FE00009)


class SkippedFile(Exception):
    """A file is not a usable DICOM image; ``str(exc)`` is the reason shown to the user."""


@dataclass(frozen=True)
class PlaneHeader:
    """Geometry and value mapping of one image plane (one frame of one file).

    ``position`` is ImagePositionPatient (LPS mm of the centre of the first pixel),
    ``orientation`` the six row/column direction cosines, ``pixel_spacing`` DICOM's
    ``(row spacing, column spacing)`` in mm; each is ``None`` when the file lacks it.
    """

    frame: int
    position: tuple[float, float, float] | None
    orientation: tuple[float, float, float, float, float, float] | None
    pixel_spacing: tuple[float, float] | None
    slice_thickness: float | None
    slope: float
    intercept: float
    window: tuple[float, float] | None
    instance_number: int | None


@dataclass(frozen=True)
class DicomFileHeader:
    """What discovery learned about one DICOM image file (no patient identifiers).

    ``pixel_offset``/``pixel_length`` locate the native pixel bytes in the file (``None``
    when deferred reading did not give them); ``planes`` lists every frame.
    """

    path: Path
    sop_uid: str
    series_uid: str
    series_description: str
    series_number: int | None
    modality: str
    frame_of_reference_uid: str
    transfer_syntax: str
    rows: int
    cols: int
    samples_per_pixel: int
    photometric: str
    bits_allocated: int
    bits_stored: int
    pixel_representation: int
    rescale_type: str
    spacing_between_slices: float | None
    pixel_offset: int | None
    pixel_length: int | None
    file_size: int
    planes: tuple[PlaneHeader, ...]

    @property
    def n_frames(self) -> int:
        """Number of image planes in the file."""
        return len(self.planes)

    @property
    def frame_bytes(self) -> int:
        """Bytes of one uncompressed frame."""
        return self.rows * self.cols * self.samples_per_pixel * max(1, self.bits_allocated // 8)

    @property
    def truncated_by(self) -> int:
        """How many pixel-data bytes are missing from the end of the file (0 when complete)."""
        if self.pixel_offset is None or self.pixel_length is None:
            return 0
        if self.pixel_length == 0xFFFFFFFF:  # encapsulated, undefined length
            return 0
        return max(0, self.pixel_offset + self.pixel_length - self.file_size)

    @property
    def raw_readable(self) -> bool:
        """True when the pixel bytes are native little-endian grayscale numpy can read as is."""
        return (
            self.transfer_syntax in RAW_SYNTAXES
            and self.samples_per_pixel == 1
            and self.bits_allocated in (8, 16, 32)
            and (self.pixel_representation == 0 or self.bits_stored == self.bits_allocated)
            and self.pixel_offset is not None
            and self.pixel_length is not None
            and self.pixel_length >= self.frame_bytes * self.n_frames
            and self.truncated_by == 0
        )

    @property
    def geometry_key(self) -> tuple[Any, ...]:
        """Planes with the same key can be stacked: same size, colour layout and orientation."""
        orientation = self.planes[0].orientation if self.planes else None
        rounded = None if orientation is None else tuple(round(v, 3) for v in orientation)
        return (self.rows, self.cols, rounded)


def _float(value: Any) -> float | None:
    """A DICOM numeric value (first of a multi-value) as float, ``None`` when absent/invalid."""
    if value is None or value == "":
        return None
    if isinstance(value, (list, tuple)) or type(value).__name__ == "MultiValue":
        if len(value) == 0:
            return None
        value = value[0]
    try:
        result = float(value)
    except (TypeError, ValueError):
        return None
    return result if np.isfinite(result) else None


def _floats(value: Any, count: int) -> tuple[float, ...] | None:
    """A multi-valued numeric attribute of exactly ``count`` finite values, else ``None``."""
    if value is None:
        return None
    try:
        values = tuple(float(v) for v in value)
    except (TypeError, ValueError):
        return None
    if len(values) != count or not all(np.isfinite(values)):
        return None
    return values


def _spacing(value: Any) -> tuple[float, float] | None:
    """A PixelSpacing-like pair, ``None`` unless both values are positive."""
    pair = _floats(value, 2)
    if pair is None or min(pair) <= 0:
        return None
    return (pair[0], pair[1])


def _int(value: Any) -> int | None:
    """A DICOM integer attribute as int, ``None`` when absent/invalid."""
    number = _float(value)
    return None if number is None else int(number)


def _text(ds: Dataset, keyword: str) -> str:
    """A string attribute, '' when absent."""
    value = ds.get(keyword)
    return "" if value is None else str(value).strip()


def _functional_item(ds: Dataset, frame: int, sequence: str) -> Dataset | None:
    """First item of functional-group macro ``sequence`` for ``frame`` (per-frame, else shared)."""
    for groups, index in (("PerFrameFunctionalGroupsSequence", frame),
                          ("SharedFunctionalGroupsSequence", 0)):
        items = ds.get(groups)
        if items is None or len(items) <= index:
            continue
        macro = items[index].get(sequence)
        if macro is not None and len(macro) > 0:
            item: Dataset = macro[0]
            return item
    return None


def _plane_headers(ds: Dataset, n_frames: int) -> tuple[PlaneHeader, ...]:
    """One :class:`PlaneHeader` per frame from functional groups, falling back to top level."""
    top_position = _floats(ds.get("ImagePositionPatient"), 3)
    top_orientation = _floats(ds.get("ImageOrientationPatient"), 6)
    top_spacing = _spacing(ds.get("PixelSpacing")) or _spacing(ds.get("ImagerPixelSpacing"))
    top_thickness = _float(ds.get("SliceThickness"))
    top_slope = _float(ds.get("RescaleSlope"))
    top_intercept = _float(ds.get("RescaleIntercept"))
    if top_slope is None and _text(ds, "Modality") == "RTDOSE":
        top_slope = _float(ds.get("DoseGridScaling"))
    top_window = _window(ds)
    instance = _int(ds.get("InstanceNumber"))
    # RT dose and similar multi-frame objects give frame positions as offsets along the normal.
    offsets = ds.get("GridFrameOffsetVector")
    grid_offsets = None
    if offsets is not None and top_position is not None and top_orientation is not None:
        grid_offsets = _floats(offsets, n_frames)
    normal = None
    if top_orientation is not None:
        normal = np.cross(top_orientation[:3], top_orientation[3:])

    planes = []
    for frame in range(n_frames):
        position = top_position
        orientation = top_orientation
        spacing = top_spacing
        thickness = top_thickness
        slope, intercept, window = top_slope, top_intercept, top_window
        if grid_offsets is not None and top_position is not None and normal is not None:
            moved = np.asarray(top_position) + normal * grid_offsets[frame]
            position = (float(moved[0]), float(moved[1]), float(moved[2]))
        item = _functional_item(ds, frame, "PlanePositionSequence")
        if item is not None:
            position = _floats(item.get("ImagePositionPatient"), 3) or position
        item = _functional_item(ds, frame, "PlaneOrientationSequence")
        if item is not None:
            orientation = _floats(item.get("ImageOrientationPatient"), 6) or orientation
        item = _functional_item(ds, frame, "PixelMeasuresSequence")
        if item is not None:
            spacing = _spacing(item.get("PixelSpacing")) or spacing
            thickness = _float(item.get("SliceThickness")) or thickness
        item = _functional_item(ds, frame, "PixelValueTransformationSequence")
        if item is not None:
            slope = _float(item.get("RescaleSlope")) if "RescaleSlope" in item else slope
            intercept = (
                _float(item.get("RescaleIntercept")) if "RescaleIntercept" in item else intercept
            )
        item = _functional_item(ds, frame, "FrameVOILUTSequence")
        if item is not None:
            window = _window(item) or window
        planes.append(
            PlaneHeader(
                frame=frame,
                position=position,  # type: ignore[arg-type]
                orientation=orientation,  # type: ignore[arg-type]
                pixel_spacing=spacing,  # type: ignore[arg-type]
                slice_thickness=thickness,
                slope=1.0 if slope is None or slope == 0 else slope,
                intercept=0.0 if intercept is None else intercept,
                window=window,
                instance_number=instance,
            )
        )
    return tuple(planes)


def _window(ds: Dataset) -> tuple[float, float] | None:
    """First WindowCenter/WindowWidth pair of a dataset or functional-group item."""
    center = _float(ds.get("WindowCenter"))
    width = _float(ds.get("WindowWidth"))
    if center is None or width is None or width <= 0:
        return None
    return (center, width)


def _read_dataset(path: Path) -> Dataset:
    """Parse ``path`` with pixel data deferred; raises :class:`SkippedFile` when not DICOM."""
    try:
        return pydicom.dcmread(path, defer_size=DEFER_SIZE)
    except InvalidDicomError:
        pass
    except PermissionError as exc:
        raise SkippedFile("permission denied") from exc
    except Exception as exc:  # pydicom raises many types for corrupt input
        raise SkippedFile(f"unreadable or corrupt DICOM ({type(exc).__name__}: {exc})") from exc
    # No "DICM" preamble: files named like other formats are not DICOM; others may be
    # raw datasets (no preamble), accepted only if they look like images.
    suffix = path.suffix.lower()
    if path.name.lower().endswith(OTHER_FORMAT_SUFFIXES):
        raise SkippedFile("not a DICOM file (open it on its own)")
    if suffix not in RAW_DICOM_SUFFIXES and not suffix[1:].isdigit():
        raise SkippedFile("not a DICOM file")
    try:
        ds = pydicom.dcmread(path, defer_size=DEFER_SIZE, force=True)
    except Exception as exc:
        raise SkippedFile("not a DICOM file") from exc
    if "Rows" not in ds or "SOPClassUID" not in ds:
        raise SkippedFile("not a DICOM file")
    return ds


def read_dicom_header(path: str | os.PathLike[str]) -> DicomFileHeader:
    """Summarise one DICOM image file for discovery.

    Raises
    ------
    SkippedFile
        Not DICOM, not an image (no pixel data), or unreadable; the message says which.
    """
    path = Path(path)
    ds = _read_dataset(path)
    try:
        return _summarise(path, ds)
    except SkippedFile:
        raise
    except Exception as exc:  # malformed values inside an otherwise parseable file
        raise SkippedFile(f"invalid DICOM header ({type(exc).__name__}: {exc})") from exc


def _summarise(path: Path, ds: Dataset) -> DicomFileHeader:
    """Build the header summary of a parsed dataset."""
    pixel_element, pixel_tag = None, 0
    for tag in PIXEL_DATA_TAGS:
        if tag in ds:
            pixel_element, pixel_tag = ds.get_item(tag, keep_deferred=True), tag
            break
    rows, cols = _int(ds.get("Rows")), _int(ds.get("Columns"))
    if len(ds) == 0:
        raise SkippedFile("no readable DICOM elements (corrupt or truncated file)")
    if not rows or not cols:
        kind = _text(ds, "Modality") or "no Rows/Columns"
        raise SkippedFile(f"not an image ({kind})")
    if pixel_element is None:
        raise SkippedFile("no pixel data (truncated file?)")
    meta = getattr(ds, "file_meta", None)
    syntax = str(meta.get("TransferSyntaxUID", "")) if meta is not None else ""
    if not syntax:
        syntax = str(ImplicitVRLittleEndian)
    n_frames = max(1, _int(ds.get("NumberOfFrames")) or 1)
    # Only integer Pixel Data may be read directly; float variants go through pydicom.
    native = pixel_tag == PIXEL_DATA_TAGS[0]
    offset = getattr(pixel_element, "value_tell", None) if native else None
    length = getattr(pixel_element, "length", None) if native else None
    return DicomFileHeader(
        path=path,
        sop_uid=_text(ds, "SOPInstanceUID"),
        series_uid=_text(ds, "SeriesInstanceUID"),
        series_description=_text(ds, "SeriesDescription"),
        series_number=_int(ds.get("SeriesNumber")),
        modality=_text(ds, "Modality") or "OT",
        frame_of_reference_uid=_text(ds, "FrameOfReferenceUID"),
        transfer_syntax=syntax,
        rows=rows,
        cols=cols,
        samples_per_pixel=_int(ds.get("SamplesPerPixel")) or 1,
        photometric=_text(ds, "PhotometricInterpretation") or "MONOCHROME2",
        bits_allocated=_int(ds.get("BitsAllocated")) or 16,
        bits_stored=_int(ds.get("BitsStored")) or _int(ds.get("BitsAllocated")) or 16,
        pixel_representation=_int(ds.get("PixelRepresentation")) or 0,
        rescale_type=_text(ds, "RescaleType"),
        spacing_between_slices=_float(ds.get("SpacingBetweenSlices")),
        pixel_offset=int(offset) if isinstance(offset, int) else None,
        pixel_length=int(length) if isinstance(length, int) else None,
        file_size=path.stat().st_size,
        planes=_plane_headers(ds, n_frames),
    )
