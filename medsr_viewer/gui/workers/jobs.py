"""One pattern for the GUI's background work: jobs run by a :class:`JobRunner`.

In the spirit of superqt's ``GeneratorWorker``: a *job* is a function of one argument, its
:class:`Ticket`, and is either

- a plain callable, which returns its result (it may poll :attr:`Ticket.cancelled`, watch
  :attr:`Ticket.cancel_event`, and report with :meth:`Ticket.report` / :meth:`Ticket.post`), or
- a generator function, whose yields are partial results or progress and whose ``return``
  value is the result; it is cancelled *between* yields (the generator is closed).

A :class:`JobRunner` owns one QThread, registered with :mod:`medsr_viewer.gui.workers.threads`
so that :func:`~medsr_viewer.gui.workers.threads.stop_all` (the window closing) stops it and
every job on it. Jobs run one at a time, first submitted first run. Each job is submitted on a
*channel* (a pane, "load", "map" ...); with ``supersede=True`` a newer job on the same channel
cancels the older one, waiting or running (latest wins). A ``background`` job (prefetch) gives
way to any other job submitted after it.

Signals are emitted from the worker thread and reach receivers living in the GUI thread
through queued connections. Every job that was submitted ends with exactly one of
``returned``, ``failed`` or ``cancelled``, then ``finished`` (unless the runner is stopped
before it starts: stopping drops the waiting jobs silently). A cancelled job never reports a
result or a failure, even when its callable returns or raises after the cancel.
"""

from __future__ import annotations

import inspect
import itertools
import threading
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal

from medsr_viewer.gui.workers import threads

#: A job: called on the worker thread with its ticket; returns a result or a generator.
JobFunction = Callable[["Ticket"], object]
#: Turns a job's exception into the one-line ``failed`` message.
Describe = Callable[[BaseException], str]


def describe_error(exc: BaseException) -> str:
    """The default failure message: ``"ExceptionType: message"``."""
    return f"{type(exc).__name__}: {exc}"


class Ticket:
    """The handle of one submitted job, shared by the GUI thread and the worker thread.

    Parameters
    ----------
    runner
        The runner the job was submitted to (its signals carry the job's reports).
    job_id
        Unique, increasing id used in every signal about the job.
    channel
        The job's channel (jobs of one channel can supersede each other).
    background
        Whether the job gives way to any job submitted after it.
    """

    def __init__(self, runner: JobRunner, job_id: int, channel: str, background: bool) -> None:
        self.id = job_id
        self.channel = channel
        self.background = background
        #: Set when the job is cancelled; a job may pass it to code that polls an Event.
        self.cancel_event = threading.Event()
        self._runner = runner

    def cancel(self) -> None:
        """Cancel the job (thread-safe): it is dropped if waiting, closed at its next yield
        if it is a generator, and its result (if any) is discarded."""
        self.cancel_event.set()

    @property
    def cancelled(self) -> bool:
        """Whether the job was cancelled or superseded."""
        return self.cancel_event.is_set()

    def report(self, done: int, total: int) -> None:
        """Emit ``progress(id, done, total)`` unless the job was cancelled."""
        if not self.cancelled:
            self._runner.progress.emit(self.id, int(done), int(total))

    def post(self, value: object) -> None:
        """Emit ``yielded(id, value)`` from a plain callable, as a generator job's yield does."""
        if not self.cancelled:
            self._runner.yielded.emit(self.id, value)

    def __repr__(self) -> str:
        state = " cancelled" if self.cancelled else ""
        return f"<Ticket {self.id} on {self.channel!r}{state}>"


@dataclass
class _Entry:
    """A job waiting to run or running."""

    ticket: Ticket
    function: JobFunction
    describe: Describe


class _JobThread(QThread):
    """The runner's thread: runs the runner's loop (no Qt event loop)."""

    def __init__(self, body: Callable[[], None], name: str, parent: QObject) -> None:
        super().__init__(parent)
        self.setObjectName(name)
        self._body = body

    def run(self) -> None:
        """Thread body."""
        self._body()


