"""Per-file DICOM header summaries: the facts needed to group, sort and decode image planes.

Discovery reads each file once with pixel data deferred (fast, and it tells where the pixel
bytes start so uncompressed data can later be read straight into the volume). Each image plane
(a single-frame file, or one frame of a multi-frame/enhanced file) gets a :class:`PlaneHeader`
with its own position, orientation, pixel spacing and rescale, taken from the per-frame and
shared functional groups where present. No patient-identifying attribute is kept.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.uid import (
    DeflatedExplicitVRLittleEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
)

from medsr_viewer.core.io.dicom_labels import (
    AcquisitionLabel,
    functional_item,
    read_label_safely,
    vendor_diffusion,
)
from medsr_viewer.core.io.dicom_mosaic import MosaicLayout, read_mosaic, tile_positions
from medsr_viewer.core.io.errors import describe_exception, is_fatal
from medsr_viewer.core.io.series_facts import read_series_facts

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
#: Deflated syntax: pixel offsets found while parsing refer to the inflated stream, not the file.
DEFLATED_SYNTAX = str(DeflatedExplicitVRLittleEndian)
#: Photometric interpretations whose stored values are intensities (read without pydicom).
GRAYSCALE_PHOTOMETRICS = ("MONOCHROME1", "MONOCHROME2")
#: Largest plausible pixel or slice spacing (mm); larger values are treated as absent.
MAX_PLAUSIBLE_SPACING_MM = 1000.0
#: Smallest plausible pixel or slice spacing (mm, 10 nm); smaller values are treated as absent.
MIN_PLAUSIBLE_SPACING_MM = 1e-5
#: Largest plausible |coordinate| of ImagePositionPatient (mm); larger is treated as absent.
MAX_PLAUSIBLE_POSITION_MM = 1.0e6
#: Largest |RescaleSlope| / |RescaleIntercept| kept: float32 holds nothing larger.
MAX_RESCALE = float(np.finfo(np.float32).max)
#: Smallest bytes per frame of encapsulated (compressed) pixel data: one item header.
MIN_ENCAPSULATED_FRAME_BYTES = 8
#: Accepted BitsAllocated values.
VALID_BITS_ALLOCATED = (1, 8, 16, 32, 64)


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
    label: AcquisitionLabel = field(default_factory=AcquisitionLabel)
    #: Every stored window ``(center, width, explanation)`` (``window`` is the first).
    windows: tuple[tuple[float, float, str], ...] = ()


@dataclass(frozen=True)
class DicomFileHeader:
    """What discovery learned about one DICOM image file (no patient identifiers).

    ``pixel_offset``/``pixel_length`` locate the native pixel bytes in the file (``None``
    when deferred reading did not give them); ``planes`` lists every frame. ``notes`` are
    problems found in the header that the loader reports when it uses the file (a corrected
    NumberOfFrames, an ignored RescaleSlope ...); ``modality_lut`` is true when a Modality LUT
    Sequence (rather than RescaleSlope/Intercept) maps stored values.
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
    notes: tuple[str, ...] = ()
    modality_lut: bool = False
    mosaic: MosaicLayout | None = None
    facts: dict[str, Any] = field(default_factory=dict, compare=False)
    #: SliceThickness (mm), top level or in the shared Pixel Measures of enhanced files.
    slice_thickness: float | None = None

    @property
    def n_frames(self) -> int:
        """Number of image planes in the file (the tiles of a mosaic count one each)."""
        return len(self.planes)

    @property
    def stored_shape(self) -> tuple[int, int, int]:
        """``(frames, rows, cols)`` of the pixel data as stored (a mosaic is one big frame)."""
        if self.mosaic is not None:
            return (1, self.rows * self.mosaic.grid, self.cols * self.mosaic.grid)
        return (self.n_frames, self.rows, self.cols)

    @property
    def frame_bytes(self) -> int:
        """Bytes of one uncompressed stored frame."""
        _, rows, cols = self.stored_shape
        return rows * cols * self.samples_per_pixel * max(1, self.bits_allocated // 8)

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
            and self.photometric.upper() in GRAYSCALE_PHOTOMETRICS
            and not self.modality_lut
            and self.bits_allocated in (8, 16, 32)
            and (self.pixel_representation == 0 or self.bits_stored == self.bits_allocated)
            and self.pixel_offset is not None
            and self.pixel_length is not None
            and self.pixel_length >= self.frame_bytes * self.stored_shape[0]
            and self.truncated_by == 0
        )

    @property
    def geometry_key(self) -> tuple[Any, ...]:
        """Planes with the same key can be stacked: same size, pixel layout and orientation.

        ``(rows, cols, orientation rounded to 1e-3, bits allocated, samples per pixel)``.
        """
        orientation = self.planes[0].orientation if self.planes else None
        rounded = None if orientation is None else tuple(round(v, 3) for v in orientation)
        return (self.rows, self.cols, rounded, self.bits_allocated, self.samples_per_pixel)


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
    """A PixelSpacing-like pair, ``None`` unless both values are positive and plausible."""
    pair = _floats(value, 2)
    if pair is None or min(pair) < MIN_PLAUSIBLE_SPACING_MM or max(pair) > MAX_PLAUSIBLE_SPACING_MM:
        return None
    return (pair[0], pair[1])


