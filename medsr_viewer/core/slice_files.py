"""Which DICOM file (and frame) the slice shown comes from, for the tag browser.

The DICOM loader keeps, per acquired slice of a volume, the file it was read from and its
frame in a multi-frame file (``metadata["slice_files"]``: ``(path, frame)`` or ``None``
for a missing slice shown blank). The slice at the cursor is found by world position, so
any plane gives an answer: the acquired plane's own slice, and for a reformatted plane
(coronal or sagittal of an axial series) the acquired slice the cursor lies in.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from medsr_viewer.core.view_model import ViewModel
from medsr_viewer.core.volume import Volume


@dataclass(frozen=True)
class SliceFile:
    """The file of one acquired slice.

    Parameters
    ----------
    path
        The DICOM file; ``None`` for a missing slice (shown blank: no file holds it).
    frame
        The frame (0-based) in a multi-frame file, ``None`` for a single-frame file.
    index
        The acquired slice (0-based) along the volume's slice axis.
    n_slices
        Acquired slices of the volume.
    """

    path: Path | None
    frame: int | None
    index: int
    n_slices: int


def is_dicom(volume: Volume | None) -> bool:
    """Whether a volume was read from DICOM files."""
    return volume is not None and volume.metadata.get("format") == "DICOM"


def slice_file(volume: Volume, world_mm: np.ndarray) -> SliceFile | None:
    """The file of the acquired slice of ``volume`` holding the world point ``world_mm``
    (LPS mm; clamped to the volume). ``None`` when the volume records no files per slice
    (not DICOM, or a volume computed from one on another grid)."""
    files = volume.metadata.get("slice_files")
    n_slices = volume.shape[0]
    if not isinstance(files, (list, tuple)) or len(files) != n_slices:
        return None
    if int(volume.metadata.get("slice_axis", 0)) != 0:
        return None
    voxel_xyz = np.linalg.solve(volume.affine, np.append(np.asarray(world_mm, float), 1.0))
    if not np.all(np.isfinite(voxel_xyz)):
        return None
    index = int(np.clip(np.rint(voxel_xyz[2]), 0, n_slices - 1))
    entry = files[index]
    if entry is None:
        return SliceFile(None, None, index, n_slices)
    path, frame = entry
    return SliceFile(Path(path), None if frame is None else int(frame), index, n_slices)


def shown_slice_file(model: ViewModel) -> SliceFile | None:
    """The file of the acquired slice at the view model's cursor: from the volume shown,
    else from the series it belongs to (a volume made from it in memory is shown)."""
    display = model.display
    world = model.cursor_world
    if display is None or world is None:
        return None
    candidates = [display.volume]
    series = model.series
    if series is not None and series.shown is not display.volume:
        candidates.append(series.shown)
    for volume in candidates:
        found = slice_file(volume, world)
        if found is not None:
            return found
    return None
