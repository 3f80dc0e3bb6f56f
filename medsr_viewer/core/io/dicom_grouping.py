"""Splitting the planes of one DICOM series into kinds of image and into 3-D volumes.

A series may hold several kinds of image (magnitude and phase, a field map's magnitude and Hz
frames, derived ADC or trace images, several stacks of an enhanced file): they are split by
their :attr:`~medsr_viewer.core.io.dicom_labels.AcquisitionLabel.kind` (and StackID) and never
mixed. Within one kind, several planes at the same slice position are several volumes (DWI
directions, fMRI time points, echoes, phases), not duplicates:

- when the labels (temporal position, echo, b-value and direction, trigger time, acquisition
  number) tell the planes of every position apart and give as many distinct values as the
  fullest position has planes, each distinct label is a volume;
- otherwise the planes of each position are ranked in acquisition order (temporal position,
  InstanceNumber, AcquisitionTime, file and frame) and the n-th of every position belongs to
  volume n, where the number of volumes is the most common number of planes per position
  (extra planes at a position are then true duplicates, reported by the volume builder).

Volumes are ordered by their first acquisition. Nothing here depends on a vendor or on file
names.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from medsr_viewer.core.io.dicom_headers import DicomFileHeader, PlaneHeader

#: Planes closer than this along the slice normal (mm) share a slice position.
SAME_POSITION_MM = 1e-3


@dataclass(frozen=True)
class Plane:
    """One plane, the file it comes from and its rank in the series' file order."""

    file: DicomFileHeader
    plane: PlaneHeader
    file_index: int = 0


def acquisition_order(plane: Plane) -> tuple[Any, ...]:
    """Sort key of a plane in acquisition order (None-safe: missing values sort last)."""
    label = plane.plane.label
    instance = plane.plane.instance_number
    return (
        label.temporal_position is None, label.temporal_position or 0,
        instance is None, instance or 0,
        label.acquisition_time,
        plane.file_index, plane.plane.frame,
    )


def split_kinds(planes: Sequence[Plane]) -> list[tuple[str, list[Plane]]]:
    """Planes grouped by kind of image (and stack), in order of first acquisition.

    Returns ``(name, planes)`` pairs; names are made unique ("magnitude", "phase", "ADC",
    "magnitude 2" ...).
    """
    groups: dict[tuple[Any, ...], list[Plane]] = defaultdict(list)
    for plane in planes:
        label = plane.plane.label
        groups[(label.kind, label.stack_id)].append(plane)
    ordered = sorted(groups.values(), key=lambda members: min(map(acquisition_order, members)))
    result: list[tuple[str, list[Plane]]] = []
    used: Counter[str] = Counter()
    for members in ordered:
        name = members[0].plane.label.kind_name
        used[name] += 1
        result.append((name if used[name] == 1 else f"{name} {used[name]}", members))
    return result


def _positions(planes: Sequence[Plane], normal: np.ndarray) -> list[list[Plane]]:
    """Planes clustered by slice position along ``normal`` (positions in increasing depth)."""
    depth = [float(np.dot(p.plane.position, normal)) for p in planes]  # type: ignore[arg-type]
    order = np.argsort(depth, kind="stable")
    clusters: list[list[Plane]] = []
    last = -np.inf
    for index in order:
        if depth[index] - last >= SAME_POSITION_MM or not clusters:
            clusters.append([])
        clusters[-1].append(planes[index])
        last = depth[index]
    return clusters


def split_volumes(planes: Sequence[Plane], normal: np.ndarray) -> list[list[Plane]]:
    """Positioned planes of one kind split into volumes in acquisition order.

    Every plane ends up in exactly one returned list (planes beyond the number of volumes at
    a position go to the last volume, where the builder reports them as duplicates).
    """
    if not planes:
        return []
    clusters = _positions(planes, normal)
    counts = [len(c) for c in clusters]
    fullest = max(counts)
    if fullest == 1:
        return [list(planes)]
    keys = {id(p): p.plane.label.volume_key for p in planes}
    distinct = {keys[id(p)] for p in planes}
    unique_within = all(len({keys[id(p)] for p in c}) == len(c) for c in clusters)
    if unique_within and len(distinct) == fullest:
        by_key: dict[tuple[Any, ...], list[Plane]] = defaultdict(list)
        for plane in planes:
            by_key[keys[id(plane)]].append(plane)
        volumes = list(by_key.values())
    else:
        n_volumes = Counter(counts).most_common(1)[0][0]
        if n_volumes == 1:
            return [list(planes)]
        volumes = [[] for _ in range(n_volumes)]
        for cluster in clusters:
            for rank, plane in enumerate(sorted(cluster, key=acquisition_order)):
                volumes[min(rank, n_volumes - 1)].append(plane)
    volumes.sort(key=lambda members: min(map(acquisition_order, members)))
    return volumes
