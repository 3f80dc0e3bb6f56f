"""Mouse gestures of the ROI tools: what a left click or drag on a pane does.

:class:`RoiGestures` is the panes' mouse handler (``SliceView.set_mouse_handler``) for the
ROI tools (:class:`~medsr_viewer.gui.layers.roi_tools.RoiTools`, which owns the tool state,
the selection and the actions). Points are taken in the pane's view millimetres and turned
into the world plane of the displayed slice, so a gesture does the same on the three plane
panes and on the SR pane. Every edit goes through the window's
:class:`~medsr_viewer.core.roi.RoiEditor` (one undo step each).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from PySide6.QtCore import QPointF

from medsr_viewer.core.roi import BrushRoi, BrushStroke, Measurement, Roi, RoiEditor
from medsr_viewer.core.roi.drawing import (
    box_from_drag,
    map_uv,
    next_roi_style,
    polygon_from_points,
    resize_handles,
    resized,
)
from medsr_viewer.core.roi.measurements import measurement_from_points
from medsr_viewer.core.roi.shapes import Point
from medsr_viewer.gui.layers.clicked_points import ClickedPoints
from medsr_viewer.gui.layers.roi_geometry import PaneGeometry, pane_geometry
from medsr_viewer.gui.layers.roi_layer import RoiLayer
from medsr_viewer.gui.layers.roi_tool_kinds import GestureHost, Tool
from medsr_viewer.gui.views.slice_view import SliceView

#: How close (screen pixels) a press must be to a resize handle to grab it.
HANDLE_PICK_PX = 8.0


@dataclass
class _Gesture:
    """A left-button drag in progress."""

    kind: str  # "box", "lasso", "brush", "erase", "move", "resize", "vertex"
    view: SliceView
    geometry: PaneGeometry
    start: Point
    roi: Roi | None = None  # the ROI edited (move, resize, brush target)
    handle: int = -1
    points: list[Point] = field(default_factory=list)
    result: Roi | None = None
    delta: tuple[float, float] = (0.0, 0.0)


class RoiGestures:
    """Turns left clicks and drags on the panes into ROI edits for the active tool.

    Parameters
    ----------
    host
        The ROI tools: active tool, brush radius, selection, adding ROIs, status messages.
    editor
        The window's undoable ROI editor.
    layer
        The layer drawing the ROIs, their previews and sketches.
    """

    def __init__(self, host: GestureHost, editor: RoiEditor, layer: RoiLayer) -> None:
        self._host = host
        self.editor = editor
        self.rois = editor.rois
        self.layer = layer
        self._gesture: _Gesture | None = None
        #: The polygon or angle being clicked point by point.
        self.clicks = ClickedPoints(host, layer, editor.rois)

    # ---------------------------------------------------------------- mouse (SliceMouseHandler)

    def slice_click(self, view: SliceView, ev: Any) -> bool:
        """A left click on a pane: select (Navigate), add a vertex (Polygon), paint a dot."""
        geometry = pane_geometry(view)
        if geometry is None:
            return False
        uv = self._event_uv(view, geometry, ev.pos())
        tool = self._host.active_tool
        if tool == Tool.NAVIGATE:
            hit = self.roi_at(geometry, uv, _pick_mm(view))
            self._host.select(hit.roi_id if hit is not None else "")
            return hit is not None
        if tool.clicks_points:
            self.clicks.click(view, geometry, uv, bool(ev.double()))
        elif tool in (Tool.BRUSH, Tool.ERASER):
            gesture = self._begin_paint(view, geometry, uv)
            if gesture is not None:
                self._finish(gesture)
        return True

    def slice_drag(self, view: SliceView, ev: Any) -> bool:
        """A left drag on a pane: draw, paint, move or resize; ``False`` lets the pane pan."""
        if ev.isStart():
            self._gesture = self._begin(view, ev)
        gesture = self._gesture
        if gesture is None or gesture.view is not view:
            return False
        self._update(gesture, self._event_uv(view, gesture.geometry, ev.pos()))
        if ev.isFinish():
            self._gesture = None
            self._finish(gesture)
        return True

    def roi_at(self, geometry: PaneGeometry, uv: Point, tolerance_mm: float = 0.0) -> Roi | None:
        """The topmost ROI of the pane's slice containing in-plane point ``uv``, or the
        ruler/angle within ``tolerance_mm`` of it (default: two pixels), if any."""
        world = geometry.plane.to_world(np.asarray(uv, dtype=np.float64))
        tolerance = tolerance_mm or 2.0 * max(geometry.pixel_spacing)
        for roi in reversed(list(self.rois)):
            if not geometry.contains_roi(roi):
                continue
            u, v, _ = roi.plane.to_plane(world)
            if isinstance(roi, Measurement):
                if float(roi.distance_uv(np.asarray(u), np.asarray(v))) <= tolerance:
                    return roi
            elif bool(roi.contains_uv(np.asarray(u), np.asarray(v))):
                return roi
        return None

    def abort(self) -> None:
        """Drop the drag in progress (an undo, a reset) and its preview."""
        gesture, self._gesture = self._gesture, None
        if gesture is not None:
            self.layer.set_preview(None)
            self.layer.set_sketch(gesture.view, None, (0, 0, 0))

    # ---------------------------------------------------------------- gestures

    def _event_uv(self, view: SliceView, geometry: PaneGeometry, pos: QPointF) -> Point:
        point = view.view_box.mapToView(pos)
        return geometry.view_to_uv(point.x(), point.y())

    def _begin(self, view: SliceView, ev: Any) -> _Gesture | None:
        geometry = pane_geometry(view)
        if geometry is None:
            return None
        start = self._event_uv(view, geometry, ev.buttonDownPos())
        tool = self._host.active_tool
        if tool == Tool.NAVIGATE:
            return self._begin_edit(view, geometry, ev.buttonDownPos(), start)
        if tool in (Tool.RECTANGLE, Tool.ELLIPSE):
            return _Gesture("box", view, geometry, start)
        if tool == Tool.FREEHAND:
            return _Gesture("lasso", view, geometry, start, points=[start])
        if tool == Tool.POLYGON:
            return _Gesture("vertex", view, geometry, start)
        if tool == Tool.RULER:
            return _Gesture("ruler", view, geometry, start)
        if tool == Tool.ANGLE:  # a drag is the first arm, or the last point
            return _Gesture("arm", view, geometry, start)
        gesture = self._begin_paint(view, geometry, start)
        # Nothing to erase: still take the drag so that it does not pan.
        return gesture or _Gesture("none", view, geometry, start)

    def _begin_edit(self, view: SliceView, geometry: PaneGeometry, press: QPointF,
                    start: Point) -> _Gesture | None:
        selected = self._host.selected_roi()
        if selected is not None and geometry.contains_roi(selected):
            corners = resize_handles(selected)
            if len(corners):
                xy = geometry.uv_to_view(map_uv(selected.plane, geometry.plane, corners))
                for index, (x, y) in enumerate(xy):
                    handle = view.view_box.mapFromView(QPointF(float(x), float(y)))
                    if np.hypot(handle.x() - press.x(), handle.y() - press.y()) <= HANDLE_PICK_PX:
                        return _Gesture("resize", view, geometry, start, roi=selected,
                                        handle=index)
        hit = self.roi_at(geometry, start, _pick_mm(view))
        if hit is None:
            return None
        self._host.select(hit.roi_id)
        return _Gesture("move", view, geometry, start, roi=hit)

    def _begin_paint(self, view: SliceView, geometry: PaneGeometry,
                     start: Point) -> _Gesture | None:
        selected = self._host.selected_roi()
        target = (selected if isinstance(selected, BrushRoi) and geometry.contains_roi(selected)
                  else None)
        if self._host.active_tool == Tool.ERASER:
            if target is None:
                self._host.show_status("Select a brush ROI on this slice to erase from")
                return None
            return _Gesture("erase", view, geometry, start, roi=target, points=[start])
        return _Gesture("brush", view, geometry, start, roi=target, points=[start])

    def _update(self, gesture: _Gesture, uv: Point) -> None:
        geometry = gesture.geometry
        min_size = 0.5 * min(geometry.pixel_spacing)
        kind = gesture.kind
        if kind == "box":
            shape = box_from_drag(self._host.active_tool.value, geometry.plane, gesture.start,
                                  uv, min_size)
            gesture.result = self._styled(shape) if shape is not None else None
            self.layer.set_preview(gesture.result)
        elif kind == "ruler":
            ruler = measurement_from_points("ruler", geometry.plane, [gesture.start, uv],
                                            min_size)
            gesture.result = self._styled(ruler, "Ruler") if ruler is not None else None
            self.layer.set_preview(gesture.result)
        elif kind == "arm":
            gesture.points = [uv]
            if not self.clicks.is_open:
                self.layer.set_sketch(gesture.view, geometry.uv_to_view(
                    np.asarray([gesture.start, uv])), next_roi_style(self.rois, "Angle")[1])
            else:
                self.clicks.draw(uv)
        elif kind in ("lasso", "brush", "erase"):
            if uv != gesture.points[-1]:
                gesture.points.append(uv)
            xy = geometry.uv_to_view(np.asarray(gesture.points))
            if kind == "lasso":
                name_color = next_roi_style(self.rois)[1]
                self.layer.set_sketch(gesture.view, xy, name_color)
            else:
                color = gesture.roi.color if gesture.roi is not None else next_roi_style(
                    self.rois)[1]
                shown = (90, 90, 90) if kind == "erase" else color
                self.layer.set_sketch(gesture.view, xy, shown,
                                      width_mm=2 * self._host.brush_radius)
        elif kind == "move":
            assert gesture.roi is not None
            du, dv = gesture.delta = self._delta(gesture, uv)
            gesture.result = gesture.roi.translated(du, dv) if (du, dv) != (0.0, 0.0) else None
            self.layer.set_preview(gesture.result)
        elif kind == "resize":
            assert gesture.roi is not None
            point = map_uv(geometry.plane, gesture.roi.plane, [uv])[0]
            result = resized(gesture.roi, gesture.handle, (point[0], point[1]), min_size)
            if result is not None:
                gesture.result = result
                self.layer.set_preview(result)
        elif kind == "vertex":
            gesture.points = [uv]

    def _delta(self, gesture: _Gesture, uv: Point) -> tuple[float, float]:
        assert gesture.roi is not None
        ends = map_uv(gesture.geometry.plane, gesture.roi.plane, [gesture.start, uv])
        du, dv = ends[1] - ends[0]
        return float(du), float(dv)

    def _finish(self, gesture: _Gesture) -> None:
        kind = gesture.kind
        geometry = gesture.geometry
        if kind in ("box", "move", "resize", "ruler"):
            self.layer.set_preview(None)
        elif kind in ("lasso", "brush", "erase", "arm"):
            self.layer.set_sketch(gesture.view, None, (0, 0, 0))
        if kind in ("box", "ruler") and gesture.result is not None:
            self._host.add_roi(gesture.result)
        elif kind == "arm" and gesture.points:
            if not self.clicks.is_open and gesture.points[-1] != gesture.start:
                self.clicks.click(gesture.view, geometry, gesture.start, False)
            self.clicks.click(gesture.view, geometry, gesture.points[-1], False)
        elif kind == "lasso":
            spacing = min(geometry.pixel_spacing)
            roi = polygon_from_points("freehand", geometry.plane, gesture.points,
                                      0.25 * spacing * spacing)
            if roi is not None:
                self._host.add_roi(roi)
        elif kind in ("brush", "erase"):
            self._apply_stroke(gesture)
        elif kind == "move" and gesture.result is not None and gesture.roi is not None:
            if gesture.roi.roi_id in self.rois:
                self.editor.move(gesture.roi.roi_id, *gesture.delta)
        elif kind == "resize" and gesture.result is not None:
            if gesture.result.roi_id in self.rois:
                self.editor.replace(gesture.result, "Resize ROI")
        elif kind == "vertex" and gesture.points:
            self.clicks.click(gesture.view, geometry, gesture.points[-1], False)

    def _apply_stroke(self, gesture: _Gesture) -> None:
        target = gesture.roi
        radius = self._host.brush_radius
        if target is not None and target.roi_id in self.rois:
            points = map_uv(gesture.geometry.plane, target.plane, gesture.points)
            stroke = BrushStroke(tuple((float(u), float(v)) for u, v in points), radius,
                                 erase=gesture.kind == "erase")
            self.editor.add_stroke(target.roi_id, stroke)
        elif gesture.kind == "brush":
            stroke = BrushStroke(tuple(gesture.points), radius)
            self._host.add_roi(BrushRoi(gesture.geometry.plane, strokes=(stroke,)))

    def _styled(self, roi: Roi, prefix: str = "ROI") -> Roi:
        name, color = next_roi_style(self.rois, prefix)
        return replace(roi, name=name, color=color)

    # ---------------------------------------------------------------- clicked points

    @property
    def polygon_points(self) -> int:
        """Points of the polygon (or angle) being clicked (0 when none)."""
        return self.clicks.count

    @property
    def polygon_open(self) -> bool:
        """Whether a polygon (or an angle) is being clicked."""
        return self.clicks.is_open

    def close_polygon(self) -> Roi | None:
        """Close the polygon being clicked into an ROI (``None`` if it is degenerate)."""
        return self.clicks.close()

    def cancel_polygon(self) -> None:
        """Forget the polygon or angle being clicked (if any)."""
        self.clicks.cancel()

    def on_hover(self, view: SliceView, scene_pos: QPointF) -> None:
        """The mouse moved over ``view``: the open polygon or angle follows it."""
        self.clicks.on_hover(view, scene_pos)

    def on_pane_changed(self, view: SliceView) -> None:
        """``view`` shows another slice or study: points being clicked there are dropped."""
        self.clicks.on_pane_changed(view)

def _pick_mm(view: SliceView) -> float:
    """How far (view mm) from a ruler or angle a press still picks it: a few screen pixels."""
    width, height = view.view_box.viewPixelSize()
    return HANDLE_PICK_PX * max(abs(width), abs(height))
