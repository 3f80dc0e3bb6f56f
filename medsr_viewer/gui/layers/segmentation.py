"""Running a segmentation model on the study as a new label layer, never blocking the GUI.

:class:`SegmentationRunner` sends slices to the application's
:class:`~medsr_viewer.gui.workers.inference_worker.InferenceWorker` (its own pane id
:data:`SEGMENT_PANE`, beside the SR pane's), one after another: one slice for "Segment Current
Slice", every slice of the plane for "Segment Volume". The model runs on the study's voxel
array as stored (as ``medsr run`` does, so GUI and command line agree), along the stored axis
that is the chosen plane's slice axis, and each result slice is written into a label array
on the study's own grid; slices not run stay 0. When the run finishes the labels are added to
the :class:`~medsr_viewer.gui.layers.label_overlay.LabelOverlay` as a new, active layer named after
the model, with the card's label names and colours.

Progress is reported per tile; :meth:`SegmentationRunner.cancel` stops the run at the next
tile; a newer request supersedes the running one. Failures (a model of another task, a model
that raises) are reported through :attr:`SegmentationRunner.failed` and the app keeps running.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QComboBox, QWidget

from medsr_viewer.core.geometry import PLANE_AXES, DisplayVolume, Orientation
from medsr_viewer.core.labels import LabelLayer, LabelMap, LabelTable
from medsr_viewer.core.labels.instances import instance_table
from medsr_viewer.core.volume import Volume
from medsr_viewer.gui.layers.label_overlay import LabelOverlay
from medsr_viewer.gui.views.model_picker import card_tooltip
from medsr_viewer.gui.workers.inference_worker import InferenceWorker
from medsr_viewer.models.registry import ModelEntry, ModelRegistry, describe

#: Pane id of the segmentation requests to the inference worker.
SEGMENT_PANE = "segment"
#: The card task a segmentation model must declare.
SEGMENT_TASK = "segment"
#: Card tasks listed and run here (an instance model gives one id per object).
SEGMENT_TASKS = (SEGMENT_TASK, "segment_instances")
#: The model selected by default when it is installed.
DEFAULT_SEGMENT_MODEL = "seg-em-membrane"


def stored_slice(display: DisplayVolume, orientation: Orientation, index: int) -> tuple[int, int]:
    """The stored voxel axis ``(z, y, x)`` and index of displayed slice ``index`` of a plane.

    The display reorients the study by axis permutations and flips only, so a displayed
    plane is one slice of the stored array along one axis.
    """
    slice_axis = PLANE_AXES[Orientation(orientation)].slice_axis
    column = np.abs(display.to_source[:3, 2 - slice_axis])
    axis = 2 - int(np.argmax(column))
    voxel = display.display_to_voxel(orientation, 0.0, 0.0, float(index))
    return axis, round(float(voxel[axis]))


@dataclass
class SegmentationJob:
    """One run: which model, on which study and plane, which slices, and what is done."""

    entry: ModelEntry
    display: DisplayVolume
    volume: Volume
    orientation: Orientation
    axis: int
    indices: list[int]
    shown_index: int
    labels: np.ndarray
    position: int = 0
    request_id: int = -1
    tile_fraction: float = 0.0

    @property
    def fraction(self) -> float:
        """Share of the run done, counting the current slice's finished tiles."""
        return min(1.0, (self.position + self.tile_fraction) / max(1, len(self.indices)))


