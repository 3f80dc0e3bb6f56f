"""Building a :class:`~medsr_viewer.core.study.Study` (one or more 3-D volumes) from a series.

The planes of a discovered series are split into kinds of image and into volumes
(:mod:`~medsr_viewer.core.io.dicom_grouping`). Per kind, the planes must agree on geometry
(:func:`~medsr_viewer.core.io.dicom_volume._consensus`); the fullest volume is laid out along
the slice normal (order, spacing, gaps, outliers: :mod:`~medsr_viewer.core.io.dicom_volume`)
and every other volume of that kind is placed on the same grid by slice position, so all
volumes of a group share one affine. Pixels are then decoded file by file (each file once,
whatever volumes its frames belong to), rescaled per plane and, for colour images, also kept
as RGB.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from medsr_viewer.core.io.colour import colour_note, rgb_bytes
from medsr_viewer.core.io.dicom_grouping import Plane, acquisition_order, split_kinds, split_volumes
from medsr_viewer.core.io.dicom_headers import DicomFileHeader, PlaneHeader
from medsr_viewer.core.io.dicom_labels import AcquisitionLabel
from medsr_viewer.core.io.dicom_pixels import PixelDecodeError, decode_planes
from medsr_viewer.core.io.dicom_series import SeriesInfo
from medsr_viewer.core.io.dicom_volume import (
    UNEVEN_TOLERANCE,
    UNSCALED_MODALITIES,
    _consensus,
    _fmt,
    _Layout,
    _layout_by_position,
    _layout_without_position,
    _monochrome1_range,
    _syntax_name,
)
from medsr_viewer.core.io.errors import LoadError
from medsr_viewer.core.io.limits import check_volume_bytes
from medsr_viewer.core.io.progress import CancelCallback, ProgressCallback, ProgressTracker
from medsr_viewer.core.io.voxel_checks import replace_non_finite
from medsr_viewer.core.study import Study, VolumeGroup
from medsr_viewer.core.volume import Volume

#: Slots of one volume: ``(slice index, plane)`` pairs.
Slots = list[tuple[int, Plane]]


@dataclass
class _GroupPlan:
    """One kind of image: its grid (from the fullest volume) and every volume's slots."""

    kind: str
    layout: _Layout
    volumes: list[Slots]
    pixel_spacing: tuple[float, float] | None
    warnings: list[str]


def _normal(plane: Plane) -> np.ndarray:
    """Unit slice normal (row x column cosine) of a positioned plane."""
    orientation = plane.plane.orientation
    assert orientation is not None
    row = np.asarray(orientation[:3], dtype=np.float64)
    col = np.asarray(orientation[3:], dtype=np.float64)
    normal = np.cross(row / np.linalg.norm(row), col / np.linalg.norm(col))
    return normal / np.linalg.norm(normal)


def _place(planes: list[Plane], layout: _Layout, warnings: list[str]) -> Slots:
    """Slots of a further volume's planes on the grid of ``layout`` (the fullest volume)."""
    start = float(np.dot(layout.origin, layout.normal))
    slots: Slots = []
    taken: dict[int, Plane] = {}
    for plane in sorted(planes, key=acquisition_order):
        depth = float(np.dot(plane.plane.position, layout.normal))  # type: ignore[arg-type]
        where = (depth - start) / layout.spacing if layout.spacing > 0 else 0.0
        slot = round(where)
        if abs(where - slot) > UNEVEN_TOLERANCE or not 0 <= slot < layout.n_slices:
            warnings.append(f"{plane.file.path}: skipped, slice position {_fmt(depth)} mm is "
                            "not on the grid of the series' other volumes")
            continue
        if slot in taken:
            warnings.append(f"{plane.file.path}: skipped, same slice position as "
                            f"{taken[slot].file.path.name} ({_fmt(depth)} mm along the normal)")
            continue
        taken[slot] = plane
        slots.append((slot, plane))
    return slots


def _plan_group(kind: str, planes: list[Plane], modality: str) -> _GroupPlan:
    """Consensus geometry, volumes and their slots for the planes of one kind."""
    planes, pixel_spacing, warnings = _consensus(planes, modality)
    positioned = all(p.plane.position is not None and p.plane.orientation is not None
                     for p in planes)
    if not positioned:
        layout = _layout_without_position(planes, modality)
        return _GroupPlan(kind, layout, [layout.slots], pixel_spacing, warnings + layout.warnings)
    volumes = split_volumes(planes, _normal(planes[0]))
    fullest = max(range(len(volumes)), key=lambda v: len(volumes[v]))
    layout = _layout_by_position(volumes[fullest], min(pixel_spacing or (1.0, 1.0)))
    warnings += layout.warnings
    slots = [layout.slots if v == fullest else _place(members, layout, warnings)
             for v, members in enumerate(volumes)]
    kept = [volume_slots for volume_slots in slots if volume_slots]
    return _GroupPlan(kind, layout, kept, pixel_spacing, warnings)