def _position(value: Any) -> tuple[float, float, float] | None:
    """An ImagePositionPatient triplet, ``None`` when absent, malformed or implausibly far."""
    triplet = _floats(value, 3)
    if triplet is None or max(abs(v) for v in triplet) > MAX_PLAUSIBLE_POSITION_MM:
        return None
    return (triplet[0], triplet[1], triplet[2])


def _orientation(value: Any) -> tuple[float, float, float, float, float, float] | None:
    """ImageOrientationPatient, ``None`` unless it is two (nearly) orthogonal unit vectors."""
    six = _floats(value, 6)
    if six is None:
        return None
    row, col = np.asarray(six[:3]), np.asarray(six[3:])
    row_norm, col_norm = float(np.linalg.norm(row)), float(np.linalg.norm(col))
    if not (0.9 < row_norm < 1.1 and 0.9 < col_norm < 1.1):
        return None
    if abs(float(np.dot(row, col))) > 0.05 * row_norm * col_norm:
        return None
    return (six[0], six[1], six[2], six[3], six[4], six[5])


def _int(value: Any) -> int | None:
    """A DICOM integer attribute as int, ``None`` when absent/invalid."""
    number = _float(value)
    return None if number is None else int(number)


def _text(ds: Dataset, keyword: str) -> str:
    """A string attribute, '' when absent."""
    value = ds.get(keyword)
    return "" if value is None else str(value).strip()


def _note_invalid(ds: Dataset, keyword: str, parsed: Any, notes: list[str]) -> None:
    """Note a top-level attribute that is present and non-empty but could not be used."""
    if parsed is not None or keyword not in ds:
        return
    try:
        value = ds.get(keyword)
    except BaseException as exc:
        if is_fatal(exc):
            raise
        value = "(unreadable)"
    if value is None or value == "" or (hasattr(value, "__len__") and len(value) == 0):
        return
    text = " ".join(repr(value).split())
    if len(text) > 60:
        text = text[:57] + "..."
    notes.append(f"{keyword} {text} is invalid or implausible; ignored")


def _rescale(value: Any, keyword: str, notes: list[str]) -> float | None:
    """RescaleSlope/Intercept as float; values float32 cannot hold are noted and ignored."""
    number = _float(value)
    if number is not None and abs(number) > MAX_RESCALE:
        notes.append(f"{keyword} {number:g} is out of range; ignored")
        return None
    return number


