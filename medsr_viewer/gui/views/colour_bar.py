"""The colour bar of a pane whose image is coloured (a colour map other than grey, or
inverted): which colour is which value, from the window's low to its high end.

Drawn in the pane's screen pixels (a child of the ViewBox, like the letters and the scale bar)
on the right, left of the right-edge letter, so it never moves the image, and it is in the
pane screenshots. The values are the window's, in the study's units.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF
from PySide6.QtGui import QBrush, QColor, QFont, QLinearGradient, QPen
from PySide6.QtWidgets import (
    QGraphicsDropShadowEffect,
    QGraphicsItem,
    QGraphicsRectItem,
    QGraphicsSimpleTextItem,
)

from medsr_viewer.core.view_model import LutState
from medsr_viewer.core.windowing import Window
from medsr_viewer.gui.views.image_luts import colour_at
from medsr_viewer.gui.views.readout import format_value

#: Bar width, its distance from the pane's right edge (room for the letter) and the
#: fraction of the pane's height it spans (centred), in screen pixels.
BAR_WIDTH = 10.0
RIGHT_MARGIN = 28.0
HEIGHT_FRACTION = 0.4
#: Stops of the drawn gradient (the table has 256 levels; 32 stops look the same).
STOPS = 32
TEXT_COLOR = QColor(235, 235, 235)


class ColourBar:
    """The bar and its two value labels over one pane's ViewBox.

    Parameters
    ----------
    box
        The pane's ViewBox (their parent item).
    """

    def __init__(self, box: QGraphicsItem) -> None:
        self._box = box
        self.bar = QGraphicsRectItem(box)
        self.bar.setPen(QPen(QColor(200, 200, 200), 1.0))
        self.bar.setZValue(30)
        font = QFont()
        font.setPointSize(8)
        self.high = QGraphicsSimpleTextItem(box)
        self.low = QGraphicsSimpleTextItem(box)
        for label in (self.high, self.low):
            label.setFont(font)
            label.setBrush(TEXT_COLOR)
            label.setZValue(30)
            shadow = QGraphicsDropShadowEffect()
            shadow.setOffset(1.0, 1.0)
            shadow.setBlurRadius(0.0)
            shadow.setColor(QColor(0, 0, 0, 230))
            label.setGraphicsEffect(shadow)
        self._state = LutState()
        self._window = Window(0.5, 1.0)
        self.set_shown(False)

    @property
    def shown(self) -> bool:
        """Whether the bar is drawn."""
        return self.bar.isVisible()

    def texts(self) -> tuple[str, str]:
        """``(low, high)`` labels as drawn (empty when hidden)."""
        if not self.shown:
            return ("", "")
        return (self.low.text(), self.high.text())

    def set_shown(self, shown: bool) -> None:
        """Show or hide the bar and its labels."""
        for item in (self.bar, self.high, self.low):
            item.setVisible(shown)
        if shown:
            self.update()

    def set_state(self, state: LutState, window: Window) -> None:
        """Colour the bar as ``state`` and label it with ``window``'s ends."""
        self._state, self._window = state, window
        if self.shown:
            self.update()

    def update(self) -> None:
        """Place the bar for the pane's size and redraw its gradient and labels."""
        rect = self._box.boundingRect()
        height = max(rect.height() * HEIGHT_FRACTION, 20.0)
        top = (rect.height() - height) / 2.0
        left = rect.width() - RIGHT_MARGIN - BAR_WIDTH
        self.bar.setRect(QRectF(left, top, BAR_WIDTH, height))
        gradient = QLinearGradient(QPointF(0.0, top + height), QPointF(0.0, top))
        for k in range(STOPS + 1):
            gradient.setColorAt(k / STOPS, QColor(*colour_at(self._state, k / STOPS)))
        self.bar.setBrush(QBrush(gradient))
        self.high.setText(format_value(self._window.high))
        self.low.setText(format_value(self._window.low))
        for label, y in ((self.high, top), (self.low, top + height)):
            box = label.boundingRect()
            label.setPos(QPointF(left - 4.0 - box.width(), y - box.height() / 2.0))
