"""Finding DICOM series: folders searched recursively or file lists, grouped by SeriesInstanceUID.

Only headers are read here (pixel data deferred), so a folder can be listed quickly before the
user picks a series. Files that are not DICOM images, unreadable, or duplicates (same
SOPInstanceUID) are skipped with one warning per file naming it; the warnings travel with each
:class:`SeriesInfo` into the loaded volume so the user sees them.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from medsr_viewer.core.io.dicom_headers import DicomFileHeader, SkippedFile, read_dicom_header
from medsr_viewer.core.io.errors import LoadError
from medsr_viewer.core.io.progress import CancelCallback, ProgressCallback, ProgressTracker

#: At most this many per-file "skipped" warnings are listed; the rest are counted.
MAX_FILE_WARNINGS = 20
#: File names never treated as images (DICOMDIR indexes a media set, it holds no pixels).
IGNORED_NAMES = frozenset({"DICOMDIR", "Thumbs.db", "desktop.ini"})


@dataclass(frozen=True)
class SeriesInfo:
    """One DICOM series found by :func:`discover_series`.

    Parameters
    ----------
    uid
        SeriesInstanceUID ('' when the files have none).
    description
        SeriesDescription ('' when absent).
    modality
        DICOM Modality of the series ("MR", "CT" ...).
    files
        The image files of the series, in path order.
    n_slices
        Number of image planes (single-frame files plus every frame of multi-frame files).
    rows, cols
        Size of each plane in pixels.
    warnings
        Problems found while scanning (skipped files, mixed sizes ...), one line each.
    series_number
        SeriesNumber when present, for ordering and display.
    headers
        Per-file header summaries used by the loader (not part of equality or repr).
    """

    uid: str
    description: str
    modality: str
    files: tuple[Path, ...]
    n_slices: int
    rows: int
    cols: int
    warnings: tuple[str, ...] = ()
    series_number: int | None = None
    headers: tuple[DicomFileHeader, ...] = field(default=(), repr=False, compare=False)

    @property
    def n_frames(self) -> int:
        """Alias of :attr:`n_slices` (frames of multi-frame files count as slices)."""
        return self.n_slices

    @property
    def label(self) -> str:
        """Short human-readable description: number, description, modality and size."""
        number = f"#{self.series_number} " if self.series_number is not None else ""
        description = self.description or "(no description)"
        return f"{number}{description} [{self.modality}] {self.n_slices}x{self.rows}x{self.cols}"


def _as_path_list(paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]]) -> list[Path]:
    """Normalise the ``paths`` argument (one path or a sequence) to a list of Paths."""
    if isinstance(paths, (str, os.PathLike)):
        return [Path(paths)]
    return [Path(p) for p in paths]


def _walk_files(folder: Path, tracker: ProgressTracker) -> Iterable[Path]:
    """Every non-hidden file below ``folder`` (recursively), in sorted path order."""
    for root, dirs, files in os.walk(folder, onerror=None, followlinks=False):
        tracker.check()
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if not name.startswith(".") and name not in IGNORED_NAMES:
                yield Path(root) / name


def list_candidate_files(
    paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    tracker: ProgressTracker | None = None,
) -> list[Path]:
    """Files to examine for ``paths``: folders expanded recursively, files kept as given.

    Raises
    ------
    LoadError
        A path does not exist.
    """
    tracker = tracker or ProgressTracker()
    found: list[Path] = []
    seen: set[Path] = set()
    for path in _as_path_list(paths):
        if path.is_dir():
            candidates: Iterable[Path] = _walk_files(path, tracker)
        elif path.is_file():
            candidates = [path]
        else:
            raise LoadError(path, "not found")
        for file in candidates:
            key = file.resolve()
            if key not in seen:
                seen.add(key)
                found.append(file)
    return found


def summarise_skipped(skipped: Sequence[str]) -> list[str]:
    """Per-file skip warnings, capped at :data:`MAX_FILE_WARNINGS` plus a count of the rest."""
    if len(skipped) <= MAX_FILE_WARNINGS:
        return list(skipped)
    rest = len(skipped) - MAX_FILE_WARNINGS
    return list(skipped[:MAX_FILE_WARNINGS]) + [f"... and {rest} more files skipped"]


def _build_series(
    uid: str, headers: list[DicomFileHeader], shared_warnings: list[str]
) -> SeriesInfo:
    """Group one series' headers into a :class:`SeriesInfo`, dropping duplicates and misfits."""
    warnings: list[str] = []
    by_sop: dict[str, DicomFileHeader] = {}
    unique: list[DicomFileHeader] = []
    for header in headers:
        if header.sop_uid and header.sop_uid in by_sop:
            original = by_sop[header.sop_uid].path.name
            warnings.append(
                f"{header.path}: skipped, duplicate of {original} (same SOPInstanceUID)"
            )
            continue
        if header.sop_uid:
            by_sop[header.sop_uid] = header
        unique.append(header)
    # Planes of different size, pixel layout or orientation cannot be stacked: the largest
    # group is the series' consensus; every other file is named and skipped.
    groups: dict[tuple[object, ...], list[DicomFileHeader]] = defaultdict(list)
    for header in unique:
        groups[header.geometry_key].append(header)
    main_key = max(groups, key=lambda key: sum(h.n_frames for h in groups[key]))
    for key, members in groups.items():
        if key == main_key:
            continue
        for header in members:
            warnings.append(
                f"{header.path}: skipped, {_difference(key, main_key)} from the rest of the "
                "series"
            )
    kept = groups[main_key]
    first = kept[0]
    return SeriesInfo(
        uid=uid,
        description=first.series_description,
        modality=first.modality,
        files=tuple(h.path for h in kept),
        n_slices=sum(h.n_frames for h in kept),
        rows=first.rows,
        cols=first.cols,
        warnings=tuple(summarise_skipped(shared_warnings + warnings)),
        series_number=first.series_number,
        headers=tuple(kept),
    )


