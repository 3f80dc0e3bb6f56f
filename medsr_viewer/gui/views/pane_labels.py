"""The text a slice pane draws over its image: orientation letters at the four edges, the
caption (plane, slice n/N) and the name of the volume of a 4-D study under it, and the
information overlay's corners (:mod:`medsr_viewer.gui.views.info_overlay` fills them)."""

from __future__ import annotations

from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QTextOption
from PySide6.QtWidgets import QGraphicsDropShadowEffect, QGraphicsItem, QGraphicsTextItem

from medsr_viewer.core.geometry import EdgeLabels

LABEL_COLOR = QColor(255, 220, 80)
EDGES = ("top", "bottom", "left", "right")
INFO_COLOR = QColor(225, 225, 225)
#: The information overlay's text items: the patient under the caption (top-left), the
#: series top-right, slice location bottom-left, window / zoom / plane bottom-right.
CORNERS = ("patient", "top_right", "bottom_left", "bottom_right")
#: Screen pixels kept free between the series text (top right) and the top letter.
LETTER_GAP = 8.0


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
        info_font = QFont()
        info_font.setPointSize(9)
        self.corners: dict[str, QGraphicsTextItem] = {}
        for corner in CORNERS:
            item = QGraphicsTextItem(box)
            item.setDefaultTextColor(INFO_COLOR)
            item.setFont(info_font)
            item.setZValue(30)
            if corner in ("top_right", "bottom_right"):
                item.document().setDefaultTextOption(QTextOption(Qt.AlignmentFlag.AlignRight))
            shadow = QGraphicsDropShadowEffect()  # legible on bright tissue too
            shadow.setOffset(1.0, 1.0)
            shadow.setBlurRadius(0.0)
            shadow.setColor(QColor(0, 0, 0, 230))
            item.setGraphicsEffect(shadow)
            self.corners[corner] = item
        #: The corners' whole texts (the series name is elided to clear the top letter).
        self._texts: dict[str, str] = dict.fromkeys(CORNERS, "")

    def set_corner(self, corner: str, text: str) -> None:
        """Put ``text`` (lines) in an information corner (see :data:`CORNERS`)."""
        if self._texts[corner] == text:
            return
        self._texts[corner] = text
        self._set_text(corner, text)
        self.place()

    def _set_text(self, corner: str, text: str) -> None:
        item = self.corners[corner]
        if item.toPlainText() == text:
            return
        item.setPlainText(text)
        if corner in ("top_right", "bottom_right"):  # right-aligned lines: width of the text
            item.setTextWidth(-1)
            item.setTextWidth(item.document().idealWidth())

    def _elide_series(self, width: float) -> None:
        """Shorten the series lines (…) so they end left of nothing but end before the top
        letter: a long SeriesDescription in a narrow pane must not cover the "A"."""
        top = self.edges["top"].boundingRect().width()
        room = max(width / 2.0 - top / 2.0 - LETTER_GAP, 40.0)
        metrics = QFontMetricsF(self.corners["top_right"].font())
        lines = [metrics.elidedText(line, Qt.TextElideMode.ElideRight, room)
                 for line in self._texts["top_right"].split("\n")]
        self._set_text("top_right", "\n".join(lines))

    def corner_text(self, corner: str) -> str:
        """The text of an information corner as drawn ("" when hidden; the series name may
        end in "…" in a narrow pane)."""
        item = self.corners[corner]
        return item.toPlainText() if item.isVisible() else ""

    def set_corners_visible(self, visible: bool) -> None:
        """Show or hide the information corners (letters and caption stay)."""
        for item in self.corners.values():
            item.setVisible(visible)

    def bottom_margin(self) -> float:
        """Height of the bottom-left corner's text as shown (a scale bar goes above it)."""
        item = self.corners["bottom_left"]
        if not item.isVisible() or not item.toPlainText():
            return 4.0
        return item.boundingRect().height() - 4.0  # the text item's bottom margin

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
        top = self.caption.boundingRect().height()
        if self.volume.toPlainText():
            top += self.volume.boundingRect().height()
        corners = self.corners
        self._elide_series(w)
        corners["patient"].setPos(QPointF(0, top))
        corners["top_right"].setPos(QPointF(w - corners["top_right"].boundingRect().width(), 0))
        corners["bottom_left"].setPos(QPointF(0, h - corners["bottom_left"].boundingRect().height()))
        br = corners["bottom_right"].boundingRect()
        corners["bottom_right"].setPos(QPointF(w - br.width(), h - br.height()))