def _plane_headers(
    ds: Dataset, n_frames: int, notes: list[str], modality_lut: bool = False,
    enhanced: bool = False,
) -> tuple[PlaneHeader, ...]:
    """One :class:`PlaneHeader` per frame from functional groups, falling back to top level.

    Problems found (ignored rescale values ...) are appended to ``notes``. With a Modality
    LUT the stored values are mapped by the LUT when decoding, so slope 1 and intercept 0
    are recorded.
    """
    top_position = _position(ds.get("ImagePositionPatient"))
    top_orientation = _orientation(ds.get("ImageOrientationPatient"))
    top_spacing = _spacing(ds.get("PixelSpacing")) or _spacing(ds.get("ImagerPixelSpacing"))
    top_thickness = _float(ds.get("SliceThickness"))
    top_slope = _rescale(ds.get("RescaleSlope"), "RescaleSlope", notes)
    top_intercept = _rescale(ds.get("RescaleIntercept"), "RescaleIntercept", notes)
    _note_invalid(ds, "ImagePositionPatient", top_position, notes)
    _note_invalid(ds, "ImageOrientationPatient", top_orientation, notes)
    _note_invalid(ds, "PixelSpacing", top_spacing, notes)
    if top_thickness is not None and not (
        MIN_PLAUSIBLE_SPACING_MM <= top_thickness <= MAX_PLAUSIBLE_SPACING_MM
    ):
        top_thickness = None
    _note_invalid(ds, "SliceThickness", top_thickness, notes)
    _note_invalid(ds, "SpacingBetweenSlices", _float(ds.get("SpacingBetweenSlices")), notes)
    if top_slope is None and _text(ds, "Modality") == "RTDOSE":
        top_slope = _float(ds.get("DoseGridScaling"))
    top_window = _window(ds)
    top_windows = stored_windows(ds)
    instance = _int(ds.get("InstanceNumber"))
    # RT dose and similar multi-frame objects give frame positions as offsets along the normal.
    offsets = ds.get("GridFrameOffsetVector")
    grid_offsets = None
    if offsets is not None and top_position is not None and top_orientation is not None:
        grid_offsets = _floats(offsets, n_frames)
    normal = None
    if top_orientation is not None:
        normal = np.cross(top_orientation[:3], top_orientation[3:])

    vendor = vendor_diffusion(ds)
    file_label = None if enhanced else read_label_safely(ds, None, vendor)
    planes = []
    for frame in range(n_frames):
        label = file_label or read_label_safely(ds, frame, vendor)
        position = top_position
        orientation = top_orientation
        spacing = top_spacing
        thickness = top_thickness
        slope, intercept, window, windows = top_slope, top_intercept, top_window, top_windows
        if grid_offsets is not None and top_position is not None and normal is not None:
            moved = np.asarray(top_position) + normal * grid_offsets[frame]
            position = (float(moved[0]), float(moved[1]), float(moved[2]))
        item = functional_item(ds, frame, "PlanePositionSequence")
        if item is not None:
            position = _position(item.get("ImagePositionPatient")) or position
        item = functional_item(ds, frame, "PlaneOrientationSequence")
        if item is not None:
            orientation = _orientation(item.get("ImageOrientationPatient")) or orientation
        item = functional_item(ds, frame, "PixelMeasuresSequence")
        if item is not None:
            spacing = _spacing(item.get("PixelSpacing")) or spacing
            thickness = _float(item.get("SliceThickness")) or thickness
        item = functional_item(ds, frame, "PixelValueTransformationSequence")
        if item is not None:
            if "RescaleSlope" in item:
                slope = _rescale(item.get("RescaleSlope"), "RescaleSlope", notes)
            if "RescaleIntercept" in item:
                intercept = _rescale(item.get("RescaleIntercept"), "RescaleIntercept", notes)
        if modality_lut:
            slope, intercept = 1.0, 0.0
        item = functional_item(ds, frame, "FrameVOILUTSequence")
        if item is not None:
            window = _window(item) or window
            windows = stored_windows(item) or windows
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
                label=label,
                windows=windows,
            )
        )
    return tuple(planes)


def _mosaic_planes(
    ds: Dataset, layout: MosaicLayout, notes: list[str], modality_lut: bool
) -> tuple[PlaneHeader, ...]:
    """One plane per mosaic tile, each at its own position along the slice normal."""
    (template,) = _plane_headers(ds, 1, notes, modality_lut)
    spacing = _float(ds.get("SpacingBetweenSlices")) or template.slice_thickness
    if spacing is not None and not MIN_PLAUSIBLE_SPACING_MM <= spacing <= MAX_PLAUSIBLE_SPACING_MM:
        spacing = None
    positions = tile_positions(layout, spacing)
    if template.position is None or template.orientation is None:
        positions = [None] * layout.n_images
    return tuple(
        dataclasses.replace(template, frame=k, position=positions[k])
        for k in range(layout.n_images)
    )


def _window(ds: Dataset) -> tuple[float, float] | None:
    """First WindowCenter/WindowWidth pair of a dataset or functional-group item."""
    center = _float(ds.get("WindowCenter"))
    width = _float(ds.get("WindowWidth"))
    if center is None or width is None or width <= 0:
        return None
    return (center, width)


#: At most this many stored windows of one image are kept.
MAX_STORED_WINDOWS = 8


def stored_windows(ds: Dataset) -> tuple[tuple[float, float, str], ...]:
    """Every WindowCenter/WindowWidth pair of a dataset or functional-group item, with its
    WindowCenterWidthExplanation ("" when none); pairs with a non-finite centre or a width
    that is not positive are left out."""
    def values(keyword: str) -> list[Any]:
        value = ds.get(keyword)
        if value is None or value == "":
            return []
        if isinstance(value, (list, tuple)) or type(value).__name__ == "MultiValue":
            return list(value)[:MAX_STORED_WINDOWS]
        return [value]

    centers, widths = values("WindowCenter"), values("WindowWidth")
    explanations = [str(e).strip() for e in values("WindowCenterWidthExplanation")]
    found = []
    for k, (center, width) in enumerate(zip(centers, widths, strict=False)):
        c, w = _float(center), _float(width)
        if c is None or w is None or w <= 0:
            continue
        found.append((c, w, explanations[k] if k < len(explanations) else ""))
    return tuple(found)