class SegmentationRunner(QObject):
    """Segment the current slice or the whole plane with a segment-task model.

    Parameters
    ----------
    overlay
        Where the result is added as a layer (its viewer gives the study and slices).
    worker
        The inference thread (shared with the SR pane; requests use :data:`SEGMENT_PANE`).
    registry
        Where segment models are listed (default: bundled and user folders).
    parent
        Qt parent.

    Attributes
    ----------
    model_combo
        The segment models (data: file path); the bundled ``seg-em-membrane`` by default.

    Signals
    -------
    progressChanged(float)
        Share ``0 .. 1`` of the running job done.
    busyChanged(bool)
        A job started or ended (finished, cancelled, failed or superseded).
    finished(LabelLayer)
        The :class:`~medsr_viewer.core.labels.LabelLayer` added.
    failed(str)
        Why a job failed (names the model file).
    """

    progressChanged = Signal(float)
    busyChanged = Signal(bool)
    finished = Signal(LabelLayer)
    failed = Signal(str)

    def __init__(
        self,
        overlay: LabelOverlay,
        worker: InferenceWorker,
        registry: ModelRegistry | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.overlay = overlay
        self.worker = worker
        self.registry = registry if registry is not None else ModelRegistry()
        self._job: SegmentationJob | None = None
        self._entries: list[ModelEntry] = []
        combo_parent = parent if isinstance(parent, QWidget) else None
        self.model_combo = QComboBox(combo_parent)
        self.model_combo.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.model_combo.setToolTip("Segmentation model")
        self.refresh_models()
        overlay.viewer.cursorChanged.connect(lambda _c: self._check_study())  # new study too
        worker.sliceReady.connect(self._on_slice)
        worker.progress.connect(self._on_progress)
        worker.failed.connect(self._on_failed)

    # ---------------------------------------------------------------- models

    def refresh_models(self) -> None:
        """List the registry's segment models (keeps files added by path)."""
        extra = [e for e in self._entries if e.source == "path"]
        self.model_combo.clear()
        self._entries = []
        for entry in [*self.registry.entries(), *extra]:
            if entry.card is not None and entry.card.task in SEGMENT_TASKS:
                self._append(entry)
        names = [e.name for e in self._entries]
        if DEFAULT_SEGMENT_MODEL in names:
            self.model_combo.setCurrentIndex(names.index(DEFAULT_SEGMENT_MODEL))

    def _append(self, entry: ModelEntry) -> None:
        self._entries.append(entry)
        self.model_combo.addItem(entry.name, str(entry.path))
        self.model_combo.setItemData(
            self.model_combo.count() - 1, card_tooltip(entry), Qt.ItemDataRole.ToolTipRole
        )

    def model_names(self) -> list[str]:
        """Names of the listed segment models, in combo order."""
        return [e.name for e in self._entries]

    def current_model(self) -> ModelEntry | None:
        """The selected segment model, or ``None`` when none is installed."""
        index = self.model_combo.currentIndex()
        return self._entries[index] if 0 <= index < len(self._entries) else None

    def select_model(self, name: str) -> bool:
        """Select a listed model by name; ``False`` when it is not listed."""
        names = self.model_names()
        if name not in names:
            return False
        self.model_combo.setCurrentIndex(names.index(name))
        return True

    def add_model_path(
        self, path: str | Path, allow: Callable[[Path], bool] | None = None
    ) -> str:
        """Add a model file (its card is read, no code runs) and select it.

        ``allow`` is asked last (the trust question for files that can run code).
        Returns ``""``, or why it is refused (no card, a task other than ``segment``, not
        allowed), naming the file.
        """
        entry = describe(Path(path))
        if entry.card is None:
            return entry.error or f"{path}: not a model file with a card"
        if entry.card.task not in SEGMENT_TASKS:
            return (f"{path}: model {entry.card.name!r} is a {entry.card.task!r} model, "
                    "not a segment model")
        if allow is not None and not allow(Path(path)):
            return f"{path}: not loaded – the model file can run code and was not trusted"
        self._append(entry)
        self.model_combo.setCurrentIndex(self.model_combo.count() - 1)
        return ""

    # ---------------------------------------------------------------- jobs

    @property
    def busy(self) -> bool:
        """Whether a job is running."""
        return self._job is not None

    @property
    def job(self) -> SegmentationJob | None:
        """The running job, or ``None``."""
        return self._job

    def segment_current_slice(self, orientation: Orientation | None = None) -> bool:
        """Segment the slice shown in a plane (default: the active pane's) as a new layer.

        Returns ``False`` after :attr:`failed` when there is no study or no usable model.
        """
        viewer = self.overlay.viewer
        orientation = Orientation(orientation or viewer.active_orientation)
        display = viewer.display
        if display is None:
            return self._start(orientation, None)
        _axis, index = stored_slice(display, orientation, viewer.slice_index(orientation))
        return self._start(orientation, [index])

    def segment_volume(self, orientation: Orientation | None = None) -> bool:
        """Segment every slice of a plane (default: the active pane's) as a new layer."""
        viewer = self.overlay.viewer
        orientation = Orientation(orientation or viewer.active_orientation)
        display = viewer.display
        if display is None:
            return self._start(orientation, None)
        axis, _index = stored_slice(display, orientation, 0)
        return self._start(orientation, list(range(display.volume.shape[axis])))

    def cancel(self) -> None:
        """Stop the running job (at the next tile); nothing is added."""
        if self._job is None:
            return
        self.worker.cancel(SEGMENT_PANE)
        self._end()

    def _check_study(self) -> None:
        """Drop the running job when another study is shown."""
        if self._job is not None and self.overlay.viewer.display is not self._job.display:
            self.cancel()

    def _start(self, orientation: Orientation, indices: list[int] | None) -> bool:
        viewer = self.overlay.viewer
        display = viewer.display
        if display is None or indices is None:
            self.failed.emit("Open a study before running a segmentation model")
            return False
        entry = self.current_model()
        if entry is None or entry.card is None:
            self.failed.emit("No segmentation model: add one (a 'segment' model with a card)")
            return False
        if entry.card.task not in SEGMENT_TASKS:
            self.failed.emit(f"{entry.path}: model {entry.card.name!r} is a "
                             f"{entry.card.task!r} model, not a segment model")
            return False
        if self._job is not None:  # a newer request supersedes the running one
            self.worker.cancel(SEGMENT_PANE)
        axis, _index = stored_slice(display, orientation, 0)
        dtype: type[np.unsignedinteger[Any]] = np.uint8 if max(
            [0, *(lab.value for lab in entry.card.labels)]) < 256 else np.uint16
        if entry.card.task != SEGMENT_TASK:
            dtype = np.uint32  # instance ids, unique over the slices run
        self._job = SegmentationJob(
            entry=entry,
            display=display,
            volume=display.volume,
            orientation=orientation,
            axis=axis,
            indices=indices,
            shown_index=viewer.slice_index(orientation),
            labels=np.zeros(display.volume.shape, dtype=dtype),
        )
        self.busyChanged.emit(True)
        self.progressChanged.emit(0.0)
        self._submit()
        return True

    def _submit(self) -> None:
        job = self._job
        assert job is not None
        job.tile_fraction = 0.0
        job.request_id = self.worker.submit(
            SEGMENT_PANE,
            job.volume,
            job.indices[job.position],
            str(job.entry.path),
            axis=job.axis,
            task=job.entry.card.task if job.entry.card is not None else SEGMENT_TASK,
        )

    def _current(self, pane: str, request_id: int) -> SegmentationJob | None:
        job = self._job
        if pane != SEGMENT_PANE or job is None or request_id != job.request_id:
            return None
        if self.overlay.viewer.display is not job.display:  # another study was opened
            self.cancel()
            return None
        return job

    def _on_progress(self, pane: str, request_id: int, done: int, total: int) -> None:
        job = self._current(pane, request_id)
        if job is not None:
            job.tile_fraction = done / max(total, 1)
            self.progressChanged.emit(job.fraction)

    def _on_slice(self, pane: str, request_id: int, array: object, _cached: bool) -> None:
        job = self._current(pane, request_id)
        if job is None:
            return
        index = job.indices[job.position]
        result = np.asarray(array)
        target: list[slice | int] = [slice(None)] * 3
        target[job.axis] = index
        expected = job.labels[tuple(target)].shape
        if result.shape != expected:
            self._fail(f"{job.entry.path}: model output {result.shape} does not match the "
                       f"slice {expected}")
            return
        if job.labels.dtype == np.uint32:  # instance ids continue from the slices before
            top = np.uint32(job.labels.max(initial=0))
            result = np.where(result > 0, result.astype(np.uint32) + top, 0)
        job.labels[tuple(target)] = result.astype(job.labels.dtype, copy=False)
        job.position += 1
        self.progressChanged.emit(job.fraction)
        if job.position < len(job.indices):
            self._submit()
        else:
            self._finish(job)

    def _on_failed(self, pane: str, request_id: int, message: str) -> None:
        if self._current(pane, request_id) is not None:
            self._fail(message)

    def _fail(self, message: str) -> None:
        self._end()
        self.failed.emit(message)

    def _end(self) -> None:
        self._job = None
        self.busyChanged.emit(False)

    def _finish(self, job: SegmentationJob) -> None:
        card = job.entry.card
        assert card is not None
        labels = Volume(job.labels, job.volume.affine.copy(), modality="SEG", name=card.name)
        instances = card.task != SEGMENT_TASK
        table = (instance_table(job.labels, card.instances.get("object_name", "object"))
                 if instances else LabelTable.from_card_labels(card.labels))
        name = card.name
        if len(job.indices) == 1:
            name = f"{card.name} ({job.orientation.value} slice {job.shown_index + 1})"
        self._end()
        try:
            layer = self.overlay.add_layer(
                LabelMap(labels, table, name), name, model=card.name, instances=instances
            )
        except RuntimeError as exc:
            self.failed.emit(f"{job.entry.path}: {exc}")
            return
        self.progressChanged.emit(1.0)
        self.finished.emit(layer)