def _difference(key: tuple[object, ...], main: tuple[object, ...]) -> str:
    """What makes a file's :attr:`DicomFileHeader.geometry_key` differ from the consensus."""
    rows, cols, orientation, bits, samples = key
    parts = []
    if (rows, cols) != main[:2]:
        parts.append(f"{rows}x{cols} plane (the series has {main[0]}x{main[1]})")
    if orientation != main[2]:
        parts.append(
            "no valid ImageOrientationPatient" if orientation is None
            else "a different ImageOrientationPatient"
        )
    if bits != main[3]:
        parts.append(f"BitsAllocated {bits} (the series has {main[3]})")
    if samples != main[4]:
        parts.append(f"SamplesPerPixel {samples} (the series has {main[4]})")
    return ", ".join(parts) or "a different geometry"


def discover_series(
    paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    *,
    progress: ProgressCallback | None = None,
    cancelled: CancelCallback | None = None,
    tracker: ProgressTracker | None = None,
) -> list[SeriesInfo]:
    """Find the DICOM series in folder(s) (searched recursively) or in a list of files.

    Headers only are read. Series are returned ordered by SeriesNumber, then description.
    Files that are not DICOM images are skipped with a warning (carried by every returned
    series); an empty result means no DICOM image was found.

    Parameters
    ----------
    paths
        A folder, a file, or a sequence of folders/files.
    progress
        ``progress(done, total)`` called after each file.
    cancelled
        Polled between files; :class:`~medsr_viewer.core.io.errors.LoadCancelled` is raised
        when it returns true.
    tracker
        Progress bookkeeping shared with a following load (used by ``load_volume``).

    Raises
    ------
    LoadError
        A given path does not exist.
    LoadCancelled
        ``cancelled()`` returned true.
    """
    tracker = tracker or ProgressTracker(progress, cancelled)
    files = list_candidate_files(paths, tracker)
    tracker.add_total(len(files))
    skipped: list[str] = []
    by_series: dict[str, list[DicomFileHeader]] = defaultdict(list)
    for file in files:
        tracker.check()
        try:
            header = read_dicom_header(file)
        except SkippedFile as exc:
            skipped.append(f"{file}: skipped, {exc}")
        else:
            by_series[header.series_uid].append(header)
        tracker.step()
    series = [_build_series(uid, headers, skipped) for uid, headers in by_series.items()]
    series.sort(
        key=lambda s: (s.series_number is None, s.series_number or 0, s.description, s.uid)
    )
    return series
