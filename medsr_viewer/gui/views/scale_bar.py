"""A scale bar at the bottom of a slice pane: a line of a round length in mm and its label.

Drawn in the pane's screen pixels (a child of the ViewBox, like the letters) in the
bottom-left corner, above the slice location (corners are mostly air, not anatomy); its
length is
chosen by :func:`medsr_viewer.core.pane_zoom.round_length` from the millimetres the pane
shows across, so it follows zoom and resizing. The SR pane shares the view mm of the
original, so its bar reads the same.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import pyqtgraph as pg
from PySide6.QtCore import QPointF
from PySide6.QtGui import QColor, QFont, QPainterPath, QPen
from PySide6.QtWidgets import (
    QGraphicsDropShadowEffect,
    QGraphicsPathItem,
    QGraphicsSimpleTextItem,
)

from medsr_viewer.core.pane_zoom import length_text, round_length

BAR_COLOR = QColor(235, 235, 235)
#: Height of the end ticks and the distance from the pane's left edge, in screen pixels.
TICK = 5.0
LEFT = 6.0


class ScaleBar:
    """The bar and label over one pane's ViewBox.

    Parameters
    ----------
    box
        The pane's ViewBox (their parent item; its view rectangle is in mm).
    bottom_margin
        Pixels to keep free under the bar (the text of the corner), asked when placed.
    """

    def __init__(self, box: pg.ViewBox, bottom_margin: Callable[[], float] = lambda: 0.0) -> None:
        self._box = box
        self._bottom_margin = bottom_margin
        self.length_mm = math.nan
        self.shown = True
        self.line = QGraphicsPathItem(box)
        pen = QPen(BAR_COLOR, 1.5)
        pen.setCosmetic(True)
        self.line.setPen(pen)
        self.line.setZValue(30)
        self.label = QGraphicsSimpleTextItem(box)
        font = QFont()
        font.setPointSize(9)
        self.label.setFont(font)
        self.label.setBrush(BAR_COLOR)
        self.label.setZValue(30)
        for item in (self.line, self.label):  # legible on bright tissue too
            shadow = QGraphicsDropShadowEffect()
            shadow.setOffset(1.0, 1.0)
            shadow.setBlurRadius(0.0)
            shadow.setColor(QColor(0, 0, 0, 230))
            item.setGraphicsEffect(shadow)

    def text(self) -> str:
        """The label drawn ("" when hidden)."""
        return self.label.text() if self.label.isVisible() else ""

    def width_px(self) -> float:
        """Length of the drawn bar in screen pixels (0 when hidden)."""
        if not self.line.isVisible():
            return 0.0
        return float(self.line.path().boundingRect().width())

    def set_shown(self, shown: bool, has_image: bool = True) -> None:
        """Show or hide the bar (hidden anyway without an image)."""
        self.shown = shown
        self.line.setVisible(shown and has_image)
        self.label.setVisible(shown and has_image)
        if shown and has_image:
            self.update()

    def update(self) -> None:
        """Choose the length for the view shown and place the bar bottom-left."""
        if not self.line.isVisible():
            return
        rect = self._box.viewRect()
        width_px, height_px = float(self._box.width()), float(self._box.height())
        length = round_length(rect.width())
        if not (math.isfinite(length) and width_px > 0 and rect.width() > 0):
            self.line.setPath(QPainterPath())
            self.label.setText("")
            return
        self.length_mm = length
        bar = length * width_px / rect.width()
        left = LEFT
        base = height_px - self._bottom_margin() - 3.0
        path = QPainterPath(QPointF(left, base - TICK))
        path.lineTo(left, base)
        path.lineTo(left + bar, base)
        path.lineTo(left + bar, base - TICK)
        self.line.setPath(path)
        self.label.setText(length_text(length))
        label = self.label.boundingRect()
        self.label.setPos(QPointF(left + (bar - label.width()) / 2.0,
                                  base - 1.0 - label.height()))
