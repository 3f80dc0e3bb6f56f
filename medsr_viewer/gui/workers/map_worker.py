"""The SR pane's map computations (NumPy, tens of ms on a 512² slice), off the GUI thread.

The GUI posts a Qt-free job (a callable from :mod:`medsr_viewer.core.compare_maps`) with
:meth:`MapWorker.submit` and never waits; latest wins: a job submitted while another waits or
runs supersedes it, and ``ready(job_id, result)`` / ``failed(job_id, message)`` come back on
the GUI thread for the latest job only. The jobs run on a
:class:`~medsr_viewer.gui.workers.jobs.JobRunner`, whose thread closing the window stops.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, Signal, Slot

from medsr_viewer.gui.workers.jobs import JobRunner, RunnerHandle, Ticket

#: The runner channel of map jobs (one channel: each job supersedes the previous).
CHANNEL = "map"


class MapWorker(RunnerHandle, QObject):
    """Runs one map job at a time off the GUI thread (latest wins).

    Signals
    -------
    ready(int, object)
        Job id and its result (whatever the job returned).
    failed(int, str)
        Job id and what went wrong (``"ExceptionType: message"``).
    """

    ready = Signal(int, object)
    failed = Signal(int, str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("MapWorker")
        self.runner = JobRunner("MapWorker", self)
        self.runner.returned.connect(self._on_returned)
        self.runner.failed.connect(self._on_failed)

    def submit(self, job: Callable[[], object]) -> int:
        """Queue ``job`` (superseding a waiting or running one); returns its id."""

        def run(_ticket: Ticket) -> object:
            return job()

        return self.runner.submit(run, channel=CHANNEL).id

    def cancel(self) -> None:
        """Forget the waiting job; a running one's result is dropped (:meth:`is_current`)."""
        self.runner.cancel(CHANNEL)

    def is_current(self, job_id: int) -> bool:
        """Whether ``job_id`` is the latest job submitted (and not cancelled)."""
        return self.runner.is_current(job_id)

    @Slot(int, object)
    def _on_returned(self, job_id: int, result: object) -> None:
        if self.is_current(job_id):
            self.ready.emit(job_id, result)

    @Slot(int, str)
    def _on_failed(self, job_id: int, message: str) -> None:
        if self.is_current(job_id):
            self.failed.emit(job_id, message)
