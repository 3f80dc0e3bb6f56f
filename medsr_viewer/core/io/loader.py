"""One entry point for every supported input: :func:`load_volume` and :func:`is_supported`.

The format is chosen from the file name (NIfTI/MGH, ordinary 2-D images) or, for anything
else, by trying DICOM; folders and file lists are searched for DICOM series.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from medsr_viewer.core.io.dicom_series import SeriesInfo, discover_series, list_candidate_files
from medsr_viewer.core.io.dicom_study import load_series_study
from medsr_viewer.core.io.errors import LoadCancelled, LoadError, describe_exception, is_fatal
from medsr_viewer.core.io.image2d import IMAGE2D_SUFFIXES, load_image2d
from medsr_viewer.core.io.nifti import NIFTI_SUFFIXES, load_nifti, load_nifti_study
from medsr_viewer.core.io.progress import CancelCallback, ProgressCallback, ProgressTracker
from medsr_viewer.core.study import Study, VolumeGroup
from medsr_viewer.core.volume import Volume

#: File-name endings of DICOM files (others are recognised by their "DICM" preamble).
DICOM_SUFFIXES = (".dcm", ".dicom", ".dic", ".ima")


def _has_suffix(path: Path, suffixes: Sequence[str]) -> bool:
    """Case-insensitive check of a (possibly double, e.g. ``.nii.gz``) file-name ending."""
    name = path.name.lower()
    return any(name.endswith(suffix) for suffix in suffixes)


def has_dicom_preamble(path: Path) -> bool:
    """True when ``path`` carries the ``DICM`` marker at byte 128 of a DICOM Part 10 file."""
    try:
        with path.open("rb") as handle:
            handle.seek(128)
            return handle.read(4) == b"DICM"
    except OSError:
        return False


def is_supported(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` looks loadable: a folder, or a DICOM/NIfTI/MGH/2-D image file.

    Cheap (name and at most 132 bytes read); meant for drag-and-drop acceptance, so a True
    answer does not guarantee that loading succeeds.
    """
    path = Path(path)
    if path.is_dir():
        return True
    if not path.is_file():
        return False
    if _has_suffix(path, NIFTI_SUFFIXES + IMAGE2D_SUFFIXES + DICOM_SUFFIXES):
        return True
    return has_dicom_preamble(path)


def _pick_series(
    series: list[SeriesInfo], series_uid: str | None, source: Path
) -> tuple[SeriesInfo, list[str]]:
    """The requested series (or the largest) plus a warning naming the others."""
    if series_uid is not None:
        matches = [s for s in series if s.uid == series_uid]
        if not matches:
            raise LoadError(source, f"no series with UID {series_uid} ({len(series)} found)")
        chosen = matches[0]
    else:
        chosen = max(series, key=lambda s: s.n_slices)
    notes: list[str] = []
    others = [s for s in series if s is not chosen]
    if others:
        listing = "; ".join(f"{s.label} uid {s.uid}" for s in others)
        notes.append(
            f"{len(series)} series found, showing {chosen.label}; others: {listing}"
        )
    return chosen, notes


def _with_notes(study: Study, notes: list[str]) -> Study:
    """``study`` with ``notes`` added to the warnings of every volume of its shown group."""
    if not notes:
        return study
    group = study.group
    volumes = tuple(v.with_voxels(v.voxels, warnings=v.warnings + tuple(notes))
                    for v in group.volumes)
    groups = list(study.groups)
    groups[study.shown_group] = VolumeGroup(group.kind, volumes, group.labels, group.rgb)
    return Study(tuple(groups), study.shown_group, study.shown_index, study.facts)


def _load_dicom(
    paths: Path | list[Path],
    source: Path,
    series_uid: str | None,
    tracker: ProgressTracker,
) -> Study:
    """Discover series under ``paths`` and load one of them."""
    series = discover_series(paths, tracker=tracker)
    if not series:
        files = list_candidate_files(paths)
        if not files:
            raise LoadError(source, "empty folder" if source.is_dir() else "no files")
        others = [f for f in files if _has_suffix(f, NIFTI_SUFFIXES + IMAGE2D_SUFFIXES)]
        hint = f"; open its {len(others)} NIfTI/image file(s) one at a time" if others else ""
        raise LoadError(source, f"no DICOM images found among {len(files)} files{hint}")
    chosen, notes = _pick_series(series, series_uid, source)
    return _with_notes(load_series_study(chosen, source=source, tracker=tracker), notes)


def load_volume(
    path: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    *,
    series_uid: str | None = None,
    progress: ProgressCallback | None = None,
    cancelled: CancelCallback | None = None,
) -> Volume:
    """Load any supported input as a :class:`Volume`: the shown volume of :func:`load_study`.

    For a series of several volumes (DWI, fMRI, echoes ...) this is the first volume of its
    main kind of image; :func:`load_study` gives them all. Of a 4-D NIfTI/MGH file only the
    first volume is read, with a warning saying how many there are.
    """
    return _guarded_load(path, series_uid=series_uid, progress=progress, cancelled=cancelled,
                         first_only=True).shown


