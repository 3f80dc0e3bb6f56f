"""Notices posted by background work, delivered to the GUI thread as a Qt signal.

:class:`medsr_viewer.core.notify.Notifier` calls its subscribers on the posting thread (the
inference worker, for a CPU fallback or an out-of-distribution warning). A
:class:`NoticeBridge` re-emits each notice as ``posted(level, message)``; Qt queues the
signal to receivers in the GUI thread, so a banner is only ever touched there.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from medsr_viewer.core.notify import Notice, Notifier


class NoticeBridge(QObject):
    """Forwards every notice of ``notifier`` as ``posted(level, message)``.

    Parameters
    ----------
    notifier
        The hub to listen to.
    parent
        Qt parent (the bridge lives, and emits, in the parent's thread).
    """

    posted = Signal(str, str)

    def __init__(self, notifier: Notifier, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._unsubscribe = notifier.subscribe(self._forward)

    def _forward(self, notice: Notice) -> None:
        self.posted.emit(notice.level, notice.message)

    def close(self) -> None:
        """Stop listening (the window is closing)."""
        self._unsubscribe()
