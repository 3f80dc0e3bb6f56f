"""Adapting a through-plane model to the shown study, in the background.

"Adapt to this study" fine-tunes the model on the study's own slices: the engine's
:meth:`~medsr_viewer.models.slice_engine.SliceEngine.iter_adapt` generator runs as a job of a
:class:`~medsr_viewer.gui.workers.jobs.JobRunner`, each step reported as ``progressed``. Stop
(:meth:`AdaptWorker.request_stop`) ends it after the current step and keeps what was learnt
(the report says it stopped early); closing the window cancels it at the next step.
"""

from __future__ import annotations

import threading
from collections.abc import Generator
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal, Slot

from medsr_viewer.core.volume import Volume
from medsr_viewer.gui.workers.jobs import JobRunner, RunnerHandle, Ticket
from medsr_viewer.models.through_plane.adapt import AdaptProgress, AdaptReport

if TYPE_CHECKING:  # the engine imports torch; an AdaptWorker is made with an existing one
    from medsr_viewer.models.slice_engine import ModelRef, SliceEngine


class AdaptWorker(RunnerHandle, QObject):
    """Adapts one through-plane model to one study in the background (one run per worker).

    Parameters
    ----------
    engine, ref
        The engine and the resolved through-plane model.
    volume
        The study (the model's copy of it).
    minutes
        Time budget.
    max_steps
        Step limit, or ``None``.
    parent
        Qt parent.

    Signals
    -------
    progressed(int, float, float)
        Step, share of the time budget used, running loss.
    finishedAdapting(AdaptReport)
        The :class:`~medsr_viewer.models.through_plane.adapt.AdaptReport`.
    failed(str)
        What went wrong.
    """

    progressed = Signal(int, float, float)
    finishedAdapting = Signal(AdaptReport)
    failed = Signal(str)

    def __init__(self, engine: SliceEngine, ref: ModelRef, volume: Volume, minutes: float,
                 max_steps: int | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("AdaptWorker")
        self.engine, self.ref, self.volume = engine, ref, volume
        self.minutes, self.max_steps = minutes, max_steps
        self.stop_event = threading.Event()
        self.runner = JobRunner("AdaptWorker", self, keep_alive=False, on_stop=self.request_stop)
        self._job: int | None = None
        self._ended = False
        self.runner.yielded.connect(self._on_yielded)
        self.runner.returned.connect(self._on_returned)
        self.runner.failed.connect(self._on_failed)
        self.runner.finished.connect(self._on_finished)

    def start(self) -> None:
        """Start adapting (once; later calls do nothing)."""
        if self._job is None:
            from medsr_viewer.models.inference import describe_exception

            self._job = self.runner.submit(self._adapt, channel="adapt",
                                           describe=describe_exception).id

    def request_stop(self) -> None:
        """End after the current step, keeping what was learnt."""
        self.stop_event.set()

    def isRunning(self) -> bool:
        """Whether it was started and its outcome has not been delivered yet."""
        return self._job is not None and not self._ended

    def _adapt(self, _ticket: Ticket) -> Generator[AdaptProgress, None, AdaptReport]:
        """The job (worker thread)."""
        return self.engine.iter_adapt(self.ref, self.volume, self.minutes, self.stop_event,
                                      self.max_steps)

    @Slot(int, object)
    def _on_yielded(self, _job_id: int, step: AdaptProgress) -> None:
        self.progressed.emit(step.step, step.fraction, step.loss)

    @Slot(int, object)
    def _on_returned(self, _job_id: int, report: AdaptReport) -> None:
        self._ended = True
        self.finishedAdapting.emit(report)

    @Slot(int, str)
    def _on_failed(self, _job_id: int, message: str) -> None:
        self._ended = True
        self.failed.emit(message)

    @Slot(int)
    def _on_finished(self, _job_id: int) -> None:
        self._ended = True
