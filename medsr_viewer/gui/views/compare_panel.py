"""Before/after comparison: the model's result of the current slice beside the original.

The SR pane is a :class:`~medsr_viewer.gui.views.slice_view.SliceView` of the same study
whose own image is hidden; the model output is drawn by an overlay ImageItem spanning the
original's image rectangle. With ``align_corners=False`` geometry (what SR models and bicubic
resampling use) an ``s`` times finer grid over the same pixel *edges* puts output pixel ``i``
at ``(i + 0.5) * spacing / s`` mm: the pixel size is ``spacing / s`` and the half-voxel shift
is taken care of by sharing the rectangle, so both panes line up in millimetres and are
linked for zoom and pan.

What is compared, and how, is the view model's ``compare`` part (on/off, mode,
interpolation, plane) and its ``models["sr"]``: the panel writes the user's intents there and
follows it. The original pane draws its own image (on the SR grid, interpolated off the GUI
thread: :meth:`SliceView.set_finer_grid`); the panel draws only the SR pane.

The model runs on the study reoriented for display (:class:`DisplayVolume`), so displayed
slice ``k`` of a plane is array slice ``k`` along that plane's canonical slice axis of the
volume given to the worker (axial: axis 0); coronal and sagittal planes are drawn with rows
flipped, so the result (and every tile box) is flipped the same way.

Compare modes: side by side; swipe (one pane, SR left of a draggable divider, original
right); and the maps of :mod:`medsr_viewer.gui.views.compare_maps_view`.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QStandardItemModel
from PySide6.QtWidgets import QHBoxLayout, QLabel, QVBoxLayout, QWidget

from medsr_viewer.core.geometry import DisplayVolume, Orientation
from medsr_viewer.core.view_model import (
    MAP_MODES,
    SR_PANE,
    CompareMode,
    CompareState,
    Interpolation,
    Layout,
)
from medsr_viewer.core.volume import Volume
from medsr_viewer.gui.views.adaptation import Adaptation
from medsr_viewer.gui.views.compare_controls import CompareControls
from medsr_viewer.gui.views.compare_maps_view import MapLayer
from medsr_viewer.gui.views.compare_readout import CompareReadout
from medsr_viewer.gui.views.compare_results import CompareResults
from medsr_viewer.gui.views.model_picker import ModelPicker
from medsr_viewer.gui.views.slice_view import SliceView
from medsr_viewer.gui.views.study_viewer import StudyViewer
from medsr_viewer.gui.views.through_plane_pane import THROUGH_PLANE_TASK
from medsr_viewer.gui.workers.inference_worker import InferenceWorker
from medsr_viewer.models.display_upsample import upsample
from medsr_viewer.models.registry import ModelEntry, ModelRegistry

__all__ = ["MAP_MODES", "CompareMode", "ComparePanel", "Interpolation", "upsample"]

#: Bytes of recent volumes of a 4-D study kept ready for the model (results are cached per
#: volume object, so stepping back to a recent volume finds its slices cached).
MODEL_VOLUMES_BYTES = 512 * 1024 * 1024
DIVIDER_COLOR = (0, 220, 255, 220)


def display_volume_for_model(display: DisplayVolume) -> Volume:
    """The study as displayed (canonical orientation) so display slice k is array slice k."""
    voxels = np.ascontiguousarray(display.voxels)
    return display.volume.with_voxels(voxels, display.affine.copy())


class ComparePanel(CompareResults, CompareReadout, QWidget):
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
        #: Source volume -> its display-oriented copy for the model (recent volumes first out).
        self._model_volumes: OrderedDict[int, tuple[Volume, Volume]] = OrderedDict()
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
    def original_view(self) -> SliceView:
        """The viewer's pane of the compared plane, shown as "Original"."""
        return self.viewer.views[self.orientation]

    @property
    def orientation(self) -> Orientation:
        """The plane compared (the viewer's single-layout plane when switched on)."""
        return self.model.compare.orientation

    @property
    def enabled(self) -> bool:
        """Whether the comparison is on."""
        return self.model.compare.enabled

    @property
    def mode(self) -> CompareMode:
        """The compare mode."""
        return self.model.compare.mode

    @property
    def interpolation(self) -> Interpolation:
        """How the original is drawn."""
        return self.model.compare.interpolation

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

    # ---------------------------------------------------------------- on / off

    def set_enabled(self, enabled: bool) -> str:
        """Switch the comparison on (the viewer must show a study; on its single-layout
        plane) or off. Returns an empty string, or why it could not be switched on."""
        if enabled:
            if self.viewer.display is None:
                return "Open a study before switching super-resolution on"
            entry = self.model_picker.current_entry()
            if entry is None or entry.card is None:
                return "No super-resolution model: add one to the models folder"
            self.model.set_model(str(entry.path), SR_PANE)
        self.model.set_compare(enabled=enabled, orientation=self.viewer.orientation
                               if enabled else self.orientation)
        return ""

    def _on_layout(self) -> None:
        """The comparison follows the single layout's plane; three planes switch it off."""
        if not self.enabled:
            return
        if self.model.layout != Layout.SINGLE:
            self.model.set_compare(enabled=False)
        elif self.model.orientation != self.orientation:
            self.model.set_compare(orientation=self.model.orientation)

    def _on_compare(self) -> None:
        """Follow the view model's compare state."""
        old, new = self._applied, self.model.compare
        self._applied = new
        if not new.enabled:
            if old.enabled:
                self._switch_off()
            return
        if not old.enabled or old.orientation != new.orientation:
            self._switch_on()
            return
        if old.mode != new.mode:
            self._apply_mode()
        if old.interpolation != new.interpolation:
            self._update_original_label()
            self._update_title()
            self._update_original_grid()
            self.refresh_image()

    def _switch_off(self) -> None:
        self.worker.cancel(SR_PANE)
        self.maps.cancel()
        self.hide()
        self.original_label.hide()
        self.original_column.show()
        self._release_original()
        self.progress_bar.setValue(0)

    def _release_original(self) -> None:
        if self._original is not None:
            self._original.set_crosshair_enabled(False)
            self._original.set_finer_grid(None)
            self._original = None

    def _switch_on(self) -> None:
        display = self.viewer.display
        entry = self._entry_for(self.model.model(SR_PANE)) or self.model_picker.current_entry()
        if display is None or entry is None or entry.card is None:
            self.model.set_compare(enabled=False)
            return
        if self._original is not self.original_view:
            self._release_original()
            self.sr_view.set_orientation(self.orientation)
            self._slice = -1
        self._original = self.original_view
        self._set_display(display)
        self._set_entry(entry)
        self.show()
        self.original_label.show()
        self.fit_views()
        QTimer.singleShot(0, self, self.fit_views)  # again once the panes have their sizes
        self.original_view.set_crosshair_enabled(True)
        self.sr_view.set_crosshair_enabled(True)
        self._apply_mode()
        self._on_cursor()

    def _sync_range(self, source: SliceView, target: SliceView) -> None:
        if self._syncing or not self.enabled:
            return
        self._syncing = True
        try:
            target.view_box.setRange(rect=source.view_box.viewRect(), padding=0.0)
        finally:
            self._syncing = False

    def fit_views(self) -> None:
        """Fit the slice in both panes with one shared range (they are linked)."""
        if not self.enabled:
            return
        self.original_view.reset_view()
        self.sr_view.view_box.setRange(rect=self.original_view.view_box.viewRect(), padding=0.0)

    def _set_display(self, display: DisplayVolume) -> None:
        self._use_display(display, keep_others=False)
        self.sr_view.set_display(display, self.model.window, self.model.slice_index(
            self.orientation))
        self.sr_view.set_volume_caption(self.model.caption)
        self.sr_view.image_item.setVisible(False)

    def _use_display(self, display: DisplayVolume, keep_others: bool = True) -> None:
        """Run the model on ``display`` from now on.

        Its copy for the model is kept a while with those of the volumes shown before it
        (another volume of the same 4-D study); ``keep_others=False`` (switching on, maybe on
        another study) drops the others unless ``display``'s volume is among them.
        """
        if display is self._display:
            return
        self._display = display
        self._slice = -1
        key = id(display.volume)
        kept = self._model_volumes.get(key)
        if kept is not None and kept[0] is display.volume:
            self._model_volumes.move_to_end(key)
            self._model_volume = kept[1]
            return
        if not keep_others:
            self._model_volumes.clear()
        made = display_volume_for_model(display)
        self._model_volume = made
        self._model_volumes[key] = (display.volume, made)
        total = sum(v.voxels.nbytes for _source, v in self._model_volumes.values())
        while total > MODEL_VOLUMES_BYTES and len(self._model_volumes) > 1:
            _key, (_source, dropped) = self._model_volumes.popitem(last=False)
            total -= dropped.voxels.nbytes

    def _on_display_replaced(self, display: DisplayVolume) -> None:
        """Another volume of the 4-D study is shown: the SR pane follows it, in place."""
        if not self.enabled or self._display is None:
            return
        self._use_display(display)
        self.sr_view.replace_display(display)
        self.sr_view.image_item.setVisible(False)
        self.sr_view.set_volume_caption(self.model.caption)
        self._on_cursor()

    def _entry_for(self, path: str) -> ModelEntry | None:
        """The picker's entry of the model file ``path`` (``None`` when not listed)."""
        picker = self.model_picker
        for index in range(picker.count()):
            if path and str(picker.itemData(index)) == path:
                entry = picker.entry_at(index)
                if entry is not None:
                    return entry
        return None

    def _on_picked(self, _index: int) -> None:
        entry = self.model_picker.current_entry()
        if entry is not None:
            self.model.set_model(str(entry.path), SR_PANE)
        self._update_width_item()

    def _on_model_changed(self) -> None:
        path = self.model.model(SR_PANE)
        entry = self._entry_for(path)
        picker = self.model_picker
        if entry is not None and picker.current_entry() is not entry:
            picker.setCurrentIndex(next(i for i in range(picker.count())
                                        if str(picker.itemData(i)) == path))
        if self.enabled and entry is not None and entry.card is not None \
                and entry is not self._entry:
            self._set_entry(entry)
            self._on_cursor()

    def _set_entry(self, entry: ModelEntry) -> None:
        assert entry.card is not None
        self._entry = entry
        self._scale = max(int(entry.card.scale), 1)
        self._through = entry.card.task == THROUGH_PLANE_TASK
        self.through_controls.setVisible(self._through)
        self._slice = -1
        self._update_width_item()
        self._update_title()
        self._update_original_grid()

    def _update_width_item(self) -> None:
        """Offer "interval width" only for a model whose card has a calibration."""
        model = self.mode_combo.model()
        if not isinstance(model, QStandardItemModel):
            return
        for mode in MAP_MODES:  # the maps compare in-plane SR grids
            map_item = model.item(list(CompareMode).index(mode))
            map_item.setEnabled(not self._through)
            if self._through:
                map_item.setToolTip("Maps are for in-plane SR models")
        if self._through:
            return
        item = model.item(list(CompareMode).index(CompareMode.INTERVAL_WIDTH))
        level = self.interval_level()
        item.setEnabled(level is not None)
        item.setToolTip(
            f"Width of the calibrated {level:.0%} interval (8 more model runs per slice)"
            if level is not None else "The model's card has no calibration (medsr calibrate)")

    def _update_title(self) -> None:
        entry = self._entry
        if entry is None or entry.card is None:
            return
        kind = "perceptual: may invent detail" if entry.card.perceptual else entry.card.task
        name = f"{entry.name} (x{self._scale} {kind})"
        if self._through:
            rows = self._buffer.shape if self._buffer is not None else None
            name = f"{entry.name} (through-plane SR of this reformat" + (
                f", {rows[0]}x{rows[1]} px)" if rows is not None else ")")
        if self.mode == CompareMode.SWIPE:
            name = f"{name} ◂ divider ▸ original ({self.interpolation.value})"
        elif self._through:
            pass  # the maps are disabled for through-plane models
        elif self.mode == CompareMode.DIFFERENCE:
            name = f"{entry.name} − bicubic original (blue < 0 < red)"
        elif self.mode == CompareMode.CONSISTENCY:
            name = f"{entry.name}: block mean of SR − original (blue < 0 < red)"
        elif self.mode == CompareMode.ADDED_DETAIL:
            name = f"{entry.name}: added detail no original could confirm (green: flagged)"
        elif self.mode == CompareMode.INTERVAL_WIDTH:
            level = self.interval_level()
            name = (f"{entry.name}: width of the calibrated {level:.0%} interval"
                    if level is not None else f"{entry.name} has no calibrated interval")
        self.title.setText(name)

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
