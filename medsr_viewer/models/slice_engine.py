"""The Qt-free core of the viewer's inference worker: models, per-volume processors, a cache.

:class:`SliceEngine` answers "run model M on slice k along axis a of volume V" as a tile
generator, and remembers everything that is expensive to redo:

- loaded models, checked once (card, task, dry run) and kept per file,
- one :class:`~medsr_viewer.models.volume_processing.VolumeProcessor` per (model, volume),
  holding the intensity normalisation fitted on the whole volume,
- finished slices in a :class:`~medsr_viewer.models.result_cache.ByteLRUCache`, keyed by
  ``(model file sha256, volume id, axis, slice)``: the hash of the model file's bytes, never
  the card's claim, so two different files cannot share results.

Models that were refused are remembered too, so a bad model fails fast on every later request
instead of being reloaded. The Qt worker (:mod:`medsr_viewer.gui.workers.inference_worker`) adds only
threading and signals on top; tests drive this class directly.
"""

from __future__ import annotations

import itertools
import os
import threading
import weakref
from collections.abc import Callable, Generator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from medsr_viewer.core.notify import Notifier
from medsr_viewer.core.notify import notifier as default_notifier
from medsr_viewer.core.volume import Volume
from medsr_viewer.models.archive import LoadedModel, read_card
from medsr_viewer.models.card import CardError, ModelCard
from medsr_viewer.models.device import configure_cpu_threads, select_device
from medsr_viewer.models.domain import domain_message
from medsr_viewer.models.execution import choose_plan
from medsr_viewer.models.identity import file_sha256
from medsr_viewer.models.inference import (
    InferenceError,
    InferenceTimeout,
    TileRunner,
    TileUpdate,
    call_bounded,
    run_tiled_inference,
)
from medsr_viewer.models.registry import (
    ModelNeedsTrust,
    ModelRegistry,
    ModelRejected,
    check_task,
    load_checked,
)
from medsr_viewer.models.result_cache import ByteLRUCache
from medsr_viewer.models.through_plane.adapt import AdaptProgress, AdaptReport
from medsr_viewer.models.through_plane.apply import coarse_axis
from medsr_viewer.models.through_plane.study_run import TASK as THROUGH_PLANE_TASK
from medsr_viewer.models.through_plane.study_run import ThroughPlaneProcessor
from medsr_viewer.models.uncertainty import iter_sr_with_spread
from medsr_viewer.models.volume_processing import SLICE_TASKS, VolumeProcessor, take_slice

#: ``(model file sha256, volume id, axis, slice index)``.
CacheKey = tuple[str, int, int, int]
#: ``("interval-width", level, *CacheKey)``: an interval-width map in the same cache.
WidthKey = tuple[str, float, str, int, int, int]


@dataclass(frozen=True)
class ModelRef:
    """A resolved model request: the file, its card, and the identity used for caching.

    ``sha256`` is the hash of the file's bytes when it was resolved.
    """

    path: Path
    card: ModelCard
    sha256: str

    @property
    def key(self) -> str:
        """Cache identity: the SHA-256 of the model file's bytes."""
        return self.sha256


