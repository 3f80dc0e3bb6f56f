"""Registry of the QThreads the application starts, so none is left running.

Every background thread (study loading, model inference ...) is registered here when it is
created. The main window stops them all when it closes, and the test suite's
``_dangling_qthreads`` fixture fails any test that leaves one running: a QThread that is
still running when its Python wrapper or the QApplication goes away crashes the process.
"""

from __future__ import annotations

import shiboken6
from PySide6.QtCore import QThread

_registered: list[QThread] = []


def register(thread: QThread) -> QThread:
    """Remember ``thread`` until it is destroyed; returns it for chaining.

    Parameters
    ----------
    thread
        A QThread created by the application (started or not yet started).
    """
    if not any(t is thread for t in _registered):
        _registered.append(thread)
        thread.destroyed.connect(_prune)
    return thread


def _prune(*_args: object) -> None:
    """Drop threads whose C++ object no longer exists."""
    _registered[:] = [t for t in _registered if shiboken6.isValid(t)]


def registered_threads() -> list[QThread]:
    """Every registered thread whose C++ object still exists (running or not)."""
    _prune()
    return list(_registered)


def running_threads() -> list[QThread]:
    """The registered threads that are currently running."""
    return [t for t in registered_threads() if t.isRunning()]


def stop_all(timeout_ms: int = 5000) -> list[QThread]:
    """Ask every running registered thread to quit and wait for it.

    Workers poll their own cancel flags; this only ends the threads' event loops, so callers
    should cancel their work first. Returns the threads still running after ``timeout_ms``
    (each), which should be none.
    """
    still_running: list[QThread] = []
    for thread in running_threads():
        thread.requestInterruption()
        thread.quit()
        if not thread.wait(timeout_ms):
            still_running.append(thread)
    _registered[:] = [t for t in registered_threads() if t.isRunning() or not t.isFinished()]
    return still_running
