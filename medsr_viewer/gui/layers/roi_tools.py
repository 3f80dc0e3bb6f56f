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
Ruler      L     drag a line: its length in mm is written beside it
Angle      A     click an end, the vertex and the other end (or drag the first arm, then
                 click): the angle in degrees is written at the vertex
========== ===== ==========================================================================

The toolbar shows the tools as icons (:mod:`~medsr_viewer.gui.layers.tool_icons`); rulers and
angles are members of the ROI set like the shapes (sessions, ROI export, undo, move, delete),
without an area, so the metrics leave them out.

Every edit goes through the window's :class:`~medsr_viewer.core.roi.RoiEditor`, so it is one
undo step (Edit ▸ Undo, Ctrl+Z; Redo, Ctrl+Shift+Z or Ctrl+Y). Gestures work the same on the
three plane panes and on the SR pane: points are taken in the pane's view millimetres and
turned into the world plane of the displayed slice, so an ROI drawn on the SR result is the
same world region as the same drag on the original. The gestures themselves are in
:mod:`~medsr_viewer.gui.layers.roi_gestures`; this module holds the tool state, the
selection, the edits and their actions (from the action table, ids ``tool.*`` and
``edit.*``), the ROI toolbar and the Edit and Tools menus.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QDoubleSpinBox, QLabel, QMainWindow, QMenu, QToolBar

from medsr_viewer.core.history import HistoryError
from medsr_viewer.core.roi import Roi, RoiEditor
from medsr_viewer.core.roi.drawing import next_roi_style
from medsr_viewer.core.roi.shapes import Point
from medsr_viewer.core.view_model import ViewModel
from medsr_viewer.gui.actions.registry import ActionRegistry
from medsr_viewer.gui.layers.roi_geometry import PaneGeometry
from medsr_viewer.gui.layers.roi_gestures import RoiGestures, Tool
from medsr_viewer.gui.layers.roi_layer import RoiLayer
from medsr_viewer.gui.layers.tool_icons import tool_icon
from medsr_viewer.gui.views.slice_view import SliceView

__all__ = ["RoiTools", "Tool"]

DEFAULT_BRUSH_RADIUS = 3.0
MIN_BRUSH_RADIUS = 0.5
MAX_BRUSH_RADIUS = 50.0
BRUSH_STEP = 0.5


