"""The status bar: the readout under the mouse, the window, and loading progress.

The readout says slice n/N, voxel, world mm and value under the mouse, the label of each
visible label layer there (``aparc.a2009s+aseg: 17 Left-Hippocampus``), and what the SR pane
shows there; it follows the view model, so paging through slices with the mouse still
updates the voxel, value and labels of the slice shown now.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QProgressBar, QPushButton, QStatusBar, QWidget

from medsr_viewer.core.geometry import PLANE_AXES, Orientation
from medsr_viewer.core.view_model import ViewModel
from medsr_viewer.gui.views.compare_panel import ComparePanel
from medsr_viewer.gui.views.readout import (
    format_window,
    label_text,
    position_text,
    slice_text,
)
from medsr_viewer.gui.views.study_viewer import StudyViewer
from medsr_viewer.gui.workers.study_loader import StudyLoader

#: The window label of a colour image, which is shown as it is (no window/level).
COLOUR_WINDOW_TEXT = "Colour: window/level off; models use the luminance"


class StatusReadout:
    """Builds the status bar's widgets and keeps the readout and window label current.

    Parameters
    ----------
    model
        The view state read out.
    bar
        The window's status bar.
    parent
        Parent of the widgets.
    """

    def __init__(self, model: ViewModel, bar: QStatusBar, parent: QWidget) -> None:
        self._model = model
        self._bar = bar
        self._hover: tuple[Orientation, np.ndarray | None] | None = None
        #: What the SR pane shows under the mouse ("consistency -3.2"), while it is hovered.
        self._sr_text = ""
        self.readout_label = QLabel(parent)
        self.readout_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        bar.addWidget(self.readout_label, 1)
        self.window_label = QLabel(parent)
        bar.addPermanentWidget(self.window_label)
        self.progress_bar = QProgressBar(parent)
        self.progress_bar.setMaximumWidth(220)
        self.progress_bar.setTextVisible(True)
        self.progress_bar.hide()
        bar.addPermanentWidget(self.progress_bar)
        self.cancel_button = QPushButton("Cancel", parent)
        self.cancel_button.setToolTip("Stop loading")
        self.cancel_button.hide()
        bar.addPermanentWidget(self.cancel_button)
        for event in ("study", "volume", "cursor", "window", "layout", "layers"):
            model.subscribe(event, self.update)

    def follow(self, loader: StudyLoader, viewer: StudyViewer, compare: ComparePanel,
               loading_name: Callable[[], str]) -> None:
        """Show the loader's progress (Cancel stops it) and what is under the mouse in the
        viewer's panes and the SR pane; ``loading_name`` says what is being opened."""
        loader.progress.connect(self.on_progress)
        loader.busy.connect(lambda busy: self.on_busy(busy, loading_name()))
        self.cancel_button.clicked.connect(loader.cancel)
        viewer.hoverChanged.connect(self.on_hover)
        compare.hovered.connect(
            lambda canonical, text: self.on_sr_hover(compare.orientation, canonical, text))

    # ---------------------------------------------------------------- hover

    def on_hover(self, orientation: Orientation, canonical: np.ndarray | None) -> None:
        """The mouse is over a pane of the study viewer."""
        self._hover = (orientation, canonical)
        self._sr_text = ""
        self.update()

    def on_sr_hover(self, orientation: Orientation, canonical: np.ndarray | None,
                    text: str) -> None:
        """The mouse is over the SR pane: its voxel, and what the pane shows there."""
        self._hover = (orientation, canonical)
        self._sr_text = text
        self.update()

    # ---------------------------------------------------------------- text

    def text(self) -> str:
        """The readout line: slice n/N, voxel, world mm, value and labels under the mouse."""
        display, model = self._model.display, self._model
        if display is None:
            return ""
        orientation = model.active_orientation
        canonical = None
        if self._hover is not None and self._hover[1] is not None:
            orientation, hovered = self._hover
            # the mouse stays on the same pixel of its pane while the pane pages through
            # slices (wheel, keys): read the voxel of the slice shown now, not the one hovered
            canonical = np.array(hovered, dtype=np.float64)
            canonical[PLANE_AXES[orientation].slice_axis] = model.slice_index(orientation)
        parts = [slice_text(orientation, model.slice_index(orientation),
                            display.n_slices(orientation))]
        position = position_text(display, canonical)
        if position:
            parts.append(position)
        if model.layers_visible:
            labels = label_text(display, canonical,
                                [layer for layer in model.layers if layer.visible])
            if labels:
                parts.append(labels)
        if self._sr_text:
            parts.append(self._sr_text)
        return "  |  ".join(parts)

    def update(self) -> None:
        """Show the readout and window of the view model now."""
        self.readout_label.setText(self.text())
        display = self._model.display
        if display is not None:
            self.window_label.setText(COLOUR_WINDOW_TEXT if display.is_colour
                                      else format_window(self._model.window))

    # ---------------------------------------------------------------- loading

    def on_busy(self, busy: bool, what: str) -> None:
        """Loading started (indeterminate until the first report) or ended."""
        self.progress_bar.setVisible(busy)
        self.cancel_button.setVisible(busy)
        if busy:
            self.progress_bar.setRange(0, 0)
            self._bar.showMessage(f"Opening {what}…")

    def on_progress(self, phase: str, done: int, total: int) -> None:
        """Loading progress: ``phase done/total``."""
        self.progress_bar.setRange(0, max(total, 1))
        self.progress_bar.setValue(done)
        self.progress_bar.setFormat(f"{phase} {done}/{total}")
