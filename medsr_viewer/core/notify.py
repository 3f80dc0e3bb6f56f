"""One Qt-free place where background work reports problems and notices to the user.

Workers (model inference, loading, export ...) run on other threads and in layers that must not
import Qt. They post :class:`Notice` objects to a :class:`Notifier`; the GUI subscribes once and
shows them (hopping to its own thread through a queued signal), the CLI prints them. This mirrors
napari's notification manager: errors never vanish in a thread and never crash the app.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

_log = logging.getLogger(__name__)

#: Severity levels, least to most severe.
LEVELS = ("info", "warning", "error")


@dataclass(frozen=True)
class Notice:
    """A message for the user from some part of the application.

    Parameters
    ----------
    level
        ``"info"``, ``"warning"`` or ``"error"``.
    message
        One human-readable sentence (never contains patient-identifying tags).
    source
        Which component posted it (e.g. ``"inference"``), for filtering and logs.
    detail
        Optional longer text (a traceback summary, the file involved ...).
    time
        POSIX time the notice was posted.
    """

    level: str
    message: str
    source: str = ""
    detail: str = ""
    time: float = field(default_factory=time.time)

    def __post_init__(self) -> None:
        if self.level not in LEVELS:
            raise ValueError(f"unknown notice level {self.level!r}; expected one of {LEVELS}")


Subscriber = Callable[[Notice], None]


class Notifier:
    """Thread-safe publish/subscribe hub for :class:`Notice` objects.

    Subscribers are called synchronously on the posting thread, so a GUI subscriber must
    forward to its own thread (e.g. by emitting a Qt signal). A bounded history keeps the
    most recent notices so a window opened later can still show what happened.

    Parameters
    ----------
    history
        How many recent notices to keep.
    """

    def __init__(self, history: int = 200) -> None:
        self._lock = threading.Lock()
        self._subscribers: list[Subscriber] = []
        self._history: deque[Notice] = deque(maxlen=history)

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Call ``callback(notice)`` for every later notice; returns an unsubscribe function."""
        with self._lock:
            self._subscribers.append(callback)

        def unsubscribe() -> None:
            self.unsubscribe(callback)

        return unsubscribe

    def unsubscribe(self, callback: Subscriber) -> None:
        """Stop calling ``callback`` (no error when it was not subscribed)."""
        with self._lock:
            self._subscribers = [s for s in self._subscribers if s is not callback]

    def post(self, notice: Notice) -> Notice:
        """Record ``notice`` and deliver it to every subscriber; returns it.

        A subscriber that raises is logged and skipped: one broken listener must not stop
        the others or the worker that posted.
        """
        with self._lock:
            self._history.append(notice)
            subscribers = list(self._subscribers)
        log_level = {"info": logging.INFO, "warning": logging.WARNING}.get(
            notice.level, logging.ERROR
        )
        _log.log(log_level, "%s: %s", notice.source or "app", notice.message)
        for callback in subscribers:
            try:
                callback(notice)
            except Exception:  # noqa: BLE001 - a listener must never break the poster
                _log.exception("notice subscriber %r failed", callback)
        return notice

    def info(self, message: str, source: str = "", detail: str = "") -> Notice:
        """Post an informational notice."""
        return self.post(Notice("info", message, source, detail))

    def warning(self, message: str, source: str = "", detail: str = "") -> Notice:
        """Post a warning (something degraded but work went on, e.g. a CPU fallback)."""
        return self.post(Notice("warning", message, source, detail))

    def error(self, message: str, source: str = "", detail: str = "") -> Notice:
        """Post an error (a request failed)."""
        return self.post(Notice("error", message, source, detail))

    def history(self) -> list[Notice]:
        """The most recent notices, oldest first."""
        with self._lock:
            return list(self._history)

    def clear_history(self) -> None:
        """Forget the recorded notices (subscribers stay)."""
        with self._lock:
            self._history.clear()


#: The application-wide notifier every layer posts to.
notifier = Notifier()
