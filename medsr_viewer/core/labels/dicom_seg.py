"""DICOM Segmentation (SEG) objects: write label maps that reference their source series, read
them back as label maps.

Writing uses ``highdicom`` (one BINARY segment per label value, frames referencing the source
images, segment names and recommended display colours from the label table). Label values are
renumbered to consecutive DICOM segment numbers ``1..N`` as the standard requires; the original
value is kept in each segment's Tracking ID as ``"label value <N>"`` so a round trip restores
it exactly. Reading parses the standard attributes directly (per-frame plane positions and
segment numbers; BINARY, FRACTIONAL (thresholded at one half) and LABELMAP segmentations), so
SEG files from other tools load too; their segments become label values equal to their segment
numbers.
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pydicom
from pydicom.dataset import Dataset

from medsr_viewer.core.atomic import atomic_write
from medsr_viewer.core.labels.labelmap import LabelMap, smallest_label_dtype
from medsr_viewer.core.labels.table import LabelEntry, LabelTable
from medsr_viewer.core.roi.plane import GridSpec
from medsr_viewer.core.volume import Volume

if TYPE_CHECKING:  # highdicom (0.3-0.8 s to import) is imported when a SEG is read or written
    import highdicom as hd

#: SOP Class UID of Segmentation Storage.
SEGMENTATION_STORAGE = "1.2.840.10008.5.1.4.1.1.66.4"
#: Generic SNOMED CT "Tissue" concept (code, scheme, meaning) used as segment category and
#: type when none is known.
_TISSUE = ("85756007", "SCT", "Tissue")
_TRACKING_PREFIX = "label value "


class DicomSegError(ValueError):
    """A SEG file cannot be read or written (message names the file and the problem)."""


def series_grid(datasets: Sequence[Dataset]) -> tuple[GridSpec, list[Dataset]]:
    """Grid of a single-frame DICOM series and its datasets sorted along the slice normal.

    Raises :class:`DicomSegError` when the images do not share orientation and size.
    """
    if not datasets:
        raise DicomSegError("no source images given")
    try:
        iop = np.asarray(datasets[0].ImageOrientationPatient, dtype=np.float64)
        spacing = np.asarray(datasets[0].PixelSpacing, dtype=np.float64)
        rows, cols = int(datasets[0].Rows), int(datasets[0].Columns)
        for ds in datasets[1:]:
            if not np.allclose(np.asarray(ds.ImageOrientationPatient, float), iop, atol=1e-4):
                raise DicomSegError("source images differ in orientation")
            if (int(ds.Rows), int(ds.Columns)) != (rows, cols):
                raise DicomSegError("source images differ in size")
        normal = np.cross(iop[:3], iop[3:])
        ordered = sorted(datasets,
                         key=lambda d: float(np.asarray(d.ImagePositionPatient, float) @ normal))
        positions = np.array([np.asarray(d.ImagePositionPatient, float) for d in ordered])
    except AttributeError as exc:
        raise DicomSegError(f"source image lacks geometry ({exc})") from exc
    if len(ordered) > 1:
        step = (positions[-1] - positions[0]) / (len(ordered) - 1)
    else:
        step = normal * float(getattr(ordered[0], "SliceThickness", 1.0) or 1.0)
    affine = np.eye(4)
    affine[:3, 0] = iop[:3] * spacing[1]
    affine[:3, 1] = iop[3:] * spacing[0]
    affine[:3, 2] = step
    affine[:3, 3] = positions[0]
    return GridSpec((len(ordered), rows, cols), affine), ordered


def write_dicom_seg(
    label_map: LabelMap,
    source_images: Sequence[Dataset],
    path: str | os.PathLike[str],
    *,
    algorithm_name: str | None = None,
    algorithm_version: str = "",
    series_description: str = "MedSR labels",
    series_number: int = 300,
) -> Path:
    """Write ``label_map`` as a DICOM SEG referencing the ``source_images`` series, atomically.

    The labels are first resampled (nearest neighbour, world space) onto the source series'
    grid if they are on another grid (e.g. an SR grid). ``algorithm_name`` marks the segments
    AUTOMATIC (model output); otherwise they are MANUAL. Empty frames are omitted.

    Returns the written path; raises :class:`DicomSegError` on bad input.
    """
    import highdicom as hd

    target = Path(path)
    grid, ordered = series_grid(source_images)
    labels = label_map.on_grid(grid).labels
    values = [int(v) for v in np.unique(labels) if v != 0]
    if not values:
        raise DicomSegError(f"{target}: the label map is empty; nothing to write")
    segment_of = np.zeros(int(labels.max()) + 1 if labels.min() >= 0 else 0, dtype=np.uint16)
    if labels.min() < 0:
        raise DicomSegError(f"{target}: negative label values cannot be stored in DICOM SEG")
    descriptions = []
    for number, value in enumerate(values, start=1):
        segment_of[value] = number
        entry = label_map.table.entry(value)
        descriptions.append(_segment_description(number, value, entry, algorithm_name,
                                                 algorithm_version))
    pixel_array = segment_of[labels].astype(np.uint16 if len(values) > 255 else np.uint8)
    try:
        with warnings.catch_warnings():
            # highdicom's person-name check quotes the patient's name: never let it be logged
            warnings.filterwarnings("ignore", message=".*person name.*", category=UserWarning)
            seg = hd.seg.Segmentation(
                source_images=list(ordered),
                pixel_array=pixel_array,
                segmentation_type="BINARY",
                segment_descriptions=descriptions,
                series_instance_uid=hd.UID(),
                series_number=series_number,
                sop_instance_uid=hd.UID(),
                instance_number=1,
                manufacturer="MedSR Viewer",
                manufacturer_model_name="MedSR Viewer",
                software_versions=_software_version(),
                device_serial_number="0",
                series_description=series_description,
            )
    except (ValueError, TypeError, AttributeError) as exc:
        raise DicomSegError(f"{target}: cannot build a SEG for this series ({exc})") from exc
    return atomic_write(target, seg.save_as)


def _segment_description(number: int, value: int, entry: LabelEntry, algorithm_name: str | None,
                         algorithm_version: str) -> hd.seg.SegmentDescription:
    import highdicom as hd
    from pydicom.sr.codedict import codes

    tissue = hd.sr.CodedConcept(*_TISSUE)
    algorithm = None
    if algorithm_name:
        algorithm = hd.AlgorithmIdentificationSequence(
            name=algorithm_name,
            family=codes.cid7162.ArtificialIntelligence,
            version=algorithm_version or "unknown",
        )
    description = hd.seg.SegmentDescription(
        segment_number=number,
        segment_label=entry.name[:64] or f"label {value}",
        segmented_property_category=tissue,
        segmented_property_type=tissue,
        algorithm_type="AUTOMATIC" if algorithm else "MANUAL",
        algorithm_identification=algorithm,
        tracking_uid=hd.UID(),
        tracking_id=f"{_TRACKING_PREFIX}{value}",
    )
    lab_color = getattr(getattr(hd, "color", None), "CIELabColor", None)
    if lab_color is not None:  # highdicom < 0.23 lacks it: the segment then has no colour
        description.RecommendedDisplayCIELabValue = list(lab_color.from_rgb(*entry.color).value)
    return description


def read_dicom_seg(path: str | os.PathLike[str]) -> LabelMap:
    """Read a DICOM SEG file as a label map on the SEG's own frame grid.

    Label values are restored from Tracking IDs written by :func:`write_dicom_seg`, otherwise
    they are the segment numbers. Names and colours come from the segment descriptions.
    Use :meth:`LabelMap.on_grid` to show it on the image. Raises :class:`DicomSegError`.
    """
    source = Path(path)
    try:
        ds = pydicom.dcmread(str(source))
    except Exception as exc:  # pydicom raises many types on corrupt files
        raise DicomSegError(f"{source}: not a readable DICOM file ({exc})") from exc
    if ds.get("SOPClassUID") != SEGMENTATION_STORAGE and ds.get("Modality") != "SEG":
        raise DicomSegError(f"{source}: not a DICOM Segmentation (modality "
                            f"{ds.get('Modality', '?')})")
    try:
        return _parse_seg(ds, source)
    except DicomSegError:
        raise
    except (AttributeError, KeyError, IndexError, ValueError, TypeError) as exc:
        raise DicomSegError(f"{source}: malformed DICOM SEG ({exc.__class__.__name__}: "
                            f"{exc})") from exc


def _parse_seg(ds: Dataset, source: Path) -> LabelMap:
    shared = ds.SharedFunctionalGroupsSequence[0] if "SharedFunctionalGroupsSequence" in ds \
        else Dataset()
    frames_fg = ds.PerFrameFunctionalGroupsSequence

    def group(frame: Dataset, name: str) -> Dataset:
        if name in frame:
            return frame[name][0]
        return shared[name][0]

    n_frames = int(ds.get("NumberOfFrames", 1))
    pixels = ds.pixel_array.reshape(n_frames, int(ds.Rows), int(ds.Columns))
    if ds.get("SegmentationType") == "FRACTIONAL":
        pixels = pixels >= (int(ds.get("MaximumFractionalValue", 255)) / 2)
    iop = np.asarray(group(frames_fg[0], "PlaneOrientationSequence").ImageOrientationPatient,
                     float)
    measures = group(frames_fg[0], "PixelMeasuresSequence")
    spacing = np.asarray(measures.PixelSpacing, float)
    normal = np.cross(iop[:3], iop[3:])
    positions = np.array([
        np.asarray(group(f, "PlanePositionSequence").ImagePositionPatient, float)
        for f in frames_fg
    ])
    labelmap_type = ds.get("SegmentationType") == "LABELMAP"  # pixel value = segment number
    segment_numbers = [
        0 if labelmap_type
        else int(group(f, "SegmentIdentificationSequence").ReferencedSegmentNumber)
        for f in frames_fg
    ]
    depth = positions @ normal
    order = np.unique(np.round(depth, 3))
    if len(order) > 1:
        gaps = np.diff(order)
        step = float(measures.get("SpacingBetweenSlices", 0) or gaps.min())
    else:
        step = float(measures.get("SpacingBetweenSlices", 0)
                     or measures.get("SliceThickness", 1) or 1)
    first = positions[int(np.argmin(depth))]
    slice_index = np.rint((depth - depth.min()) / step).astype(int)
    value_of, table = _segment_table(ds)
    dtype = smallest_label_dtype(np.array(list(value_of.values()) or [0]))
    labels = np.zeros((int(slice_index.max()) + 1, int(ds.Rows), int(ds.Columns)), dtype=dtype)
    for frame, (z, number) in enumerate(zip(slice_index, segment_numbers, strict=True)):
        if labelmap_type:
            for seg_number in np.unique(pixels[frame]):
                if seg_number:
                    labels[z][pixels[frame] == seg_number] = value_of.get(int(seg_number),
                                                                          int(seg_number))
        else:
            labels[z][pixels[frame] > 0] = value_of.get(number, number)
    affine = np.eye(4)
    affine[:3, 0] = iop[:3] * spacing[1]
    affine[:3, 1] = iop[3:] * spacing[0]
    affine[:3, 2] = normal * step
    affine[:3, 3] = first
    name = str(ds.get("SeriesDescription", "") or source.stem)
    metadata = {
        "source": str(source),
        "frame_of_reference_uid": str(ds.get("FrameOfReferenceUID", "")),
        "series_uid": str(ds.get("SeriesInstanceUID", "")),
        "referenced_series_uid": _referenced_series(ds),
    }
    volume = Volume(labels, affine, modality="SEG", name=name, metadata=metadata)
    return LabelMap(volume=volume, table=table, name=name, source=source)


def _segment_table(ds: Dataset) -> tuple[dict[int, int], LabelTable]:
    import highdicom as hd

    value_of: dict[int, int] = {}
    entries = []
    for item in ds.SegmentSequence:
        number = int(item.SegmentNumber)
        tracking = str(item.get("TrackingID", ""))
        match = re.fullmatch(rf"{_TRACKING_PREFIX}(\d+)", tracking)
        value = int(match.group(1)) if match else number
        value_of[number] = value
        color = (255, 0, 0)
        lab_color = getattr(getattr(hd, "color", None), "CIELabColor", None)
        if "RecommendedDisplayCIELabValue" in item and lab_color is not None:
            rgb = lab_color.from_dicom_value(
                tuple(int(c) for c in item.RecommendedDisplayCIELabValue)
            ).to_rgb()
            color = (int(rgb[0]), int(rgb[1]), int(rgb[2]))
        entries.append(LabelEntry(value, str(item.get("SegmentLabel", f"segment {number}")),
                                  color))
    return value_of, LabelTable(entries)


def _referenced_series(ds: Dataset) -> str:
    refs = ds.get("ReferencedSeriesSequence")
    if refs:
        return str(refs[0].get("SeriesInstanceUID", ""))
    return ""


def _software_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("medsr-viewer")
    except PackageNotFoundError:  # running from a checkout, not installed
        return "0.1.0"
