"""Progress reporting and cancellation polling shared by the readers.

The GUI loads studies in a worker thread and passes two callbacks: ``progress(done, total)``
to move a progress bar and ``cancelled()`` to stop early. :class:`ProgressTracker` keeps the
bookkeeping in one place so each reader only calls :meth:`ProgressTracker.step`.
"""

from __future__ import annotations

from collections.abc import Callable

from medsr_viewer.core.io.errors import LoadCancelled

#: ``progress(done, total)`` callback type.
ProgressCallback = Callable[[int, int], None]
#: ``cancelled() -> bool`` callback type.
CancelCallback = Callable[[], bool]


class ProgressTracker:
    """Counts files handled across the phases of a load and forwards them to the callbacks.

    Parameters
    ----------
    progress
        Called as ``progress(done, total)`` after each step (may be ``None``).
    cancelled
        Polled before each step; when it returns true :class:`LoadCancelled` is raised.
    """

    def __init__(
        self, progress: ProgressCallback | None = None, cancelled: CancelCallback | None = None
    ) -> None:
        self._progress = progress
        self._cancelled = cancelled
        self.done = 0
        self.total = 0

    def add_total(self, count: int) -> None:
        """Announce ``count`` more steps to come."""
        self.total += max(0, int(count))

    def set_remaining(self, count: int) -> None:
        """Replace the outstanding step count by ``count`` (the total becomes done + count)."""
        self.total = self.done + max(0, int(count))

    def check(self) -> None:
        """Raise :class:`LoadCancelled` when the caller asked to stop."""
        if self._cancelled is not None and self._cancelled():
            raise LoadCancelled("loading cancelled")

    def step(self, count: int = 1) -> None:
        """Record ``count`` finished steps and report them."""
        self.done += count
        self.total = max(self.total, self.done)
        if self._progress is not None:
            self._progress(self.done, self.total)
