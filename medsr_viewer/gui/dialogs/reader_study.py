"""The trial window of a blinded reader study: two images of a slice, "A" and "B", no names.

Both panes are pyqtgraph ViewBoxes linked in x and y (zooming or panning one moves the
other), each image drawn over the same rectangle in millimetres with the same display
window. The window shows the trial counter ("Trial 3 of 20"), the slice ("axial 61/120"),
the instructions and the progress of the images being made; nothing in it (titles, labels,
buttons, tooltips) names a method: which method is A and which is B is known only to the
study's results file. Keys: Left or A picks A, Right or B picks B, 1–5 score the pair
(1 = A much better, 3 = no difference, 5 = B much better), Backspace goes back one trial.
The window only shows and asks; the study's controller records the answers.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QRectF, Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

TITLE = "Blinded Reader Study"
#: The panes' titles, left to right.
SIDES = ("A", "B")
INSTRUCTIONS = ("Which image is better?  ← or A: A is better · → or B: B is better · "
                "or score 1–5: 1 = A much better, 2 = A better, 3 = no difference, "
                "4 = B better, 5 = B much better · Backspace: back one trial · "
                "drag to pan, wheel to zoom (both images together)")
_PICK_KEYS = {Qt.Key.Key_Left: "left", Qt.Key.Key_A: "left", Qt.Key.Key_Right: "right",
              Qt.Key.Key_B: "right"}
_SCORE_KEYS = {Qt.Key.Key_1: 1, Qt.Key.Key_2: 2, Qt.Key.Key_3: 3, Qt.Key.Key_4: 4,
               Qt.Key.Key_5: 5}


class _Pane(QWidget):
    """One titled image pane."""

    def __init__(self, title: str, parent: QWidget) -> None:
        super().__init__(parent)
        self.title = QLabel(title, self)
        self.title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        font = self.title.font()
        font.setPointSize(font.pointSize() + 6)
        font.setBold(True)
        self.title.setFont(font)
        self.graphics = pg.GraphicsLayoutWidget(self)
        self.graphics.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.graphics.ci.setContentsMargins(0, 0, 0, 0)
        self.view_box = self.graphics.addViewBox(lockAspect=True, invertY=True,
                                                 enableMenu=False)
        self.image_item = pg.ImageItem(axisOrder="row-major")
        self.view_box.addItem(self.image_item)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.title)
        layout.addWidget(self.graphics, 1)


class ReaderStudyWindow(QDialog):
    """Shows the trials and turns key presses (or button clicks) into answers.

    Parameters
    ----------
    parent
        The main window (the trial window is a window of its own over it).

    Signals
    -------
    picked(str)
        ``left`` (A) or ``right`` (B) is better.
    scored(int)
        A 1–5 score (1 = left much better … 5 = right much better).
    backRequested()
        Back one trial.
    stopRequested()
        The reader stops (Stop button, Esc, or closing the window).
    saveRequested()
        Save the answers (after the last trial, when they were not saved).
    """

    picked = Signal(str)
    scored = Signal(int)
    backRequested = Signal()
    stopRequested = Signal()
    saveRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(TITLE)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self._finished = False
        self.counter_label = QLabel("", self)
        self.slice_label = QLabel("", self)
        self.message_label = QLabel("", self)
        self.message_label.setWordWrap(True)
        self.instructions = QLabel(INSTRUCTIONS, self)
        self.instructions.setWordWrap(True)
        self.panes = {side: _Pane(side, self) for side in SIDES}
        a, b = self.panes["A"].view_box, self.panes["B"].view_box
        b.setXLink(a)
        b.setYLink(a)
        self.progress_bar = QProgressBar(self)
        self.progress_bar.setFormat("images %v/%m")
        self.stop_button = self._button("Stop", self.stopRequested.emit)
        self.save_button = self._button("Save Results…", self.saveRequested.emit)
        self.save_button.setVisible(False)
        answers = QHBoxLayout()
        answers.addWidget(self._button("A better (←)", lambda: self.picked.emit("left")))
        for score in range(1, 6):
            answers.addWidget(self._button(str(score), lambda s=score: self.scored.emit(s)))
        answers.addWidget(self._button("B better (→)", lambda: self.picked.emit("right")))
        answers.addStretch(1)
        answers.addWidget(self._button("Back (Backspace)", self.backRequested.emit))
        top = QHBoxLayout()
        top.addWidget(self.counter_label)
        top.addStretch(1)
        top.addWidget(self.slice_label)
        grid = QGridLayout()
        grid.addWidget(self.panes["A"], 0, 0)
        grid.addWidget(self.panes["B"], 0, 1)
        bottom = QHBoxLayout()
        bottom.addWidget(self.progress_bar, 1)
        bottom.addWidget(self.save_button)
        bottom.addWidget(self.stop_button)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addLayout(grid, 1)
        layout.addWidget(self.instructions)
        layout.addLayout(answers)
        layout.addWidget(self.message_label)
        layout.addLayout(bottom)
        self.resize(1100, 650)

    def _button(self, text: str, slot: object) -> QPushButton:
        button = QPushButton(text, self)
        button.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # keys go to the window
        button.setAutoDefault(False)
        button.clicked.connect(slot)
        return button

    # ---------------------------------------------------------------- showing

    def show_trial(self, number: int, total: int, slice_text: str, left: np.ndarray,
                   right: np.ndarray, levels: tuple[float, float], rect_mm: QRectF,
                   fit: bool) -> None:
        """Show trial ``number`` of ``total``: ``left`` as A, ``right`` as B, both over
        ``rect_mm`` with the display window ``levels`` (``fit``: zoom to fit)."""
        self.counter_label.setText(f"Trial {number} of {total}")
        self.slice_label.setText(slice_text)
        for side, image in zip(SIDES, (left, right)):
            item = self.panes[side].image_item
            item.setImage(image, autoLevels=False, levels=levels)
            item.setRect(rect_mm)
            item.setVisible(True)
        if fit:
            self.panes["A"].view_box.autoRange(padding=0.0)
        self.message_label.setText("")

    def show_waiting(self, number: int, total: int, slice_text: str, text: str) -> None:
        """Trial ``number`` cannot be shown yet: no images, and why."""
        self.counter_label.setText(f"Trial {number} of {total}")
        self.slice_label.setText(slice_text)
        for pane in self.panes.values():
            pane.image_item.setVisible(False)
        self.message_label.setText(text)

    def show_message(self, text: str) -> None:
        """A line under the answer buttons (progress, the end, a failure)."""
        self.message_label.setText(text)

    def show_finished(self, text: str, saved: bool) -> None:
        """Every trial answered: the images go, ``text`` says what became of the answers."""
        for pane in self.panes.values():
            pane.image_item.setVisible(False)
        self.counter_label.setText("All trials answered")
        self.slice_label.setText("")
        self.message_label.setText(text)
        self.save_button.setVisible(not saved)
        self.stop_button.setText("Close")

    def set_progress(self, done: int, total: int) -> None:
        """Images made of those needed."""
        self.progress_bar.setRange(0, max(total, 1))
        self.progress_bar.setValue(done)

    def pane_image(self, side: str) -> np.ndarray | None:
        """The image pane ``A`` or ``B`` shows (``None``: none shown)."""
        item = self.panes[side].image_item
        return None if item.image is None or not item.isVisible() else np.asarray(item.image)

    # ---------------------------------------------------------------- keys, closing

    def event(self, event: QEvent) -> bool:
        """The answer keys are the window's own: no shortcut of the viewer takes them."""
        if event.type() == QEvent.Type.ShortcutOverride and isinstance(event, QKeyEvent) \
                and self._answer_key(event):
            event.accept()
            return True
        return super().event(event)

    @staticmethod
    def _answer_key(event: QKeyEvent) -> bool:
        key = Qt.Key(event.key())
        plain = not event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier
        return plain and (key in _PICK_KEYS or key in _SCORE_KEYS
                          or key == Qt.Key.Key_Backspace)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        """Left/A, Right/B pick; 1–5 score; Backspace back; Esc stops."""
        key = Qt.Key(event.key())
        if event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier:
            super().keyPressEvent(event)
        elif key in _PICK_KEYS:
            self.picked.emit(_PICK_KEYS[key])
        elif key in _SCORE_KEYS:
            self.scored.emit(_SCORE_KEYS[key])
        elif key == Qt.Key.Key_Backspace:
            self.backRequested.emit()
        elif key == Qt.Key.Key_Escape:
            self.reject()
        else:
            super().keyPressEvent(event)

    def reject(self) -> None:
        """Esc or closing the window: the reader stops (the controller then calls
        :meth:`finish`)."""
        if self._finished:
            super().reject()
        else:
            self.stopRequested.emit()

    def finish(self) -> None:
        """Close the window for good (the study has ended)."""
        self._finished = True
        self.done(QDialog.DialogCode.Rejected)
