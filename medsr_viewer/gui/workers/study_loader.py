"""Loading studies in the background, with progress, cancel and error reporting.

The main window never reads files on the GUI thread: :class:`StudyLoader` runs
:func:`medsr_viewer.core.io.load_study` (and, for folders, series discovery) as a job of a
:class:`~medsr_viewer.gui.workers.jobs.JobRunner` (its thread is registered in
:mod:`medsr_viewer.gui.workers.threads`), and reports back through signals.
Each request gets a number; results of a superseded request are dropped, so opening another
study while one loads simply replaces it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtCore import QObject, Signal, Slot

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
from medsr_viewer.gui.workers.jobs import JobRunner, Ticket

#: The runner channel of loads (each load supersedes the previous one).
CHANNEL = "load"


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


@dataclass(frozen=True)
class SeriesChoice:
    """The outcome of a request for a folder of several series: the user must choose one."""

    request: LoadRequest
    series: list[SeriesInfo]


def _failure_message(paths: Sequence[Path]) -> Callable[[BaseException], str]:
    """The ``failed`` message of a load of ``paths``: names the input and the reason."""

    def describe(exc: BaseException) -> str:
        if isinstance(exc, LoadError):
            return str(exc)
        if isinstance(exc, MemoryError):
            return f"{_describe(paths)}: not enough memory to load this study"
        return f"{_describe(paths)}: unexpected error ({type(exc).__name__}: {exc})"

    return describe


class LoadWorker:
    """The job of one load request, run on the loader's worker thread.

    Called with its :class:`~medsr_viewer.gui.workers.jobs.Ticket`: posts
    ``(phase, done, total)`` progress (phase ``"Scanning"`` or ``"Loading"``), polls the ticket
    for cancellation at file boundaries, and returns a :class:`LoadedStudy` or, for a folder
    holding several series, a :class:`SeriesChoice`. Errors are raised (the runner reports them
    through :func:`_failure_message`); a cancelled load raises ``LoadCancelled``.
    """

    def __init__(self, request: LoadRequest) -> None:
        self.request = request
        self._ticket: Ticket | None = None
        self._phase = "Loading"

    def is_cancelled(self) -> bool:
        """Whether the load was cancelled or superseded (polled by the readers)."""
        return self._ticket is not None and self._ticket.cancelled

    def _report(self, done: int, total: int) -> None:
        if self._ticket is not None:
            self._ticket.post((self._phase, int(done), int(total)))

    def _read(self, paths: tuple[Path, ...]) -> Study | SeriesChoice:
        """The study asked for, or the series found when the user must pick one."""
        series = self.request.series
        uid = self.request.series_uid
        if series is None and uid is None and (len(paths) > 1 or paths[0].is_dir()):
            self._phase = "Scanning"
            found = discover_series(list(paths), progress=self._report, cancelled=self.is_cancelled)
            if len(found) > 1:
                return SeriesChoice(self.request, found)
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

    def __call__(self, ticket: Ticket) -> LoadedStudy | SeriesChoice:
        """Discover series if needed, load, reorient and compute the default window."""
        self._ticket = ticket
        paths = self.request.paths
        try:
            study = self._read(paths)
            if isinstance(study, SeriesChoice):
                return study
            if self.is_cancelled():
                raise LoadCancelled("loading cancelled")
            display = DisplayVolume(study.shown)
            name, window = default_preset(study.shown)
            return LoadedStudy(display, window, paths, name, study)
        except LoadCancelled:
            ticket.cancel()  # reported as cancelled, never as a failure
            raise


class StudyLoader(QObject):
    """Starts and tracks background loads; at most one request is current.

    Each load is a job of a :class:`~medsr_viewer.gui.workers.jobs.JobRunner` whose thread
    ends when no load is left (so no idle thread stays behind); a new request supersedes
    (cancels) the current one and starts at once, on another runner if the cancelled load has
    not stopped yet. Every signal is emitted on the GUI thread, for the current request only.

    Signals
    -------
    progress(str, int, int)
        Phase (``"Scanning"`` or ``"Loading"``), done and total.
    seriesFound(LoadRequest, list)
        The request and the ``list[SeriesInfo]`` when a folder holds several series: the
        user must choose one, nothing is loaded.
    loaded(LoadedStudy)
        The study, ready to show.
    failed(str)
        One-line message naming the file and the reason.
    cancelled()
        The user cancelled.
    busy(bool)
        Loading starts (``True``) or the current request ended (``False``).
    """

    progress = Signal(str, int, int)
    seriesFound = Signal(LoadRequest, list)
    loaded = Signal(LoadedStudy)
    failed = Signal(str)
    cancelled = Signal()
    busy = Signal(bool)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        #: One-off runners (their threads end when idle); a new load takes an idle one, or
        #: a new one while a superseded load is still winding down, so it never waits for it.
        self._runners: list[JobRunner] = []
        self._current: tuple[JobRunner, int] | None = None

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
        self.cancel()
        request = LoadRequest(tuple(Path(p) for p in paths), series_uid, series)
        runner = self._idle_runner()
        ticket = runner.submit(
            LoadWorker(request), channel=CHANNEL, describe=_failure_message(request.paths)
        )
        self._current = (runner, ticket.id)
        self.busy.emit(True)

    def cancel(self) -> None:
        """Cancel the current request; ``cancelled`` is emitted when it has stopped."""
        if self._current is not None:
            self._current[0].cancel(CHANNEL)

    def shutdown(self, timeout_ms: int = 10000) -> bool:
        """Cancel everything and wait for the threads to end; True when all ended."""
        self._current = None
        ok = True
        for runner in self._runners:
            runner.cancel()
        for runner in self._runners:
            ok = runner.wait(timeout_ms) and ok
        return ok

    def _idle_runner(self) -> JobRunner:
        for runner in self._runners:
            if not runner.busy:
                return runner
        runner = JobRunner(f"StudyLoader-{len(self._runners) + 1}", self, keep_alive=False)
        runner.yielded.connect(self._on_yielded)
        runner.returned.connect(self._on_returned)
        runner.failed.connect(self._on_failed)
        runner.cancelled.connect(self._on_cancelled)
        self._runners.append(runner)
        return runner

    def _is_current(self, job_id: int) -> bool:
        if self._current is None:
            return False
        runner, current = self._current
        return job_id == current and self.sender() is runner

    def _finish_current(self) -> None:
        self._current = None
        self.busy.emit(False)

    @Slot(int, object)
    def _on_yielded(self, job_id: int, update: tuple[str, int, int]) -> None:
        if self._is_current(job_id):
            phase, done, total = update
            self.progress.emit(phase, done, total)

    @Slot(int, object)
    def _on_returned(self, job_id: int, outcome: LoadedStudy | SeriesChoice) -> None:
        if not self._is_current(job_id):
            return
        self._finish_current()
        if isinstance(outcome, SeriesChoice):
            self.seriesFound.emit(outcome.request, outcome.series)
        else:
            self.loaded.emit(outcome)

    @Slot(int, str)
    def _on_failed(self, job_id: int, message: str) -> None:
        if self._is_current(job_id):
            self._finish_current()
            self.failed.emit(message)

    @Slot(int)
    def _on_cancelled(self, job_id: int) -> None:
        if self._is_current(job_id):
            self._finish_current()
            self.cancelled.emit()
