"""A background thread that computes the SR pane's maps (NumPy, tens of ms on a 512² slice).

The GUI posts a Qt-free job (a callable from :mod:`medsr_viewer.core.compare_maps`) with
:meth:`MapWorker.submit` and never waits; latest wins: a job submitted while another waits
replaces it, and ``ready(job_id, result)`` / ``failed(job_id, message)`` come back on the GUI
thread through queued connections. The thread is registered with :mod:`medsr_viewer.gui.workers.threads`
so closing the window stops it.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable

from PySide6.QtCore import QObject, QThread, Signal

from medsr_viewer.gui.workers import threads


class MapWorker(QThread):
    """Runs one map job at a time off the GUI thread (latest wins).

    Signals
    -------
    ready(int, object)
        Job id and its result.
    failed(int, str)
        Job id and what went wrong.
    """

    ready = Signal(int, object)
    failed = Signal(int, str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("MapWorker")
        self._cond = threading.Condition()
        self._job: tuple[int, Callable[[], object]] | None = None
        self._latest = 0
        self._ids = itertools.count(1)
        self._stopping = False
        threads.register(self, stop=self.request_stop)

    def submit(self, job: Callable[[], object]) -> int:
        """Queue ``job`` (replacing a waiting one); returns its id."""
        job_id = next(self._ids)
        with self._cond:
            self._latest = job_id
            self._job = (job_id, job)
            self._cond.notify_all()
        if not self.isRunning() and not self._stopping:
            self.start()
        return job_id

    def cancel(self) -> None:
        """Forget the waiting job; a running one's result is dropped (:meth:`is_current`)."""
        with self._cond:
            self._job = None
            self._latest = next(self._ids)

    def is_current(self, job_id: int) -> bool:
        """Whether ``job_id`` is the latest job submitted."""
        with self._cond:
            return job_id == self._latest

    def request_stop(self) -> None:
        """End the thread after the job in progress (if any)."""
        with self._cond:
            self._stopping = True
            self._job = None
            self._cond.notify_all()

    def stop(self, timeout_ms: int = 5000) -> bool:
        """Stop and wait for the thread; returns whether it ended."""
        self.request_stop()
        return self.wait(timeout_ms)

    def run(self) -> None:
        """Thread body: take jobs until :meth:`stop`."""
        while True:
            with self._cond:
                while self._job is None and not self._stopping:
                    self._cond.wait()
                if self._stopping:
                    return
                assert self._job is not None
                job_id, job = self._job
                self._job = None
            try:
                result = job()
            except Exception as exc:  # noqa: BLE001 - reported to the pane, never fatal
                if self.is_current(job_id):
                    self.failed.emit(job_id, f"{type(exc).__name__}: {exc}")
                continue
            if self.is_current(job_id):
                self.ready.emit(job_id, result)
