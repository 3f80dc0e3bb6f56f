"""Files and folders dropped on the window: model files to the picker, the rest a study."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from PySide6.QtGui import QDragEnterEvent, QDropEvent

from medsr_viewer.models.registry import MODEL_SUFFIXES


def accept_local_files(event: QDragEnterEvent) -> None:
    """Accept a drag of local files and folders (anything else is refused)."""
    urls = event.mimeData().urls() if event.mimeData().hasUrls() else []
    if urls and all(u.isLocalFile() for u in urls):
        event.acceptProposedAction()
    else:
        event.ignore()


def open_dropped(event: QDropEvent, open_model: Callable[[str], object],
                 open_study: Callable[[Sequence[str]], object]) -> None:
    """Model files (by suffix) go to ``open_model`` one by one (which asks for trust where a
    file can run code); the other paths to ``open_study`` together (one series)."""
    paths = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
    if not paths:
        return
    event.acceptProposedAction()
    models = [p for p in paths if Path(p).suffix.lower() in MODEL_SUFFIXES]
    for path in models:
        open_model(path)
    if len(models) < len(paths):
        open_study([p for p in paths if p not in models])
