"""The text a slice pane draws over its image: orientation letters at the four edges, the
caption (plane, slice n/N) and the name of the volume of a 4-D study under it."""

from __future__ import annotations

from PySide6.QtCore import QPointF
from PySide6.QtGui import QColor, QFont
from PySide6.QtWidgets import QGraphicsItem, QGraphicsTextItem

from medsr_viewer.core.geometry import EdgeLabels

LABEL_COLOR = QColor(255, 220, 80)
EDGES = ("top", "bottom", "left", "right")


class PaneLabels:
    """Text items over a pane's ViewBox, kept in their corners and edges when it resizes.

    Parameters
    ----------
    box
        The ViewBox they are drawn on (their parent item).
    """

    def __init__(self, box: QGraphicsItem) -> None:
        self._box = box
        font = QFont()
        font.setPointSize(11)
        font.setBold(True)
        self.edges: dict[str, QGraphicsTextItem] = {}
        for edge in EDGES:
            item = QGraphicsTextItem(box)
            item.setDefaultTextColor(LABEL_COLOR)
            item.setFont(font)
            item.setZValue(30)
            self.edges[edge] = item
        self.caption = QGraphicsTextItem(box)
        self.caption.setDefaultTextColor(QColor(230, 230, 230))
        self.caption.setZValue(30)
        #: Which volume of a 4-D study is shown (e.g. "b=1000 dir 3 4/13"), under the caption.
        self.volume = QGraphicsTextItem(box)
        self.volume.setDefaultTextColor(LABEL_COLOR)
        self.volume.setFont(font)
        self.volume.setZValue(30)

    def edge_labels(self) -> EdgeLabels:
        """The orientation letters drawn now."""
        return EdgeLabels(**{k: v.toPlainText() for k, v in self.edges.items()})

    def show(self, labels: EdgeLabels | None) -> None:
        """Draw ``labels`` at the edges (``None``: no study, no text at all)."""
        if labels is None:
            labels = EdgeLabels("", "", "", "")
            self.caption.setPlainText("")
            self.volume.setPlainText("")
        for edge, item in self.edges.items():
            item.setPlainText(getattr(labels, edge))
        self.place()

    def place(self) -> None:
        """Put each item at its edge or corner of the box."""
        rect = self._box.boundingRect()
        w, h = rect.width(), rect.height()
        for edge, item in self.edges.items():
            br = item.boundingRect()
            if edge == "top":
                pos = QPointF((w - br.width()) / 2, 0)
            elif edge == "bottom":
                pos = QPointF((w - br.width()) / 2, h - br.height())
            elif edge == "left":
                pos = QPointF(0, (h - br.height()) / 2)
            else:
                pos = QPointF(w - br.width(), (h - br.height()) / 2)
            item.setPos(pos)
        self.caption.setPos(QPointF(0, 0))
        self.volume.setPos(QPointF(0, self.caption.boundingRect().height()))
