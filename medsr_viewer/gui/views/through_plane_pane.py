"""The SR pane's through-plane parts: the reformat grid, the adaptation job and its controls.

A through-plane model refines coronal and sagittal reformats of a thick-slice study: the SR
pane's image then has more rows (or columns) than the original plane along the slice axis,
over the same world extent (:func:`reformat_grid`). "Adapt to this study" fine-tunes the model
on the study's own slices in :class:`~medsr_viewer.gui.workers.adapt_worker.AdaptWorker` (a
background job with progress and Stop, re-exported here; the weights learnt so far are kept);
results computed afterwards use the adapted network.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QWidget

from medsr_viewer.core.volume import Volume
from medsr_viewer.gui.workers.adapt_worker import AdaptWorker  # noqa: F401 - re-exported
from medsr_viewer.models.through_plane.adapt import DEFAULT_ADAPT_MINUTES, AdaptReport
from medsr_viewer.models.through_plane.apply import coarse_axis, plan_geometry

#: Card task of through-plane models.
THROUGH_PLANE_TASK = "through_plane_sr"


def reformat_grid(volume: Volume, view_axis: int) -> tuple[int, int] | str:
    """Shape of the through-plane result of a plane across ``view_axis`` of ``volume`` (the
    viewer's display-oriented copy), or why there is none (a message for the pane)."""
    axis = coarse_axis(volume.spacing)
    if axis is None:
        return "through-plane SR: this study is close to isotropic, nothing to add"
    if axis == view_axis:
        return ("through-plane SR shows in the reformats: switch to a view across the thick "
                "slices (coronal or sagittal of an axial study)")
    geometry = plan_geometry(volume.shape, volume.spacing, axis, None)
    shape = list(geometry.output_shape(volume.shape))
    del shape[view_axis]
    return (shape[0], shape[1])


class AdaptControls(QWidget):
    """"Adapt to this study" button, progress and Stop, shown for through-plane models.

    Signals
    -------
    adaptRequested()
        The user asked for an adaptation.
    stopRequested()
        The user pressed Stop.
    """

    adaptRequested = Signal()
    stopRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setStyleSheet("background:#202020; color:#e0e0e0;")
        row = QHBoxLayout(self)
        row.setContentsMargins(4, 1, 4, 1)
        self.info = QLabel("through-plane SR: bundled weights", self)
        self.adapt_button = QPushButton(f"Adapt to this study ({DEFAULT_ADAPT_MINUTES:g} min)",
                                        self)
        self.adapt_button.setToolTip("Fine-tune the model on this study's own in-plane slices "
                                     "(SMORE-style); later slices use the adapted model")
        self.progress = QProgressBar(self)
        self.progress.setMaximumWidth(120)
        self.progress.setRange(0, 100)
        self.progress.setFormat("adapt %p%")
        self.progress.hide()
        self.stop_button = QPushButton("Stop", self)
        self.stop_button.setToolTip("Stop adapting and keep what was learnt so far")
        self.stop_button.hide()
        row.addWidget(self.info, 1)
        row.addWidget(self.progress)
        row.addWidget(self.adapt_button)
        row.addWidget(self.stop_button)
        self.adapt_button.clicked.connect(self.adaptRequested)
        self.stop_button.clicked.connect(self.stopRequested)

    def set_running(self, running: bool) -> None:
        """Show the progress and Stop while an adaptation runs."""
        self.adapt_button.setVisible(not running)
        self.progress.setVisible(running)
        self.stop_button.setVisible(running)
        if running:
            self.progress.setValue(0)

    def show_progress(self, step: int, fraction: float, loss: float) -> None:
        """One adaptation step done."""
        self.progress.setValue(round(fraction * 100))
        self.info.setText(f"adapting to this study: step {step}, loss {loss:.4f}")

    def show_report(self, report: AdaptReport) -> None:
        """The adaptation ended."""
        self.set_running(False)
        if report.skipped:
            self.info.setText(f"not adapted: {report.skipped}")
            return
        stopped = " (stopped early)" if report.cancelled else ""
        self.info.setText(f"adapted to this study: {report.steps} steps in "
                          f"{report.seconds:.0f} s, held-out L1 {report.loss_before:.4f} → "
                          f"{report.loss_after:.4f}{stopped}")
