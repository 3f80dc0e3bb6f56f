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

Signals are emitted from the worker thread and reach GUI-thread receivers through queued
connections; torch releases the GIL inside its kernels, so the GUI stays responsive.
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QObject, QThread, QTimer, Signal

from medsr_viewer.core.notify import Notifier
from medsr_viewer.core.notify import notifier as default_notifier
from medsr_viewer.core.volume import Volume
from medsr_viewer.gui.workers import threads
from medsr_viewer.models.inference import describe_exception
from medsr_viewer.models.registry import ModelRejected
from medsr_viewer.models.slice_engine import ModelRef, SliceEngine
from medsr_viewer.models.uncertainty import DIHEDRAL
from medsr_viewer.models.volume_processing import default_axis, slice_count

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


class InferenceWorker(QThread):
    """Background model runner with per-pane latest-wins requests and a result cache.

    Parameters
    ----------
    parent
        Qt parent.
    engine
        The Qt-free engine (default: bundled + user models, ``auto`` device, 512 MiB cache).
    notifier
        Where errors are posted for the user (default: the application notifier).
    prefetch
        Compute the neighbouring slices of each pane's last request when idle.
    """

    tileReady = Signal(str, int, object, object)
    progress = Signal(str, int, int, int)
    sliceReady = Signal(str, int, object, bool)
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
        self.engine = engine if engine is not None else SliceEngine(notifier=self.notifier)
        self.prefetch_enabled = prefetch
        self._cond = threading.Condition()
        self._pending: OrderedDict[str, InferenceRequest] = OrderedDict()
        self._latest: dict[str, int] = {}
        self._last_done: dict[str, InferenceRequest] = {}
        self._ids = itertools.count(1)
        self._stopping = False
        self._busy = False
        self._prefetch_failures: set[tuple[str, int, int, int]] = set()
        threads.register(self, stop=self.request_stop)

    # -- GUI-thread API ----------------------------------------------------------------------
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
        is queued for the worker thread (replacing the pane's pending request) and the thread
        is started if needed.
        """
        request_id = next(self._ids)
        axis = default_axis(volume) if axis is None else int(axis)
        request = InferenceRequest(
            pane_id, request_id, volume, int(slice_index), axis, str(model), task, tile,
            kind=kind, level=float(level),
        )
        with self._cond:
            self._latest[pane_id] = request_id
            self._pending.pop(pane_id, None)
        hit = self._cached(request)
        if hit is not None:
            with self._cond:
                self._last_done[pane_id] = request
                self._cond.notify_all()
            QTimer.singleShot(0, self, lambda: self._deliver_cached(request, hit))
            return request_id
        with self._cond:
            self._pending[pane_id] = request
            self._cond.notify_all()
        if not self.isRunning() and not self._stopping:
            self.start()
        return request_id

    def cancel(self, pane_id: str) -> None:
        """Drop the pane's pending request and stop its running one at the next tile."""
        with self._cond:
            self._pending.pop(pane_id, None)
            self._latest[pane_id] = next(self._ids)
            self._last_done.pop(pane_id, None)

    def is_current(self, pane_id: str, request_id: int) -> bool:
        """Whether ``request_id`` is still the pane's latest request."""
        with self._cond:
            return self._latest.get(pane_id) == request_id

    def request_stop(self) -> None:
        """Cancel everything without waiting: pending requests are dropped, an idle thread is
        woken, and a model call in progress is interrupted at once (its result discarded)."""
        with self._cond:
            self._stopping = True
            self._pending.clear()
            self._cond.notify_all()
        self.engine.interrupt()
        self.requestInterruption()
        self.quit()

    def stop(self, timeout_ms: int = 5000) -> bool:
        """Cancel everything, end the thread and wait for it; returns whether it ended."""
        self.request_stop()
        return self.wait(timeout_ms)

    @property
    def busy(self) -> bool:
        """Whether the worker is computing (or has requests waiting)."""
        with self._cond:
            return self._busy or bool(self._pending)

    # -- internals ---------------------------------------------------------------------------
    def _cached(self, request: InferenceRequest) -> np.ndarray | None:
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

    def _superseded(self, request: InferenceRequest) -> bool:
        with self._cond:
            if self._stopping or self.isInterruptionRequested():
                return True
            if request.prefetch:
                return bool(self._pending)
            return self._latest.get(request.pane_id) != request.request_id

    def _next_request(self) -> InferenceRequest | None:
        """Block until there is work (a request, or prefetch when idle) or stop."""
        while True:
            with self._cond:
                self._busy = False
                if self._stopping:
                    return None
                if self._pending:
                    _pane, request = self._pending.popitem(last=False)
                    self._busy = True
                    return request
                recent = [
                    last
                    for pane, last in self._last_done.items()
                    if self._latest.get(pane) == last.request_id
                ]
            job = self._prefetch_job(recent) if self.prefetch_enabled else None
            with self._cond:
                if self._stopping:
                    return None
                if self._pending:
                    continue
                if job is not None:
                    self._busy = True
                    return job
                self._cond.wait()

    def _prefetch_job(self, recent: list[InferenceRequest]) -> InferenceRequest | None:
        """A neighbour slice of a pane's last finished request that is not cached yet."""
        for last in recent:
            if last.kind != "slice":
                continue
            total = slice_count(last.volume, last.axis)
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

    def run(self) -> None:
        """Thread body: take requests until :meth:`stop`."""
        while True:
            request = self._next_request()
            if request is None:
                return
            self._process(request)

    def _process(self, request: InferenceRequest) -> None:
        pane, rid = request.pane_id, request.request_id
        try:
            ref: ModelRef = self.engine.resolve(request.model)
            if request.kind == WIDTH:
                width = self._width(ref, request)
                if width is None:
                    return
                with self._cond:
                    if self._latest.get(pane) == rid:
                        self._last_done[pane] = request
                self.sliceReady.emit(pane, rid, width, False)
                return
            gen = self.engine.iter_slice(
                ref, request.volume, request.axis, request.slice_index, request.task, request.tile
            )
            while True:
                if self._superseded(request):
                    gen.close()
                    return
                try:
                    update = next(gen)
                except StopIteration as stop:
                    result: np.ndarray = stop.value
                    break
                if not request.prefetch:
                    self.tileReady.emit(pane, rid, update.box.as_tuple(), update.array)
                    self.progress.emit(pane, rid, update.done, update.total)
        except Exception as exc:  # noqa: BLE001 - every failure is reported, none kills the app
            if self._stopping:
                return  # interrupted because the application is closing: nothing to report
            if request.prefetch:
                self._prefetch_failures.add(self._prefetch_key(request))
                return
            message = (
                str(exc)
                if isinstance(exc, ModelRejected)
                else f"{request.model}: {describe_exception(exc)}"
            )
            _log.debug("inference request failed", exc_info=True)
            self.notifier.error(message, source="inference")
            self.failed.emit(pane, rid, message)
            return
        if request.prefetch:
            self.prefetched.emit(pane, request.slice_index, request.axis)
            return
        with self._cond:
            if self._latest.get(pane) == rid:
                self._last_done[pane] = request
        self.sliceReady.emit(pane, rid, result, False)

    def _width(self, ref: ModelRef, request: InferenceRequest) -> np.ndarray | None:
        """Run an interval-width request (``None`` when superseded)."""
        gen = self.engine.iter_interval_width(
            ref, request.volume, request.axis, request.slice_index, request.level,
            request.task, request.tile,
        )
        runs = len(DIHEDRAL)
        while True:
            if self._superseded(request):
                gen.close()
                return None
            try:
                done = next(gen)
            except StopIteration as stop:
                return stop.value  # type: ignore[no-any-return]
            self.progress.emit(request.pane_id, request.request_id, done, runs)
