"""Loading studies in a background QThread, with progress, cancel and error reporting.

The main window never reads files on the GUI thread: :class:`StudyLoader` runs
:func:`medsr_viewer.core.io.load_study` (and, for folders, series discovery) in a worker
thread registered in :mod:`medsr_viewer.gui.workers.threads`, and reports back through signals.
Each request gets a number; results of a superseded request are dropped, so opening another
study while one loads simply replaces it.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtCore import QObject, Qt, QThread, Signal, Slot

from medsr_viewer.core.geometry import DisplayVolume
from medsr_viewer.core.io import (
    LoadCancelled,
    LoadError,
    SeriesInfo,
    discover_series,
    load_series_study,
    load_study,
)
from medsr_viewer.core.study import Study
from medsr_viewer.core.windowing import Window, default_preset
from medsr_viewer.gui.workers import threads


@dataclass(frozen=True)
class LoadedStudy:
    """A study ready to show: the reoriented volume, its default window and its source.

    ``window_name`` says where the window came from (``"auto"`` or ``"stored"``). ``study``
    holds every volume of the series (``study.shown`` is the one in ``display``); a study
    made in memory from one volume leaves it ``None``.
    """

    display: DisplayVolume
    window: Window
    paths: tuple[Path, ...]
    window_name: str = "auto"
    study: Study | None = field(default=None, compare=False)


@dataclass(frozen=True)
class LoadRequest:
    """What to load: input paths and, for a folder of several series, which series.

    ``series`` is the already-discovered series to read (saves scanning the headers again);
    ``series_uid`` picks one by UID when it was not kept.
    """

    paths: tuple[Path, ...]
    series_uid: str | None = None
    series: SeriesInfo | None = None


def study_source(paths: Sequence[Path]) -> Path | None:
    """The one file or folder that names a study: the single path, or the folder holding
    several files; ``None`` for files scattered over several folders."""
    if len(paths) == 1:
        return paths[0]
    if paths and len({p.parent for p in paths}) == 1:
        return paths[0].parent
    return None


def _describe(paths: Sequence[Path]) -> str:
    """A short name for an input (the path, or the first path and a count)."""
    if len(paths) == 1:
        return str(paths[0])
    return f"{paths[0]} (+{len(paths) - 1} more)"


class LoadWorker(QObject):
    """Does one load request on the worker thread; talks to the GUI only through signals.

    Signals
    -------
    progress(str, int, int)
        Phase (``"Scanning"`` or ``"Loading"``), done and total.
    seriesFound(object, object)
        The request and the ``list[SeriesInfo]`` when a folder holds several series: the
        user must choose one, nothing is loaded.
    loaded(object)
        A :class:`LoadedStudy`.
    failed(str)
        One-line message naming the file and the reason.
    cancelled()
        The user cancelled.
    done()
        Emitted last, whatever the outcome.
    """

    progress = Signal(str, int, int)
    seriesFound = Signal(object, object)
    loaded = Signal(object)
    failed = Signal(str)
    cancelled = Signal()
    done = Signal()

    def __init__(self, request: LoadRequest) -> None:
        super().__init__()
        self.request = request
        self._cancel = threading.Event()
        self._phase = "Loading"

    def cancel(self) -> None:
        """Ask the load to stop at the next file boundary (thread-safe)."""
        self._cancel.set()

    def is_cancelled(self) -> bool:
        """Whether :meth:`cancel` was called (polled by the readers)."""
        return self._cancel.is_set()

    def _report(self, done: int, total: int) -> None:
        self.progress.emit(self._phase, int(done), int(total))

    def _read(self, paths: tuple[Path, ...]) -> Study | None:
        """The study asked for, or ``None`` after emitting ``seriesFound`` (user must pick)."""
        series = self.request.series
        uid = self.request.series_uid
        if series is None and uid is None and (len(paths) > 1 or paths[0].is_dir()):
            self._phase = "Scanning"
            found = discover_series(list(paths), progress=self._report, cancelled=self.is_cancelled)
            if len(found) > 1:
                self.seriesFound.emit(self.request, found)
                return None
            series = found[0] if found else None  # none: load_study explains why
        self._phase = "Loading"
        if series is not None:
            source = paths[0] if len(paths) == 1 else paths[0].parent
            return load_series_study(
                series, source=source, progress=self._report, cancelled=self.is_cancelled
            )
        return load_study(
            paths[0] if len(paths) == 1 else list(paths),
            series_uid=uid,
            progress=self._report,
            cancelled=self.is_cancelled,
        )

    @Slot()
    def run(self) -> None:
        """Discover series if needed, load, reorient and compute the default window."""
        paths = self.request.paths
        try:
            try:
                study = self._read(paths)
                if study is None:
                    return
                if self.is_cancelled():
                    raise LoadCancelled("loading cancelled")
                display = DisplayVolume(study.shown)
                name, window = default_preset(study.shown)
                self.loaded.emit(LoadedStudy(display, window, paths, name, study))
            except LoadCancelled:
                self.cancelled.emit()
            except LoadError as exc:
                self.failed.emit(str(exc))
            except MemoryError:
                self.failed.emit(f"{_describe(paths)}: not enough memory to load this study")
            except Exception as exc:  # noqa: BLE001 - a reader bug must not kill the app
                name = type(exc).__name__
                self.failed.emit(f"{_describe(paths)}: unexpected error ({name}: {exc})")
        finally:
            self.done.emit()


class StudyLoader(QObject):
    """Starts and tracks background loads; at most one request is current.

    Signals mirror :class:`LoadWorker`'s, for the current request only, plus ``busy(bool)``
    when loading starts and stops. Workers are connected to slots of this object, which
    lives on the GUI thread, so every signal arrives there (queued).
    """

    progress = Signal(str, int, int)
    seriesFound = Signal(object, object)
    loaded = Signal(object)
    failed = Signal(str)
    cancelled = Signal()
    busy = Signal(bool)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._current: LoadWorker | None = None
        self._running: dict[LoadWorker, QThread] = {}

    @property
    def is_loading(self) -> bool:
        """Whether a current request is still running."""
        return self._current is not None

    def start(
        self,
        paths: Sequence[str | Path],
        series_uid: str | None = None,
        series: SeriesInfo | None = None,
    ) -> None:
        """Load ``paths`` (files or folders) in the background, superseding any current load.

        ``series`` (from a ``seriesFound`` report) or ``series_uid`` chooses one series of a
        folder holding several.
        """
        if not paths:
            raise ValueError("no path to load")
        if self._current is not None:
            self._current.cancel()
        request = LoadRequest(tuple(Path(p) for p in paths), series_uid, series)
        thread = QThread()
        thread.setObjectName(f"medsr-load {_describe(request.paths)}")
        worker = LoadWorker(request)
        threads.register(thread, stop=worker.cancel)
        worker.moveToThread(thread)
        self._current = worker
        self._running[worker] = thread
        thread.started.connect(worker.run)
        worker.progress.connect(self._on_progress)
        worker.seriesFound.connect(self._on_series_found)
        worker.loaded.connect(self._on_loaded)
        worker.failed.connect(self._on_failed)
        worker.cancelled.connect(self._on_cancelled)
        # quit from the worker thread itself, so ending never needs the GUI event loop
        worker.done.connect(thread.quit, Qt.ConnectionType.DirectConnection)
        thread.finished.connect(self._on_thread_finished)
        self.busy.emit(True)
        thread.start()

    def cancel(self) -> None:
        """Cancel the current request; ``cancelled`` is emitted when it has stopped."""
        if self._current is not None:
            self._current.cancel()

    def shutdown(self, timeout_ms: int = 10000) -> bool:
        """Cancel everything and wait for the threads to end; True when all ended."""
        self._current = None
        ok = True
        for worker, thread in list(self._running.items()):
            worker.cancel()
            thread.quit()
            ok = thread.wait(timeout_ms) and ok
        return ok

    def _is_current(self) -> bool:
        return self._current is not None and self.sender() is self._current

    @Slot(str, int, int)
    def _on_progress(self, phase: str, done: int, total: int) -> None:
        if self._is_current():
            self.progress.emit(phase, done, total)

    @Slot(object, object)
    def _on_series_found(self, request: object, series: object) -> None:
        if self._is_current():
            self._finish_current()
            self.seriesFound.emit(request, series)

    @Slot(object)
    def _on_loaded(self, study: object) -> None:
        if self._is_current():
            self._finish_current()
            self.loaded.emit(study)

    @Slot(str)
    def _on_failed(self, message: str) -> None:
        if self._is_current():
            self._finish_current()
            self.failed.emit(message)

    @Slot()
    def _on_cancelled(self) -> None:
        if self._is_current():
            self._finish_current()
            self.cancelled.emit()

    def _finish_current(self) -> None:
        self._current = None
        self.busy.emit(False)

    @Slot()
    def _on_thread_finished(self) -> None:
        thread = self.sender()
        for worker, candidate in list(self._running.items()):
            if candidate is thread:
                del self._running[worker]
                worker.deleteLater()
                candidate.deleteLater()