def _read_dataset(path: Path) -> Dataset:
    """Parse ``path`` with pixel data deferred; raises :class:`SkippedFile` when not DICOM."""
    try:
        return pydicom.dcmread(path, defer_size=DEFER_SIZE)
    except InvalidDicomError:
        pass
    except PermissionError as exc:
        raise SkippedFile("permission denied") from exc
    except BaseException as exc:  # pydicom raises many types for corrupt input
        if is_fatal(exc):
            raise
        if isinstance(exc, MemoryError):
            raise SkippedFile("corrupt DICOM (header needs more memory than available)") from exc
        raise SkippedFile(f"unreadable or corrupt DICOM ({describe_exception(exc)})") from exc
    # No "DICM" preamble: files named like other formats are not DICOM; others may be
    # raw datasets (no preamble), accepted only if they look like images.
    suffix = path.suffix.lower()
    if path.name.lower().endswith(OTHER_FORMAT_SUFFIXES):
        raise SkippedFile("not a DICOM file (open it on its own)")
    if suffix not in RAW_DICOM_SUFFIXES and not suffix[1:].isdigit():
        raise SkippedFile("not a DICOM file")
    try:
        ds = pydicom.dcmread(path, defer_size=DEFER_SIZE, force=True)
    except BaseException as exc:
        if is_fatal(exc):
            raise
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
    except BaseException as exc:  # malformed values inside an otherwise parseable file
        if is_fatal(exc):
            raise
        raise SkippedFile(f"invalid DICOM header ({describe_exception(exc)})") from exc


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
    bits_allocated = _int(ds.get("BitsAllocated")) or 16
    bits_stored = _int(ds.get("BitsStored")) or bits_allocated
    samples = _int(ds.get("SamplesPerPixel")) or 1
    if bits_allocated not in VALID_BITS_ALLOCATED:
        raise SkippedFile(f"invalid BitsAllocated {bits_allocated}")
    if not 0 < bits_stored <= bits_allocated:
        raise SkippedFile(f"BitsStored {bits_stored} does not fit BitsAllocated {bits_allocated}")
    if samples not in (1, 3, 4):
        raise SkippedFile(f"invalid SamplesPerPixel {samples}")
    file_size = path.stat().st_size
    element_offset = getattr(pixel_element, "value_tell", None)
    element_length = getattr(pixel_element, "length", None)
    notes: list[str] = []
    n_frames = _frame_count(
        ds,
        frame_bits=rows * cols * samples * bits_allocated,
        pixel_length=element_length if isinstance(element_length, int) else None,
        room=file_size - (element_offset if isinstance(element_offset, int) else 0),
        deflated=syntax == DEFLATED_SYNTAX,
        notes=notes,
    )
    # Only integer Pixel Data may be read directly; float variants go through pydicom, and
    # so does deflated data (its offsets refer to the inflated stream, not to the file).
    native = pixel_tag == PIXEL_DATA_TAGS[0] and syntax != DEFLATED_SYNTAX
    offset = element_offset if native else None
    length = element_length if native else None
    modality_lut = "ModalityLUTSequence" in ds and len(ds.ModalityLUTSequence) > 0
    mosaic = read_mosaic(ds, notes) if n_frames == 1 else None
    enhanced = "PerFrameFunctionalGroupsSequence" in ds
    if mosaic is not None:
        planes = _mosaic_planes(ds, mosaic, notes, modality_lut)
        rows, cols = mosaic.tile_rows, mosaic.tile_cols
    else:
        planes = _plane_headers(ds, n_frames, notes, modality_lut, enhanced)
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
        samples_per_pixel=samples,
        photometric=_text(ds, "PhotometricInterpretation") or "MONOCHROME2",
        bits_allocated=bits_allocated,
        bits_stored=bits_stored,
        pixel_representation=_pixel_representation(ds, bits_stored, bits_allocated, notes),
        rescale_type=_text(ds, "RescaleType"),
        spacing_between_slices=_float(ds.get("SpacingBetweenSlices")),
        pixel_offset=int(offset) if isinstance(offset, int) else None,
        pixel_length=int(length) if isinstance(length, int) else None,
        file_size=file_size,
        planes=planes,
        notes=tuple(dict.fromkeys(notes)),
        modality_lut=modality_lut,
        mosaic=mosaic,
        facts=read_series_facts(ds),
        slice_thickness=_slice_thickness(ds),
    )


