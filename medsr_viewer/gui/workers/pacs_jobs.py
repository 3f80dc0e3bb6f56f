"""Background PACS work for the dialogs: searches, retrieves and sends run as jobs on a
:class:`~medsr_viewer.gui.workers.jobs.JobRunner`, and each job's outcome calls back the
function the dialog gave for it, in the GUI thread.

Jobs of one channel supersede each other (a new search replaces the one running). A
retrieve or send job receives its :class:`~medsr_viewer.gui.workers.jobs.Ticket` and passes
``ticket.report`` as progress and ``ticket.cancel_event`` as its cancel flag, so the PACS
code (:mod:`medsr_viewer.pacs`) stops between instances and deletes partial data.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import QObject

from medsr_viewer.gui.workers.jobs import JobFunction, JobRunner, Ticket, describe_error
from medsr_viewer.pacs.errors import PacsError


def describe_pacs_error(exc: BaseException) -> str:
    """A PACS error's own message (it names the server); other errors with their type."""
    return str(exc) if isinstance(exc, PacsError) else describe_error(exc)


@dataclass
class _Callbacks:
    done: Callable[[object], None]
    failed: Callable[[str], None]
    progress: Callable[[int, int], None] | None
    cancelled: Callable[[], None] | None


class PacsJobs(QObject):
    """Runs PACS jobs one at a time on a thread of their own.

    Parameters
    ----------
    name
        The thread's name.
    parent
        The dialog owning it.
    """

    def __init__(self, name: str, parent: QObject) -> None:
        super().__init__(parent)
        self.runner = JobRunner(name, self, keep_alive=False)
        self._callbacks: dict[int, _Callbacks] = {}
        self.runner.returned.connect(self._returned)
        self.runner.failed.connect(self._failed)
        self.runner.progress.connect(self._progress)
        self.runner.cancelled.connect(self._cancelled)
        self.runner.finished.connect(lambda job_id: self._callbacks.pop(job_id, None))

    def submit(self, function: JobFunction, *, channel: str,
               done: Callable[[object], None], failed: Callable[[str], None],
               progress: Callable[[int, int], None] | None = None,
               cancelled: Callable[[], None] | None = None) -> Ticket:
        """Run ``function(ticket)`` in the background; then ``done(result)``,
        ``failed(message)`` or ``cancelled()`` in the GUI thread (``progress(done, total)``
        on the way)."""
        ticket = self.runner.submit(function, channel=channel, describe=describe_pacs_error)
        self._callbacks[ticket.id] = _Callbacks(done, failed, progress, cancelled)
        return ticket

    def cancel(self, channel: str | None = None) -> None:
        """Cancel the jobs of ``channel`` (all when ``None``): a retrieve or send stops at its
        next instance; a search waiting on the network ends at its timeout at the latest and
        the thread then ends by itself (the window's ``threads.stop_all`` waits for it)."""
        self.runner.cancel(channel)

    @property
    def busy(self) -> bool:
        """Whether a job runs or waits."""
        return self.runner.busy

    def _returned(self, job_id: int, result: object) -> None:
        callbacks = self._callbacks.get(job_id)
        if callbacks is not None and self.runner.is_current(job_id):
            callbacks.done(result)

    def _failed(self, job_id: int, message: str) -> None:
        callbacks = self._callbacks.get(job_id)
        if callbacks is not None and self.runner.is_current(job_id):
            callbacks.failed(message)

    def _progress(self, job_id: int, done: int, total: int) -> None:
        callbacks = self._callbacks.get(job_id)
        if callbacks is not None and callbacks.progress is not None:
            callbacks.progress(done, total)

    def _cancelled(self, job_id: int) -> None:
        callbacks = self._callbacks.get(job_id)
        if callbacks is not None and callbacks.cancelled is not None:
            callbacks.cancelled()
