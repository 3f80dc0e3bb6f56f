"""Laying out the planes of one 3-D DICOM volume: slice order, spacing, gaps and outliers.

Planes are ordered by ImagePositionPatient projected on the slice normal (the cross product of
the row and column cosines), never by file name or InstanceNumber, and the slice spacing is the
median gap between sorted positions (SliceThickness is not a spacing). Where whole slices are
missing (a gap larger than 1.5 times the median) blank slices are inserted so that every real
slice keeps its true world position; each gap, each unreadable file and any uneven spacing is
reported in :attr:`Volume.warnings`.

Geometry is decided by the consensus of the planes, never by one file: rows/columns, pixel
layout and orientation are agreed in :func:`~medsr_viewer.core.io.dicom_series.discover_series`;
here planes without a valid position (when most have one), with a pixel spacing other than
the most common one, or far off the stack (along the normal or sideways) are skipped, each
file named in a warning. So a single bad file can blank its own slice but never mirror, move
or rescale the others. Voxels that the rescale makes non-finite are replaced and reported.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydicom.uid import UID

from medsr_viewer.core.io.dicom_grouping import Plane as _Plane
from medsr_viewer.core.io.dicom_headers import (
    MAX_PLAUSIBLE_SPACING_MM,
    DicomFileHeader,
    PlaneHeader,
)

#: Two planes closer than this along the normal (mm) are duplicates.
DUPLICATE_TOLERANCE_MM = 1e-3
#: A gap larger than this many median spacings means slices are missing.
MISSING_GAP_FACTOR = 1.5
#: Real slices further than this fraction of the spacing from the regular grid: uneven warning.
UNEVEN_TOLERANCE = 0.1
#: Modalities where missing pixel spacing is expected (no physical scale).
UNSCALED_MODALITIES = frozenset({"OT", "SC", "US", "XC", "ES", "GM", "SM", "DOC"})
#: Cross-sectional modalities whose lone images are expected to carry a patient position.
SECTIONAL_MODALITIES = frozenset({"CT", "MR", "PT", "NM"})
#: Planes separated from the rest of the stack by a gap of more than this many median
#: spacings form a separate cluster; small clusters are outliers.
OUTLIER_GAP_FACTOR = 10.0
#: A cluster off the main stack is an outlier when it holds at most this fraction of planes.
OUTLIER_FRACTION = 0.25
#: Pixel spacings agreeing to this relative tolerance are the same.
SPACING_REL_TOLERANCE = 1e-3
#: A plane further than this many pixels sideways from the stack's line is an outlier.
LATERAL_OUTLIER_PIXELS = 2.0


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


def _fallback_spacing(planes: list[_Plane], warnings: list[str]) -> float:
    """Slice spacing when positions cannot give one: SpacingBetweenSlices, thickness, or 1.

    Each is the median over the planes of the plausible values (positive, at most
    :data:`MAX_PLAUSIBLE_SPACING_MM`), so one file cannot set the spacing of the others;
    implausible values are reported in ``warnings``.
    """
    sources = (
        ("SpacingBetweenSlices", [p.file.spacing_between_slices for p in planes]),
        ("SliceThickness", [p.plane.slice_thickness for p in planes]),
    )
    for keyword, values in sources:
        given = [float(v) for v in values if v is not None]
        plausible = [v for v in given if 0 < v <= MAX_PLAUSIBLE_SPACING_MM]
        rejected = sorted({v for v in given if v not in plausible})
        if rejected:
            listed = ", ".join(_fmt(v) for v in rejected[:3])
            warnings.append(f"implausible {keyword} ({listed} mm) ignored")
        if plausible:
            return float(np.median(plausible))
    if len(planes) == 1 and any(v is not None for _, vs in sources for v in vs):
        warnings.append("no plausible SliceThickness or SpacingBetweenSlices: 1 mm assumed")
    return 1.0


def _where(plane: _Plane) -> str:
    """The file (and frame of a multi-frame file) a plane comes from, for warnings."""
    return f"{plane.file.path} frame {plane.plane.frame + 1}" if plane.file.n_frames > 1 else (
        str(plane.file.path)
    )


def _skip_warnings(planes: list[_Plane], reason: str) -> list[str]:
    """One "skipped" warning per file (frames of a multi-frame file are counted)."""
    by_file: dict[Path, list[_Plane]] = defaultdict(list)
    for plane in planes:
        by_file[plane.file.path].append(plane)
    lines = []
    for path, members in by_file.items():
        n_frames = members[0].file.n_frames
        if n_frames > 1:
            where = f"{path} ({len(members)} of {n_frames} frames)"
        else:
            where = str(path)
        lines.append(f"{where}: skipped, {reason}")
    return lines


def _without(planes: list[_Plane], dropped: list[_Plane]) -> list[_Plane]:
    """``planes`` less the (identical objects in) ``dropped``, order kept."""
    gone = {id(p) for p in dropped}
    return [p for p in planes if id(p) not in gone]


def _consensus(
    planes: list[_Plane], modality: str
) -> tuple[list[_Plane], tuple[float, float] | None, list[str]]:
    """The planes that agree on position availability, orientation and pixel spacing.

    Returns the agreeing planes, the consensus pixel spacing (``None`` when no plane has
    one) and warnings naming every file left out.
    """
    warnings: list[str] = []
    positioned = [p for p in planes if p.plane.position is not None
                  and p.plane.orientation is not None]
    if positioned and len(positioned) < len(planes) and 2 * len(positioned) >= len(planes):
        lost = [p for p in planes if p.plane.position is None or p.plane.orientation is None]
        warnings += _skip_warnings(
            lost, "no valid ImagePositionPatient/ImageOrientationPatient while the rest of the "
            "series has them (its slice position is unknown)"
        )
        planes = positioned
    oriented = [p for p in planes if p.plane.orientation is not None]
    if oriented:
        counts: dict[tuple[float, ...], int] = defaultdict(int)
        for p in oriented:
            counts[tuple(round(v, 3) for v in p.plane.orientation)] += 1  # type: ignore[union-attr]
        main = max(counts, key=lambda key: counts[key])
        odd = [p for p in oriented
               if tuple(round(v, 3) for v in p.plane.orientation) != main]  # type: ignore[union-attr]
        if odd and len(odd) < len(oriented) - len(odd):
            warnings += _skip_warnings(odd, "ImageOrientationPatient differs from the series")
            planes = _without(planes, odd)
    spaced = [p for p in planes if p.plane.pixel_spacing is not None]
    if not spaced:
        return planes, None, warnings
    groups: list[tuple[tuple[float, float], list[_Plane]]] = []
    for p in spaced:
        spacing = p.plane.pixel_spacing
        assert spacing is not None
        for key, members in groups:
            if np.allclose(spacing, key, rtol=SPACING_REL_TOLERANCE, atol=0):
                members.append(p)
                break
        else:
            groups.append((spacing, [p]))
    main_spacing, agreeing = max(groups, key=lambda group: len(group[1]))
    others = [p for key, members in groups if key != main_spacing for p in members]
    lacking = [p for p in planes if p.plane.pixel_spacing is None]
    if others and len(others) < len(agreeing):
        reason = (f"PixelSpacing differs from the {_fmt(main_spacing[0])} x "
                  f"{_fmt(main_spacing[1])} mm of the rest of the series")
        warnings += _skip_warnings(others, reason)
        planes = _without(planes, others)
    if lacking and 2 * len(agreeing) >= len(planes):
        warnings += _skip_warnings(
            lacking, "no valid PixelSpacing while the rest of the series has "
            f"{_fmt(main_spacing[0])} x {_fmt(main_spacing[1])} mm pixels"
        )
        planes = [p for p in planes if p.plane.pixel_spacing is not None]
    elif lacking and modality not in UNSCALED_MODALITIES:
        warnings.append(
            f"{len(lacking)} of {len(planes)} images have no valid PixelSpacing: "
            f"{_fmt(main_spacing[0])} x {_fmt(main_spacing[1])} mm assumed from the others"
        )
    return planes, main_spacing, warnings


def _stack_outliers(
    planes: list[_Plane], depth: dict[int, float], normal: np.ndarray, pixel: float
) -> tuple[list[_Plane], list[str]]:
    """Drop small clusters far along the normal and planes shifted sideways off the stack.

    ``planes`` are sorted by ``depth``. The main stack is the largest run of planes whose
    gaps stay within :data:`OUTLIER_GAP_FACTOR` median gaps; other runs holding at most
    :data:`OUTLIER_FRACTION` of the planes are outliers. Sideways, positions must follow the
    stack's (possibly tilted) line within :data:`LATERAL_OUTLIER_PIXELS` pixels.
    """
    warnings: list[str] = []
    if len(planes) < 3:
        return planes, warnings
    d = np.array([depth[id(p)] for p in planes])
    gaps = np.diff(d)
    positive = gaps[gaps >= DUPLICATE_TOLERANCE_MM]
    if positive.size:
        typical = float(np.median(positive))
        runs: list[list[_Plane]] = [[planes[0]]]
        for gap, plane in zip(gaps, planes[1:], strict=True):
            if gap > OUTLIER_GAP_FACTOR * typical:
                runs.append([])
            runs[-1].append(plane)
        if len(runs) > 1:
            main = max(runs, key=len)
            far = [p for run in runs if run is not main for p in run]
            if len(far) <= OUTLIER_FRACTION * len(planes):
                lo, hi = depth[id(main[0])], depth[id(main[-1])]
                warnings += _skip_warnings(
                    far, f"slice position far off the stack of the other images ({_fmt(lo)} to "
                    f"{_fmt(hi)} mm along the normal)"
                )
                planes = main
    if len(planes) < 3:
        return planes, warnings
    d = np.array([depth[id(p)] for p in planes])
    positions = np.array([p.plane.position for p in planes], dtype=np.float64)
    lateral = positions - np.outer(positions @ normal, normal)
    steps = np.diff(d)
    usable = steps > DUPLICATE_TOLERANCE_MM
    if not usable.any():
        return planes, warnings
    slope = np.median(np.diff(lateral, axis=0)[usable] / steps[usable, None], axis=0)
    intercept = np.median(lateral - np.outer(d, slope), axis=0)
    residual = np.linalg.norm(lateral - intercept - np.outer(d, slope), axis=1)
    limit = max(LATERAL_OUTLIER_PIXELS * pixel, 0.01)
    off = [p for p, r in zip(planes, residual, strict=True) if r > limit]
    if off and 2 * len(off) < len(planes):
        worst = float(residual.max())
        warnings += _skip_warnings(
            off, f"ImagePositionPatient lies up to {_fmt(worst)} mm sideways off the stack of "
            "the other images"
        )
        planes = _without(planes, off)
    return planes, warnings


def _layout_by_position(planes: list[_Plane], pixel: float) -> _Layout:
    """Sort planes along the slice normal, drop outliers and duplicates, find gaps."""
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
    ordered, outlier_warnings = _stack_outliers(ordered, depth, normal, pixel)
    warnings += outlier_warnings
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
        return _Layout([(0, kept[0])], 1, _fallback_spacing(kept, warnings), row, col, normal,
                       origin, [], warnings)
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


def _layout_without_position(planes: list[_Plane], modality: str) -> _Layout:
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
    spacing = _fallback_spacing(ordered, warnings)
    if len(ordered) == 1 and modality in SECTIONAL_MODALITIES:
        warnings.append(
            "no valid ImagePositionPatient/ImageOrientationPatient: the image's position and "
            "orientation in the patient are unknown"
        )
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
