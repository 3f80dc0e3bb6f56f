"""World geometry of what a pane shows: its slice plane and one-slice pixel grid.

:func:`pane_geometry` describes the slice a :class:`~medsr_viewer.gui.views.slice_view.SliceView`
shows in world terms, so the ROI layer can draw and the ROI tools can edit world ROIs on it
(the same on the three plane panes and on the SR pane).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from medsr_viewer.core.geometry import DisplayVolume, Orientation
from medsr_viewer.core.pane_geometry import (
    display_plane,
    display_slice_affine,
    plane_to_view,
    view_to_plane,
)
from medsr_viewer.core.roi import GridSpec, Plane, Roi
from medsr_viewer.core.roi.drawing import same_slice
from medsr_viewer.gui.views.slice_view import SliceView


@dataclass(frozen=True)
class PaneGeometry:
    """World geometry of what a pane shows: its slice plane and one-slice pixel grid.

    Attributes
    ----------
    display, orientation, slice_index
        The study, plane and slice shown.
    pixel_spacing
        ``(row mm, col mm)`` of the pane's view coordinates (the original's, also on the SR
        pane whose finer image is drawn over the same rectangle).
    plane
        The slice's world plane (:func:`core.pane_geometry.display_plane`).
    grid
        The slice as a ``(1, rows, cols)`` grid, to rasterise ROIs on.
    half_thickness
        Half the slice spacing: ROIs this close to ``plane`` (and parallel) lie in the slice.
    """

    display: DisplayVolume
    orientation: Orientation
    slice_index: int
    pixel_spacing: tuple[float, float]
    plane: Plane
    grid: GridSpec
    half_thickness: float

    @property
    def key(self) -> tuple[int, str, int]:
        """Identifies the slice for caching."""
        return (id(self.display), self.orientation.value, self.slice_index)

    def view_to_uv(self, x: float, y: float) -> tuple[float, float]:
        """In-plane ``(u, v)`` of a view point (mm)."""
        return view_to_plane(x, y, self.pixel_spacing)

    def uv_to_view(self, uv: np.ndarray) -> np.ndarray:
        """View ``(x, y)`` mm of in-plane points ``(n, 2)``."""
        uv = np.asarray(uv, dtype=np.float64).reshape(-1, 2)
        x, y = plane_to_view(uv[:, 0], uv[:, 1], self.pixel_spacing)
        return np.stack([x, y], axis=1)

    def contains_roi(self, roi: Roi) -> bool:
        """Whether ``roi`` lies in this slice (drawn as itself, selectable, editable here)."""
        return same_slice(self.plane, roi.plane, self.half_thickness)


def pane_geometry(view: SliceView) -> PaneGeometry | None:
    """The geometry of what ``view`` shows, or ``None`` when it shows no study."""
    display = view.display
    if display is None:
        return None
    orientation = view.orientation
    index = view.slice_index
    rows, cols = display.slice_shape(orientation)
    affine = display_slice_affine(display, orientation, index)
    return PaneGeometry(
        display=display,
        orientation=orientation,
        slice_index=index,
        pixel_spacing=view.pixel_spacing,
        plane=display_plane(display, orientation, index),
        grid=GridSpec((1, rows, cols), affine),
        half_thickness=display.slice_spacing(orientation) / 2.0,
    )
