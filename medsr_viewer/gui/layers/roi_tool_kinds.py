"""The tools of the left mouse button (ROI shapes, brush, measurements), and what the mouse
gestures need of the ROI tools that own them (:class:`GestureHost`)."""

from __future__ import annotations

from enum import Enum
from typing import Protocol

from medsr_viewer.core.roi import Roi


class Tool(str, Enum):
    """What the left mouse button does on the panes (action id ``tool.<value>``)."""

    NAVIGATE = "navigate"
    RECTANGLE = "rectangle"
    ELLIPSE = "ellipse"
    POLYGON = "polygon"
    FREEHAND = "freehand"
    BRUSH = "brush"
    ERASER = "eraser"
    RULER = "ruler"
    ANGLE = "angle"

    @property
    def action_id(self) -> str:
        """Id of the tool's action in the action table."""
        return f"tool.{self.value}"

    @property
    def measures(self) -> bool:
        """A measurement tool (ruler, angle): its shapes have no area."""
        return self in (Tool.RULER, Tool.ANGLE)

    @property
    def clicks_points(self) -> bool:
        """Points are clicked one by one (polygon vertices, the angle's three points)."""
        return self in (Tool.POLYGON, Tool.ANGLE)


class GestureHost(Protocol):
    """What the gestures need of the ROI tools (:class:`RoiTools` provides it): the active
    tool, the brush radius, the selection, adding an ROI (one undo step, selected), a status
    message, and being told when a polygon starts or ends being clicked."""

    @property
    def active_tool(self) -> Tool: ...

    @property
    def brush_radius(self) -> float: ...

    def selected_roi(self) -> Roi | None: ...

    def select(self, roi_id: str) -> None: ...

    def add_roi(self, roi: Roi) -> Roi: ...

    def show_status(self, message: str) -> None: ...

    def polygon_opened(self, is_open: bool) -> None: ...