class RoiTools(QObject):
    """The ROI tools of a main window: tool state, selection, edits, actions and menus.

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
    gestures
        The :class:`RoiGestures` handling the mouse on every pane.
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

    def __init__(self, window: QMainWindow, panes: Sequence[SliceView], editor: RoiEditor,
                 model: ViewModel | None = None) -> None:
        super().__init__(window)
        #: The view state holding the active tool (a session restores it).
        self.model = model if model is not None else ViewModel()
        self._window = window
        self.editor = editor
        self.rois = editor.rois
        self.history = editor.history
        self._panes = list(panes)
        self._selected = ""
        self._radius = DEFAULT_BRUSH_RADIUS
        self.layer = RoiLayer(self.rois, self._panes, self)
        #: The panes' mouse handler: what clicks and drags do with the active tool.
        self.gestures = RoiGestures(self, editor, self.layer)
        self._registry = ActionRegistry.of(window)
        self._bind_actions()
        self._build_toolbar_and_menus()
        for view in self._panes:
            view.set_mouse_handler(self.gestures)
            view.sliceChanged.connect(lambda _i, v=view: self.gestures.on_pane_changed(v))
            view.displayChanged.connect(lambda v=view: self.gestures.on_pane_changed(v))
            view.scene().sigMouseMoved.connect(
                lambda pos, v=view: self.gestures.on_hover(v, pos))
        self.rois.subscribe(self._on_rois_changed)
        self.history.subscribe(self._update_edit_actions)
        self._update_edit_actions()

    # ---------------------------------------------------------------- construction

    def _bind_actions(self) -> None:
        bind = self._registry.bind
        self.tool_actions: dict[Tool, QAction] = {
            tool: bind(tool.action_id, lambda _c=False, t=tool: self.set_tool(t))
            for tool in Tool
        }
        for tool, action in self.tool_actions.items():
            action.setIcon(tool_icon(tool))
        self.tool_group = self._registry.exclusive("roi.tools", [t.action_id for t in Tool])
        self.tool_actions[Tool.NAVIGATE].setChecked(True)
        self.escape_action = bind("tool.escape", self.escape)
        self.close_polygon_action = bind("tool.close_polygon", self.close_polygon)
        self.close_polygon_action.setEnabled(False)
        self.smaller_brush_action = bind(
            "tool.smaller_brush", lambda: self.set_brush_radius(self._radius - BRUSH_STEP))
        self.larger_brush_action = bind(
            "tool.larger_brush", lambda: self.set_brush_radius(self._radius + BRUSH_STEP))
        self.undo_action = bind("edit.undo", self.undo)
        self.redo_action = bind("edit.redo", self.redo)
        self.delete_action = bind("edit.delete_roi", self.delete_selected)
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
        self.toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonIconOnly)
        for action in self.tool_actions.values():
            self.toolbar.addAction(action)  # tooltip: the tool's name and key
        self.toolbar.addWidget(QLabel(" Radius: ", self._window))
        self.toolbar.addWidget(self.radius_spin)

        self.edit_menu = QMenu("&Edit", self._window)
        self._registry.fill_menu(self.edit_menu, "Edit")
        self.tools_menu = QMenu("&Tools", self._window)
        self._registry.fill_menu(self.tools_menu, "Tools")
        self.model.subscribe("tool", self._on_tool)

    # ---------------------------------------------------------------- public state

    @property
    def tool(self) -> str:
        """The active tool's name (a :class:`Tool` value)."""
        return self.model.tool

    @property
    def active_tool(self) -> Tool:
        """The active tool (held by the view model)."""
        return Tool(self.model.tool)

    def set_tool(self, tool: Tool | str) -> None:
        """Make ``tool`` (a :class:`Tool` or its name) the active tool."""
        tool = Tool(tool)
        self.gestures.cancel_polygon()
        self.tool_actions[tool].setChecked(True)
        self.model.set_tool(tool.value)

    def _on_tool(self) -> None:
        tool = self.active_tool
        self.gestures.cancel_polygon()
        self.tool_actions[tool].setChecked(True)
        for view in self._panes:
            if tool == Tool.NAVIGATE:
                view.unsetCursor()
            else:
                view.setCursor(Qt.CursorShape.CrossCursor)
        self.show_status(self._registry.spec(tool.action_id).tip)
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
        return self.gestures.polygon_points

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
        self.gestures.abort()
        try:
            command = self.history.undo()
        except HistoryError:
            return False
        self.show_status(f"Undone: {command.description}")
        return True

    def redo(self) -> bool:
        """Redo the last undone edit; ``False`` when there is none."""
        self.gestures.abort()
        try:
            command = self.history.redo()
        except HistoryError:
            return False
        self.show_status(f"Redone: {command.description}")
        return True

    def reset(self) -> None:
        """Forget every ROI and the undo history (another study was opened)."""
        self.gestures.abort()
        self.gestures.cancel_polygon()
        self.select("")
        for roi_id in self.rois.ids():
            self.editor.remove(roi_id)
        self.history.clear()

    def escape(self) -> None:
        """Esc: cancel the polygon being drawn, else return to Navigate, else deselect."""
        if self.gestures.polygon_open:
            self.gestures.cancel_polygon()
            self.show_status("Polygon cancelled")
        elif self.active_tool != Tool.NAVIGATE:
            self.set_tool(Tool.NAVIGATE)
        else:
            self.select("")

    def close_polygon(self) -> Roi | None:
        """Close the polygon being clicked into an ROI (``None`` if it is degenerate)."""
        return self.gestures.close_polygon()

    def roi_at(self, geometry: PaneGeometry, uv: Point) -> Roi | None:
        """The topmost ROI of the pane's slice containing in-plane point ``uv``, if any."""
        return self.gestures.roi_at(geometry, uv)

    # ---------------------------------------------------------------- notifications

    def _on_rois_changed(self, _roi_id: str) -> None:
        if self._selected and self._selected not in self.rois:
            self.select("")

    def _update_edit_actions(self) -> None:
        undo, redo = self.history.undo_text, self.history.redo_text
        self.undo_action.setText(f"&Undo {undo}" if undo else "&Undo")
        self.redo_action.setText(f"&Redo {redo}" if redo else "&Redo")
        self.undo_action.setEnabled(self.history.can_undo)
        self.redo_action.setEnabled(self.history.can_redo)

    def polygon_opened(self, is_open: bool) -> None:
        """A polygon is being clicked (Enter closes it) or no longer."""
        self.close_polygon_action.setEnabled(is_open)

    def show_status(self, message: str) -> None:
        """A hint in the window's status bar for a few seconds."""
        self._window.statusBar().showMessage(message, 4000)

