"""User gestures for GUI tests: open a study, wheel, drag, hover, read the shown image."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from medsr_viewer.gui.main_window import MainWindow
from medsr_viewer.gui.slice_view import SliceView


def open_and_wait(
    qtbot: QtBot, window: MainWindow, paths: Sequence[Path], timeout: int = 30000
) -> None:
    """Open ``paths`` as the user would and wait until the study is shown."""
    with qtbot.waitSignal(window.loader.loaded, timeout=timeout):
        window.open_paths(paths)
    qtbot.wait(10)


def view_point(view: SliceView, row: float, col: float) -> QPoint:
    """Viewport pixel of the centre of display pixel ``(row, col)`` of a pane."""
    x, y = view.display_to_view(row, col)
    scene = view.view_box.mapViewToScene(QPointF(x, y))
    return view.mapFromScene(scene)


def wheel(
    view: SliceView,
    notches: int,
    modifiers: Qt.KeyboardModifier = Qt.KeyboardModifier.NoModifier,
) -> None:
    """Turn the mouse wheel over the middle of a pane (positive: away from the user)."""
    viewport = view.viewport()
    pos = QPointF(viewport.rect().center())
    event = QWheelEvent(
        pos,
        QPointF(viewport.mapToGlobal(pos.toPoint())),
        QPoint(0, 0),
        QPoint(0, 120 * notches),
        Qt.MouseButton.NoButton,
        modifiers,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(viewport, event)


def drag(
    qtbot: QtBot,
    view: SliceView,
    button: Qt.MouseButton,
    start: QPoint,
    delta: QPoint,
    steps: int = 6,
) -> None:
    """Press ``button`` at ``start``, move by ``delta`` in steps, release."""
    viewport = view.viewport()
    qtbot.wait(15)  # pyqtgraph drops mouse moves closer than 10 ms to the previous one
    qtbot.mousePress(viewport, button, pos=start)
    for i in range(1, steps + 1):
        qtbot.mouseMove(viewport, start + QPoint(delta.x() * i // steps, delta.y() * i // steps))
        qtbot.wait(12)
    qtbot.mouseRelease(viewport, button, pos=start + delta)


def hover(qtbot: QtBot, view: SliceView, pos: QPoint) -> None:
    """Move the mouse (no button) to ``pos`` in a pane."""
    qtbot.wait(15)
    qtbot.mouseMove(view.viewport(), pos)
    qtbot.wait(15)


def shown_image(view: SliceView) -> np.ndarray:
    """The pixel array the pane's ImageItem holds."""
    image = view.image_item.image
    assert image is not None
    return np.asarray(image)