class JobRunner(QObject):
    """Runs jobs one at a time on its own registered thread.

    Parameters
    ----------
    name
        Object name of the thread (shown by debuggers and in the dangling-thread report).
    parent
        Qt parent of the runner (and of its thread).
    keep_alive
        Keep the thread waiting for jobs when the queue is empty (``True``), or let it end
        and start it again on the next :meth:`submit` (``False``: one-off work like loading,
        so no idle thread is left behind).
    on_stop
        Called by :meth:`request_stop` after every job is cancelled, to interrupt work that
        does not poll its ticket (e.g. a model call in progress).

    Signals
    -------
    started(int)
        Job id: the job began running.
    progress(int, int, int)
        Job id, done, total (from :meth:`Ticket.report`).
    yielded(int, object)
        Job id and a value the job yielded (or posted with :meth:`Ticket.post`).
    returned(int, object)
        Job id and its result.
    failed(int, str)
        Job id and a one-line message (the job's ``describe`` of the exception).
    cancelled(int)
        Job id: the job was cancelled or superseded (before or while running).
    finished(int)
        Job id, emitted last for every job that ended.
    """

    started = Signal(int)
    progress = Signal(int, int, int)
    yielded = Signal(int, object)
    returned = Signal(int, object)
    failed = Signal(int, str)
    cancelled = Signal(int)
    finished = Signal(int)

    def __init__(
        self,
        name: str,
        parent: QObject | None = None,
        *,
        keep_alive: bool = True,
        on_stop: Callable[[], None] | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName(name)
        self._keep_alive = keep_alive
        self._on_stop = on_stop
        self._cond = threading.Condition()
        self._pending: list[_Entry] = []
        self._running: Ticket | None = None
        self._latest: dict[str, int] = {}
        self._ids = itertools.count(1)
        self._stopping = False
        self._active = False  # the loop runs (or the thread is being started)
        self._thread = _JobThread(self._loop, name, self)
        threads.register(self._thread, stop=self.request_stop)

    # -- GUI-thread API ----------------------------------------------------------------------
    @property
    def thread_object(self) -> QThread:
        """The runner's QThread (registered with :mod:`~medsr_viewer.gui.workers.threads`)."""
        return self._thread

    def submit(
        self,
        function: JobFunction,
        *,
        channel: str = "",
        supersede: bool = True,
        background: bool = False,
        describe: Describe = describe_error,
    ) -> Ticket:
        """Queue ``function`` and return its ticket; starts the thread if needed.

        Parameters
        ----------
        function
            The job: ``function(ticket)`` returns the result or a generator (see the module).
        channel
            The job's channel.
        supersede
            Cancel the channel's earlier jobs, waiting or running (latest wins).
        background
            The job gives way to (is cancelled by) any job submitted after it.
        describe
            Makes the ``failed`` message from the job's exception.

        Returns
        -------
        Ticket
            The job's handle; already cancelled when the runner has been stopped.
        """
        with self._cond:
            ticket = Ticket(self, next(self._ids), channel, background)
            if self._stopping:
                ticket.cancel()
                return ticket
            for entry in self._pending:
                if entry.ticket.background or (supersede and entry.ticket.channel == channel):
                    entry.ticket.cancel()
            running = self._running
            if running is not None and (
                running.background or (supersede and running.channel == channel)
            ):
                running.cancel()
            self._latest[channel] = ticket.id
            self._pending.append(_Entry(ticket, function, describe))
            self._cond.notify_all()
            start = not self._active
            self._active = True
        if start:
            if self._thread.isRunning():  # its loop has just returned: let it end first
                self._thread.wait()
            self._thread.start()
        return ticket

    def cancel(self, channel: str | None = None) -> None:
        """Cancel the jobs of ``channel`` (every job when ``None``), waiting or running; none
        of them is current afterwards (:meth:`is_current`)."""
        with self._cond:
            for entry in self._pending:
                if channel is None or entry.ticket.channel == channel:
                    entry.ticket.cancel()
            if self._running is not None and channel in (None, self._running.channel):
                self._running.cancel()
            if channel is None:
                self._latest.clear()
            else:
                self._latest.pop(channel, None)

    def is_current(self, job_id: int) -> bool:
        """Whether ``job_id`` is the latest job of its channel and was not cancelled since."""
        with self._cond:
            return job_id in self._latest.values()

    @property
    def busy(self) -> bool:
        """Whether a job is running or waiting (cancelled waiting jobs do not count)."""
        with self._cond:
            return self._running is not None or any(
                not e.ticket.cancelled for e in self._pending
            )

    @property
    def stopping(self) -> bool:
        """Whether :meth:`request_stop` was called (the runner takes no more jobs)."""
        with self._cond:
            return self._stopping

    def request_stop(self) -> None:
        """Cancel every job, take no more, and let the thread end (does not wait)."""
        with self._cond:
            self._stopping = True
            for entry in self._pending:
                entry.ticket.cancel()
            if self._running is not None:
                self._running.cancel()
            self._latest.clear()
            self._cond.notify_all()
        if self._on_stop is not None:
            self._on_stop()

    def stop(self, timeout_ms: int = 5000) -> bool:
        """:meth:`request_stop`, then wait for the thread; returns whether it ended."""
        self.request_stop()
        return self.wait(timeout_ms)

    def isRunning(self) -> bool:
        """Whether the runner's thread is running (idle-waiting counts)."""
        return self._thread.isRunning()

    def wait(self, timeout_ms: int = 5000) -> bool:
        """Wait up to ``timeout_ms`` for the thread to end; True when it is not running."""
        return self._thread.wait(timeout_ms)

    # -- worker thread -----------------------------------------------------------------------
    def _loop(self) -> None:
        """Thread body: run jobs until the queue is empty (``keep_alive=False``) or stop."""
        while True:
            with self._cond:
                while not self._pending and not self._stopping:
                    if not self._keep_alive:
                        self._active = False
                        return
                    self._cond.wait()
                if self._stopping:
                    self._pending.clear()
                    self._active = False
                    return
                entry = self._pending.pop(0)
                self._running = entry.ticket
            try:
                self._run(entry)
            finally:
                with self._cond:
                    self._running = None
                self.finished.emit(entry.ticket.id)

    def _run(self, entry: _Entry) -> None:
        """Run one job and emit its outcome."""
        ticket = entry.ticket
        if ticket.cancelled:
            self.cancelled.emit(ticket.id)
            return
        self.started.emit(ticket.id)
        try:
            result = entry.function(ticket)
            if inspect.isgenerator(result):
                result = self._drive(result, ticket)
        except Exception as exc:  # noqa: BLE001 - reported as ``failed``, never fatal
            if ticket.cancelled:
                self.cancelled.emit(ticket.id)
            else:
                self.failed.emit(ticket.id, entry.describe(exc))
            return
        if ticket.cancelled:
            self.cancelled.emit(ticket.id)
        else:
            self.returned.emit(ticket.id, result)

    def _drive(self, gen: Generator[Any, Any, Any], ticket: Ticket) -> object:
        """Exhaust a generator job, emitting ``yielded`` for each item; close it on cancel."""
        while True:
            if ticket.cancelled:
                gen.close()
                return None
            try:
                item = next(gen)
            except StopIteration as stop:
                value: object = stop.value
                return value
            if not ticket.cancelled:
                self.yielded.emit(ticket.id, item)


class RunnerHandle:
    """The thread handling of a worker whose jobs run on its :attr:`runner`: the calls the
    window and :mod:`~medsr_viewer.gui.workers.threads` make (stop, wait, state), written
    once for every worker."""

    runner: JobRunner

    def request_stop(self) -> None:
        """Cancel everything without waiting (the runner's ``on_stop`` runs too)."""
        self.runner.request_stop()

    def stop(self, timeout_ms: int = 5000) -> bool:
        """Cancel everything, end the thread and wait for it; returns whether it ended."""
        return self.runner.stop(timeout_ms)

    def isRunning(self) -> bool:
        """Whether the worker thread is running (waiting for jobs counts)."""
        return self.runner.isRunning()

    def wait(self, timeout_ms: int = 5000) -> bool:
        """Wait for the worker thread to end; True when it is not running."""
        return self.runner.wait(timeout_ms)
