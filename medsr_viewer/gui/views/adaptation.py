"""Per-study adaptation of the through-plane model, as a background job of the SR pane.

"Adapt to this study" fine-tunes the through-plane model on pairs made from the study's own
in-plane slices (:mod:`medsr_viewer.models.through_plane.adapt`) within a time budget, with
progress and Stop (what was learnt so far is kept); the pane then computes its slice again
with the adapted model.
"""

from __future__ import annotations

from typing import Any, Protocol

from PySide6.QtWidgets import QWidget

from medsr_viewer.gui.views.through_plane_pane import AdaptControls, AdaptWorker
from medsr_viewer.models.through_plane.adapt import DEFAULT_ADAPT_MINUTES, AdaptReport


class AdaptationHost(Protocol):
    """What the adaptation needs from the compare panel."""

    worker: Any  # InferenceWorker: its engine
    errorOccurred: Any  # Signal(str)

    @property
    def enabled(self) -> bool: ...
    @property
    def through_plane(self) -> bool: ...
    @property
    def current_entry(self) -> Any: ...
    @property
    def model_volume(self) -> Any: ...
    def recompute(self) -> None: ...
    def parent_widget(self) -> QWidget: ...


class Adaptation:
    """Starts, stops and reports the adaptation of one compare panel's model."""

    def __init__(self, panel: AdaptationHost) -> None:
        self.panel = panel
        self.controls = AdaptControls(panel.parent_widget())
        self.controls.hide()
        self._job: AdaptWorker | None = None
        self.controls.adaptRequested.connect(lambda: self.start())
        self.controls.stopRequested.connect(self.stop)

    def start(self, minutes: float = DEFAULT_ADAPT_MINUTES, max_steps: int | None = None) -> str:
        """Adapt the through-plane model to the shown study in the background.

        Returns an empty string, or why it cannot start.
        """
        p = self.panel
        entry = p.current_entry
        if not (p.enabled and p.through_plane and entry is not None
                and p.model_volume is not None):
            return "Adaptation needs a through-plane model switched on"
        if self.running:
            return "An adaptation is already running"
        engine = p.worker.engine
        job = AdaptWorker(engine, engine.resolve(str(entry.path)), p.model_volume, minutes,
                          max_steps, p.parent_widget())
        job.progressed.connect(self.controls.show_progress)
        job.finishedAdapting.connect(self._on_adapted)
        job.failed.connect(self._on_failed)
        self._job = job
        self.controls.set_running(True)
        job.start()
        return ""

    def stop(self) -> None:
        """Stop a running adaptation (what it learnt so far is kept)."""
        if self._job is not None:
            self._job.request_stop()

    @property
    def running(self) -> bool:
        """Whether an adaptation is running."""
        return self._job is not None and self._job.isRunning()

    def shutdown(self) -> None:
        """Stop and wait for a running adaptation."""
        self.stop()
        if self._job is not None:
            self._job.wait(5000)

    def _on_adapted(self, report: AdaptReport) -> None:
        self.controls.show_report(report)
        if report.steps and self.panel.enabled:
            self.panel.recompute()  # the adapted model has its own results

    def _on_failed(self, message: str) -> None:
        self.controls.set_running(False)
        self.controls.info.setText("adaptation failed")
        self.panel.errorOccurred.emit(f"Adaptation failed: {message}")