def _slice_thickness(ds: Dataset) -> float | None:
    """SliceThickness in mm (positive), from the top level or the shared functional groups."""
    value = _float(ds.get("SliceThickness"))
    if value is None:
        try:
            value = _float(ds.SharedFunctionalGroupsSequence[0].PixelMeasuresSequence[0]
                           .get("SliceThickness"))
        except (AttributeError, IndexError, KeyError):
            value = None
    return value if value is not None and value > 0 else None


def _pixel_representation(
    ds: Dataset, bits_stored: int, bits_allocated: int, notes: list[str]
) -> int:
    """PixelRepresentation, corrected to unsigned where the header contradicts its sign.

    Some Siemens files flag 12-bit magnitude data as signed although their own
    LargestImagePixelValue lies above what signed 12-bit values can hold; read as signed,
    every bright voxel would turn negative. Such data is read as unsigned, with a note (as
    dcm2niix does).
    """
    signed = (_int(ds.get("PixelRepresentation")) or 0) == 1
    if not signed or bits_stored >= bits_allocated:
        return 1 if signed else 0
    largest = _int(ds.get("LargestImagePixelValue"))
    smallest = _int(ds.get("SmallestImagePixelValue"))
    if largest is not None and largest > 2 ** (bits_stored - 1) - 1 and (smallest or 0) >= 0:
        notes.append(f"PixelRepresentation says signed, but LargestImagePixelValue {largest} "
                     f"exceeds the signed {bits_stored}-bit range: read as unsigned")
        return 0
    return 1


def _frame_count(
    ds: Dataset,
    *,
    frame_bits: int,
    pixel_length: int | None,
    room: int,
    deflated: bool,
    notes: list[str],
) -> int:
    """Number of frames, checked against the pixel data before any per-frame work.

    Native (uncompressed) pixel data must hold exactly NumberOfFrames frames of
    Rows x Columns x SamplesPerPixel x BitsAllocated (plus at most one padding byte); when it
    holds a whole number of frames that disagrees with a missing, garbled or wrong
    NumberOfFrames, the pixel data wins and a note says so. Encapsulated (compressed) data
    needs at least an item header per frame, which bounds NumberOfFrames by the file size.

    Raises
    ------
    SkippedFile
        The pixel data cannot hold even one frame, or NumberOfFrames is impossible.
    """
    present = "NumberOfFrames" in ds
    claimed = _int(ds.get("NumberOfFrames")) if present else 1
    garbled = claimed is None or claimed < 1
    undefined = pixel_length is None or pixel_length == 0xFFFFFFFF
    if undefined:  # encapsulated: at least one item header (8 bytes) per frame
        most = max(1, room // MIN_ENCAPSULATED_FRAME_BYTES)
        if garbled:
            notes.append(f"NumberOfFrames {ds.get('NumberOfFrames')!r} is invalid; 1 frame used")
            return 1
        assert claimed is not None
        if claimed > most:
            raise SkippedFile(
                f"NumberOfFrames {claimed} cannot fit in the {room} bytes of compressed pixel "
                "data (corrupt header)"
            )
        return claimed
    assert pixel_length is not None
    frame_bytes = -(-frame_bits // 8)
    if frame_bytes <= 0:
        raise SkippedFile("no pixels (Rows or Columns is 0)")
    holds = pixel_length // frame_bytes
    spare = pixel_length - holds * frame_bytes
    exact = spare <= 1 or (deflated and spare < frame_bytes)
    if holds == 0:
        raise SkippedFile(
            f"pixel data holds {pixel_length} bytes, less than one {ds.get('Rows')}x"
            f"{ds.get('Columns')} frame of {ds.get('BitsAllocated')}-bit pixels "
            f"({frame_bytes} bytes): Rows, Columns or BitsAllocated is wrong"
        )
    if not garbled and claimed == holds:
        return holds
    if not present:
        if holds == 1:
            return 1
        raise SkippedFile(
            f"pixel data holds {pixel_length} bytes, {holds} times a {ds.get('Rows')}x"
            f"{ds.get('Columns')} frame of {ds.get('BitsAllocated')}-bit pixels: Rows, Columns "
            "or BitsAllocated is wrong"
        )
    if not exact:
        raise SkippedFile(
            f"pixel data holds {pixel_length} bytes, not a whole number of {frame_bytes}-byte "
            f"frames (NumberOfFrames {ds.get('NumberOfFrames')!r}): corrupt header"
        )
    what = "is invalid" if garbled else f"says {claimed}"
    notes.append(
        f"NumberOfFrames {what} but the pixel data holds {holds} frames; {holds} used"
    )
    return holds
