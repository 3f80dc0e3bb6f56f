"""The slice pane's ViewBox: the viewer's mouse bindings instead of pyqtgraph's.

Wheel = slice steps (Ctrl+wheel zooms), left-drag = pan (or a delegate's gesture, e.g. ROI
drawing), middle-drag = zoom, right-drag = window/level, left click = a point.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt, Signal

#: Wheel delta of one notch of a standard mouse wheel.
WHEEL_NOTCH = 120
#: Zoom factor per screen pixel of middle-drag (as pyqtgraph's own right-drag zoom).
DRAG_ZOOM_PER_PIXEL = 1.01


class SliceViewBox(pg.ViewBox):
    """A ViewBox with viewer mouse bindings instead of pyqtgraph's plot bindings.

    Emits wheel steps, window/level drags and clicks as signals; pans on left-drag and zooms
    on middle-drag or Ctrl+wheel. The context menu is disabled (right button = window).
    """

    sigWheelSteps = Signal(int)
    sigWindowDrag = Signal(float, float)
    sigClicked = Signal(QPointF)

    def __init__(self) -> None:
        super().__init__(invertY=True, lockAspect=1.0, enableMenu=False)
        self._wheel_remainder = 0.0
        #: Optional delegates for left drags / clicks; return ``True`` when they handled one.
        self.left_drag_handler: Callable[[Any], bool] | None = None
        self.left_click_handler: Callable[[Any], bool] | None = None

    def wheelEvent(self, ev: Any, axis: int | None = None) -> None:
        """Ctrl+wheel zooms (pyqtgraph's default); the plain wheel pages through slices."""
        if ev.modifiers() & Qt.KeyboardModifier.ControlModifier:
            super().wheelEvent(ev, axis)
            return
        self._wheel_remainder += ev.delta() / WHEEL_NOTCH
        steps = int(self._wheel_remainder)
        self._wheel_remainder -= steps
        ev.accept()
        if steps:
            self.sigWheelSteps.emit(steps)

    def mouseDragEvent(self, ev: Any, axis: int | None = None) -> None:
        """Left: pan. Middle: zoom about the press point (drag up = in). Right: window/level."""
        button = ev.button()
        if button == Qt.MouseButton.LeftButton:
            if self.left_drag_handler is not None and self.left_drag_handler(ev):
                ev.accept()
                return
            super().mouseDragEvent(ev, axis)
            return
        ev.accept()
        delta = ev.screenPos() - ev.lastScreenPos()
        if button == Qt.MouseButton.RightButton:
            self.sigWindowDrag.emit(float(delta.x()), float(delta.y()))
        elif button == Qt.MouseButton.MiddleButton:
            scale = DRAG_ZOOM_PER_PIXEL ** float(delta.y())
            center = self.mapToView(ev.buttonDownPos(Qt.MouseButton.MiddleButton))
            self._resetTarget()
            self.scaleBy(x=scale, y=scale, center=center)
            self.sigRangeChangedManually.emit(self.state["mouseEnabled"])

    def mouseClickEvent(self, ev: Any) -> None:
        """A left click reports the clicked point in view (mm) coordinates."""
        if ev.button() == Qt.MouseButton.LeftButton:
            ev.accept()
            if self.left_click_handler is not None and self.left_click_handler(ev):
                return
            self.sigClicked.emit(self.mapToView(ev.pos()))
        else:
            ev.ignore()
