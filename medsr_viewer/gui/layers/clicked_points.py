"""Shapes clicked point by point on one pane: a polygon's vertices, an angle's three points.

:class:`ClickedPoints` holds the points clicked so far, draws them (with a rubber band to the
mouse) as a sketch on the pane, and turns them into an ROI: a polygon on a double-click or
Enter, an angle as soon as its third point is clicked. Clicking on another pane or slice, or
changing the tool, drops the points; Esc cancels them.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
from PySide6.QtCore import QPointF

from medsr_viewer.core.roi import Roi, RoiSet
from medsr_viewer.core.roi.drawing import next_roi_style, polygon_from_points
from medsr_viewer.core.roi.measurements import measurement_from_points
from medsr_viewer.core.roi.shapes import Point
from medsr_viewer.gui.layers.roi_geometry import PaneGeometry, pane_geometry
from medsr_viewer.gui.layers.roi_layer import RoiLayer
from medsr_viewer.gui.layers.roi_tool_kinds import GestureHost
from medsr_viewer.gui.views.slice_view import SliceView


@dataclass
class _Points:
    """A polygon (or an angle's three points: ``kind`` "angle") being clicked."""

    view: SliceView
    geometry: PaneGeometry
    points: list[Point] = field(default_factory=list)
    kind: str = "polygon"


class ClickedPoints:
    """The polygon or angle being clicked on one pane (see module doc).

    Parameters
    ----------
    host
        The ROI tools: active tool, adding ROIs, status messages, the Enter action's state.
    layer
        The layer drawing the sketch.
    rois
        The ROI set (to name and colour the new shape).
    """

    def __init__(self, host: GestureHost, layer: RoiLayer, rois: RoiSet) -> None:
        self._host = host
        self.layer = layer
        self._rois = rois
        self._polygon: _Points | None = None

    @property
    def count(self) -> int:
        """Points clicked so far (0 when none)."""
        return 0 if self._polygon is None else len(self._polygon.points)

    @property
    def is_open(self) -> bool:
        """Whether a polygon or an angle is being clicked."""
        return self._polygon is not None

    def close(self) -> Roi | None:
        """Make the ROI of the points clicked (``None`` if they are degenerate)."""
        polygon = self._polygon
        if polygon is None:
            return None
        self.cancel()
        spacing = min(polygon.geometry.pixel_spacing)
        if polygon.kind == "angle":
            angle = (measurement_from_points("angle", polygon.geometry.plane, polygon.points,
                                             0.5 * spacing) if len(polygon.points) == 3 else None)
            if angle is None:
                self._host.show_status("An angle needs three points: an end, the vertex, the "
                                       "other end")
                return None
            name, color = next_roi_style(self._rois, "Angle")
            return self._host.add_roi(replace(angle, name=name, color=color))
        roi = polygon_from_points("polygon", polygon.geometry.plane, polygon.points,
                                  0.25 * spacing * spacing)
        if roi is None:
            self._host.show_status("A polygon needs at least three vertices enclosing an area")
            return None
        return self._host.add_roi(roi)

    def cancel(self) -> None:
        """Forget the points being clicked (if any)."""
        polygon, self._polygon = self._polygon, None
        self._host.polygon_opened(False)
        if polygon is not None:
            self.layer.set_sketch(polygon.view, None, (0, 0, 0))

    def click(self, view: SliceView, geometry: PaneGeometry, uv: Point, double: bool) -> None:
        """A click at in-plane ``uv`` on ``view`` with the active tool (polygon or angle)."""
        polygon = self._polygon
        kind = self._host.active_tool.value
        if polygon is not None and (polygon.view is not view or polygon.kind != kind
                                    or polygon.geometry.key != geometry.key):
            self.cancel()
            polygon = None
        if polygon is None:
            if double:
                return
            polygon = self._polygon = _Points(view, geometry, kind=kind)
            self._host.polygon_opened(True)
        if kind == "angle":
            last = polygon.points[-1] if polygon.points else None
            if last is None or np.hypot(uv[0] - last[0], uv[1] - last[1]) > min(
                    geometry.pixel_spacing):
                polygon.points.append(uv)
            if len(polygon.points) == 3:
                self.close()
            else:
                self.draw(None)
            return
        if double:
            last = polygon.points[-1] if polygon.points else None
            if last is None or np.hypot(uv[0] - last[0], uv[1] - last[1]) > min(
                    geometry.pixel_spacing):
                polygon.points.append(uv)
            self.close()
            return
        polygon.points.append(uv)
        self.draw(None)

    def draw(self, hover: Point | None) -> None:
        """Draw the points clicked, and a line on to ``hover`` (the mouse) if given."""
        polygon = self._polygon
        if polygon is None:
            return
        points = list(polygon.points) + ([hover] if hover is not None else [])
        prefix = "Angle" if polygon.kind == "angle" else "ROI"
        color = next_roi_style(self._rois, prefix)[1]
        self.layer.set_sketch(polygon.view, polygon.geometry.uv_to_view(np.asarray(points)),
                              color)

    def on_hover(self, view: SliceView, scene_pos: QPointF) -> None:
        """The mouse moved over ``view``: the open polygon follows it."""
        polygon = self._polygon
        if polygon is None or polygon.view is not view:
            return
        point = view.view_box.mapSceneToView(scene_pos)
        self.draw(polygon.geometry.view_to_uv(point.x(), point.y()))

    def on_pane_changed(self, view: SliceView) -> None:
        """``view`` shows another slice or study: a polygon being clicked there is dropped."""
        if self._polygon is not None and self._polygon.view is view:
            geometry = pane_geometry(view)
            if geometry is None or geometry.key != self._polygon.geometry.key:
                self.cancel()

