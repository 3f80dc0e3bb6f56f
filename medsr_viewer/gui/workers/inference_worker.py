"""The one background thread that runs models for the viewer's panes.

The GUI posts requests (pane, volume, slice, axis, model) with :meth:`InferenceWorker.submit`
and never blocks. The worker thread computes slices tile by tile through a
:class:`~medsr_viewer.models.slice_engine.SliceEngine` and emits

- ``tileReady(pane_id, request_id, box, array)`` after every tile (box ``(y0, x0, y1, x1)``
  on the output grid, array 2-D), so a pane can paint tiles as they arrive,
- ``progress(pane_id, request_id, done, total)`` alongside,
- ``sliceReady(pane_id, request_id, array, from_cache)`` when a slice is complete,
- ``failed(pane_id, request_id, message)`` when a request fails; the message also goes to the
  application notifier (:mod:`medsr_viewer.core.notify`), and the app keeps running.

A request of kind ``interval-width`` asks instead for the width of a calibrated model's
interval on one slice (8 more model runs): ``progress`` after each run, then ``sliceReady`` with
the width map; it is cached like results.

Latest wins: a newer request for the same pane supersedes any older one, pending or running
(checked between tiles), so scrolling fast only computes the slice the user stops on. Finished
slices are cached by (model file sha256, volume, axis, slice); a cache hit is answered on the next
event-loop turn without touching the worker. When idle, the worker can prefetch the
neighbouring slices of each pane's last request.

The requests run as generator jobs of a :class:`~medsr_viewer.gui.workers.jobs.JobRunner`
(one thread, registered for :func:`~medsr_viewer.gui.workers.threads.stop_all`); its reports
arrive on the GUI thread, where this worker turns them into the signals above, so every signal
is emitted on the GUI thread. Torch releases the GIL inside its kernels, so the GUI stays
responsive.

The engine (and torch, 1 s to import) is made on first use, on the worker thread, so the
window and first image never wait for it; :meth:`InferenceWorker.warm_up` (a study is shown)
makes it and readies the SR pane's model in the background, so the first S does not either.
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal, Slot

from medsr_viewer.core.notify import Notifier
from medsr_viewer.core.notify import notifier as default_notifier
from medsr_viewer.core.volume import Volume
from medsr_viewer.gui.workers.jobs import JobRunner, RunnerHandle
from medsr_viewer.models.registry import ModelRejected
from medsr_viewer.models.uncertainty import DIHEDRAL

if TYPE_CHECKING:  # the engine imports torch: it is made on first use (see InferenceWorker.engine)
    from medsr_viewer.models.slice_engine import ModelRef, SliceEngine

_log = logging.getLogger(__name__)
#: Request kind of an interval-width map.
WIDTH = "interval-width"


@dataclass(frozen=True)
class InferenceRequest:
    """One slice to compute for one pane.

    Parameters
    ----------
    pane_id
        Which pane asked (requests of one pane supersede each other).
    request_id
        Unique, increasing id returned by :meth:`InferenceWorker.submit`.
    volume
        The study.
    slice_index, axis
        Which slice, along which voxel axis (0 = z, 1 = y, 2 = x).
    model
        Model name or path.
    task
        Task the pane needs (``super_resolution``, ``enhance``, ``segment``) or ``None``.
    tile
        Tile size override, or ``None`` for the card's.
    prefetch
        A speculative neighbour computation (no tile signals; cached only).
    kind
        ``slice`` (the model's result, tile by tile) or ``interval-width`` (the calibrated
        ``level`` interval's width on the SR grid: 8 more model runs, ``progress`` after each,
        no tiles; :meth:`SliceEngine.iter_interval_width`).
    level
        Interval level of an ``interval-width`` request (e.g. 0.9).
    """

    pane_id: str
    request_id: int
    volume: Volume
    slice_index: int
    axis: int
    model: str
    task: str | None = None
    tile: int | None = None
    prefetch: bool = False
    kind: str = "slice"
    level: float = 0.0


class InferenceWorker(RunnerHandle, QObject):
    """Background model runner with per-pane latest-wins requests and a result cache.

    Requests run as generator jobs of one :class:`~medsr_viewer.gui.workers.jobs.JobRunner`
    (channel = pane id, so a pane's newer request supersedes its older one); prefetch jobs
    run in the background channel and give way to any request.

    Parameters
    ----------
    parent
        Qt parent.
    engine
        The Qt-free engine (default: bundled + user models, ``auto`` device, 512 MiB cache,
        made on first use).
    notifier
        Where errors are posted for the user (default: the application notifier).
    prefetch
        Compute the neighbouring slices of each pane's last request when idle.

    Signals
    -------
    tileReady(str, int, tuple, numpy.ndarray)
        Pane, request id, tile box ``(y0, x0, y1, x1)`` on the output grid, tile pixels.
    progress(str, int, int, int)
        Pane, request id, done, total.
    sliceReady(str, int, numpy.ndarray, bool)
        Pane, request id, the slice (or width map), whether it came from the cache.
    failed(str, int, str)
        Pane, request id, message.
    prefetched(str, int, int)
        Pane, slice index, axis of a neighbour slice computed ahead.
    """

    tileReady = Signal(str, int, tuple, np.ndarray)
    progress = Signal(str, int, int, int)
    sliceReady = Signal(str, int, np.ndarray, bool)
    failed = Signal(str, int, str)
    prefetched = Signal(str, int, int)

    def __init__(
        self,
        parent: QObject | None = None,
        engine: SliceEngine | None = None,
        notifier: Notifier | None = None,
        prefetch: bool = False,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("InferenceWorker")
        self.notifier = notifier if notifier is not None else default_notifier
        self._engine = engine
        self._engine_lock = threading.Lock()
        self._warmed: set[tuple[str | None, str | None, int]] = set()
        self._asked: set[str] = set()  # models requested: no blank tile to warm them up
        self.prefetch_enabled = prefetch
        self.runner = JobRunner("InferenceWorker", self, on_stop=self._interrupt)
        # All of these are used on the GUI thread only.
        self._jobs: dict[int, InferenceRequest] = {}  # runner job id -> request
        self._latest: dict[str, int] = {}
        self._last_done: dict[str, InferenceRequest] = {}
        self._ids = itertools.count(1)
        self._prefetch_failures: set[tuple[str, int, int, int]] = set()
        self.runner.yielded.connect(self._on_yielded)
        self.runner.returned.connect(self._on_returned)
        self.runner.failed.connect(self._on_failed)
        self.runner.finished.connect(self._on_finished)

    @property
    def engine(self) -> SliceEngine:
        """The Qt-free engine; the first use makes it (importing torch, about 1 s)."""
        with self._engine_lock:
            if self._engine is None:
                from medsr_viewer.models.slice_engine import SliceEngine

                self._engine = SliceEngine(notifier=self.notifier)
            return self._engine

    @property
    def device_type(self) -> str:
        """Where models run now (``cpu``, ``cuda``), or ``""`` before the engine exists."""
        engine = self._engine
        return "" if engine is None else engine.active_device.type

    # -- GUI-thread API ----------------------------------------------------------------------
    def warm_up(self, model: str | None = None, task: str | None = None,
                volume: Volume | None = None) -> None:
        """In the background, make the engine (import torch) and get ``model`` ready for
        ``task`` on ``volume`` (:func:`~medsr_viewer.models.warm_up.prepare_model`), once
        each: a job giving way to any request, failing silently (a request reports it)."""
        key = (model, task, id(volume))
        if key in self._warmed or self.runner.stopping:
            return
        self._warmed.add(key)
        self.runner.submit(lambda _ticket: self._prepare(model, task, volume),
                           channel="warm-up", background=True)

    def _prepare(self, model: str | None, task: str | None, volume: Volume | None) -> None:
        engine = self.engine  # worker thread: imports torch the first time
        if model is not None:
            from medsr_viewer.models.warm_up import prepare_model

            prepare_model(engine, model, task, volume, prime=model not in self._asked)

    def submit(
        self,
        pane_id: str,
        volume: Volume,
        slice_index: int,
        model: str,
        axis: int | None = None,
        task: str | None = None,
        tile: int | None = None,
        kind: str = "slice",
        level: float = 0.0,
    ) -> int:
        """Ask for one slice (or its interval width, ``kind="interval-width"``); returns the
        request id used in every signal about it.

        Never blocks: a cached slice is delivered on the next event-loop turn, anything else
        is queued for the worker thread (superseding the pane's earlier request) and the
        thread is started if needed.
        """
        request_id = next(self._ids)
        if axis is None:  # the volume's acquired axis (importing the engine's module)
            from medsr_viewer.models.volume_processing import default_axis as acquired

            axis = acquired(volume)
        request = InferenceRequest(
            pane_id, request_id, volume, int(slice_index), int(axis), str(model), task, tile,
            kind=kind, level=float(level),
        )
        self._latest[pane_id] = request_id
        self._asked.add(request.model)
        hit = self._cached(request)
        if hit is not None:
            self.runner.cancel(pane_id)
            self._last_done[pane_id] = request
            QTimer.singleShot(0, self, lambda: self._deliver_cached(request, hit))
            return request_id
        self._run(request)
        return request_id

    def cancel(self, pane_id: str) -> None:
        """Drop the pane's pending request and stop its running one at the next tile."""
        self._latest[pane_id] = next(self._ids)
        self._last_done.pop(pane_id, None)
        self.runner.cancel(pane_id)

    def is_current(self, pane_id: str, request_id: int) -> bool:
        """Whether ``request_id`` is still the pane's latest request."""
        return self._latest.get(pane_id) == request_id

    @property
    def busy(self) -> bool:
        """Whether the worker is computing (or has requests waiting)."""
        return self.runner.busy

    # -- internals ---------------------------------------------------------------------------
    def _interrupt(self) -> None:
        if self._engine is not None:
            self._engine.interrupt()

    def _run(self, request: InferenceRequest) -> None:
        """Submit ``request`` as a job on the pane's channel (or as background prefetch)."""
        ticket = self.runner.submit(
            lambda _ticket: self._compute(request),
            channel="prefetch" if request.prefetch else request.pane_id,
            background=request.prefetch,
            describe=lambda exc: self._message(request, exc),
        )
        self._jobs[ticket.id] = request

    def _compute(self, request: InferenceRequest) -> Generator[object, None, np.ndarray]:
        """The job (worker thread): yields tile updates (or model runs done), returns the
        slice (or width map)."""
        ref: ModelRef = self.engine.resolve(request.model)
        if request.kind == WIDTH:
            return (yield from self.engine.iter_interval_width(
                ref, request.volume, request.axis, request.slice_index, request.level,
                request.task, request.tile))
        return (yield from self.engine.iter_slice(
            ref, request.volume, request.axis, request.slice_index, request.task, request.tile))

    @staticmethod
    def _message(request: InferenceRequest, exc: BaseException) -> str:
        """The one-line failure message of ``request`` (worker thread, inside ``except``)."""
        from medsr_viewer.models.inference import describe_exception

        _log.debug("inference request failed", exc_info=True)
        if isinstance(exc, ModelRejected):
            return str(exc)
        return f"{request.model}: {describe_exception(exc)}"

    def _cached(self, request: InferenceRequest) -> np.ndarray | None:
        if self._engine is None:
            return None  # nothing computed yet (and the GUI thread never waits for torch)
        try:
            ref = self.engine.resolve(request.model)
        except ModelRejected:
            return None  # the worker reports it
        if request.kind == WIDTH:
            return self.engine.cache.get(self.engine.width_key(
                ref, request.volume, request.axis, request.slice_index, request.level))
        return self.engine.cached(
            self.engine.cache_key(ref, request.volume, request.axis, request.slice_index)
        )

    def _deliver_cached(self, request: InferenceRequest, array: np.ndarray) -> None:
        if self.is_current(request.pane_id, request.request_id):
            self.sliceReady.emit(request.pane_id, request.request_id, array, True)
        self._schedule_prefetch()

    @Slot(int, object)
    def _on_yielded(self, job_id: int, update: object) -> None:
        request = self._jobs.get(job_id)
        if request is None or request.prefetch:
            return
        from medsr_viewer.models.inference import TileUpdate  # loaded: a job has run

        pane, rid = request.pane_id, request.request_id
        if isinstance(update, TileUpdate):
            self.tileReady.emit(pane, rid, update.box.as_tuple(), update.array)
            self.progress.emit(pane, rid, update.done, update.total)
        elif isinstance(update, int):  # interval width: model runs done
            self.progress.emit(pane, rid, update, len(DIHEDRAL))

    @Slot(int, object)
    def _on_returned(self, job_id: int, result: np.ndarray) -> None:
        request = self._jobs.get(job_id)
        if request is None:
            return
        pane, rid = request.pane_id, request.request_id
        if request.prefetch:
            self.prefetched.emit(pane, request.slice_index, request.axis)
            return
        if self._latest.get(pane) == rid:
            self._last_done[pane] = request
        self.sliceReady.emit(pane, rid, result, False)

    @Slot(int, str)
    def _on_failed(self, job_id: int, message: str) -> None:
        request = self._jobs.get(job_id)
        if request is None:
            return
        if request.prefetch:
            self._prefetch_failures.add(self._prefetch_key(request))
            return
        self.notifier.error(message, source="inference")
        self.failed.emit(request.pane_id, request.request_id, message)

    @Slot(int)
    def _on_finished(self, job_id: int) -> None:
        self._jobs.pop(job_id, None)
        self._schedule_prefetch()

    def _schedule_prefetch(self) -> None:
        """When idle, compute a neighbour of a pane's last slice in the background."""
        if not self.prefetch_enabled or self.runner.stopping or self.runner.busy:
            return
        recent = [
            last
            for pane, last in self._last_done.items()
            if self._latest.get(pane) == last.request_id
        ]
        job = self._prefetch_job(recent)
        if job is not None:
            self._run(job)

    def _prefetch_job(self, recent: list[InferenceRequest]) -> InferenceRequest | None:
        """A neighbour slice of a pane's last finished request that is not cached yet."""
        for last in recent:
            if last.kind != "slice":
                continue
            total = int(last.volume.voxels.shape[last.axis])  # slices along the axis
            for offset in (1, -1, 2, -2):
                index = last.slice_index + offset
                if not 0 <= index < total:
                    continue
                job = InferenceRequest(
                    last.pane_id,
                    -1,
                    last.volume,
                    index,
                    last.axis,
                    last.model,
                    last.task,
                    last.tile,
                    prefetch=True,
                )
                if self._prefetch_key(job) in self._prefetch_failures:
                    continue
                if self._cached(job) is None:
                    return job
        return None

    def _prefetch_key(self, request: InferenceRequest) -> tuple[str, int, int, int]:
        return (request.model, id(request.volume), request.axis, request.slice_index)
