"""World geometry of what a pane shows: the plane of a displayed slice and its pixel grids.

A pane shows slice ``index`` of a :class:`~medsr_viewer.core.geometry.DisplayVolume` in one
orientation. Its view coordinates are millimetres with the origin at the top-left *edge* of
the image (see ``gui/slice_view.py``). ROIs are stored in world coordinates on a
:class:`~medsr_viewer.core.roi.Plane`; these functions give that plane, convert between view
millimetres and the plane's ``(u, v)`` coordinates, and describe a finer (super-resolved)
pixel grid of the same slice as a one-slice :class:`~medsr_viewer.core.volume.Volume`, so
ROI metrics can be taken on the SR result exactly as on the original.
"""

from __future__ import annotations

import numpy as np

from medsr_viewer.core.geometry import DisplayVolume, Orientation
from medsr_viewer.core.roi.plane import Plane
from medsr_viewer.core.volume import Volume


def _display_steps(display: DisplayVolume, orientation: Orientation,
                   index: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """World point of display pixel (0, 0) and the world steps of one column, row and slice."""
    origin = display.display_to_world(orientation, 0.0, 0.0, index)
    col_step = display.display_to_world(orientation, 0.0, 1.0, index) - origin
    row_step = display.display_to_world(orientation, 1.0, 0.0, index) - origin
    slice_step = display.display_to_world(orientation, 0.0, 0.0, index + 1.0) - origin
    return origin, col_step, row_step, slice_step


def display_plane(display: DisplayVolume, orientation: Orientation, index: float) -> Plane:
    """The world plane of a displayed slice.

    Its origin is the centre of display pixel ``(row 0, col 0)``; ``u`` runs to the right
    along the displayed columns and ``v`` down along the displayed rows, so a pixel centre's
    in-plane coordinates are ``(col * col_mm, row * row_mm)``.
    """
    origin, col_step, row_step, _ = _display_steps(display, Orientation(orientation), index)
    u = col_step / np.linalg.norm(col_step)
    v = row_step - (row_step @ u) * u  # orthogonalise sheared grids
    v = v / np.linalg.norm(v)
    return Plane(tuple(origin), tuple(u), tuple(v))


def view_to_plane(x_mm: float, y_mm: float,
                  pixel_spacing: tuple[float, float]) -> tuple[float, float]:
    """In-plane ``(u, v)`` of a pane's view point; ``pixel_spacing`` is ``(row mm, col mm)``."""
    row_mm, col_mm = pixel_spacing
    return (float(x_mm) - col_mm / 2.0, float(y_mm) - row_mm / 2.0)


def plane_to_view(u: np.ndarray | float, v: np.ndarray | float,
                  pixel_spacing: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """A pane's view ``(x, y)`` mm of in-plane points (inverse of :func:`view_to_plane`)."""
    row_mm, col_mm = pixel_spacing
    return (np.asarray(u, dtype=np.float64) + col_mm / 2.0,
            np.asarray(v, dtype=np.float64) + row_mm / 2.0)


#: A grid refinement: one factor for both axes, or ``(rows, columns)`` factors (a
#: through-plane result is finer along one axis only, by any factor).
Scale = float | tuple[float, float]


def _scales(scale: Scale) -> tuple[float, float]:
    rows, cols = (scale, scale) if isinstance(scale, (int, float)) else scale
    if rows < 1 or cols < 1:
        raise ValueError(f"scale must be at least 1, got {scale}")
    return float(rows), float(cols)


def display_slice_affine(display: DisplayVolume, orientation: Orientation, index: int,
                         scale: Scale = 1) -> np.ndarray:
    """Affine of a displayed slice as a one-slice grid, optionally finer by ``scale``.

    Array axes are ``(z, y, x) = (this slice, display rows, display columns)``. With a scale
    above 1 the pixel edges stay where the original's are (the SR convention: output pixel
    ``(r, c)`` is centred at original position ``((r + 0.5) / s_rows - 0.5, (c + 0.5) /
    s_cols - 0.5)``); ``scale`` may differ between rows and columns.
    """
    s_rows, s_cols = _scales(scale)
    origin, col_step, row_step, slice_step = _display_steps(
        display, Orientation(orientation), float(index))
    affine = np.eye(4)
    affine[:3, 0] = col_step / s_cols
    affine[:3, 1] = row_step / s_rows
    affine[:3, 2] = slice_step
    affine[:3, 3] = origin + (0.5 / s_cols - 0.5) * col_step + (0.5 / s_rows - 0.5) * row_step
    return affine


def display_slice_volume(display: DisplayVolume, orientation: Orientation, index: int,
                         image: np.ndarray, scale: Scale = 1, name: str = "") -> Volume:
    """A displayed slice image (original or super-resolved by ``scale``) as a Volume.

    ``image`` is ``(rows * s_rows, cols * s_cols)`` in display orientation (as the pane draws
    it). The result lies exactly on the slice's world plane, so ROIs rasterise onto it.
    """
    rows, cols = display.slice_shape(Orientation(orientation))
    s_rows, s_cols = _scales(scale)
    expected = (round(rows * s_rows), round(cols * s_cols))
    if tuple(image.shape) != expected:
        raise ValueError(f"slice image shape {tuple(image.shape)} is not {expected} "
                         f"(display slice {rows}x{cols} at x{scale})")
    affine = display_slice_affine(display, orientation, index, scale)
    source = display.volume
    return Volume(np.asarray(image, dtype=np.float32)[None], affine, modality=source.modality,
                  name=name or source.name)
