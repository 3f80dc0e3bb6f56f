"""ROI drawing and editing tools: the active tool, the mouse gestures, the Edit menu.

Tools (toolbar "ROI", Tools menu; checkable and exclusive):

========== ===== ==========================================================================
tool       key   left mouse button
========== ===== ==========================================================================
Navigate   N     drag pans (or moves the ROI under the mouse, or resizes by a corner
                 handle of the selected rectangle/ellipse); click selects an ROI or sets
                 the point; Delete removes the selected ROI. Esc returns here (and
                 then deselects).
Rectangle  Q     drag a box
Ellipse    E     drag the ellipse's box
Polygon    P     click vertices; double-click or Enter closes, Esc cancels
Freehand   F     press, draw, release: the path is closed back to its start
Brush      B     paint a stroke of radius ``brush_radius`` mm (``[`` / ``]`` or the spin box)
                 into the selected brush ROI (a new brush ROI when none is selected here)
Eraser     X     erase a stroke from the selected brush ROI
========== ===== ==========================================================================

Every edit goes through the window's :class:`~medsr_viewer.core.roi.RoiEditor`, so it is one
undo step (Edit ▸ Undo, Ctrl+Z; Redo, Ctrl+Shift+Z or Ctrl+Y). Gestures work the same on the
three plane panes and on the SR pane: points are taken in the pane's view millimetres and
turned into the world plane of the displayed slice, so an ROI drawn on the SR result is the
same world region as the same drag on the original.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, QPointF, Qt, Signal
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QDoubleSpinBox, QLabel, QMainWindow, QMenu, QToolBar

from medsr_viewer.core.history import HistoryError
from medsr_viewer.core.roi import BrushRoi, BrushStroke, Roi, RoiEditor
from medsr_viewer.core.roi.drawing import (
    box_from_drag,
    map_uv,
    next_roi_style,
    polygon_from_points,
    resize_handles,
    resized,
)
from medsr_viewer.core.roi.shapes import Point
from medsr_viewer.gui.layers.roi_layer import PaneGeometry, RoiLayer, pane_geometry
from medsr_viewer.gui.views.slice_view import SliceView

DEFAULT_BRUSH_RADIUS = 3.0
MIN_BRUSH_RADIUS = 0.5
MAX_BRUSH_RADIUS = 50.0
BRUSH_STEP = 0.5
#: How close (screen pixels) a press must be to a resize handle to grab it.
HANDLE_PICK_PX = 8.0


class Tool(str, Enum):
    """What the left mouse button does on the panes."""

    NAVIGATE = "navigate"
    RECTANGLE = "rectangle"
    ELLIPSE = "ellipse"
    POLYGON = "polygon"
    FREEHAND = "freehand"
    BRUSH = "brush"
    ERASER = "eraser"


#: Menu text, shortcut and tip of each tool.
TOOL_SPECS: dict[Tool, tuple[str, str, str]] = {
    Tool.NAVIGATE: ("&Navigate", "N", "Pan, select, move and resize ROIs (Esc)"),
    Tool.RECTANGLE: ("&Rectangle ROI", "Q", "Drag to draw a rectangle ROI"),
    Tool.ELLIPSE: ("&Ellipse ROI", "E", "Drag to draw an ellipse ROI"),
    Tool.POLYGON: ("&Polygon ROI", "P",
                   "Click the vertices; double-click or Enter closes, Esc cancels"),
    Tool.FREEHAND: ("&Freehand ROI", "F", "Draw a closed lasso with the mouse"),
    Tool.BRUSH: ("&Brush", "B", "Paint a mask ROI ([ and ] change the radius)"),
    Tool.ERASER: ("Era&ser", "X", "Erase from the selected brush ROI"),
}


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


@dataclass
class _Polygon:
    """A polygon being clicked."""

    view: SliceView
    geometry: PaneGeometry
    points: list[Point] = field(default_factory=list)


class RoiTools(QObject):
    """The ROI tools of a main window: tool state, mouse handling on every pane, Edit menu.

    Parameters
    ----------
    window
        The main window (parent of the actions, whose status bar shows hints).
    panes
        The panes to draw on: the viewer's three planes and the SR pane.
    editor
        The window's undoable ROI editor; its ``rois`` and ``history`` are the document.

    Attributes
    ----------
    layer
        The :class:`RoiLayer` drawing the ROIs on the panes.
    toolbar, edit_menu, tools_menu
        For the main window to add.

    Signals
    -------
    selectionChanged(str)
        The selected ROI's id ("" when none).
    toolChanged(str)
        The active tool's name.
    """

    selectionChanged = Signal(str)
    toolChanged = Signal(str)

    def __init__(self, window: QMainWindow, panes: Sequence[SliceView], editor: RoiEditor) -> None:
        super().__init__(window)
        self._window = window
        self.editor = editor
        self.rois = editor.rois
        self.history = editor.history
        self._panes = list(panes)
        self._tool = Tool.NAVIGATE
        self._selected = ""
        self._radius = DEFAULT_BRUSH_RADIUS
        self._gesture: _Gesture | None = None
        self._polygon: _Polygon | None = None
        self.layer = RoiLayer(self.rois, self._panes, self)
        self._build_actions()
        self._build_toolbar_and_menus()
        for view in self._panes:
            view.set_mouse_handler(self)
            view.sliceChanged.connect(lambda _i, v=view: self._on_pane_changed(v))
            view.displayChanged.connect(lambda v=view: self._on_pane_changed(v))
            view.scene().sigMouseMoved.connect(lambda pos, v=view: self._on_hover(v, pos))
        self.rois.subscribe(self._on_rois_changed)
        self.history.subscribe(self._update_edit_actions)
        self._update_edit_actions()

    # ---------------------------------------------------------------- construction

    def _action(self, text: str, shortcuts: Sequence[str | QKeySequence], slot: Any,
                tip: str = "", checkable: bool = False) -> QAction:
        action = QAction(text, self._window)
        action.setShortcuts([QKeySequence(s) for s in shortcuts])
        action.setCheckable(checkable)
        if tip:
            keys = ", ".join(QKeySequence(s).toString() for s in shortcuts)
            action.setStatusTip(tip)
            action.setToolTip(f"{tip} ({keys})" if keys else tip)
        action.triggered.connect(slot)
        self._window.addAction(action)  # shortcuts work with menus and toolbars hidden
        return action

    def _build_actions(self) -> None:
        self.tool_group = QActionGroup(self)
        self.tool_group.setExclusive(True)
        self.tool_actions: dict[Tool, QAction] = {}
        for tool, (text, key, tip) in TOOL_SPECS.items():
            action = self._action(text, [key], lambda _c=False, t=tool: self.set_tool(t), tip,
                                  checkable=True)
            self.tool_group.addAction(action)
            self.tool_actions[tool] = action
        self.tool_actions[Tool.NAVIGATE].setChecked(True)
        self.escape_action = self._action(
            "Cancel / Navigate", ["Esc"], self.escape,
            "Cancel the polygon being drawn, else back to the Navigate tool, else deselect")
        self.close_polygon_action = self._action(
            "Close Polygon", ["Return", "Enter"], self.close_polygon,
            "Close the polygon being drawn")
        self.close_polygon_action.setEnabled(False)
        self.smaller_brush_action = self._action(
            "Smaller Brush", ["["], lambda: self.set_brush_radius(self._radius - BRUSH_STEP),
            "Brush and eraser radius down")
        self.larger_brush_action = self._action(
            "Larger Brush", ["]"], lambda: self.set_brush_radius(self._radius + BRUSH_STEP),
            "Brush and eraser radius up")
        self.undo_action = self._action("&Undo", ["Ctrl+Z"], self.undo)
        self.redo_action = self._action("&Redo", ["Ctrl+Shift+Z", "Ctrl+Y"], self.redo)
        self.delete_action = self._action(
            "&Delete ROI", ["Delete", "Backspace"], self.delete_selected,
            "Delete the selected ROI")
        self.delete_action.setEnabled(False)

    def _build_toolbar_and_menus(self) -> None:
        self.radius_spin = QDoubleSpinBox(self._window)
        self.radius_spin.setRange(MIN_BRUSH_RADIUS, MAX_BRUSH_RADIUS)
        self.radius_spin.setSingleStep(BRUSH_STEP)
        self.radius_spin.setDecimals(1)
        self.radius_spin.setSuffix(" mm")
        self.radius_spin.setValue(self._radius)
        self.radius_spin.setToolTip("Brush and eraser radius ([ smaller, ] larger)")
        self.radius_spin.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self.radius_spin.valueChanged.connect(self.set_brush_radius)

        self.toolbar = QToolBar("ROI", self._window)
        self.toolbar.setObjectName("roiToolbar")
        for action in self.tool_actions.values():
            # the toolbar names the shape ("Rectangle"), the Tools menu "Rectangle ROI"
            action.setIconText(action.iconText().removesuffix(" ROI"))
            self.toolbar.addAction(action)
        self.toolbar.addWidget(QLabel(" Radius: ", self._window))
        self.toolbar.addWidget(self.radius_spin)

        self.edit_menu = QMenu("&Edit", self._window)
        self.edit_menu.addAction(self.undo_action)
        self.edit_menu.addAction(self.redo_action)
        self.edit_menu.addSeparator()
        self.edit_menu.addAction(self.delete_action)

        self.tools_menu = QMenu("&Tools", self._window)
        for action in self.tool_actions.values():
            self.tools_menu.addAction(action)
        self.tools_menu.addSeparator()
        self.tools_menu.addAction(self.close_polygon_action)
        self.tools_menu.addAction(self.escape_action)
        self.tools_menu.addSeparator()
        self.tools_menu.addAction(self.smaller_brush_action)
        self.tools_menu.addAction(self.larger_brush_action)

    # ---------------------------------------------------------------- public state

    @property
    def tool(self) -> str:
        """The active tool's name (a :class:`Tool` value)."""
        return self._tool.value

    def set_tool(self, tool: Tool | str) -> None:
        """Make ``tool`` (a :class:`Tool` or its name) the active tool."""
        tool = Tool(tool)
        self._cancel_polygon()
        self.tool_actions[tool].setChecked(True)
        if tool == self._tool:
            return
        self._tool = tool
        for view in self._panes:
            if tool == Tool.NAVIGATE:
                view.unsetCursor()
            else:
                view.setCursor(Qt.CursorShape.CrossCursor)
        self._status(TOOL_SPECS[tool][2])
        self.toolChanged.emit(tool.value)

    @property
    def selected_id(self) -> str:
        """Id of the selected ROI ("" when none)."""
        return self._selected

    def selected_roi(self) -> Roi | None:
        """The selected ROI, if any."""
        try:
            return self.rois[self._selected] if self._selected else None
        except KeyError:
            return None

    def select(self, roi_id: str) -> None:
        """Select an ROI by id ("" deselects); emits ``selectionChanged`` on a change."""
        if roi_id and roi_id not in self.rois:
            raise KeyError(f"no ROI with id {roi_id}")
        self.delete_action.setEnabled(bool(roi_id))
        if roi_id == self._selected:
            return
        self._selected = roi_id
        self.layer.set_selected(roi_id)
        self.selectionChanged.emit(roi_id)

    @property
    def brush_radius(self) -> float:
        """Radius in mm of the brush and the eraser."""
        return self._radius

    def set_brush_radius(self, radius: float) -> None:
        """Set the brush/eraser radius (clamped to 0.5 .. 50 mm)."""
        self._radius = float(np.clip(radius, MIN_BRUSH_RADIUS, MAX_BRUSH_RADIUS))
        if abs(self.radius_spin.value() - self._radius) > 1e-9:
            self.radius_spin.blockSignals(True)
            self.radius_spin.setValue(self._radius)
            self.radius_spin.blockSignals(False)

    @property
    def polygon_points(self) -> int:
        """Vertices of the polygon being clicked (0 when none)."""
        return 0 if self._polygon is None else len(self._polygon.points)

    # ---------------------------------------------------------------- edits

    def add_roi(self, roi: Roi) -> Roi:
        """Add an ROI as one undo step and select it.

        An ROI without a name gets the next ``"ROI n"`` name and its palette colour.
        """
        if not roi.name:
            name, color = next_roi_style(self.rois)
            roi = replace(roi, name=name, color=color)
        self.editor.add(roi)
        self.select(roi.roi_id)
        return roi

    def delete_selected(self) -> bool:
        """Delete the selected ROI (undoable); ``False`` when none is selected."""
        if not self._selected or self._selected not in self.rois:
            return False
        self.editor.remove(self._selected)
        return True

    def undo(self) -> bool:
        """Undo the last edit; ``False`` when there is none."""
        self._abort_gesture()
        try:
            command = self.history.undo()
        except HistoryError:
            return False
        self._status(f"Undone: {command.description}")
        return True

    def redo(self) -> bool:
        """Redo the last undone edit; ``False`` when there is none."""
        self._abort_gesture()
        try:
            command = self.history.redo()
        except HistoryError:
            return False
        self._status(f"Redone: {command.description}")
        return True

    def reset(self) -> None:
        """Forget every ROI and the undo history (another study was opened)."""
        self._abort_gesture()
        self._cancel_polygon()
        self.select("")
        for roi_id in self.rois.ids():
            self.editor.remove(roi_id)
        self.history.clear()

    def escape(self) -> None:
        """Esc: cancel the polygon being drawn, else return to Navigate, else deselect."""
        if self._polygon is not None:
            self._cancel_polygon()
            self._status("Polygon cancelled")
        elif self._tool != Tool.NAVIGATE:
            self.set_tool(Tool.NAVIGATE)
        else:
            self.select("")

    def close_polygon(self) -> Roi | None:
        """Close the polygon being clicked into an ROI (``None`` if it is degenerate)."""
        polygon = self._polygon
        if polygon is None:
            return None
        self._cancel_polygon()
        spacing = min(polygon.geometry.pixel_spacing)
        roi = polygon_from_points("polygon", polygon.geometry.plane, polygon.points,
                                  0.25 * spacing * spacing)
        if roi is None:
            self._status("A polygon needs at least three vertices enclosing an area")
            return None
        return self.add_roi(roi)

    # ---------------------------------------------------------------- mouse (SliceMouseHandler)

    def slice_click(self, view: SliceView, ev: Any) -> bool:
        """A left click on a pane: select (Navigate), add a vertex (Polygon), paint a dot."""
        geometry = pane_geometry(view)
        if geometry is None:
            return False
        uv = self._event_uv(view, geometry, ev.pos())
        if self._tool == Tool.NAVIGATE:
            hit = self.roi_at(geometry, uv)
            self.select(hit.roi_id if hit is not None else "")
            return hit is not None
        if self._tool == Tool.POLYGON:
            self._polygon_click(view, geometry, uv, bool(ev.double()))
        elif self._tool in (Tool.BRUSH, Tool.ERASER):
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

    def roi_at(self, geometry: PaneGeometry, uv: Point) -> Roi | None:
        """The topmost ROI of the pane's slice containing in-plane point ``uv``, if any."""
        world = geometry.plane.to_world(np.asarray(uv, dtype=np.float64))
        for roi in reversed(list(self.rois)):
            if not geometry.contains_roi(roi):
                continue
            u, v, _ = roi.plane.to_plane(world)
            if bool(roi.contains_uv(np.asarray(u), np.asarray(v))):
                return roi
        return None

    # ---------------------------------------------------------------- gestures

    def _event_uv(self, view: SliceView, geometry: PaneGeometry, pos: QPointF) -> Point:
        point = view.view_box.mapToView(pos)
        return geometry.view_to_uv(point.x(), point.y())

    def _begin(self, view: SliceView, ev: Any) -> _Gesture | None:
        geometry = pane_geometry(view)
        if geometry is None:
            return None
        start = self._event_uv(view, geometry, ev.buttonDownPos())
        tool = self._tool
        if tool == Tool.NAVIGATE:
            return self._begin_edit(view, geometry, ev.buttonDownPos(), start)
        if tool in (Tool.RECTANGLE, Tool.ELLIPSE):
            return _Gesture("box", view, geometry, start)
        if tool == Tool.FREEHAND:
            return _Gesture("lasso", view, geometry, start, points=[start])
        if tool == Tool.POLYGON:
            return _Gesture("vertex", view, geometry, start)
        gesture = self._begin_paint(view, geometry, start)
        # Nothing to erase: still take the drag so that it does not pan.
        return gesture or _Gesture("none", view, geometry, start)

    def _begin_edit(self, view: SliceView, geometry: PaneGeometry, press: QPointF,
                    start: Point) -> _Gesture | None:
        selected = self.selected_roi()
        if selected is not None and geometry.contains_roi(selected):
            corners = resize_handles(selected)
            if len(corners):
                xy = geometry.uv_to_view(map_uv(selected.plane, geometry.plane, corners))
                for index, (x, y) in enumerate(xy):
                    handle = view.view_box.mapFromView(QPointF(float(x), float(y)))
                    if np.hypot(handle.x() - press.x(), handle.y() - press.y()) <= HANDLE_PICK_PX:
                        return _Gesture("resize", view, geometry, start, roi=selected,
                                        handle=index)
        hit = self.roi_at(geometry, start)
        if hit is None:
            return None
        self.select(hit.roi_id)
        return _Gesture("move", view, geometry, start, roi=hit)

    def _begin_paint(self, view: SliceView, geometry: PaneGeometry,
                     start: Point) -> _Gesture | None:
        selected = self.selected_roi()
        target = (selected if isinstance(selected, BrushRoi) and geometry.contains_roi(selected)
                  else None)
        if self._tool == Tool.ERASER:
            if target is None:
                self._status("Select a brush ROI on this slice to erase from")
                return None
            return _Gesture("erase", view, geometry, start, roi=target, points=[start])
        return _Gesture("brush", view, geometry, start, roi=target, points=[start])

    def _update(self, gesture: _Gesture, uv: Point) -> None:
        geometry = gesture.geometry
        min_size = 0.5 * min(geometry.pixel_spacing)
        kind = gesture.kind
        if kind == "box":
            shape = box_from_drag(self._tool.value, geometry.plane, gesture.start, uv, min_size)
            gesture.result = self._styled(shape) if shape is not None else None
            self.layer.set_preview(gesture.result)
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
                self.layer.set_sketch(gesture.view, xy, shown, width_mm=2 * self._radius)
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
        if kind in ("box", "move", "resize"):
            self.layer.set_preview(None)
        elif kind in ("lasso", "brush", "erase"):
            self.layer.set_sketch(gesture.view, None, (0, 0, 0))
        if kind == "box" and gesture.result is not None:
            self.add_roi(gesture.result)
        elif kind == "lasso":
            spacing = min(geometry.pixel_spacing)
            roi = polygon_from_points("freehand", geometry.plane, gesture.points,
                                      0.25 * spacing * spacing)
            if roi is not None:
                self.add_roi(roi)
        elif kind in ("brush", "erase"):
            self._apply_stroke(gesture)
        elif kind == "move" and gesture.result is not None and gesture.roi is not None:
            if gesture.roi.roi_id in self.rois:
                self.editor.move(gesture.roi.roi_id, *gesture.delta)
        elif kind == "resize" and gesture.result is not None:
            if gesture.result.roi_id in self.rois:
                self.editor.replace(gesture.result, "Resize ROI")
        elif kind == "vertex" and gesture.points:
            self._polygon_click(gesture.view, geometry, gesture.points[-1], False)

    def _apply_stroke(self, gesture: _Gesture) -> None:
        target = gesture.roi
        if target is not None and target.roi_id in self.rois:
            points = map_uv(gesture.geometry.plane, target.plane, gesture.points)
            stroke = BrushStroke(tuple((float(u), float(v)) for u, v in points), self._radius,
                                 erase=gesture.kind == "erase")
            self.editor.add_stroke(target.roi_id, stroke)
        elif gesture.kind == "brush":
            stroke = BrushStroke(tuple(gesture.points), self._radius)
            self.add_roi(BrushRoi(gesture.geometry.plane, strokes=(stroke,)))

    def _abort_gesture(self) -> None:
        gesture, self._gesture = self._gesture, None
        if gesture is not None:
            self.layer.set_preview(None)
            self.layer.set_sketch(gesture.view, None, (0, 0, 0))

    def _styled(self, roi: Roi) -> Roi:
        name, color = next_roi_style(self.rois)
        return replace(roi, name=name, color=color)

    # ---------------------------------------------------------------- polygon

    def _polygon_click(self, view: SliceView, geometry: PaneGeometry, uv: Point,
                       double: bool) -> None:
        polygon = self._polygon
        if polygon is not None and (polygon.view is not view
                                    or polygon.geometry.key != geometry.key):
            self._cancel_polygon()
            polygon = None
        if polygon is None:
            if double:
                return
            polygon = self._polygon = _Polygon(view, geometry)
            self.close_polygon_action.setEnabled(True)
        if double:
            last = polygon.points[-1] if polygon.points else None
            if last is None or np.hypot(uv[0] - last[0], uv[1] - last[1]) > min(
                    geometry.pixel_spacing):
                polygon.points.append(uv)
            self.close_polygon()
            return
        polygon.points.append(uv)
        self._draw_polygon(None)

    def _draw_polygon(self, hover: Point | None) -> None:
        polygon = self._polygon
        if polygon is None:
            return
        points = list(polygon.points) + ([hover] if hover is not None else [])
        color = next_roi_style(self.rois)[1]
        self.layer.set_sketch(polygon.view, polygon.geometry.uv_to_view(np.asarray(points)),
                              color)

    def _cancel_polygon(self) -> None:
        polygon, self._polygon = self._polygon, None
        self.close_polygon_action.setEnabled(False)
        if polygon is not None:
            self.layer.set_sketch(polygon.view, None, (0, 0, 0))

    def _on_hover(self, view: SliceView, scene_pos: QPointF) -> None:
        polygon = self._polygon
        if polygon is None or polygon.view is not view:
            return
        point = view.view_box.mapSceneToView(scene_pos)
        self._draw_polygon(polygon.geometry.view_to_uv(point.x(), point.y()))

    # ---------------------------------------------------------------- notifications

    def _on_pane_changed(self, view: SliceView) -> None:
        if self._polygon is not None and self._polygon.view is view:
            geometry = pane_geometry(view)
            if geometry is None or geometry.key != self._polygon.geometry.key:
                self._cancel_polygon()

    def _on_rois_changed(self, _roi_id: str) -> None:
        if self._selected and self._selected not in self.rois:
            self.select("")

    def _update_edit_actions(self) -> None:
        undo, redo = self.history.undo_text, self.history.redo_text
        self.undo_action.setText(f"&Undo {undo}" if undo else "&Undo")
        self.redo_action.setText(f"&Redo {redo}" if redo else "&Redo")
        self.undo_action.setEnabled(self.history.can_undo)
        self.redo_action.setEnabled(self.history.can_redo)

    def _status(self, message: str) -> None:
        self._window.statusBar().showMessage(message, 4000)

