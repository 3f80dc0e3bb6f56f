"""Display geometry: how a :class:`Volume` is shown as axial, coronal and sagittal slices.

A radiologist expects every study on screen the same way whatever order its voxels were
stored in. :class:`DisplayVolume` reorients the voxel array *without resampling* (only axis
permutations and flips) so that its axes point as closely as possible along the positive
world axes, which in our LPS world are patient Left, Posterior and Superior. The displayed
planes are then cut from that canonical array:

========  ================  ==========================  ==========================
plane     slice along       rows (top -> bottom)        columns (left -> right)
========  ================  ==========================  ==========================
axial     z (I -> S)        y: anterior -> posterior    x: patient right -> left
coronal   y (A -> P)        z: superior -> inferior     x: patient right -> left
sagittal  x (R -> L)        z: superior -> inferior     y: anterior -> posterior
========  ================  ==========================  ==========================

i.e. the radiological convention: the patient's right is on the screen's left, anterior at
the top of an axial image. Every mapping back to the original voxel index ``(z, y, x)`` and to
world LPS millimetres is kept, so the readout reports what was stored on disk.

Display coordinates: ``row``/``col`` are pixel indices of the 2-D slice (continuous values
allowed, pixel centres at integers) and ``slice`` is the slice index of the plane.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import numpy as np
from nibabel.orientations import apply_orientation, inv_ornt_aff, io_orientation

from medsr_viewer.core.volume import Volume


class Orientation(str, Enum):
    """A display plane."""

    AXIAL = "axial"
    CORONAL = "coronal"
    SAGITTAL = "sagittal"


@dataclass(frozen=True)
class PlaneAxes:
    """Which canonical array axes (0 = z, 1 = y, 2 = x) a plane uses for slice, rows, columns.

    ``row_flip`` is true when row 0 is the *last* index along ``row_axis`` (superior at the
    top of coronal and sagittal images).
    """

    slice_axis: int
    row_axis: int
    col_axis: int
    row_flip: bool


#: Axis assignment of each plane in the canonical (L, P, S-aligned) array, see module docs.
PLANE_AXES: dict[Orientation, PlaneAxes] = {
    Orientation.AXIAL: PlaneAxes(slice_axis=0, row_axis=1, col_axis=2, row_flip=False),
    Orientation.CORONAL: PlaneAxes(slice_axis=1, row_axis=0, col_axis=2, row_flip=True),
    Orientation.SAGITTAL: PlaneAxes(slice_axis=2, row_axis=0, col_axis=1, row_flip=True),
}

#: Letters for the positive and negative direction of each LPS world axis.
_POSITIVE_LETTERS = ("L", "P", "S")
_NEGATIVE_LETTERS = ("R", "A", "I")
#: A world axis contributes a letter to an edge label when its share of the direction is
#: at least this large (about 15 degrees of obliquity), strongest first.
OBLIQUE_LETTER_THRESHOLD = 0.25


@dataclass(frozen=True)
class EdgeLabels:
    """Patient-direction letters at the four edges of a displayed slice (e.g. A/P/R/L)."""

    top: str
    bottom: str
    left: str
    right: str


def direction_letters(vector: np.ndarray, threshold: float = OBLIQUE_LETTER_THRESHOLD) -> str:
    """Patient-direction letters of a world LPS direction, strongest component first.

    Parameters
    ----------
    vector
        A direction in world LPS coordinates (any length).
    threshold
        Minimum share of the unit vector for a secondary letter, so an oblique axis reads
        e.g. ``"AS"`` while a straight one reads ``"A"``.
    """
    vec = np.asarray(vector, dtype=np.float64)
    norm = float(np.linalg.norm(vec))
    if norm == 0.0:
        return ""
    unit = vec / norm
    order = np.argsort(-np.abs(unit), kind="stable")
    letters = []
    for rank, axis in enumerate(order):
        if rank > 0 and abs(unit[axis]) < threshold:
            break
        letters.append(_POSITIVE_LETTERS[axis] if unit[axis] > 0 else _NEGATIVE_LETTERS[axis])
    return "".join(letters)


class DisplayVolume:
    """A volume reoriented for display, with mappings between display, voxel and world.

    Parameters
    ----------
    volume
        The volume as loaded; it is not modified and its array is not copied unless the
        reorientation requires it (NumPy views are used for flips and transposes).
    """

    def __init__(self, volume: Volume) -> None:
        self.volume = volume
        shape_xyz = volume.voxels.shape[::-1]
        ornt = io_orientation(volume.affine)
        if np.isnan(ornt).any():
            # Degenerate geometry (a zero-size axis): show the array as stored.
            ornt = np.array([[0, 1], [1, 1], [2, 1]], dtype=np.float64)
        self.ornt = ornt
        xyz = np.transpose(volume.voxels, (2, 1, 0))
        #: The reoriented voxel array, indexed (z, y, x) with axes towards S, P, L.
        self.voxels: np.ndarray = np.transpose(apply_orientation(xyz, ornt), (2, 1, 0))
        #: A colour volume's ``uint8`` colour reoriented alike, ``(z, y, x, 3)``; else ``None``.
        self.rgb: np.ndarray | None = None
        if volume.rgb is not None:
            rgb_xyz = np.transpose(volume.rgb, (2, 1, 0, 3))
            self.rgb = np.transpose(apply_orientation(rgb_xyz, ornt), (2, 1, 0, 3))
        #: 4x4 map from canonical index (x, y, z, 1) to original index (x, y, z, 1).
        self.to_source: np.ndarray = inv_ornt_aff(ornt, shape_xyz)
        #: 4x4 map from canonical index (x, y, z, 1) to world LPS mm.
        self.affine: np.ndarray = volume.affine @ self.to_source
        sx, sy, sz = np.linalg.norm(self.affine[:3, :3], axis=0)
        self._spacing_zyx = (float(sz), float(sy), float(sx))

    # ---------------------------------------------------------------- plane geometry

    @property
    def shape(self) -> tuple[int, int, int]:
        """Canonical array shape ``(z, y, x)``."""
        z, y, x = self.voxels.shape
        return (z, y, x)

    def n_slices(self, orientation: Orientation) -> int:
        """Number of slices of a plane."""
        return self.shape[PLANE_AXES[Orientation(orientation)].slice_axis]

    def slice_shape(self, orientation: Orientation) -> tuple[int, int]:
        """``(rows, cols)`` of a slice of a plane."""
        axes = PLANE_AXES[Orientation(orientation)]
        return (self.shape[axes.row_axis], self.shape[axes.col_axis])

    def pixel_spacing(self, orientation: Orientation) -> tuple[float, float]:
        """Pixel size ``(row mm, col mm)`` of a plane: the physical height and width."""
        axes = PLANE_AXES[Orientation(orientation)]
        return (self._spacing_zyx[axes.row_axis], self._spacing_zyx[axes.col_axis])

    def slice_spacing(self, orientation: Orientation) -> float:
        """Distance in mm between neighbouring slices of a plane."""
        return self._spacing_zyx[PLANE_AXES[Orientation(orientation)].slice_axis]

    @property
    def is_colour(self) -> bool:
        """Whether the volume is a colour image (:attr:`rgb` is shown, not the voxels)."""
        return self.rgb is not None

    def slice_array(self, orientation: Orientation, index: int) -> np.ndarray:
        """The 2-D image ``(rows, cols)`` of slice ``index`` (a view where possible).

        Raises
        ------
        IndexError
            When ``index`` is outside ``0 .. n_slices - 1``.
        """
        return self._plane(self.voxels, orientation, index)

    def rgb_slice(self, orientation: Orientation, index: int) -> np.ndarray:
        """The colour ``(rows, cols, 3)`` ``uint8`` of slice ``index`` of a colour volume,
        oriented as :meth:`slice_array` (a view where possible).

        Raises
        ------
        IndexError
            When ``index`` is outside ``0 .. n_slices - 1``.
        ValueError
            The volume is grayscale.
        """
        if self.rgb is None:
            raise ValueError("a grayscale volume has no colour slices")
        return self._plane(self.rgb, orientation, index)

    def _plane(self, array: np.ndarray, orientation: Orientation, index: int) -> np.ndarray:
        """Slice ``index`` of a plane of a canonical ``(z, y, x, ...)`` array."""
        orientation = Orientation(orientation)
        n = self.n_slices(orientation)
        if not 0 <= index < n:
            raise IndexError(f"{orientation.value} slice {index} outside 0..{n - 1}")
        axes = PLANE_AXES[orientation]
        plane = np.take(array, index, axis=axes.slice_axis)
        return plane[::-1] if axes.row_flip else plane

    def edge_labels(self, orientation: Orientation) -> EdgeLabels:
        """Patient-direction letters at the top, bottom, left and right of a plane."""
        axes = PLANE_AXES[Orientation(orientation)]
        # Columns of the canonical affine are the world steps of canonical x, y, z.
        row_step = self.affine[:3, 2 - axes.row_axis]
        col_step = self.affine[:3, 2 - axes.col_axis]
        down = -row_step if axes.row_flip else row_step
        return EdgeLabels(
            top=direction_letters(-down),
            bottom=direction_letters(down),
            left=direction_letters(-col_step),
            right=direction_letters(col_step),
        )

    # ---------------------------------------------------------------- coordinate maps

    def display_to_canonical(
        self, orientation: Orientation, row: float, col: float, slice_index: float
    ) -> np.ndarray:
        """Canonical index ``(z, y, x)`` of a display position (continuous values allowed)."""
        axes = PLANE_AXES[Orientation(orientation)]
        idx = np.zeros(3)
        idx[axes.slice_axis] = slice_index
        idx[axes.row_axis] = (self.shape[axes.row_axis] - 1 - row) if axes.row_flip else row
        idx[axes.col_axis] = col
        return idx

    def canonical_to_display(
        self, orientation: Orientation, zyx: np.ndarray | tuple[float, float, float]
    ) -> tuple[float, float, float]:
        """Display position ``(row, col, slice)`` of a canonical index ``(z, y, x)``."""
        axes = PLANE_AXES[Orientation(orientation)]
        idx = np.asarray(zyx, dtype=np.float64)
        row = idx[axes.row_axis]
        if axes.row_flip:
            row = self.shape[axes.row_axis] - 1 - row
        return (float(row), float(idx[axes.col_axis]), float(idx[axes.slice_axis]))

    def canonical_to_voxel(self, zyx: np.ndarray | tuple[float, float, float]) -> np.ndarray:
        """Original voxel index ``(z, y, x)`` of a canonical index ``(z, y, x)``."""
        idx = np.asarray(zyx, dtype=np.float64)
        src = self.to_source @ np.append(idx[::-1], 1.0)
        return src[:3][::-1]

    def voxel_to_canonical(self, zyx: np.ndarray | tuple[float, float, float]) -> np.ndarray:
        """Canonical index ``(z, y, x)`` of an original voxel index ``(z, y, x)``."""
        idx = np.asarray(zyx, dtype=np.float64)
        can = np.linalg.solve(self.to_source, np.append(idx[::-1], 1.0))
        return can[:3][::-1]

    def canonical_to_world(self, zyx: np.ndarray | tuple[float, float, float]) -> np.ndarray:
        """World LPS mm ``(x, y, z)`` of a canonical index ``(z, y, x)``."""
        idx = np.asarray(zyx, dtype=np.float64)
        return (self.affine @ np.append(idx[::-1], 1.0))[:3]

    def display_to_voxel(
        self, orientation: Orientation, row: float, col: float, slice_index: float
    ) -> np.ndarray:
        """Original voxel index ``(z, y, x)`` shown at a display position."""
        return self.canonical_to_voxel(
            self.display_to_canonical(orientation, row, col, slice_index)
        )

    def display_to_world(
        self, orientation: Orientation, row: float, col: float, slice_index: float
    ) -> np.ndarray:
        """World LPS mm ``(x, y, z)`` of a display position."""
        return self.canonical_to_world(
            self.display_to_canonical(orientation, row, col, slice_index)
        )

    def contains(self, zyx: np.ndarray | tuple[float, float, float]) -> bool:
        """Whether a canonical index (rounded to the nearest voxel) lies inside the array."""
        idx = np.rint(np.asarray(zyx, dtype=np.float64))
        return bool(np.all(idx >= 0) and np.all(idx < np.array(self.shape)))

    def value_at(self, zyx: np.ndarray | tuple[float, float, float]) -> float | None:
        """Voxel value at the canonical index nearest ``zyx``, or ``None`` outside."""
        if not self.contains(zyx):
            return None
        z, y, x = (int(v) for v in np.rint(np.asarray(zyx, dtype=np.float64)))
        return float(self.voxels[z, y, x])

    def rgb_at(self, zyx: np.ndarray | tuple[float, float, float]) -> tuple[int, int, int] | None:
        """Colour ``(R, G, B)`` at the canonical index nearest ``zyx``; ``None`` outside or
        for a grayscale volume."""
        if self.rgb is None or not self.contains(zyx):
            return None
        z, y, x = (int(v) for v in np.rint(np.asarray(zyx, dtype=np.float64)))
        r, g, b = (int(c) for c in self.rgb[z, y, x])
        return (r, g, b)

    def center(self) -> np.ndarray:
        """Canonical index ``(z, y, x)`` of the middle voxel (where a study opens)."""
        return np.array([n // 2 for n in self.shape], dtype=np.float64)
