"""The "Series Type" dock: a classify model's probabilities for the slice shown (bars), along
the slices of the plane shown (a plot with a marker at the current slice), the per-volume
result, and the switch of the Grad-CAM overlay.

The dock only draws what it is given; :mod:`medsr_viewer.gui.controllers.classification_action`
computes the results in the background and feeds them in. Every value shown is also kept in
plain attributes (:attr:`ClassificationDock.slice_text`, :attr:`volume_text` ...), which tests
and scripts read.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QDockWidget,
    QLabel,
    QMainWindow,
    QVBoxLayout,
    QWidget,
)

#: Fallback colours of classes without one in the card.
_COLOURS = ((230, 159, 0), (86, 180, 233), (0, 158, 115), (240, 228, 66), (204, 121, 167),
            (213, 94, 0), (0, 114, 178), (150, 150, 150))


class ClassificationDock(QDockWidget):
    """Bars, plot and overlay switch of the series-type / classification panel.

    Signals
    -------
    saliencyToggled(bool)
        The user switched the Grad-CAM overlay on or off.
    """

    saliencyToggled = Signal(bool)

    def __init__(self, window: QMainWindow) -> None:
        super().__init__("Series Type", window)
        self.setObjectName("ClassificationDock")
        self.classes: tuple[str, ...] = ()
        self.colours: tuple[tuple[int, int, int], ...] = ()
        #: Per-slice probabilities of the plane shown, ``(slices, classes)`` (empty: none yet).
        self.probabilities = np.zeros((0, 0), dtype=np.float32)
        self.slice_index = 0
        body = QWidget(self)
        layout = QVBoxLayout(body)
        layout.setContentsMargins(6, 6, 6, 6)
        self.model_label = QLabel("", body)
        self.volume_label = QLabel("No study", body)
        self.volume_label.setWordWrap(True)
        self.volume_label.setStyleSheet("font-weight: bold")
        self.slice_label = QLabel("", body)
        self.bars_plot = pg.PlotWidget(body)
        self.bars_plot.setMouseEnabled(False, False)
        self.bars_plot.hideButtons()
        self.bars_plot.setXRange(0.0, 1.0, padding=0.02)
        self.bars_plot.setMinimumHeight(150)
        self.bars_plot.getPlotItem().setLabel("bottom", "probability (slice shown)")
        self.bars = pg.BarGraphItem(x0=[], y=[], height=0.7, width=[], brushes=[])
        self.bars_plot.addItem(self.bars)
        self.slices_plot = pg.PlotWidget(body)
        self.slices_plot.setMouseEnabled(True, False)
        self.slices_plot.setYRange(0.0, 1.0, padding=0.02)
        self.slices_plot.setMinimumHeight(150)
        self.slices_plot.getPlotItem().setLabel("bottom", "slice")
        self.slices_plot.getPlotItem().setLabel("left", "probability")
        self.legend = self.slices_plot.getPlotItem().addLegend(offset=(-4, 4), labelTextSize="7pt")
        self.marker = pg.InfiniteLine(0, angle=90, pen=pg.mkPen((255, 255, 255), width=1,
                                                                   style=Qt.PenStyle.DashLine))
        self.slices_plot.addItem(self.marker, ignoreBounds=True)
        self.curves: list[pg.PlotDataItem] = []
        self.saliency_box = QCheckBox("Grad-CAM overlay (where the prediction looks)", body)
        self.saliency_box.toggled.connect(self.saliencyToggled.emit)
        self.notice_label = QLabel("", body)
        self.notice_label.setWordWrap(True)
        self.notice_label.setStyleSheet("color: #d08020")
        for widget in (self.model_label, self.volume_label, self.slice_label, self.bars_plot,
                       self.slices_plot, self.saliency_box, self.notice_label):
            layout.addWidget(widget)
        layout.addStretch(1)
        self.setWidget(body)
        window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self)

    # ---------------------------------------------------------------- read back

    @property
    def volume_text(self) -> str:
        """The per-volume line as shown."""
        return self.volume_label.text()

    @property
    def slice_text(self) -> str:
        """The shown slice's line as shown."""
        return self.slice_label.text()

    @property
    def notice_text(self) -> str:
        """The warning or error line (empty when none)."""
        return self.notice_label.text()

    def bar_values(self) -> dict[str, float]:
        """Class name -> the bar's length (the shown slice's probability)."""
        widths = self.bars.opts.get("width")
        if widths is None or len(self.classes) == 0:
            return {}
        return {name: float(w) for name, w in zip(self.classes, np.atleast_1d(widths))}

    # ---------------------------------------------------------------- fed by the controller

    def set_model(self, name: str, classes: Sequence[str],
                  colours: Sequence[tuple[int, int, int]] = ()) -> None:
        """The model whose results follow, its class names and colours."""
        self.classes = tuple(classes)
        fallback = [_COLOURS[i % len(_COLOURS)] for i in range(len(self.classes))]
        self.colours = tuple(tuple(c) for c in colours) or tuple(fallback)  # type: ignore[misc]
        self.model_label.setText(f"Model: {name}")
        axis = self.bars_plot.getPlotItem().getAxis("left")
        axis.setTicks([[(i, c) for i, c in enumerate(self.classes)]])
        self.bars_plot.setYRange(-0.5, len(self.classes) - 0.5, padding=0.02)
        for curve in self.curves:
            self.slices_plot.removeItem(curve)
        self.legend.clear()
        self.curves = [self.slices_plot.plot([], [], pen=pg.mkPen(c, width=2), name=n)
                       for n, c in zip(self.classes, self.colours)]

    def clear(self, message: str = "No study") -> None:
        """Nothing to show (no study, or a computation is starting)."""
        self.probabilities = np.zeros((0, len(self.classes)), dtype=np.float32)
        self.volume_label.setText(message)
        self.slice_label.setText("")
        self.bars.setOpts(x0=[], y=[], width=[], brushes=[])
        for curve in self.curves:
            curve.setData([], [])

    def set_volume_result(self, plane: str, probabilities: np.ndarray,
                          volume_probabilities: np.ndarray, anatomy_slices: int,
                          prior: str = "") -> None:
        """The per-slice table of the plane shown and the per-volume result (``prior``: the
        DICOM modality that limited the classes, said on the line)."""
        self.probabilities = np.asarray(probabilities, dtype=np.float32)
        best = int(np.argmax(volume_probabilities))
        header = f"; {prior} from the DICOM header" if prior else ""
        self.volume_label.setText(
            f"Volume: {self.classes[best]} ({float(volume_probabilities[best]):.0%}) — "
            f"{plane}, {len(self.probabilities)} slices, {anatomy_slices} with anatomy"
            f"{header}")
        xs = np.arange(len(self.probabilities))
        for i, curve in enumerate(self.curves):
            curve.setData(xs, self.probabilities[:, i] if len(xs) else [])
        self.slices_plot.setXRange(0, max(len(xs) - 1, 1), padding=0.02)
        self.set_slice(self.slice_index)

    def set_slice(self, index: int) -> None:
        """Move the marker to slice ``index`` and show its bars."""
        self.slice_index = int(index)
        self.marker.setValue(self.slice_index)
        if not 0 <= self.slice_index < len(self.probabilities):
            return
        probs = self.probabilities[self.slice_index]
        best = int(np.argmax(probs))
        self.slice_label.setText(f"Slice {self.slice_index + 1}: {self.classes[best]} "
                                 f"({float(probs[best]):.0%})")
        self.bars.setOpts(x0=np.zeros(len(probs)), y=np.arange(len(probs)), height=0.7,
                          width=probs, brushes=[pg.mkBrush(c) for c in self.colours])

    def set_notice(self, text: str) -> None:
        """A warning or error line under the plots (``""`` hides it)."""
        self.notice_label.setText(text)
        self.notice_label.setVisible(bool(text))
