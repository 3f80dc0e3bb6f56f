"""Does a label map fit the study it is opened over? Grid, extent and frame of reference.

A label map is drawn on the study's grid: resampled (nearest neighbour, in world space)
unless it is on that grid already. :func:`check_label_grid` compares the label map's own grid
with the study's and says in one line, for a banner, what differs:

- :attr:`GridRelation.SAME`: the study's voxel grid (same shape, every corner voxel centre
  within :data:`GRID_TOLERANCE_VOXELS` of the study's); nothing to say.
- :attr:`GridRelation.SUBGRID`: a block of the study's voxels (same spacing and orientation,
  origin on a study voxel, inside the study), e.g. a DICOM SEG holding only its labelled
  slices, or a crop: drawn exactly, nothing to say.
- :attr:`GridRelation.CROPPED`: the study's voxel lattice, but reaching outside the study
  (shifted by whole voxels, or a larger field of view): the part inside is drawn; warned.
- :attr:`GridRelation.RESAMPLED`: another grid (shape, spacing, orientation or origin): drawn
  resampled; warned, naming both grids.
- :attr:`GridRelation.DISJOINT`: no labelled voxel (for a map without labels: no voxel) lies
  inside the study, so nothing could be drawn: a label map of another subject or space. It is
  *not opened* (:attr:`GridCheck.opens`), and the message says why.

Besides the grid: when under :data:`MIN_INSIDE_FRACTION` of the labelled voxels lie inside
the study, the message says how many do; a DICOM SEG whose FrameOfReferenceUID or referenced
series differs from the study's is warned about even on the same grid (its coordinates may
not be this scan's).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import numpy as np

from medsr_viewer.core.labels.labelmap import LabelMap
from medsr_viewer.core.volume import Volume

#: Voxel centres closer than this (in voxels) are the same grid point.
GRID_TOLERANCE_VOXELS = 0.01
#: Under this fraction of the labelled voxels inside the study, the message says so.
MIN_INSIDE_FRACTION = 0.9
#: Labelled voxels sampled (evenly) to measure the fraction inside the study.
SAMPLE_VOXELS = 200_000
#: Centres of two grids further apart than this (mm) are named in the message.
CENTRE_NOTE_MM = 5.0
#: Letters of the LPS world axes, positive direction first.
_AXIS_LETTERS = (("L", "R"), ("P", "A"), ("S", "I"))


class GridRelation(str, Enum):
    """How a label map's grid relates to the study's (see the module docstring)."""

    SAME = "same"
    SUBGRID = "subgrid"
    CROPPED = "cropped"
    RESAMPLED = "resampled"
    DISJOINT = "disjoint"


@dataclass(frozen=True)
class GridCheck:
    """The result of :func:`check_label_grid`.

    Attributes
    ----------
    name
        The label map's file name (or layer name), which every message starts with.
    relation
        How its grid relates to the study's.
    inside_fraction
        Fraction of its labelled voxels (of all voxels, for a map without labels) whose
        centre lies inside the study.
    notes
        What differs, in phrases ("grid 256×256×170 at 1.0 mm vs study …").
    """

    name: str
    relation: GridRelation
    inside_fraction: float
    notes: tuple[str, ...] = ()

    @property
    def opens(self) -> bool:
        """Whether the label map should be opened (anything of it lies inside the study)."""
        return self.relation is not GridRelation.DISJOINT

    @property
    def message(self) -> str:
        """One line for a banner ("" when the label map fits the study)."""
        if not self.opens:
            return (f"{self.name}: does not overlap the study ({'; '.join(self.notes)}): a "
                    "label map of another subject or space? Not opened.")
        if not self.notes:
            return ""
        return f"{self.name}: {'; '.join(self.notes)}"


def check_label_grid(label_map: LabelMap, study: Volume) -> GridCheck:
    """Compare ``label_map``'s own grid (before resampling) with the ``study``'s grid.

    Qt-free; the GUI shows :attr:`GridCheck.message` in its warning banner (its error banner,
    and does not open the map, when :attr:`GridCheck.opens` is false).
    """
    source = label_map.source
    name = source.name if source is not None else (label_map.name or "label map")
    labels = label_map.volume
    relation = _relation(labels.affine, labels.shape, study.affine, study.shape)
    inside, has_labels = _inside_fraction(label_map.labels, labels.affine, study)
    notes: list[str] = []
    if inside == 0.0:
        return GridCheck(name, GridRelation.DISJOINT, 0.0, (
            "none of its labels lies inside the study's extent" if has_labels
            else "its grid lies outside the study's extent",
            _centres_text(labels, study)))
    if relation is GridRelation.RESAMPLED:
        notes.append(f"{_grid_text(labels, study)} — resampled to the study")
    elif relation is GridRelation.CROPPED:
        notes.append(f"{_grid_text(labels, study)} — the part inside the study is shown")
    if inside < MIN_INSIDE_FRACTION:
        what = "labels" if has_labels else "grid"
        notes.append(f"only {100 * inside:.0f}% of its {what} lie inside the study")
    notes.extend(_dicom_notes(labels, study))
    return GridCheck(name, relation, inside, tuple(notes))


# ---------------------------------------------------------------- grid geometry


def _corners(shape_zyx: tuple[int, ...]) -> np.ndarray:
    """The 8 corner voxel indices ``(x, y, z, 1)`` of a grid, one per row."""
    nx, ny, nz = (int(s) - 1 for s in shape_zyx[::-1])
    return np.array([[x, y, z, 1.0] for x in (0, nx) for y in (0, ny) for z in (0, nz)])


def _relation(label_affine: np.ndarray, label_shape: tuple[int, ...],
              study_affine: np.ndarray, study_shape: tuple[int, ...]) -> GridRelation:
    """SAME, SUBGRID (a block of the study's lattice inside it) or RESAMPLED; CROPPED is
    told apart from SUBGRID by the voxels inside the study."""
    to_study = np.linalg.inv(np.asarray(study_affine, np.float64)) @ np.asarray(
        label_affine, np.float64)
    corners = _corners(label_shape)
    mapped = corners @ to_study.T
    shift = mapped[:, :3] - corners[:, :3]
    offset = np.rint(shift[0])
    if not np.all(np.abs(shift - offset) <= GRID_TOLERANCE_VOXELS):
        return GridRelation.RESAMPLED  # not the study's lattice (spacing, axes, sub-voxel)
    if tuple(label_shape) == tuple(study_shape) and not np.any(offset):
        return GridRelation.SAME
    top = np.array(study_shape[::-1]) - 1
    inside = np.all(np.rint(mapped[:, :3]) >= 0) and np.all(np.rint(mapped[:, :3]) <= top)
    return GridRelation.SUBGRID if inside else GridRelation.CROPPED


def _inside_fraction(labels: np.ndarray, label_affine: np.ndarray,
                     study: Volume) -> tuple[float, bool]:
    """Fraction of labelled voxels (all voxels when none is labelled) inside the study, and
    whether the map had labelled voxels. Up to :data:`SAMPLE_VOXELS` voxels, evenly spread."""
    flat = np.flatnonzero(labels)
    has_labels = flat.size > 0
    if not has_labels:
        flat = np.arange(labels.size)
    if flat.size > SAMPLE_VOXELS:
        flat = flat[np.linspace(0, flat.size - 1, SAMPLE_VOXELS).astype(np.int64)]
    z, y, x = np.unravel_index(flat, labels.shape)
    index = np.stack([x, y, z, np.ones_like(x)], axis=1).astype(np.float64)
    to_study = np.linalg.inv(np.asarray(study.affine, np.float64)) @ np.asarray(
        label_affine, np.float64)
    near = np.floor(index @ to_study.T[:, :3] + 0.5)  # the rounding resample_labels uses
    limit = np.array(study.shape[::-1])
    inside = np.all((near >= 0) & (near < limit), axis=1)
    return float(inside.mean()), has_labels


def _spacing(affine: np.ndarray) -> np.ndarray:
    """Voxel size along the grid's (x, y, z) axes, mm."""
    return np.linalg.norm(np.asarray(affine, np.float64)[:3, :3], axis=0)


def _mm(value: float) -> str:
    text = f"{value:.2f}".rstrip("0")
    return text + "0" if text.endswith(".") else text


def _spacing_text(affine: np.ndarray) -> str:
    spacing = _spacing(affine)
    if np.allclose(spacing, spacing[0], rtol=1e-3):
        return f"{_mm(spacing[0])} mm"
    return "×".join(_mm(s) for s in spacing) + " mm"


def _shape_text(shape_zyx: tuple[int, ...]) -> str:
    """Shape as the file stores it, ``x×y×z`` (columns × rows × slices)."""
    return "×".join(str(int(s)) for s in shape_zyx[::-1])


def axis_codes(affine: np.ndarray) -> str:
    """Where each voxel axis (x, y, z) points in LPS world space, e.g. ``"LIA"``, ``"RAS"``
    (nibabel's axis codes, for the project's LPS affines)."""
    directions = np.asarray(affine, np.float64)[:3, :3]
    letters = []
    for column in directions.T:
        world = int(np.argmax(np.abs(column)))
        letters.append(_AXIS_LETTERS[world][0 if column[world] > 0 else 1])
    return "".join(letters)


def _directions(affine: np.ndarray) -> np.ndarray:
    matrix = np.asarray(affine, np.float64)[:3, :3]
    return matrix / _spacing(affine)


def _centre(volume: Volume) -> np.ndarray:
    middle = (np.array(volume.shape[::-1], np.float64) - 1) / 2
    return (np.asarray(volume.affine, np.float64) @ np.append(middle, 1.0))[:3]


def _centres_text(labels: Volume, study: Volume) -> str:
    distance = float(np.linalg.norm(_centre(labels) - _centre(study)))
    return f"centres {distance:.0f} mm apart"


def _grid_text(labels: Volume, study: Volume) -> str:
    """``grid 256×256×170 at 1.0 mm vs study 182×218×182 at 1.0 mm`` (with axis codes when
    the orientations differ), or ``grid … shifted 2.5 mm from the study's``."""
    same_shape = tuple(labels.shape) == tuple(study.shape)
    same_spacing = np.allclose(_spacing(labels.affine), _spacing(study.affine), rtol=1e-3)
    same_axes = np.allclose(_directions(labels.affine), _directions(study.affine), atol=1e-3)
    own = f"grid {_shape_text(labels.shape)} at {_spacing_text(labels.affine)}"
    if same_shape and same_spacing and same_axes:
        shift = np.asarray(labels.affine, np.float64)[:3, 3] - np.asarray(
            study.affine, np.float64)[:3, 3]
        return f"{own}, shifted {float(np.linalg.norm(shift)):.1f} mm from the study's"
    codes, study_codes = axis_codes(labels.affine), axis_codes(study.affine)
    if codes != study_codes:
        own += f" {codes}"
    text = f"{own} vs study {_shape_text(study.shape)} at {_spacing_text(study.affine)}"
    if codes != study_codes:
        text += f" {study_codes}"
    elif not same_axes:
        rotation = _directions(labels.affine).T @ _directions(study.affine)
        cosine = float(np.clip((np.trace(rotation) - 1) / 2, -1.0, 1.0))
        text += f", tilted {np.degrees(np.arccos(cosine)):.1f}° against it"
    distance = float(np.linalg.norm(_centre(labels) - _centre(study)))
    if distance > CENTRE_NOTE_MM:
        text += f", {_centres_text(labels, study)}"
    return text


def _short_uid(uid: str) -> str:
    return uid if len(uid) <= 16 else "…" + uid[-12:]


def _dicom_notes(labels: Volume, study: Volume) -> list[str]:
    """A DICOM SEG's frame of reference and referenced series against the study's."""
    notes = []
    frame = str(labels.metadata.get("frame_of_reference_uid") or "")
    study_frame = str(study.metadata.get("frame_of_reference_uid") or "")
    if frame and study_frame and frame != study_frame:
        notes.append(f"its frame of reference ({_short_uid(frame)}) is not the study's "
                     f"({_short_uid(study_frame)}): another scan session or scanner?")
    series = str(labels.metadata.get("referenced_series_uid") or "")
    study_series = str(study.metadata.get("series_uid") or "")
    if series and study_series and series != study_series:
        notes.append(f"it refers to series {_short_uid(series)}, not the study's "
                     f"({_short_uid(study_series)})")
    return notes
