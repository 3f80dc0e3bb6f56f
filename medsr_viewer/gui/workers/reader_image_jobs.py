"""The images of a blinded reader study, made in the background on the model worker's thread.

The jobs run on the viewer's :class:`~medsr_viewer.gui.workers.jobs.JobRunner` of the
inference worker (so the models run on its engine, its device and thread, never two threads
at once), on their own channel: first one job resolving the methods (card and model-file
sha256), then one job per image, submitted one after the other so the SR pane's requests
take turns with them. Results arrive as signals on the GUI thread.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PySide6.QtCore import QObject, Signal, Slot

from medsr_viewer.core.reader_study import Method
from medsr_viewer.gui.workers.jobs import JobFunction, JobRunner, Ticket, describe_error
from medsr_viewer.models.reader_images import ReaderImages
from medsr_viewer.models.registry import ModelRejected

#: The runner channel of reader-study jobs.
CHANNEL = "reader-study"


def _describe(exc: BaseException) -> str:
    return str(exc) if isinstance(exc, ModelRejected) else describe_error(exc)


class ReaderImageJobs(QObject):
    """Resolves a study's methods, then makes every (method, slice) image it is given.

    Parameters
    ----------
    runner
        The job runner the models run on (the inference worker's).
    images
        Makes the images (its engine is the worker's, used on the runner's thread).
    parent
        Qt parent.

    Signals
    -------
    resolved(object, int)
        The methods (a tuple of :class:`~medsr_viewer.core.reader_study.Method`) and the
        grid scale.
    imageReady(str, int, numpy.ndarray)
        Method identity, slice index, the image.
    progress(int, int)
        Images made, images asked for.
    failed(str)
        Why the methods or an image could not be made (the remaining jobs are dropped).
    """

    resolved = Signal(object, int)
    imageReady = Signal(str, int, np.ndarray)
    progress = Signal(int, int)
    failed = Signal(str)

    def __init__(self, runner: JobRunner, images: ReaderImages,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._runner = runner
        self.images = images
        self._queue: list[tuple[Method, int]] = []
        self._scale = 1
        self._ticket: Ticket | None = None
        self._current: tuple[Method, int] | None = None
        self._done = 0
        self._total = 0
        runner.returned.connect(self._on_returned)
        runner.failed.connect(self._on_failed)

    @property
    def busy(self) -> bool:
        """Whether a job is waiting or running."""
        return self._ticket is not None

    @property
    def done(self) -> int:
        """Images made so far."""
        return self._done

    @property
    def total(self) -> int:
        """Images asked for."""
        return self._total

    def resolve(self, specs: Sequence[str]) -> None:
        """Resolve the methods named by ``specs`` in the background (``resolved`` or
        ``failed`` follows)."""
        wanted = list(specs)
        self._submit(lambda _ticket: self.images.methods(wanted))

    def compute(self, wanted: Sequence[tuple[Method, int]], scale: int) -> None:
        """Make the images of ``(method, slice index)`` in this order, one job each."""
        self._queue = list(wanted)
        self._scale = int(scale)
        self._done, self._total = 0, len(self._queue)
        self.progress.emit(self._done, self._total)
        self._next()

    def cancel(self) -> None:
        """Drop the waiting images and stop the running job at its next tile."""
        self._queue.clear()
        if self._ticket is not None:
            self._ticket.cancel()
        self._ticket = self._current = None

    def _next(self) -> None:
        if not self._queue:
            return
        method, index = self._current = self._queue.pop(0)
        scale = self._scale
        self._submit(lambda _ticket: self.images.iter_image(method, index, scale))

    def _submit(self, job: JobFunction) -> None:
        self._ticket = self._runner.submit(job, channel=CHANNEL, supersede=False,
                                           describe=_describe)

    @Slot(int, object)
    def _on_returned(self, job_id: int, result: object) -> None:
        if self._ticket is None or job_id != self._ticket.id:
            return
        self._ticket = None
        if self._current is None:  # the methods
            assert isinstance(result, tuple)
            methods, scale = result
            self.resolved.emit(methods, int(scale))
            return
        method, index = self._current
        self._current = None
        self._done += 1
        self.imageReady.emit(method.identity, index, np.asarray(result, dtype=np.float32))
        self.progress.emit(self._done, self._total)
        self._next()

    @Slot(int, str)
    def _on_failed(self, job_id: int, message: str) -> None:
        if self._ticket is None or job_id != self._ticket.id:
            return
        self.cancel()
        self.failed.emit(message)