def bids_label(label: AcquisitionLabel) -> dict[str, Any]:
    """The BIDS-named facts of one volume's label (EchoTime in s, b-value, direction ...)."""
    facts: dict[str, Any] = {}
    if label.image_type:
        facts["ImageType"] = list(label.image_type)
    if label.component:
        facts["ComplexImageComponent"] = label.component
    if label.echo_number is not None:
        facts["EchoNumber"] = label.echo_number
    if label.echo_time is not None:
        facts["EchoTime"] = round(label.echo_time / 1000.0, 9)
    if label.temporal_position is not None:
        facts["TemporalPosition"] = label.temporal_position
    if label.b_value is not None:
        facts["DiffusionBValue"] = label.b_value
    if label.gradient is not None:
        facts["DiffusionGradientOrientation"] = [round(g, 6) for g in label.gradient]
    if label.trigger_time is not None:
        facts["TriggerDelayTime"] = label.trigger_time
    if label.acquisition_number is not None:
        facts["AcquisitionNumber"] = label.acquisition_number
    if label.acquisition_time:
        facts["AcquisitionTime"] = label.acquisition_time
    return facts


def _labels(plan: _GroupPlan) -> list[dict[str, Any]]:
    """Per-volume label facts, diffusion directions numbered in acquisition order."""
    labels = []
    directions: dict[tuple[float, ...], int] = {}
    for slots in plan.volumes:
        first = min((plane for _, plane in slots), key=acquisition_order)
        facts = bids_label(first.plane.label)
        gradient = facts.get("DiffusionGradientOrientation")
        if gradient is not None:
            key = tuple(round(g, 3) for g in gradient)
            facts["DiffusionDirectionNumber"] = directions.setdefault(key, len(directions) + 1)
        labels.append(facts)
    return labels


def load_series(
    info: SeriesInfo,
    *,
    source: str | Path | None = None,
    progress: ProgressCallback | None = None,
    cancelled: CancelCallback | None = None,
    tracker: ProgressTracker | None = None,
) -> Volume:
    """Read a discovered series and return its shown 3-D volume (see :func:`load_series_study`).

    Raises
    ------
    LoadError
        No plane of the series could be decoded.
    LoadCancelled
        ``cancelled()`` returned true.
    """
    study = load_series_study(info, source=source, progress=progress, cancelled=cancelled,
                              tracker=tracker)
    return study.shown


