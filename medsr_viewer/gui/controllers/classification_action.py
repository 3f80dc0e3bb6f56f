"""Tools ▸ Series Type (Classification): the classification dock, its background jobs, the
Grad-CAM overlay and the series type in the information overlay.

While the action is on, the bundled ``series-type`` model (or another ``classify`` model,
:attr:`ClassificationAction.model_name`) classifies every slice of the active plane *as it is
shown* (the display array of each slice and its pixel spacing; the normalisation is fitted
once on the whole study), in the background on the model worker's job runner (channel
:data:`CHANNEL`, latest request wins, the GUI never waits). The dock then shows the per-volume
result, the curve of each class along the slices with a marker at the current slice, and the
shown slice's bars. The predicted type is added to each pane's information overlay, and the
classifier's own out-of-distribution warning (:func:`~medsr_viewer.models.domain.
domain_message`) is shown in the dock and the warning banner.

The Grad-CAM overlay (checkbox in the dock) is one RGBA ``ImageItem`` per pane on the pane's
image rectangle, computed for the slice each pane shows (one job per pane, channel
``classify-saliency-<plane>``), so its geometry follows the pane in every orientation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QObject, Slot
from PySide6.QtWidgets import QMainWindow

from medsr_viewer.core.geometry import DisplayVolume, Orientation
from medsr_viewer.core.view_model import ViewModel
from medsr_viewer.gui.actions.registry import ActionRegistry
from medsr_viewer.gui.docks.classification_dock import ClassificationDock
from medsr_viewer.gui.views.study_viewer import StudyViewer
from medsr_viewer.gui.workers.inference_worker import InferenceWorker
from medsr_viewer.gui.workers.jobs import Ticket

ACTION_ID = "tools.classify"
#: Runner channel of the per-plane classification job.
CHANNEL = "classify"
#: Z value of the saliency overlay (over label layers).
SALIENCY_Z = 30.0
#: Opacity of the strongest saliency.
SALIENCY_OPACITY = 0.6
#: Saliency below this share of the peak is not drawn (keeps the anatomy readable).
SALIENCY_FLOOR = 0.25


@dataclass(frozen=True)
class PlaneResult:
    """What the classification job returns for one plane of one study."""

    display: DisplayVolume
    orientation: Orientation
    probabilities: np.ndarray
    anatomy: np.ndarray
    volume: np.ndarray
    classes: tuple[str, ...]
    colours: tuple[tuple[int, int, int], ...]
    model: str
    warning: str
    prior: str = ""  # the DICOM modality that limited the classes ("" = none)


def saliency_rgba(saliency: np.ndarray, opacity: float = SALIENCY_OPACITY) -> np.ndarray:
    """A heat map (black-red-yellow-white) of ``saliency`` in ``[0, 1]``, transparent below
    :data:`SALIENCY_FLOOR` and more opaque towards 1, as ``(rows, cols, 4)`` uint8."""
    s = np.clip(np.asarray(saliency, dtype=np.float32), 0.0, 1.0)
    rgba = np.empty((*s.shape, 4), dtype=np.uint8)
    rgba[..., 0] = np.clip(3 * s, 0, 1) * 255
    rgba[..., 1] = np.clip(3 * s - 1, 0, 1) * 255
    rgba[..., 2] = np.clip(3 * s - 2, 0, 1) * 255
    rgba[..., 3] = np.clip((s - SALIENCY_FLOOR) / (1 - SALIENCY_FLOOR), 0, 1) * opacity * 255
    return rgba


class ClassificationAction(QObject):
    """Binds the action to the dock and runs the classification jobs.

    Parameters
    ----------
    window
        The main window (action registry, dock parent, warning banner's notifier).
    model
        The view model (study, plane, slices).
    viewer
        The study viewer: its panes get the overlay, its overlays the series type.
    worker
        The model worker whose runner, engine and thread run the model.
    """

    def __init__(self, window: QMainWindow, model: ViewModel, viewer: StudyViewer,
                 worker: InferenceWorker) -> None:
        super().__init__(window)
        self._window, self._model, self._viewer, self._worker = window, model, viewer, worker
        self.model_name = "series-type"
        self.dock: ClassificationDock | None = None
        self.result: PlaneResult | None = None
        self.saliency: dict[Orientation, np.ndarray] = {}
        self._jobs: dict[int, tuple[str, Any]] = {}
        self._runs: dict[tuple[int, str], Any] = {}  # (study id, model) -> SliceClassifierRun
        self.items: dict[Orientation, pg.ImageItem] = {}
        for orientation, view in viewer.views.items():
            item = pg.ImageItem(axisOrder="row-major")
            item.setVisible(False)
            view.add_overlay(item, SALIENCY_Z)
            self.items[orientation] = item
            view.image_item.sigImageChanged.connect(lambda o=orientation: self._on_slice(o))
        self.action = ActionRegistry.of(window).bind(ACTION_ID, self.set_shown, "toggled")
        for event in ("study", "volume"):
            model.subscribe(event, self._on_study)
        model.subscribe("layout", self._on_layout)
        worker.runner.returned.connect(self._on_returned)
        worker.runner.failed.connect(self._on_failed)

    # ---------------------------------------------------------------- user intents

    @property
    def shown(self) -> bool:
        """Whether the panel is on."""
        return self.dock is not None and self.action.isChecked()

    @property
    def saliency_enabled(self) -> bool:
        """Whether the Grad-CAM overlay is switched on."""
        return self.dock is not None and self.dock.saliency_box.isChecked()

    def set_shown(self, shown: bool) -> None:
        """Show the panel (and classify the plane shown) or hide it (and its overlay)."""
        if self.action.isChecked() != shown:
            self.action.setChecked(shown)  # toggled comes back here
            return
        if shown and self.dock is None:
            self.dock = ClassificationDock(self._window)
            self.dock.saliencyToggled.connect(self._on_saliency_toggled)
            self.dock.visibilityChanged.connect(self._on_dock_visibility)
        if self.dock is None:
            return
        self.dock.setVisible(shown)
        if shown:
            self.classify()
        else:
            self._worker.runner.cancel(CHANNEL)
            self._hide_saliency()
            self._set_overlay_text("")

    def set_saliency(self, enabled: bool) -> None:
        """Switch the Grad-CAM overlay (opens the panel if needed)."""
        if not self.shown:
            self.set_shown(True)
        assert self.dock is not None
        self.dock.saliency_box.setChecked(enabled)

    def classify(self) -> None:
        """Classify every slice of the active plane in the background."""
        display = self._model.display
        if self.dock is None:
            return
        if display is None:
            self.dock.clear()
            return
        orientation = self._viewer.active_orientation
        self.result = None
        self.dock.clear(f"Classifying the {orientation.value} slices…")
        self.dock.set_notice("")
        name = self.model_name
        ticket = self._worker.runner.submit(
            lambda t: self._classify_job(t, display, orientation, name), channel=CHANNEL)
        self._jobs[ticket.id] = ("plane", None)

    # ---------------------------------------------------------------- worker thread

    def _run_for(self, display: DisplayVolume, name: str) -> Any:
        from medsr_viewer.models.classification import SliceClassifierRun

        key = (id(display.volume), name)
        run = self._runs.get(key)
        if run is None or run.volume is not display.volume:
            engine = self._worker.engine
            loaded, _runner = engine.model(engine.resolve(name), "classify")
            run = SliceClassifierRun(loaded, display.volume, header_prior=True)
            self._runs = {key: run}  # one study at a time
        return run

    def _classify_job(self, ticket: Ticket, display: DisplayVolume, orientation: Orientation,
                      name: str) -> PlaneResult:
        from medsr_viewer.models.classification import volume_probabilities
        from medsr_viewer.models.domain import domain_message

        run = self._run_for(display, name)
        count = display.n_slices(orientation)
        planes = [display.slice_array(orientation, i) for i in range(count)]
        probs, anatomy = run.plane_probabilities(
            planes, display.pixel_spacing(orientation), lambda: ticket.cancelled,
            ticket.report)
        card = run.card
        colours = tuple(lab.color for lab in sorted(card.labels, key=lambda lab: lab.value))
        warning = domain_message(card, display.volume, intensity=run.intensity)
        return PlaneResult(display, orientation, probs, anatomy,
                           volume_probabilities(probs, anatomy), card.class_names, colours,
                           card.name, warning, run.prior)

    def _saliency_job(self, display: DisplayVolume, orientation: Orientation, index: int,
                      name: str) -> tuple[Orientation, int, np.ndarray]:
        run = self._run_for(display, name)
        plane = display.slice_array(orientation, index)
        return orientation, index, run.plane_saliency(plane, display.pixel_spacing(orientation))

    # ---------------------------------------------------------------- results (GUI thread)

    @Slot(int, object)
    def _on_returned(self, job_id: int, value: object) -> None:
        job = self._jobs.pop(job_id, None)
        if job is None or self.dock is None or not self._worker.runner.is_current(job_id):
            return
        if job[0] == "plane" and isinstance(value, PlaneResult):
            self._show_result(value)
        elif job[0] == "saliency" and isinstance(value, tuple):
            orientation, index, saliency = value
            self._show_saliency(orientation, index, saliency)

    @Slot(int, str)
    def _on_failed(self, job_id: int, message: str) -> None:
        job = self._jobs.pop(job_id, None)
        if job is None or self.dock is None:
            return
        self.dock.clear("Classification failed")
        self.dock.set_notice(message)

    def _show_result(self, result: PlaneResult) -> None:
        assert self.dock is not None
        if result.display is not self._model.display:
            return  # the study changed meanwhile
        self.result = result
        self.dock.set_model(result.model, result.classes, result.colours)
        self.dock.set_volume_result(result.orientation.value, result.probabilities,
                                    result.volume, int(result.anatomy.sum()), result.prior)
        self.dock.set_slice(self._viewer.views[result.orientation].slice_index)
        self.dock.set_notice(result.warning)
        if result.warning:
            self._worker.notifier.warning(result.warning, source="models")
        best = int(np.argmax(result.volume))
        self._set_overlay_text(f"{result.classes[best]} ({float(result.volume[best]):.0%}, "
                               f"{result.model})")
        if self.saliency_enabled:
            self._request_all_saliency()

    def _show_saliency(self, orientation: Orientation, index: int, saliency: np.ndarray) -> None:
        view = self._viewer.views[orientation]
        if index != view.slice_index or view.display is not self._model.display:
            return
        self.saliency[orientation] = saliency
        item = self.items[orientation]
        item.setImage(saliency_rgba(saliency), autoLevels=False, levels=(0, 255))
        item.setRect(view.image_rect())
        item.setVisible(self.saliency_enabled)

    # ---------------------------------------------------------------- following the view

    def _on_study(self) -> None:
        self.saliency.clear()
        self._hide_saliency()
        self._set_overlay_text("")
        if self.shown:
            self.classify()

    def _on_layout(self) -> None:
        if self.shown and self.result is not None \
                and self.result.orientation != self._viewer.active_orientation:
            self.classify()

    def _on_slice(self, orientation: Orientation) -> None:
        if not self.shown:
            return
        assert self.dock is not None
        view = self._viewer.views[orientation]
        if self.result is not None and self.result.orientation == orientation:
            self.dock.set_slice(view.slice_index)
        if self.saliency_enabled:
            self.items[orientation].setVisible(False)  # stale until the new map arrives
            self._request_saliency(orientation)

    def _on_saliency_toggled(self, enabled: bool) -> None:
        if enabled:
            self._request_all_saliency()
        else:
            self._hide_saliency()

    def _on_dock_visibility(self, visible: bool) -> None:
        if not visible and self.dock is not None and not self.dock.isVisible() \
                and self.action.isChecked() and not self._window.isHidden():
            self.action.setChecked(False)  # closed with its title-bar button

    def _request_all_saliency(self) -> None:
        for orientation, view in self._viewer.views.items():
            if view.isVisible() or orientation == self._viewer.active_orientation:
                self._request_saliency(orientation)

    def _request_saliency(self, orientation: Orientation) -> None:
        display = self._model.display
        if display is None:
            return
        index = self._viewer.views[orientation].slice_index
        name = self.model_name
        ticket = self._worker.runner.submit(
            lambda _t: self._saliency_job(display, orientation, index, name),
            channel=f"{CHANNEL}-saliency-{orientation.value}")
        self._jobs[ticket.id] = ("saliency", orientation)

    def _hide_saliency(self) -> None:
        for item in self.items.values():
            item.setVisible(False)

    def _set_overlay_text(self, text: str) -> None:
        for view in self._viewer.views.values():
            self._viewer.overlays.of(view).set_series_type(text)
