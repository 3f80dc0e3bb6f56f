"""What the information overlay in a pane's corners says, Qt-free, and its switches.

Corners: top-left the plane and slice (the pane's caption) and, only when the user asks for
it, the patient (name, ID, birth date, study date); top-right the series description (or the
file name); bottom-left the slice location along the slice normal, the slice thickness and
spacing; bottom-right the window, the zoom and the plane.

Patient data is never kept in a :class:`~medsr_viewer.core.volume.Volume` (nor in sessions,
sidecars or logs): :func:`patient_lines` reads it from the DICOM files when the pane shows
it, and nothing here logs it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from medsr_viewer.core.geometry import PLANE_AXES, DisplayVolume, Orientation
from medsr_viewer.core.view_model import OverlayState, ViewModel
from medsr_viewer.core.volume import Volume

#: DICOM files looked at for the patient of a folder's series (the first match is used).
MAX_PATIENT_FILES = 4000


class OverlayOptions:
    """The overlay switches of every pane (View menu), with change events.

    With a view model the switches are its ``overlay`` part (sessions keep them); without,
    they are held here. ``options.subscribe(listener)`` calls ``listener()`` after each
    change and returns the unsubscriber.
    """

    def __init__(self, model: ViewModel | None = None) -> None:
        self._model = model if model is not None else ViewModel()

    @property
    def state(self) -> OverlayState:
        """The switches now."""
        return self._model.overlay

    def set(self, **changes: bool) -> None:
        """Change switches (``info``, ``scale_bar``, ``patient_data``, ``crosshair``)."""
        self._model.set_overlay(**changes)

    def subscribe(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call ``listener()`` after every change; returns the unsubscriber."""
        return self._model.subscribe("overlay", listener)


# ---------------------------------------------------------------- top-right


def series_text(volume: Volume) -> str:
    """The series description (the volume's name) or, without one, the file name."""
    if volume.name:
        return volume.name
    source = volume.metadata.get("source")
    return Path(str(source)).name if source else ""


# ---------------------------------------------------------------- bottom-left


def slice_normal(display: DisplayVolume, orientation: Orientation) -> np.ndarray:
    """Unit normal (world LPS) of a plane's slices, pointing towards increasing slices."""
    axes = PLANE_AXES[Orientation(orientation)]
    column = display.affine[:3, :3]  # columns: canonical x, y, z; zyx axis a is column 2 - a
    row_dir, col_dir = column[:, 2 - axes.row_axis], column[:, 2 - axes.col_axis]
    normal = np.cross(row_dir, col_dir)
    length = float(np.linalg.norm(normal))
    if length == 0.0:
        normal, length = column[:, 2 - axes.slice_axis], float(np.linalg.norm(normal))
    normal = normal / (length or 1.0)
    if float(np.dot(normal, column[:, 2 - axes.slice_axis])) < 0:
        normal = -normal
    return normal


def slice_location(display: DisplayVolume, orientation: Orientation, index: int) -> float:
    """Position in mm of slice ``index`` along its normal: the world point of the slice
    centre projected on the normal (for DICOM what ImagePositionPatient projected on the
    normal gives, the SliceLocation of an axial series)."""
    axes = PLANE_AXES[Orientation(orientation)]
    centre = np.array([(n - 1) / 2.0 for n in display.shape])
    centre[axes.slice_axis] = index
    return float(np.dot(display.canonical_to_world(centre), slice_normal(display, orientation)))


def is_acquired_plane(display: DisplayVolume, orientation: Orientation) -> bool:
    """Whether a plane's slices are the acquired slices (``metadata["slice_axis"]``)."""
    acquired = display.volume.metadata.get("slice_axis")
    if acquired is None:
        return False
    canonical_xyz = 2 - PLANE_AXES[Orientation(orientation)].slice_axis
    source_xyz = int(np.flatnonzero(display.ornt[:, 0] == canonical_xyz)[0])
    return 2 - source_xyz == int(acquired)


def location_text(display: DisplayVolume, orientation: Orientation, index: int) -> str:
    """``"Loc -92.0 mm"`` and ``"Thk 1.5 mm  Sp 1.5 mm"`` (thickness of acquired slices,
    when the file states it), two lines."""
    location = slice_location(display, orientation, index)
    parts = []
    thickness = display.volume.metadata.get("slice_thickness_mm")
    if thickness is not None and is_acquired_plane(display, orientation):
        parts.append(f"Thk {_mm(float(thickness))}")
    parts.append(f"Sp {_mm(display.slice_spacing(orientation))}")
    return f"Loc {location:.1f} mm\n" + "  ".join(parts)


def _mm(value: float) -> str:
    return f"{value:.3g} mm" if value < 10 else f"{value:.1f} mm"


# ---------------------------------------------------------------- bottom-right


def view_text(window_text: str, zoom: float, orientation: Orientation) -> str:
    """``"W 400 L 40"``, ``"zoom 1.6×"`` and the plane, three lines."""
    zoom_line = ""
    if math.isfinite(zoom):
        zoom_line = f"zoom {zoom:.2g}×" if zoom < 1 else f"zoom {zoom:.1f}×"
    return "\n".join(line for line in (window_text, zoom_line, Orientation(orientation).value)
                     if line)


# ---------------------------------------------------------------- patient (opt-in)


def patient_lines(volume: Volume) -> str:
    """Patient name, ID, birth date and study date of a DICOM volume ("" when unknown),
    read from its files now (they are kept nowhere). Never log the result."""
    metadata = volume.metadata
    if metadata.get("format") != "DICOM" or not metadata.get("source"):
        return ""
    tags = _patient_tags(str(metadata["source"]), str(metadata.get("series_uid", "")))
    labels = (("", "name"), ("ID ", "id"), ("DOB ", "birth"), ("Study ", "study"))
    return "\n".join(f"{label}{tags[key]}" for label, key in labels if tags.get(key))


@lru_cache(maxsize=8)
def _patient_tags(source: str, series_uid: str) -> dict[str, str]:
    import pydicom
    from pydicom.errors import InvalidDicomError

    path = Path(source)
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    wanted = ["PatientName", "PatientID", "PatientBirthDate", "StudyDate", "SeriesInstanceUID"]
    for file in files[:MAX_PATIENT_FILES]:
        try:
            ds: Any = pydicom.dcmread(file, stop_before_pixels=True, specific_tags=wanted)
        except (InvalidDicomError, OSError, ValueError, KeyError, TypeError):
            continue  # not a readable DICOM file: look at the next one
        if series_uid and str(ds.get("SeriesInstanceUID", "")) != series_uid:
            continue
        return {"name": str(ds.get("PatientName", "")).replace("^", " ").strip(),
                "id": str(ds.get("PatientID", "")).strip(),
                "birth": _date(ds.get("PatientBirthDate", "")),
                "study": _date(ds.get("StudyDate", ""))}
    return {}


def _date(value: object) -> str:
    text = str(value or "").strip()
    if len(text) == 8 and text.isdigit():
        return f"{text[:4]}-{text[4:6]}-{text[6:]}"
    return text
