"""Ending the process safely when a thread was left inside native code.

A model call that exceeds its time limit, or is interrupted when the viewer closes, cannot
be stopped: Python cannot kill a thread that is inside a torch kernel. The caller abandons
it (:func:`abandon`) and carries on. Normal interpreter shutdown would then destroy torch's
thread pools under the running call, and the C++ runtime aborts ("terminate called without
an active exception", SIGABRT). :func:`exit_process` is what the ``medsr`` and
``medsr-viewer`` entry points end with: a normal ``sys.exit`` when no abandoned thread is
alive, otherwise flush the standard streams and ``os._exit`` with the same status, skipping
the finalisers (every file the application writes is already complete: writes are atomic).
"""

from __future__ import annotations

import os
import sys
import threading
import time
from typing import NoReturn

#: How long the process waits at exit for abandoned calls to end before skipping finalisers.
ABANDONED_GRACE_S = 3.0

_abandoned: list[threading.Thread] = []
_lock = threading.Lock()


def abandon(thread: threading.Thread) -> None:
    """Record that ``thread`` was given up on while still running."""
    with _lock:
        _abandoned[:] = [t for t in _abandoned if t.is_alive()]
        _abandoned.append(thread)


def abandoned_alive() -> int:
    """How many abandoned threads are still running."""
    with _lock:
        return sum(t.is_alive() for t in _abandoned)


def wait_for_abandoned(timeout_s: float = ABANDONED_GRACE_S) -> int:
    """Give abandoned threads up to ``timeout_s`` seconds in all to finish (a model call
    interrupted when the window closed usually ends within a tile's time); returns how many
    still run."""
    deadline = time.monotonic() + timeout_s
    with _lock:
        threads = list(_abandoned)
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    return abandoned_alive()


def exit_process(status: int) -> NoReturn:
    """Exit with ``status``; skip finalisation if an abandoned thread still runs after
    :func:`wait_for_abandoned`."""
    if wait_for_abandoned():
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        os._exit(status)
    sys.exit(status)