class SliceEngine:
    """Runs models on single slices with caching; safe to call from one worker thread.

    The lookup methods (:meth:`resolve`, :meth:`cache_key`, :meth:`cached`) are also safe
    from the GUI thread, so a cache hit never waits for the worker.

    Parameters
    ----------
    registry
        Where model names are resolved (default: bundled + user folders).
    device
        ``auto``, ``cpu`` or ``cuda``.
    cache_bytes
        Memory bound of the result cache.
    notifier
        Where CPU-fallback notices go.
    tile_timeout_s
        Per-tile time limit overriding every card's ``tile_timeout_s`` (``None``: the card's).
    """

    def __init__(
        self,
        registry: ModelRegistry | None = None,
        device: str = "auto",
        cache_bytes: int = 512 * 1024 * 1024,
        notifier: Notifier | None = None,
        tile_timeout_s: float | None = None,
    ) -> None:
        self.registry = registry if registry is not None else ModelRegistry()
        self.tile_timeout_s = tile_timeout_s
        self._interrupt = threading.Event()
        self.device: torch.device = select_device(device)
        self.cache = ByteLRUCache(cache_bytes)
        self.notifier = notifier if notifier is not None else default_notifier
        self._lock = threading.Lock()
        self._paths: dict[str, Path] = {}
        self._refs: dict[tuple[str, int, int], ModelRef] = {}
        self._models: dict[tuple[Path, str], tuple[LoadedModel, TileRunner]] = {}
        self._rejected: dict[tuple[Path, str, str | None], str] = {}
        self._processors: dict[tuple[str, int], VolumeProcessor] = {}
        self._domain_unchecked: set[tuple[str, int]] = set()
        self._through: dict[tuple[str, int], ThroughPlaneProcessor] = {}
        self._revisions: dict[tuple[str, int], int] = {}
        self._volume_ids: weakref.WeakKeyDictionary[Volume, int] = weakref.WeakKeyDictionary()
        self._next_id = itertools.count(1)

    # -- identities (any thread) -------------------------------------------------------------
    def volume_id(self, volume: Volume) -> int:
        """A stable id for ``volume`` while it is alive (never reused within the engine)."""
        with self._lock:
            vid = self._volume_ids.get(volume)
            if vid is None:
                vid = next(self._next_id)
                self._volume_ids[volume] = vid
            return vid

    def resolve(self, spec: str | os.PathLike[str]) -> ModelRef:
        """The file and card for a model name or path (reads the card only; cached by mtime).

        Raises
        ------
        ModelRejected
            No such model, or its card is missing or malformed.
        """
        text = os.fspath(spec)
        with self._lock:
            path = self._paths.get(text)
        if path is None or not path.is_file():
            path = self.registry.resolve(text)
            with self._lock:
                self._paths[text] = path
        try:
            stat = path.stat()
        except OSError as exc:
            raise ModelRejected(f"{path}: cannot read the model file ({exc})") from exc
        stamp = (str(path), stat.st_mtime_ns, stat.st_size)
        with self._lock:
            ref = self._refs.get(stamp)
        if ref is None:
            try:
                ref = ModelRef(path, read_card(path), file_sha256(path))
            except CardError as exc:
                raise ModelRejected(str(exc)) from exc
            except OSError as exc:
                raise ModelRejected(f"{path}: cannot read the model file ({exc})") from exc
            with self._lock:
                self._refs[stamp] = ref
        return ref

    def refresh(self) -> None:
        """Forget resolved model names (after models were added or removed)."""
        with self._lock:
            self._paths.clear()

    def cache_key(self, ref: ModelRef, volume: Volume, axis: int, index: int) -> CacheKey:
        """The result-cache key of one slice (a through-plane model adapted to the study
        counts as another model: its revision is part of the key)."""
        vid = self.volume_id(volume)
        with self._lock:
            revision = self._revisions.get((ref.key, vid), 0)
        key = ref.key if revision == 0 else f"{ref.key}+adapted{revision}"
        return (key, vid, int(axis), int(index))

    def cached(self, key: CacheKey) -> np.ndarray | None:
        """A finished slice from the cache, or ``None``."""
        return self.cache.get(key)

    # -- work (worker thread) ----------------------------------------------------------------
    def model(self, ref: ModelRef, task: str | None) -> tuple[LoadedModel, TileRunner]:
        """The loaded, checked model for ``ref`` (loaded and dry-run on first use).

        Raises
        ------
        ModelRejected
            Wrong task, or the model failed its checks (remembered: later calls fail fast).
        """
        check_task(ref.card, task, ref.path)
        rejected_key = (ref.path, ref.key, task)
        if rejected_key in self._rejected:
            raise ModelRejected(self._rejected[rejected_key])
        model_key = (ref.path, ref.key)
        if model_key not in self._models:
            if self.device.type == "cpu":
                configure_cpu_threads()
            try:
                loaded = load_checked(
                    ref.path, task=task, device=self.device, interrupted=self._interrupt
                )
                if loaded.sha256 != ref.sha256:
                    raise ModelRejected(f"{ref.path}: the file changed while it was being loaded")
            except ModelNeedsTrust:
                raise  # not remembered: the user may trust the file and ask again
            except ModelRejected as exc:
                self._rejected[rejected_key] = str(exc)
                raise
            runner = TileRunner(
                loaded.module,
                self.device,
                loaded.card.fp16,
                loaded.card.name,
                self.notifier,
                timeout_s=self.tile_timeout_s or loaded.card.tile_timeout_s,
                interrupted=self._interrupt,
                plan=(choose_plan(loaded.card, self.device, loaded.module,
                                  model_sha256=loaded.sha256)
                      if loaded.card.task in SLICE_TASKS else None),
            )
            self._models[model_key] = (loaded, runner)
        return self._models[model_key]

    def reject(self, ref: ModelRef, task: str | None, reason: str) -> None:
        """Refuse ``ref`` from now on (e.g. after it timed out or produced NaN)."""
        self._rejected[(ref.path, ref.key, task)] = reason
        self._models.pop((ref.path, ref.key), None)
        self._processors = {k: v for k, v in self._processors.items() if k[0] != ref.key}
        self._through = {k: v for k, v in self._through.items() if k[0] != ref.key}

    def interrupt(self) -> None:
        """Stop every running and later model call at once (the application is closing)."""
        self._interrupt.set()

    def processor(
        self, ref: ModelRef, task: str | None, volume: Volume, tile: int | None = None
    ) -> VolumeProcessor:
        """The :class:`VolumeProcessor` binding ``ref`` to ``volume`` (normalisation fitted once)."""
        key = (ref.key, self.volume_id(volume))
        proc = self._processors.get(key)
        if proc is None or (tile is not None and proc.tile != tile):
            loaded, runner = self.model(ref, task)
            first = key not in self._processors
            proc = VolumeProcessor(loaded, volume, tile=tile, notifier=self.notifier, runner=runner)
            if first:  # the training-domain check waits for the first slice (_check_domain)
                self._domain_unchecked.add(key)
            # Forget processors of volumes that are gone.
            alive = set(self._volume_ids.values())
            self._processors = {k: v for k, v in self._processors.items() if k[1] in alive}
            self._processors[key] = proc
        return proc

    def _check_domain(self, ref: ModelRef, volume: Volume, proc: VolumeProcessor) -> None:
        """Once per (model, study), after its first result: warn when the study is unlike
        the model's training data (a pass over the volume, kept out of the first tile's way)."""
        key = (ref.key, self.volume_id(volume))
        if key in self._domain_unchecked:
            self._domain_unchecked.discard(key)
            warning = domain_message(proc.card, volume, intensity=proc.intensity)
            kind = self.series_type_warning(proc.card, volume)  # one notice with both
            if warning or kind:
                self.notifier.warning("; ".join(t for t in (warning, kind) if t),
                                      source="models")

    def series_type_warning(self, card: ModelCard, volume: Volume, axis: int | None = None
                            ) -> str:
        """The series-type sentence of :mod:`medsr_viewer.models.series_check` along ``axis``
        (default: the acquired axis); ``""`` when the card says nothing of what it was
        trained on, or the bundled classifier is missing or fails."""
        from medsr_viewer.models.series_check import SERIES_TYPE_MODEL, series_type_warning
        from medsr_viewer.models.volume_processing import default_axis

        return series_type_warning(
            card, volume, default_axis(volume) if axis is None else axis,
            lambda: self.model(self.resolve(SERIES_TYPE_MODEL), "classify")[0])

    def iter_slice(
        self,
        ref: ModelRef,
        volume: Volume,
        axis: int,
        index: int,
        task: str | None = None,
        tile: int | None = None,
    ) -> Generator[TileUpdate, None, np.ndarray]:
        """Tile updates for one slice; the finished slice is returned and cached.

        A cached slice returns at once without yielding. Closing the generator early
        (cancel) caches nothing.
        """
        key = self.cache_key(ref, volume, axis, index)
        hit = self.cache.get(key)
        if hit is not None:
            return hit
        try:
            if ref.card.task == THROUGH_PLANE_TASK:
                result = yield from self._iter_reformat(ref, volume, axis, index)
            else:
                proc = self.processor(ref, task, volume, tile)
                result = yield from proc.iter_slice(index, axis)
                self._check_domain(ref, volume, proc)
        except InferenceTimeout as exc:
            # Its call may still be running in an abandoned thread: never run it again.
            self.reject(ref, task, f"{ref.path}: {exc}")
            raise
        self.cache.put(key, result)
        return result

    # -- through-plane models ------------------------------------------------------------------
    def through_plane(self, ref: ModelRef, volume: Volume) -> ThroughPlaneProcessor:
        """The :class:`ThroughPlaneProcessor` binding a through-plane model to ``volume``
        (normalisation fitted once; the slice axis is the volume's coarse axis).

        Raises
        ------
        InferenceError
            When the volume is close to isotropic (nothing to super-resolve through-plane).
        """
        key = (ref.key, self.volume_id(volume))
        proc = self._through.get(key)
        if proc is None:
            loaded, _runner = self.model(ref, THROUGH_PLANE_TASK)
            axis = coarse_axis(volume.spacing)
            if axis is None:
                spacing = " x ".join(f"{s:.3g}" for s in volume.spacing)
                raise InferenceError(f"{volume.name or 'study'}: voxels {spacing} mm are "
                                     "close to isotropic: through-plane SR has nothing to add")
            proc = ThroughPlaneProcessor(loaded, volume, None, axis, None, self.device)
            warning = domain_message(loaded.card, volume, axis, proc.intensity)
            if warning:
                self.notifier.warning(warning, source="models")
            alive = set(self._volume_ids.values())
            self._through = {k: v for k, v in self._through.items() if k[1] in alive}
            self._through[key] = proc
        return proc

    def _iter_reformat(self, ref: ModelRef, volume: Volume, axis: int, index: int
                       ) -> Generator[TileUpdate, None, np.ndarray]:
        proc = self.through_plane(ref, volume)
        timeout = self.tile_timeout_s or ref.card.tile_timeout_s

        def bounded(fn: Callable[[], torch.Tensor]) -> torch.Tensor:
            return call_bounded(fn, timeout, self._interrupt, what=f"{ref.card.name} band")

        return (yield from proc.iter_reformat(axis, index, bounded))

    def iter_adapt(self, ref: ModelRef, volume: Volume, minutes: float,
                   stop: threading.Event | None = None, max_steps: int | None = None,
                   ) -> Generator[AdaptProgress, None, AdaptReport]:
        """Adapt a through-plane model to ``volume`` (see
        :meth:`ThroughPlaneProcessor.iter_adapt`); when it ends, later slices use the adapted
        network (cached results of the bundled one stay under their own key)."""
        proc = self.through_plane(ref, volume)
        report = yield from proc.iter_adapt(minutes, max_steps, stop)
        if report.steps > 0:
            key = (ref.key, self.volume_id(volume))
            with self._lock:
                self._revisions[key] = self._revisions.get(key, 0) + 1
        return report

    def width_key(self, ref: ModelRef, volume: Volume, axis: int, index: int,
                  level: float) -> WidthKey:
        """The result-cache key of one slice's interval-width map."""
        return ("interval-width", float(level), *self.cache_key(ref, volume, axis, index))

    def iter_interval_width(
        self,
        ref: ModelRef,
        volume: Volume,
        axis: int,
        index: int,
        level: float,
        task: str | None = None,
        tile: int | None = None,
    ) -> Generator[int, None, np.ndarray]:
        """The calibrated ``level`` interval's width ``2 * factor * spread`` of one slice.

        The spread named by the card's calibration comes from
        :func:`~medsr_viewer.models.uncertainty.iter_sr_with_spread`: the model runs on the
        8 flips/rotations of the slice; the number of runs done is yielded after each (close
        the generator to cancel). The width (float32, SR grid, raw units) is returned and
        cached like results.

        Raises
        ------
        ModelRejected
            The card has no calibration at ``level``.
        """
        key = self.width_key(ref, volume, axis, index, level)
        hit = self.cache.get(key)
        if hit is not None:
            return hit
        calibrated = ref.card.interval_factor(level)
        if calibrated is None:
            raise ModelRejected(f"{ref.card.name} has no calibrated {level:.0%} interval "
                                "(run medsr calibrate on it first)")
        spread_name, factor = calibrated
        proc = self.processor(ref, task, volume, tile)
        card = proc.card

        def upscale(plane: np.ndarray) -> np.ndarray:
            image = proc.intensity.to_model(plane)[None]
            raw = run_tiled_inference(proc.runner, image, proc.scale, 1, proc.tile,
                                      card.tile_overlap)
            return np.asarray(proc.intensity.from_model(raw[0]), dtype=np.float64)

        lr = np.asarray(take_slice(volume.voxels, axis, index), dtype=np.float64)
        try:
            spread = yield from iter_sr_with_spread(upscale, lr, proc.scale,
                                                    float(np.nanmax(volume.voxels)))
        except InferenceTimeout as exc:
            self.reject(ref, task, f"{ref.path}: {exc}")
            raise
        self._check_domain(ref, volume, proc)
        width = (2.0 * factor * np.maximum(spread.spread(spread_name), 0.0)).astype(np.float32)
        self.cache.put(key, width)
        return width

    @property
    def active_device(self) -> torch.device:
        """Where models run now (CPU after a CUDA out-of-memory fallback)."""
        devices = {runner.device.type for _loaded, runner in self._models.values()}
        if devices == {"cpu"}:
            return torch.device("cpu")
        return self.device
