"""Building a :class:`Volume` from one discovered DICOM series.

Planes are ordered by ImagePositionPatient projected on the slice normal (the cross product of
the row and column cosines), never by file name or InstanceNumber, and the slice spacing is the
median gap between sorted positions (SliceThickness is not a spacing). Where whole slices are
missing (a gap larger than 1.5 times the median) blank slices are inserted so that every real
slice keeps its true world position; each gap, each unreadable file and any uneven spacing is
reported in :attr:`Volume.warnings`.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydicom.uid import UID

from medsr_viewer.core.io.dicom_headers import DicomFileHeader, PlaneHeader
from medsr_viewer.core.io.dicom_pixels import PixelDecodeError, decode_planes
from medsr_viewer.core.io.dicom_series import SeriesInfo
from medsr_viewer.core.io.errors import LoadError
from medsr_viewer.core.io.progress import CancelCallback, ProgressCallback, ProgressTracker
from medsr_viewer.core.volume import Volume

#: Two planes closer than this along the normal (mm) are duplicates.
DUPLICATE_TOLERANCE_MM = 1e-3
#: A gap larger than this many median spacings means slices are missing.
MISSING_GAP_FACTOR = 1.5
#: Real slices further than this fraction of the spacing from the regular grid: uneven warning.
UNEVEN_TOLERANCE = 0.1
#: Modalities where missing pixel spacing is expected (no physical scale).
UNSCALED_MODALITIES = frozenset({"OT", "SC", "US", "XC", "ES", "GM", "SM", "DOC"})


@dataclass(frozen=True)
class _Plane:
    """One plane and the file it comes from."""

    file: DicomFileHeader
    plane: PlaneHeader


@dataclass
class _Layout:
    """Where each kept plane goes in the output stack, and the stack geometry."""

    slots: list[tuple[int, _Plane]]
    n_slices: int
    spacing: float
    row_cosine: np.ndarray
    col_cosine: np.ndarray
    normal: np.ndarray
    origin: np.ndarray
    missing: list[int]
    warnings: list[str]


def _fmt(value: float) -> str:
    """Compact mm formatting for warnings."""
    return f"{value:.4g}"


def _fallback_spacing(first: _Plane) -> float:
    """Slice spacing when positions cannot give one: SpacingBetweenSlices, thickness, or 1."""
    for candidate in (first.file.spacing_between_slices, first.plane.slice_thickness):
        if candidate is not None and candidate > 0:
            return float(candidate)
    return 1.0


def _layout_by_position(planes: list[_Plane]) -> _Layout:
    """Sort planes along the slice normal, drop duplicates, find gaps and uneven spacing."""
    warnings: list[str] = []
    orientation = planes[0].plane.orientation
    assert orientation is not None
    row = np.asarray(orientation[:3], dtype=np.float64)
    col = np.asarray(orientation[3:], dtype=np.float64)
    row /= np.linalg.norm(row)
    col /= np.linalg.norm(col)
    normal = np.cross(row, col)
    normal /= np.linalg.norm(normal)
    depth = {id(p): float(np.dot(p.plane.position, normal)) for p in planes}  # type: ignore[arg-type]
    ordered = sorted(
        planes,
        key=lambda p: (
            depth[id(p)],
            p.plane.instance_number if p.plane.instance_number is not None else 0,
            str(p.file.path),
            p.plane.frame,
        ),
    )
    kept: list[_Plane] = []
    for plane in ordered:
        if kept and depth[id(plane)] - depth[id(kept[-1])] < DUPLICATE_TOLERANCE_MM:
            where = f" frame {plane.plane.frame + 1}" if plane.file.n_frames > 1 else ""
            warnings.append(
                f"{plane.file.path}{where}: skipped, same slice position as "
                f"{kept[-1].file.path.name} ({_fmt(depth[id(plane)])} mm along the normal)"
            )
            continue
        kept.append(plane)
    d = np.array([depth[id(p)] for p in kept])
    origin = np.asarray(kept[0].plane.position, dtype=np.float64)
    if len(kept) == 1:
        return _Layout([(0, kept[0])], 1, _fallback_spacing(kept[0]), row, col, normal, origin,
                       [], warnings)
    gaps = np.diff(d)
    spacing = float(np.median(gaps))
    steps = np.ones(len(gaps), dtype=int)
    for i, gap in enumerate(gaps):
        if gap > MISSING_GAP_FACTOR * spacing:
            steps[i] = max(2, round(float(gap) / spacing))
            lost = steps[i] - 1
            warnings.append(
                f"missing slices: {lost} slice{'s' if lost > 1 else ''} between "
                f"{_fmt(d[i])} and {_fmt(d[i + 1])} mm (gap {_fmt(gap)} mm, spacing "
                f"{_fmt(spacing)} mm); shown as blank slice{'s' if lost > 1 else ''}"
            )
    slot_of = np.concatenate([[0], np.cumsum(steps)])
    deviation = np.abs(d - (d[0] + slot_of * spacing))
    if deviation.max() > UNEVEN_TOLERANCE * spacing:
        warnings.append(
            f"uneven slice spacing: gaps from {_fmt(gaps.min())} to {_fmt(gaps.max())} mm "
            f"(median {_fmt(spacing)} mm); slices are up to {_fmt(deviation.max())} mm from "
            "where the volume shows them"
        )
    lateral = np.asarray(kept[-1].plane.position) - origin
    lateral = lateral - normal * float(np.dot(lateral, normal))
    pixel = min(kept[0].plane.pixel_spacing or (1.0, 1.0))
    if np.linalg.norm(lateral) > 0.5 * pixel:
        warnings.append(
            f"slice positions shift {_fmt(float(np.linalg.norm(lateral)))} mm sideways across the "
            "stack (gantry tilt?); shown without tilt correction"
        )
    slots = [(int(slot), plane) for slot, plane in zip(slot_of, kept, strict=True)]
    n_slices = int(slot_of[-1]) + 1
    used = set(slot_of.tolist())
    missing = [i for i in range(n_slices) if i not in used]
    return _Layout(slots, n_slices, spacing, row, col, normal, origin, missing, warnings)


def _layout_without_position(planes: list[_Plane]) -> _Layout:
    """Planes lacking position or orientation: file/frame order or InstanceNumber order."""
    warnings: list[str] = []
    single_file = len({p.file.path for p in planes}) == 1
    if single_file:
        ordered = sorted(planes, key=lambda p: p.plane.frame)
    else:
        ordered = sorted(
            planes,
            key=lambda p: (
                p.plane.instance_number if p.plane.instance_number is not None else 0,
                str(p.file.path),
                p.plane.frame,
            ),
        )
    spacing = _fallback_spacing(ordered[0])
    if len(ordered) > 1:
        order = "frame order" if single_file else "InstanceNumber order"
        warnings.append(
            f"no slice positions (ImagePositionPatient/ImageOrientationPatient): {len(ordered)} "
            f"images stacked in {order} with an assumed spacing of {_fmt(spacing)} mm"
        )
    orientation = ordered[0].plane.orientation
    if orientation is not None:
        row = np.asarray(orientation[:3], dtype=np.float64)
        col = np.asarray(orientation[3:], dtype=np.float64)
        row /= np.linalg.norm(row)
        col /= np.linalg.norm(col)
    else:
        row, col = np.array([1.0, 0.0, 0.0]), np.array([0.0, 1.0, 0.0])
    normal = np.cross(row, col)
    position = ordered[0].plane.position
    origin = np.zeros(3) if position is None else np.asarray(position, dtype=np.float64)
    slots = list(enumerate(ordered))
    return _Layout(slots, len(ordered), spacing, row, col, normal, origin, [], warnings)


def _monochrome1_range(header: DicomFileHeader, plane: PlaneHeader) -> tuple[float, float]:
    """Rescaled values of the smallest and largest storable pixel, for MONOCHROME1 inversion."""
    bits = max(1, header.bits_stored)
    if header.pixel_representation == 1:
        lo, hi = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    else:
        lo, hi = 0, 2**bits - 1
    a, b = lo * plane.slope + plane.intercept, hi * plane.slope + plane.intercept
    return (min(a, b), max(a, b))


def _syntax_name(uid: str) -> str:
    """Readable name of a transfer syntax UID (the UID itself when unknown)."""
    name = UID(uid).name
    return name if name and name != uid else uid


def load_series(
    info: SeriesInfo,
    *,
    source: str | Path | None = None,
    progress: ProgressCallback | None = None,
    cancelled: CancelCallback | None = None,
    tracker: ProgressTracker | None = None,
) -> Volume:
    """Read the pixels of a discovered series into a float32 volume.

    Parameters
    ----------
    info
        A series returned by :func:`~medsr_viewer.core.io.discover_series`.
    source
        What the user opened (folder or file), recorded in the metadata and used in errors.
    progress, cancelled
        As for :func:`~medsr_viewer.core.io.load_volume` (one step per file).
    tracker
        Shared progress bookkeeping (``load_volume`` passes the discovery tracker).

    Raises
    ------
    LoadError
        No plane of the series could be decoded.
    LoadCancelled
        ``cancelled()`` returned true.
    """
    tracker = tracker or ProgressTracker(progress, cancelled)
    origin_path = Path(source) if source is not None else (info.files[0] if info.files else Path())
    if not info.headers:
        raise LoadError(origin_path, "no DICOM image data")
    planes = [_Plane(h, p) for h in info.headers for p in h.planes]
    positioned = all(p.plane.position is not None and p.plane.orientation is not None
                     for p in planes)
    layout = _layout_by_position(planes) if positioned else _layout_without_position(planes)
    warnings = list(info.warnings) + layout.warnings

    first_file, first_plane = layout.slots[0][1].file, layout.slots[0][1].plane
    invert = first_file.photometric.upper() == "MONOCHROME1"
    inv_lo, inv_hi = _monochrome1_range(first_file, first_plane) if invert else (0.0, 0.0)

    by_file: dict[Path, list[tuple[int, _Plane]]] = defaultdict(list)
    for slot, plane in layout.slots:
        by_file[plane.file.path].append((slot, plane))
    tracker.set_remaining(len(by_file))
    try:
        voxels = np.empty((layout.n_slices, info.rows, info.cols), dtype=np.float32)
    except MemoryError as exc:
        gigabytes = layout.n_slices * info.rows * info.cols * 4 / 1e9
        raise LoadError(origin_path, f"not enough memory for the volume ({gigabytes:.1f} GB)") from exc
    blank = set(layout.missing)
    decoded_min = np.inf
    colour = False
    errors: list[str] = []
    for entries in by_file.values():
        tracker.check()
        header = entries[0][1].file
        try:
            stored, dropped = decode_planes(header, [plane.plane.frame for _, plane in entries])
        except MemoryError as exc:
            raise LoadError(header.path, "not enough memory to decode the pixel data") from exc
        except PixelDecodeError as exc:
            errors.append(str(exc))
            n = len(entries)
            warnings.append(
                f"{header.path}: {exc}; {n} slice{'s' if n > 1 else ''} shown blank"
            )
            blank.update(slot for slot, _ in entries)
            tracker.step()
            continue
        colour |= dropped
        for k, (slot, plane) in enumerate(entries):
            values = stored[k]
            if plane.plane.slope != 1.0:
                values *= np.float32(plane.plane.slope)
            if plane.plane.intercept != 0.0:
                values += np.float32(plane.plane.intercept)
            if invert:
                values = np.float32(inv_lo + inv_hi) - values
            voxels[slot] = values
            decoded_min = min(decoded_min, float(values.min()))
        tracker.step()
    if len(blank) >= layout.n_slices:
        reason = errors[0] if errors else "no image data"
        raise LoadError(origin_path, reason)
    if blank:
        voxels[sorted(blank)] = decoded_min
    if colour:
        warnings.append(f"colour images ({first_file.photometric}) converted to grayscale")
    pixel_spacing = first_plane.pixel_spacing
    if pixel_spacing is None:
        pixel_spacing = (1.0, 1.0)
        if first_file.modality not in UNSCALED_MODALITIES:
            warnings.append("no PixelSpacing in the files: 1 mm pixels assumed")

    affine = np.eye(4)
    affine[:3, 0] = layout.row_cosine * pixel_spacing[1]
    affine[:3, 1] = layout.col_cosine * pixel_spacing[0]
    affine[:3, 2] = layout.normal * layout.spacing
    affine[:3, 3] = layout.origin
    window = first_plane.window
    if window is not None and invert:
        window = (inv_lo + inv_hi - window[0], window[1])
    slopes = {(p.plane.slope, p.plane.intercept) for _, p in layout.slots}
    fallback_name = origin_path.name if origin_path.is_dir() else origin_path.stem
    metadata = {
        "source": str(source if source is not None else origin_path),
        "format": "DICOM",
        "series_uid": info.uid,
        "series_number": info.series_number,
        "frame_of_reference_uid": first_file.frame_of_reference_uid,
        "slice_axis": 0,
        "transfer_syntax": first_file.transfer_syntax,
        "transfer_syntax_name": _syntax_name(first_file.transfer_syntax),
        "photometric": first_file.photometric,
        "rescale": {
            "slope": first_plane.slope,
            "intercept": first_plane.intercept,
            "type": first_file.rescale_type,
            "varies": len(slopes) > 1,
        },
        "n_files": len(by_file),
        "blank_slices": sorted(blank),
        "monochrome1_inverted": invert,
    }
    return Volume(
        voxels=voxels,
        affine=affine,
        modality=info.modality or "OT",
        name=info.description or fallback_name,
        window=window,
        metadata=metadata,
        warnings=tuple(dict.fromkeys(warnings)),
    )
