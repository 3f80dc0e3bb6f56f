"""Before/after comparison: the model's result of the current slice beside the original.

The SR pane is a :class:`~medsr_viewer.gui.views.slice_view.SliceView` of the same study whose
own image is not drawn; the model output is an overlay ImageItem spanning the original's
image rectangle. An ``s`` times finer grid over the same pixel *edges* (``align_corners=False``,
what SR models and bicubic use) puts output pixel ``i`` at ``(i + 0.5) * spacing / s`` mm, so
sharing the rectangle takes care of the half-voxel shift: both panes line up in millimetres
and are linked for zoom and pan.

What is compared, and how, is the view model's ``compare`` part and ``models["sr"]``; the
panel writes intents there and follows it. The original pane draws its own image (on the SR
grid, interpolated off the GUI thread); the panel draws only the SR pane. The model runs on
the study reoriented for display, so displayed slice ``k`` is array slice ``k`` along the
plane's canonical slice axis; coronal and sagittal planes are drawn with rows flipped, and so
are the result and every tile box. Parts: :mod:`compare_switching` (on/off, model),
:mod:`compare_results` (requests, tiles, drawing), :mod:`compare_readout` (values read back),
:mod:`compare_maps_view` (the maps), :mod:`adaptation` (through-plane adaptation).
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QVBoxLayout, QWidget

from medsr_viewer.core.geometry import DisplayVolume, Orientation
from medsr_viewer.core.model_volumes import ModelVolumes
from medsr_viewer.core.upsampling import upsample
from medsr_viewer.core.view_model import (
    MAP_MODES,
    SR_PANE,
    CompareMode,
    CompareState,
    Interpolation,
)
from medsr_viewer.core.volume import Volume
from medsr_viewer.gui.views.adaptation import Adaptation
from medsr_viewer.gui.views.compare_controls import CompareControls
from medsr_viewer.gui.views.compare_maps_view import MapLayer
from medsr_viewer.gui.views.compare_readout import CompareReadout
from medsr_viewer.gui.views.compare_results import CompareResults
from medsr_viewer.gui.views.compare_switching import CompareSwitching
from medsr_viewer.gui.views.model_panes import ModelPanes
from medsr_viewer.gui.views.model_picker import ModelPicker
from medsr_viewer.gui.views.slice_view import SliceView
from medsr_viewer.gui.views.study_viewer import StudyViewer
from medsr_viewer.gui.workers.inference_worker import InferenceWorker
from medsr_viewer.models.registry import ModelEntry, ModelRegistry

__all__ = ["MAP_MODES", "CompareMode", "ComparePanel", "Interpolation", "upsample"]

DIVIDER_COLOR = (0, 220, 255, 220)


class ComparePanel(CompareSwitching, CompareResults, CompareReadout, QWidget):
    """The SR pane and its controls, following the view model of the study viewer.

    Parameters
    ----------
    viewer
        The study viewer (its view model; its pane of the compared plane is "Original").
    worker
        The inference thread (default: a new one with the default engine).
    registry
        Where the model picker finds models.
    parent
        Qt parent.

    Signals
    -------
    errorOccurred(str)
        A model request failed (the app keeps running).
    progressChanged(int, int)
        Tiles done and total for the current slice.
    srReady(int)
        The SR result of this slice is complete.
    mapShown(str)
        A map (its kind) was drawn in the pane.
    hovered(object, str)
        The mouse moved over the SR pane: the canonical voxel under it (``None`` off the
        image) and what the pane shows there (``"consistency -3.2"``, ``"SR 118.5"``, or "").
    """

    errorOccurred = Signal(str)
    progressChanged = Signal(int, int)
    srReady = Signal(int)
    mapShown = Signal(str)
    #: The interval width of the shown slice arrived (:meth:`interval_width`).
    widthReady = Signal()
    hovered = Signal(object, str)

    def __init__(self, viewer: StudyViewer, worker: InferenceWorker | None = None,
                 registry: ModelRegistry | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.viewer = viewer
        self.model = viewer.model
        self.worker = worker if worker is not None else InferenceWorker(self)
        self._applied = CompareState()  # the compare state the panes show
        self._display: DisplayVolume | None = None
        self._model_volume: Volume | None = None
        self._model_volumes = ModelVolumes()  # display-oriented copies for the model
        self._entry: ModelEntry | None = None
        self._scale = 1
        self._through = False  # a through-plane model (reformats on a finer slice grid)
        self._request_id = -1
        self._slice = -1
        self._buffer: np.ndarray | None = None
        self._painted: np.ndarray | None = None
        self._refresh_queued = False
        self.complete = False

        self.model_picker = ModelPicker(registry, self)
        self.controls = CompareControls(self.model, self)
        self.mode_combo, self.interp_combo = self.controls.mode_combo, self.controls.interp_combo
        self.device_label, self.progress_bar = self.controls.device_label, self.controls.progress_bar
        self._update_device()
        self.original_label = QLabel("Original", viewer)
        self.title = QLabel("SR", self)
        for label in (self.original_label, self.title):
            label.setAlignment(Qt.AlignmentFlag.AlignCenter)
            label.setStyleSheet("background:#202020; color:#e0e0e0; padding:2px;")
        self.original_label.hide()
        #: The widget holding the original pane (hidden in swipe mode); the viewer by default.
        self.original_column: QWidget = viewer
        self._original: SliceView | None = None  # the pane drawn on the SR grid
        self.sr_view = SliceView(Orientation.AXIAL, self)
        self.sr_view.draws_slice = False  # the model's result is drawn over it instead
        self.sr_view.image_item.setVisible(False)
        viewer.overlays.attach(self.sr_view)  # corners, scale bar, crosshair switch
        self.sr_item = pg.ImageItem(axisOrder="row-major")
        self.sr_view.add_overlay(self.sr_item, 5.0)
        #: Swipe: the original right of the divider, over the SR image.
        self.swipe_item = pg.ImageItem(axisOrder="row-major")
        self.swipe_item.setVisible(False)
        self.sr_view.add_overlay(self.swipe_item, 5.5)
        self.divider = pg.InfiniteLine(angle=90, movable=True, pen=pg.mkPen(DIVIDER_COLOR, width=2))
        self.divider.setVisible(False)
        self.sr_view.add_overlay(self.divider, 25.0)
        self.maps = MapLayer(self)
        self.map_controls = self.maps.controls
        self.map_info, self.k_spin = self.map_controls.map_info, self.map_controls.k_spin
        self.percentile_spin = self.map_controls.percentile_spin
        self.colorbar, self.colorbar_widget = self.maps.colorbar, self.maps.colorbar_widget
        #: The colour map of the SR image (and the swipe's original), with its colour bar.
        self.image_colour_bar = viewer.colours.attach(
            self.sr_view, [self.sr_item, self.swipe_item], lambda: self.maps.shown is None)
        self.flag_item, self.map_worker = self.maps.flag_item, self.maps.worker
        self.adaptation = Adaptation(self)
        self.through_controls = self.adaptation.controls

        column = QVBoxLayout(self)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(0)
        for widget in (self.title, self.map_controls, self.through_controls):
            column.addWidget(widget)
        pane_row = QHBoxLayout()
        pane_row.setContentsMargins(0, 0, 0, 0)
        pane_row.setSpacing(0)
        pane_row.addWidget(self.sr_view, 1)
        pane_row.addWidget(self.colorbar_widget)
        column.addLayout(pane_row, 1)
        #: More model panes right of the SR pane (View ▸ Add Model Pane).
        self.model_panes = ModelPanes(self.model, self)
        self.hide()
        self._update_original_label()

        self.model.subscribe("compare", self._on_compare)
        self.model.subscribe("layout", self._on_layout)
        self.model.subscribe("models", self._on_model_changed)
        self.model_picker.currentIndexChanged.connect(self._on_picked)
        self.sr_view.scene().sigMouseMoved.connect(self._on_sr_mouse_moved)
        self.divider.sigPositionChanged.connect(lambda _l: self.refresh_image())
        self.sr_view.wheelSteps.connect(lambda n: self.model.step_slice(n, self.orientation))
        self.sr_view.windowDragged.connect(self.model.drag_window)
        self.sr_view.pointClicked.connect(self._on_clicked)
        # Zoom/pan linked by copying the view rectangle (pyqtgraph's own Y link aligns panes
        # by their screen position, which offsets panes whose tops differ by a few pixels).
        self._syncing = False
        self.sr_view.view_box.sigRangeChanged.connect(
            lambda *_a: self._sync_range(self.sr_view, self.original_view))
        for orientation, view in viewer.views.items():
            view.pointClicked.connect(
                lambda p, o=orientation: self._on_clicked(p) if o == self.orientation else None)
            view.view_box.sigRangeChanged.connect(
                lambda *_a, o=orientation: self._sync_range(self.original_view, self.sr_view)
                if o == self.orientation else None)
            view.imageShown.connect(
                lambda o=orientation: self._refresh_swipe() if o == self.orientation else None)
            view.drawFailed.connect(
                lambda m, o=orientation: self._on_draw_failed(m) if o == self.orientation
                else None)
        viewer.cursorChanged.connect(lambda _c: self._on_cursor())
        viewer.windowChanged.connect(self._on_window)
        viewer.displayReplaced.connect(self._on_display_replaced)
        self.worker.tileReady.connect(self._on_tile)
        self.worker.sliceReady.connect(self._on_slice)
        self.worker.progress.connect(self._on_progress)
        self.worker.failed.connect(self._on_failed)

    # ---------------------------------------------------------------- state

    @property
    def scale(self) -> int:
        """The model's scale factor (1 for enhancement)."""
        return self._scale

    @property
    def through_plane(self) -> bool:
        """Whether the model shown is a through-plane one."""
        return self._through

    @property
    def display(self) -> DisplayVolume | None:
        """The study the model runs on."""
        return self._display

    @property
    def model_volume(self) -> Volume | None:
        """The display-oriented copy of the study given to the model."""
        return self._model_volume

    @property
    def buffer(self) -> np.ndarray | None:
        """The model result of the current slice so far (the panel's own array)."""
        return self._buffer

    @property
    def request_id(self) -> int:
        """The worker's id of the current slice's request."""
        return self._request_id

    @property
    def adapting(self) -> bool:
        """Whether an adaptation is running."""
        return self.adaptation.running

    def refresh_colours(self) -> None:
        """Apply the colour map again (a map was drawn over the SR image, or removed)."""
        self.viewer.colours.refresh()

    def parent_widget(self) -> QWidget:
        """The panel as the parent of its layers' widgets and threads."""
        return self

    def sr_image(self) -> np.ndarray | None:
        """The model result of the current slice so far (unpainted tiles are 0)."""
        return None if self._buffer is None else self._buffer.copy()

    @property
    def current_entry(self) -> ModelEntry | None:
        """The model whose results the pane shows (``None`` before the first switch-on)."""
        return self._entry

    @property
    def shown_slice(self) -> int:
        """Slice index (of :attr:`orientation`) of the result in the pane; -1 when none."""
        return self._slice

    def model_scale(self) -> int:
        """Scale of the model chosen in the picker (1 when none or not an SR model)."""
        entry = self.model_picker.current_entry()
        return max(int(entry.card.scale), 1) if entry is not None and entry.card else 1

    def shown_map(self):
        """The map drawn in the SR pane now (``None`` while the SR image is shown)."""
        return self.maps.shown

    def interval_level(self) -> float | None:
        """The level of the current model's calibrated interval (``None``: not calibrated)."""
        entry = self._entry if self.enabled else self.model_picker.current_entry()
        card = entry.card if entry is not None else None
        if card is None or not card.calibration:
            return None
        level = float(card.calibration.get("level", -1.0))
        return level if card.interval_factor(level) is not None else None

    # ---------------------------------------------------------------- modes

    def set_mode(self, mode: CompareMode | str) -> None:
        """Side by side, swipe, or one of the maps (:data:`MAP_MODES`)."""
        self.model.set_compare(mode=mode)

    def set_interpolation(self, mode: Interpolation | str) -> None:
        """How the original pane draws the native grid."""
        self.model.set_compare(interpolation=mode)

    def set_divider(self, x_mm: float) -> None:
        """Put the swipe divider at ``x_mm`` (view millimetres)."""
        self.divider.setValue(x_mm)

    def _update_original_label(self) -> None:
        self.original_label.setText(f"Original ({self.interpolation.value} display)")

    def _apply_mode(self) -> None:
        if not self.enabled:
            return
        swipe = self.mode == CompareMode.SWIPE
        self.original_column.setVisible(not swipe)
        self.divider.setVisible(swipe)
        if swipe:
            rect = self.sr_view.image_rect()
            if not 0.0 < float(self.divider.value()) < rect.width():
                self.divider.setValue(rect.width() / 2.0)
        self._update_title()
        self.maps.apply_mode()
        self.refresh_image()

    # ---------------------------------------------------------------- navigation

    def _on_cursor(self) -> None:
        if not self.enabled or self._display is None:
            return
        try:
            index = self.model.slice_index(self.orientation)
            cursor = self.model.cursor
            self.sr_view.set_slice(index)
            self.sr_view.set_crosshair(cursor)
            self.original_view.set_crosshair(cursor)
            if index != self._slice:
                self._request(index)
        except Exception as exc:  # noqa: BLE001 - a drawing failure must reach the banner
            self._slice = -1
            self.complete = False
            self.progress_bar.setRange(0, 1)
            self.progress_bar.setValue(0)
            self.errorOccurred.emit(
                f"Super-resolution pane: {self.orientation.value} slice could not be shown "
                f"({type(exc).__name__}: {exc})")

    def _on_draw_failed(self, message: str) -> None:
        """The original could not be drawn on the SR grid: this slice's comparison failed."""
        if not self.enabled:
            return
        self.worker.cancel(SR_PANE)
        self._request_id = -1
        self._slice = -1
        self.complete = False
        self.progress_bar.setRange(0, 1)
        self.progress_bar.setValue(0)
        self.errorOccurred.emit(
            f"Super-resolution pane: {self.orientation.value} slice could not be shown "
            f"({message})")

    def recompute(self) -> None:
        """Compute the shown slice again (the model changed, e.g. after adaptation)."""
        self._slice = -1
        self._on_cursor()

    def _on_window(self, _window: object) -> None:
        self.sr_view.set_window(self.model.window)
        self.refresh_image()

    def _on_clicked(self, canonical: np.ndarray) -> None:
        if self.enabled:
            self.model.set_cursor(canonical)

    def _update_original_grid(self) -> None:
        """Tell the original pane the SR grid to draw its slice on."""
        if not self.enabled or self._display is None or self._original is None:
            return
        if self._through:
            shape = None if self._buffer is None else self._buffer.shape
        else:
            rows, cols = self._display.slice_shape(self.orientation)
            shape = (rows * self._scale, cols * self._scale)
        self._original.set_finer_grid(None if shape is None else (shape[0], shape[1]),
                                      self.interpolation.value, self._through)

    # ---------------------------------------------------------------- adaptation, shutdown

    def start_adaptation(self, minutes: float | None = None,
                         max_steps: int | None = None) -> str:
        """Adapt the through-plane model to the shown study (see :class:`Adaptation`)."""
        if minutes is None:
            return self.adaptation.start(max_steps=max_steps)
        return self.adaptation.start(minutes, max_steps)

    def stop_adaptation(self) -> None:
        """Stop a running adaptation (what it learnt so far is kept)."""
        self.adaptation.stop()

    def shutdown(self) -> None:
        """Stop the inference and map threads (call before the window closes)."""
        self.adaptation.shutdown()
        self.worker.stop()
        self.map_worker.stop()