def load_study(
    path: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    *,
    series_uid: str | None = None,
    progress: ProgressCallback | None = None,
    cancelled: CancelCallback | None = None,
) -> Study:
    """Load any supported input as a :class:`~medsr_viewer.core.study.Study`.

    A DICOM series with several volumes on one grid gives them all, in acquisition order and
    labelled, with each kind of image (magnitude, phase, ADC ...) in its own group; so does a
    4-D NIfTI/MGH file (its time points, labelled ``t=i/T``); other inputs give a one-volume
    study.

    A folder (searched recursively) or a list of DICOM files is grouped into series; the
    largest is loaded unless ``series_uid`` picks one, and the volume's warnings then name
    the others. NIfTI/MGH files, 2-D images and single DICOM files load directly.

    Parameters
    ----------
    path
        A file, a folder, or a sequence of DICOM files.
    series_uid
        SeriesInstanceUID of the series to load from a folder or file list.
    progress
        ``progress(done, total)`` called as files are read.
    cancelled
        Polled between files; :class:`LoadCancelled` is raised when it returns true.

    Raises
    ------
    LoadError
        Not found, not a supported format, corrupt, no image data, empty folder, larger than
        the file can hold or than the memory limit ... Every failure while loading (even a
        decoder's Rust panic) is a ``LoadError`` naming the file; only interrupts, exits and
        cancellation pass through as they are.
    LoadCancelled
        ``cancelled()`` returned true.
    """
    return _guarded_load(path, series_uid=series_uid, progress=progress, cancelled=cancelled,
                         first_only=False)


def _guarded_load(
    path: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    *,
    series_uid: str | None,
    progress: ProgressCallback | None,
    cancelled: CancelCallback | None,
    first_only: bool,
) -> Study:
    """:func:`load_study` (only the first volume of NIfTI/MGH data with ``first_only``)."""
    try:
        return _load_study(path, series_uid=series_uid, progress=progress, cancelled=cancelled,
                           first_only=first_only)
    except (LoadError, LoadCancelled):
        raise
    except BaseException as exc:
        if is_fatal(exc):
            raise
        where = Path(path) if isinstance(path, (str, os.PathLike)) else (
            Path(next(iter(path), "")) if len(path) else Path()
        )
        if isinstance(exc, MemoryError):
            raise LoadError(where, "not enough memory to load the image data") from exc
        raise LoadError(where, f"unexpected failure while loading ({describe_exception(exc)})") \
            from exc


def _load_study(
    path: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    *,
    series_uid: str | None,
    progress: ProgressCallback | None,
    cancelled: CancelCallback | None,
    first_only: bool = False,
) -> Study:
    """:func:`load_study` without the final conversion of unexpected failures."""
    tracker = ProgressTracker(progress, cancelled)
    tracker.check()
    if not isinstance(path, (str, os.PathLike)):
        paths = [Path(p) for p in path]
        if not paths:
            raise LoadError(Path(), "no files given")
        if len(paths) > 1:
            for item in paths:
                if _has_suffix(item, NIFTI_SUFFIXES + IMAGE2D_SUFFIXES):
                    raise LoadError(
                        item, "only DICOM files can be opened together; open this file alone"
                    )
            return _load_dicom(paths, paths[0].parent, series_uid, tracker)
        path = paths[0]
    source = Path(path)
    if not source.exists():
        raise LoadError(source, "not found")
    if source.is_dir():
        return _load_dicom(source, source, series_uid, tracker)
    if not os.access(source, os.R_OK):
        raise LoadError(source, "permission denied")
    if source.stat().st_size == 0:
        raise LoadError(source, "empty file")
    if _has_suffix(source, NIFTI_SUFFIXES):
        study = Study.of(load_nifti(source)) if first_only else load_nifti_study(source)
    elif _has_suffix(source, IMAGE2D_SUFFIXES):
        study = Study.of(load_image2d(source))
    else:
        study = _load_single_dicom(source, series_uid, tracker)
    tracker.add_total(1)
    tracker.step()
    return study


def _load_single_dicom(source: Path, series_uid: str | None, tracker: ProgressTracker) -> Study:
    """Load one DICOM file (single- or multi-frame), explaining why when it is not one."""
    series = discover_series(source, tracker=tracker)
    if not series:
        from medsr_viewer.core.io.dicom_headers import SkippedFile, read_dicom_header

        try:
            read_dicom_header(source)
        except SkippedFile as exc:
            reason = str(exc)
            if reason.startswith("not a DICOM file"):
                reason = "not a supported format (not DICOM, NIfTI or an image)"
            raise LoadError(source, reason) from exc
        raise LoadError(source, "no image data")  # pragma: no cover - discovery would find it
    chosen, _ = _pick_series(series, series_uid, source)
    return load_series_study(chosen, source=source, tracker=tracker)
