"""Registry of the QThreads the application starts, so none is left running.

Every background thread (study loading, model inference ...) is registered here when it is
created, with the function that cancels its work: each
:class:`~medsr_viewer.gui.workers.jobs.JobRunner` registers its thread with its
``request_stop``, so every job of the application is stopped from here. The main window stops them all when it
closes (:func:`stop_all`: cancel, end the event loop, wait), and the test suite's
``_dangling_qthreads`` fixture fails any test that leaves one running: a QThread that is
still running when its Python wrapper or the QApplication goes away crashes the process
("QThread: Destroyed while thread is still running", SIGABRT). A thread that still does not
end is detached from its parent and kept referenced, so it is never destroyed while running.
"""

from __future__ import annotations

from collections.abc import Callable

import shiboken6
from PySide6.QtCore import QThread

_registered: list[QThread] = []
#: ``(thread, stop)`` pairs; kept beside the threads (never keyed by ``id``, which is reused).
_stoppers: list[tuple[QThread, Callable[[], None]]] = []
#: Threads that did not stop in time: kept alive (never destroyed while running).
_orphans: list[QThread] = []


def register(thread: QThread, stop: Callable[[], None] | None = None) -> QThread:
    """Remember ``thread`` until it is destroyed; returns it for chaining.

    Parameters
    ----------
    thread
        A QThread created by the application (started or not yet started).
    stop
        Cancels the thread's work and wakes it if it waits (called by :func:`stop_all`
        before the thread's event loop is ended). Required for threads that block outside
        an event loop, such as a worker waiting on a condition.
    """
    if not any(t is thread for t in _registered):
        _registered.append(thread)
        thread.destroyed.connect(_prune)
    if stop is not None:
        _stoppers[:] = [(t, f) for t, f in _stoppers if t is not thread] + [(thread, stop)]
    return thread


def _prune(*_args: object) -> None:
    """Drop threads whose C++ object no longer exists."""
    _registered[:] = [t for t in _registered if shiboken6.isValid(t)]
    _stoppers[:] = [(t, f) for t, f in _stoppers if shiboken6.isValid(t)]


def registered_threads() -> list[QThread]:
    """Every registered thread whose C++ object still exists (running or not)."""
    _prune()
    return list(_registered)


def running_threads() -> list[QThread]:
    """The registered threads that are currently running."""
    return [t for t in registered_threads() if t.isRunning()]


def stop_all(timeout_ms: int = 5000) -> list[QThread]:
    """Cancel every running registered thread's work, end its event loop and wait for it.

    Every thread is told first (its ``stop`` callback, interruption, ``quit``), then each is
    waited for up to ``timeout_ms``. Returns the threads still running, which should be
    none; those are detached from their parents and kept referenced so that closing the
    window cannot destroy them while they run.
    """
    running = running_threads()
    for thread in running:
        for stop in [f for owner, f in _stoppers if owner is thread]:  # a copy: stop may prune
            stop()
        thread.requestInterruption()
        thread.quit()
    still_running = [t for t in running if not t.wait(timeout_ms)]
    for thread in still_running:
        thread.setParent(None)
        _orphans.append(thread)
    _registered[:] = [t for t in registered_threads() if t.isRunning() or not t.isFinished()]
    return still_running
