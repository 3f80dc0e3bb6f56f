"""Icons of the mouse tools, drawn with QPainter (no image files to ship or license).

The ROI toolbar shows the tools as icons, as OHIF, Weasis and Slicer do, so that the shape
and measurement tools fit beside the SR controls at the default window width; the tooltip
names each tool and its key. Each icon is a simple line drawing of what the tool makes.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPainterPath, QPen, QPixmap, QPolygonF

from medsr_viewer.gui.layers.roi_tool_kinds import Tool

#: Icon size in pixels (drawn at 2x for high-DPI screens).
ICON_PX = 20
_SCALE = 2
_INK = QColor(40, 40, 40)


def _points(*xy: tuple[float, float]) -> QPolygonF:
    return QPolygonF([QPointF(x, y) for x, y in xy])


def _navigate(p: QPainter) -> None:
    arrow = _points((5, 3), (5, 16), (8.5, 12.5), (11, 18), (13, 17), (10.5, 11.5), (15, 11.5))
    p.setBrush(_INK)
    p.drawPolygon(arrow)


def _rectangle(p: QPainter) -> None:
    p.drawRect(QRectF(3, 5, 14, 10))


def _ellipse(p: QPainter) -> None:
    p.drawEllipse(QRectF(2.5, 4.5, 15, 11))


def _polygon(p: QPainter) -> None:
    p.drawPolygon(_points((3, 15), (6, 4), (13, 3), (17, 10), (11, 17)))
    p.setBrush(_INK)
    for x, y in ((3, 15), (6, 4), (13, 3), (17, 10), (11, 17)):
        p.drawEllipse(QPointF(x, y), 1.4, 1.4)


def _freehand(p: QPainter) -> None:
    path = QPainterPath(QPointF(4, 12))
    path.cubicTo(QPointF(1, 4), QPointF(12, 0), QPointF(16, 6))
    path.cubicTo(QPointF(19, 11), QPointF(13, 18), QPointF(8, 16))
    path.cubicTo(QPointF(5, 15), QPointF(6, 13), QPointF(4, 12))
    p.drawPath(path)


def _brush(p: QPainter) -> None:
    pen = p.pen()
    pen.setWidthF(4.0)
    pen.setCapStyle(Qt.PenCapStyle.RoundCap)
    p.setPen(pen)
    path = QPainterPath(QPointF(4, 15))
    path.cubicTo(QPointF(7, 5), QPointF(11, 17), QPointF(16, 5))
    p.drawPath(path)


def _eraser(p: QPainter) -> None:
    p.setBrush(QColor(235, 140, 150))
    p.drawPolygon(_points((3, 13), (10, 4), (17, 9), (10, 17)))
    p.drawLine(QPointF(10, 17), QPointF(18, 17))


def _ruler(p: QPainter) -> None:
    p.drawLine(QPointF(3, 16), QPointF(17, 4))
    for t in (0.0, 1.0):
        x, y = 3 + 14 * t, 16 - 12 * t
        p.drawLine(QPointF(x - 2, y - 2.4), QPointF(x + 2, y + 2.4))
    for t in (0.25, 0.5, 0.75):
        x, y = 3 + 14 * t, 16 - 12 * t
        p.drawLine(QPointF(x - 1, y - 1.2), QPointF(x + 1, y + 1.2))


def _angle(p: QPainter) -> None:
    p.drawPolyline(_points((17, 4), (3, 16), (18, 16)))
    p.drawArc(QRectF(-3, 10, 12, 12), 0, 40 * 16)


_DRAW: dict[Tool, Callable[[QPainter], None]] = {
    Tool.NAVIGATE: _navigate,
    Tool.RECTANGLE: _rectangle,
    Tool.ELLIPSE: _ellipse,
    Tool.POLYGON: _polygon,
    Tool.FREEHAND: _freehand,
    Tool.BRUSH: _brush,
    Tool.ERASER: _eraser,
    Tool.RULER: _ruler,
    Tool.ANGLE: _angle,
}


def tool_icon(tool: Tool) -> QIcon:
    """The icon of ``tool`` (a line drawing on a transparent background)."""
    pixmap = QPixmap(ICON_PX * _SCALE, ICON_PX * _SCALE)
    pixmap.setDevicePixelRatio(_SCALE)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    pen = QPen(_INK, 1.6)
    pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
    painter.setPen(pen)
    painter.setBrush(Qt.BrushStyle.NoBrush)
    _DRAW[tool](painter)
    painter.end()
    return QIcon(pixmap)