def load_series_study(
    info: SeriesInfo,
    *,
    source: str | Path | None = None,
    progress: ProgressCallback | None = None,
    cancelled: CancelCallback | None = None,
    tracker: ProgressTracker | None = None,
) -> Study:
    """Read the pixels of a discovered series into float32 volumes, grouped by kind.

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

    Returns
    -------
    Study
        One group per kind of image, each with its volumes in acquisition order; the shown
        volume is the first of the group with the most planes.

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
    planes = [Plane(h, p, i) for i, h in enumerate(info.headers) for p in h.planes]
    modality = info.modality or "OT"
    plans = [_plan_group(kind, members, modality) for kind, members in split_kinds(planes)]
    warnings = list(info.warnings)
    for plan in plans:
        warnings += plan.warnings
    used_files = {p.file.path: p.file for plan in plans for slots in plan.volumes
                  for _, p in slots}
    for used in used_files.values():
        warnings += [f"{used.path}: {note}" for note in used.notes]

    by_file: dict[Path, list[tuple[int, int, int, Plane]]] = defaultdict(list)
    for g, plan in enumerate(plans):
        for v, slots in enumerate(plan.volumes):
            for slot, plane in slots:
                by_file[plane.file.path].append((g, v, slot, plane))
    tracker.set_remaining(len(by_file))
    total = sum(len(plan.volumes) * plan.layout.n_slices for plan in plans)
    check_volume_bytes(origin_path, (total, info.rows, info.cols), 4)
    try:
        data = [np.empty((len(plan.volumes), plan.layout.n_slices, info.rows, info.cols),
                         dtype=np.float32) for plan in plans]
    except MemoryError as exc:
        gigabytes = total * info.rows * info.cols * 4 / 1e9
        raise LoadError(origin_path, f"not enough memory for the volume ({gigabytes:.1f} GB)") \
            from exc
    rgb: list[np.ndarray | None] = [None] * len(plans)
    filled = [np.zeros(array.shape[:2], dtype=bool) for array in data]
    decoded_min = [np.inf] * len(plans)
    inversion = [_inversion(plan) for plan in plans]
    non_finite = False
    errors: list[str] = []
    for entries in by_file.values():
        tracker.check()
        header = entries[0][3].file
        try:
            decoded = decode_planes(header, [plane.plane.frame for *_, plane in entries])
        except MemoryError as exc:
            raise LoadError(header.path, "not enough memory to decode the pixel data") from exc
        except PixelDecodeError as exc:
            errors.append(str(exc))
            n = len(entries)
            warnings.append(f"{header.path}: {exc}; {n} slice{'s' if n > 1 else ''} shown blank")
            tracker.step()
            continue
        for k, (g, v, slot, plane) in enumerate(entries):
            values = decoded.gray[k]
            if plane.plane.slope != 1.0:
                values *= np.float32(plane.plane.slope)
            if plane.plane.intercept != 0.0:
                values += np.float32(plane.plane.intercept)
            if inversion[g] is not None:
                values = np.float32(sum(inversion[g])) - values  # type: ignore[arg-type]
            data[g][v, slot] = values
            filled[g][v, slot] = True
            if decoded.rgb is not None:
                if rgb[g] is None:
                    rgb[g] = np.zeros(data[g].shape + (3,), dtype=decoded.rgb.dtype)
                rgb[g][v, slot] = decoded.rgb[k]  # type: ignore[index]
            lowest, highest = float(values.min()), float(values.max())
            if not (np.isfinite(lowest) and np.isfinite(highest)):  # rescale overflowed
                non_finite = True
                finite = values[np.isfinite(values)]
                lowest = float(finite.min()) if finite.size else np.inf
            decoded_min[g] = min(decoded_min[g], lowest)
        tracker.step()
    if not any(f.any() for f in filled):
        raise LoadError(origin_path, errors[0] if errors else "no image data")
    for g, array in enumerate(data):
        if not filled[g].all():
            array[~filled[g]] = decoded_min[g] if np.isfinite(decoded_min[g]) else 0.0
        if non_finite:
            data[g], finite_warning = replace_non_finite(array)
            if finite_warning:
                warnings.append(f"{finite_warning} (rescaled values out of range)")
    groups = [_group(plan, data[g], rgb[g], filled[g], inversion[g], info, source, origin_path,
                     warnings) for g, plan in enumerate(plans)]
    shown = max(range(len(groups)), key=lambda g: (int(filled[g].sum()), -g))
    return _finish(groups, shown, info)


def _inversion(plan: _GroupPlan) -> tuple[float, float] | None:
    """``(lo, hi)`` of the MONOCHROME1 inversion of a group, ``None`` for MONOCHROME2."""
    first = plan.layout.slots[0][1] if plan.layout.slots else plan.volumes[0][0][1]
    if first.file.photometric.upper() != "MONOCHROME1":
        return None
    return _monochrome1_range(first.file, first.plane)


def _group(
    plan: _GroupPlan,
    voxels: np.ndarray,
    rgb: np.ndarray | None,
    filled: np.ndarray,
    inversion: tuple[float, float] | None,
    info: SeriesInfo,
    source: str | Path | None,
    origin_path: Path,
    warnings: list[str],
) -> VolumeGroup:
    """The :class:`VolumeGroup` of one plan from its decoded voxels."""
    layout = plan.layout
    notes = list(warnings)
    first = min((p for slots in plan.volumes for _, p in slots), key=acquisition_order)
    colour = None
    if rgb is not None:
        notes.append(colour_note(first.file.photometric))
        palette = first.file.photometric.upper() == "PALETTE COLOR"
        colour = rgb_bytes(rgb, None if palette else first.file.bits_stored)
    pixel_spacing = plan.pixel_spacing
    if pixel_spacing is None:
        pixel_spacing = (1.0, 1.0)
        if first.file.modality not in UNSCALED_MODALITIES:
            notes.append("no PixelSpacing in the files: 1 mm pixels assumed")
    affine = np.eye(4)
    affine[:3, 0] = layout.row_cosine * pixel_spacing[1]
    affine[:3, 1] = layout.col_cosine * pixel_spacing[0]
    affine[:3, 2] = layout.normal * layout.spacing
    affine[:3, 3] = layout.origin
    labels = _labels(plan)
    fallback_name = origin_path.name if origin_path.is_dir() else origin_path.stem
    volumes = []
    for v, slots in enumerate(plan.volumes):
        first_plane = min(slots, key=lambda entry: entry[0])[1].plane
        windows = _volume_windows([p.plane for _, p in slots], inversion)
        window = (windows[0][0], windows[0][1]) if windows else None
        slopes = {(p.plane.slope, p.plane.intercept) for _, p in slots}
        metadata: dict[str, Any] = {
            "source": str(source if source is not None else origin_path),
            "format": "DICOM",
            "series_uid": info.uid,
            "series_number": info.series_number,
            "frame_of_reference_uid": first.file.frame_of_reference_uid,
            "slice_axis": 0,
            "transfer_syntax": first.file.transfer_syntax,
            "transfer_syntax_name": _syntax_name(first.file.transfer_syntax),
            "photometric": first.file.photometric,
            "source_dtype": _stored_dtype(first.file) if rgb is None else None,
            "rescale": {
                "slope": first_plane.slope,
                "intercept": first_plane.intercept,
                "type": first.file.rescale_type,
                "varies": len(slopes) > 1,
            },
            "n_files": len({p.file.path for _, p in slots}),
            "slice_files": _slice_files(slots, layout.n_slices),
            "blank_slices": [int(i) for i in np.flatnonzero(~filled[v])],
            "monochrome1_inverted": inversion is not None,
            "stored_windows": [list(w) for w in windows],
            "kind": plan.kind,
            "volume_index": v,
            "n_volumes": len(plan.volumes),
        }
        thickness = _common_thickness(slots)
        if thickness is not None:
            metadata["slice_thickness_mm"] = thickness
        volumes.append(Volume(
            voxels=voxels[v],
            affine=affine,
            modality=info.modality or "OT",
            name=info.description or fallback_name,
            window=window,
            metadata=metadata,
            warnings=tuple(dict.fromkeys(notes)),
            rgb=None if colour is None else colour[v],
        ))
    return VolumeGroup(plan.kind, tuple(volumes), tuple(labels), rgb)


def _stored_dtype(header: DicomFileHeader) -> str | None:
    """The integer type of a grayscale file's stored pixels (``uint16`` ...); ``None`` beyond
    16 bits (32/64-bit data may be float pixel data)."""
    if header.bits_allocated not in (8, 16):
        return None
    return f"{'int' if header.pixel_representation == 1 else 'uint'}{header.bits_allocated}"


def _volume_windows(planes: list[PlaneHeader], inversion: tuple[float, float] | None
                    ) -> list[tuple[float, float, str]]:
    """The stored windows of a volume: the windows its slices share (all of them, with their
    explanations), or, when each slice carries its own (MR series often do, fitted per
    slice), the median of the slices' first windows, which suits the middle of the volume
    rather than an edge slice. MONOCHROME1 images (inverted on reading) get mirrored centres.
    """
    per_slice = []
    for plane in planes:
        if plane.windows:
            per_slice.append(plane.windows)
        elif plane.window is not None:
            per_slice.append(((plane.window[0], plane.window[1], ""),))
    if not per_slice:
        return []
    if len(set(per_slice)) == 1:
        windows = list(per_slice[0])
    else:
        centers = np.median([w[0][0] for w in per_slice])
        widths = np.median([w[0][1] for w in per_slice])
        windows = [(float(centers), float(widths),
                    f"median of the {len(per_slice)} slices' windows")]
    if inversion is not None:
        windows = [(sum(inversion) - c, w, e) for c, w, e in windows]
    return windows


def _slice_files(slots: Slots, n_slices: int) -> list[tuple[str, int | None] | None]:
    """Per slice of a volume, the file it was read from and its frame (``None`` for a
    single-frame file); ``None`` for a blank (missing) slice. The tag browser reads it."""
    files: list[tuple[str, int | None] | None] = [None] * n_slices
    for slot, plane in slots:
        files[slot] = (str(plane.file.path), plane.plane.frame if plane.file.n_frames > 1
                       else None)
    return files


def _common_thickness(slots: Any) -> float | None:
    """The SliceThickness all files of a volume agree on (``None`` when absent or mixed)."""
    values = {p.file.slice_thickness for _, p in slots}
    if len(values) != 1:
        return None
    (value,) = values
    return None if value is None else float(value)


def _finish(groups: list[VolumeGroup], shown: int, info: SeriesInfo) -> Study:
    """The study, shown group first, its volumes told which kinds exist and what they are."""
    ordered = [groups[shown]] + [g for i, g in enumerate(groups) if i != shown]
    facts = dict(info.headers[0].facts) if info.headers else {}
    if len(ordered) > 1:
        listing = ", ".join(f"{g.kind} ({g.n_volumes} volume{'s' if g.n_volumes > 1 else ''})"
                            for g in ordered[1:])
        note = (f"this series holds {len(ordered)} kinds of image: showing {ordered[0].kind}; "
                f"also {listing} (medsr convert writes each)")
        first = ordered[0]
        volumes = tuple(v.with_voxels(v.voxels, warnings=v.warnings + (note,))
                        for v in first.volumes)
        ordered[0] = VolumeGroup(first.kind, volumes, first.labels, first.rgb)
    for group in ordered:
        for index, volume in enumerate(group.volumes):
            volume.metadata["volume_label"] = group.label_text(index)
    return Study(tuple(ordered), facts=facts)
