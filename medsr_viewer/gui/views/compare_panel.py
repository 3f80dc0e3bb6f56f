"""Before/after comparison: the model's result of the current slice beside the original.

The SR pane is a :class:`~medsr_viewer.gui.views.slice_view.SliceView` of the same study whose own
image is hidden; the model output is drawn by an overlay ImageItem spanning the original's
image rectangle. With ``align_corners=False`` geometry (what SR models and bicubic resampling
use) an ``s`` times finer grid over the same pixel *edges* puts output pixel ``i`` at
``(i + 0.5) * spacing / s`` mm: the pixel size is ``spacing / s`` and the half-voxel shift is
taken care of by sharing the rectangle, so both panes line up in millimetres and can be linked
for zoom and pan.

The model runs on the study reoriented for display (:class:`DisplayVolume`), so displayed
slice ``k`` of a plane is array slice ``k`` along that plane's canonical slice axis of the
volume given to the worker (axial: axis 0); coronal and sagittal planes are drawn with rows
flipped, so the result (and every tile box) is flipped the same way.

Compare modes: side by side; swipe (one pane, SR left of a draggable divider, original right);
and four maps that show where the model departs from what was measured
(:mod:`medsr_viewer.core.compare_maps`): difference (SR minus bicubic of the original),
consistency (``D(SR) - LR`` per original pixel), added detail (what lies in the null space of
the block mean, pixels above ``k`` noise sigmas outlined) and, for a calibrated model, the
interval width (``2 * factor * spread``; 8 more model runs per slice in the inference worker).
A map is computed off the GUI thread once the slice is complete (the SR image is shown while
tiles stream); it is drawn with a colour bar in raw intensity units over a robust range (the
``p``-th percentile of ``|value|``), diverging (CET-D1) for signed maps, sequential for the
width, and its value under the mouse goes to the readout (:attr:`ComparePanel.hovered`).
"""

from __future__ import annotations

from collections import OrderedDict
from enum import Enum
from functools import lru_cache, partial

import numpy as np
import pyqtgraph as pg
import torch
import torch.nn.functional as F
from PySide6.QtCore import QPointF, Qt, QTimer, Signal
from PySide6.QtGui import QStandardItemModel
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from medsr_viewer.core.compare_maps import (
    DEFAULT_PERCENTILE,
    MapImage,
    added_detail_image,
    consistency_map,
    difference_map,
    outline,
    width_map,
)
from medsr_viewer.core.geometry import PLANE_AXES, DisplayVolume, Orientation
from medsr_viewer.core.pane_geometry import display_slice_volume
from medsr_viewer.core.sr_maps import DEFAULT_K
from medsr_viewer.core.volume import Volume
from medsr_viewer.core.windowing import Window
from medsr_viewer.gui.views.model_picker import ModelPicker
from medsr_viewer.gui.views.readout import format_value
from medsr_viewer.gui.views.slice_view import SliceView
from medsr_viewer.gui.views.study_viewer import StudyViewer
from medsr_viewer.gui.views.through_plane_pane import (
    THROUGH_PLANE_TASK,
    AdaptControls,
    AdaptWorker,
    original_on_grid,
    reformat_grid,
)
from medsr_viewer.gui.workers.inference_worker import WIDTH, InferenceWorker
from medsr_viewer.gui.workers.map_worker import MapWorker
from medsr_viewer.models.registry import ModelEntry, ModelRegistry
from medsr_viewer.models.through_plane.adapt import DEFAULT_ADAPT_MINUTES, AdaptReport

#: Pane id of the SR pane's requests to the worker.
SR_PANE = "sr"
#: Pane id of the SR pane's interval-width requests (they must not supersede its slices).
WIDTH_PANE = "sr-width"
#: Colour of the outline of added detail flagged above the noise.
FLAG_COLOR = (40, 255, 40, 255)
#: Units of every map (the study's own, when it has them).
RAW_UNITS = "raw intensity units"
#: Bytes of recent volumes of a 4-D study kept ready for the model (results are cached per
#: volume object, so stepping back to a recent volume finds its slices cached).
MODEL_VOLUMES_BYTES = 512 * 1024 * 1024
DIVIDER_COLOR = (0, 220, 255, 220)


class CompareMode(str, Enum):
    """How the original and the model result are shown."""

    SIDE_BY_SIDE = "side-by-side"
    SWIPE = "swipe"
    DIFFERENCE = "difference"
    CONSISTENCY = "consistency"
    ADDED_DETAIL = "added detail"
    INTERVAL_WIDTH = "interval width"


#: Modes that draw a map (with a colour bar) instead of an image.
MAP_MODES = frozenset({CompareMode.DIFFERENCE, CompareMode.CONSISTENCY,
                       CompareMode.ADDED_DETAIL, CompareMode.INTERVAL_WIDTH})


class Interpolation(str, Enum):
    """How the original's native grid is drawn (for a fair comparison with SR)."""

    NEAREST = "nearest"
    BILINEAR = "bilinear"
    BICUBIC = "bicubic"


def upsample(image: np.ndarray, scale: int, mode: Interpolation | str) -> np.ndarray:
    """``image`` resampled ``scale`` times finer over the same pixel edges.

    Nearest repeats pixels; bilinear and bicubic use ``align_corners=False`` interpolation
    (bicubic is exactly what the reference bicubic SR baseline computes).
    """
    mode = Interpolation(mode)
    # a fresh C-ordered copy: a displayed slice is often a flipped view, and a flipped axis of
    # length 1 (a coronal row of a 2-D image) keeps its negative stride through
    # ``np.ascontiguousarray``, which torch refuses
    image = np.array(image, dtype=np.float32, order="C", copy=True)
    if scale == 1:
        return image
    if mode == Interpolation.NEAREST:
        return np.repeat(np.repeat(image, scale, axis=0), scale, axis=1)
    tensor = torch.from_numpy(image)[None, None]
    with torch.no_grad():
        out = F.interpolate(tensor, scale_factor=float(scale), mode=mode.value, align_corners=False)
    return out[0, 0].numpy()


@lru_cache(maxsize=1)
def diverging_lut() -> np.ndarray:
    """A 256-entry blue-white-red lookup table (CET-D1) for signed differences."""
    return pg.colormap.get("CET-D1").getLookupTable(nPts=256)


@lru_cache(maxsize=1)
def sequential_lut() -> np.ndarray:
    """A 256-entry sequential lookup table (viridis) for non-negative maps (interval width)."""
    return pg.colormap.get("viridis").getLookupTable(nPts=256)


def display_volume_for_model(display: DisplayVolume) -> Volume:
    """The study as displayed (canonical orientation) so display slice k is array slice k."""
    voxels = np.ascontiguousarray(display.voxels)
    return display.volume.with_voxels(voxels, display.affine.copy())


class ComparePanel(QWidget):
    """The SR pane and its controls, driven by the study viewer's cursor and window.

    Parameters
    ----------
    viewer
        The study viewer whose axial pane is the "Original" pane.
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

    def __init__(
        self,
        viewer: StudyViewer,
        worker: InferenceWorker | None = None,
        registry: ModelRegistry | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.viewer = viewer
        self.worker = worker if worker is not None else InferenceWorker(self)
        self._mode = CompareMode.SIDE_BY_SIDE
        self._orientation = Orientation.AXIAL
        self._interpolation = Interpolation.BICUBIC
        self._enabled = False
        self._display: DisplayVolume | None = None
        self._model_volume: Volume | None = None
        #: Source volume -> its display-oriented copy for the model (recent volumes first out).
        self._model_volumes: OrderedDict[int, tuple[Volume, Volume]] = OrderedDict()
        self._entry: ModelEntry | None = None
        self._scale = 1
        #: Whether the model is a through-plane one (reformats on a finer slice grid).
        self._through = False
        self._adapt_worker: AdaptWorker | None = None
        self._request_id = -1
        self._slice = -1
        self._buffer: np.ndarray | None = None
        self._painted: np.ndarray | None = None
        self.complete = False
        self.map_worker = MapWorker(self)
        #: The map drawn last, the key it was computed for, and the key of the job running.
        self._map: MapImage | None = None
        self._map_key: tuple[object, ...] | None = None
        self._pending_key: tuple[object, ...] | None = None
        self._map_job = -1
        self._shown_map: MapImage | None = None
        #: Interval width of the current slice (display orientation), and its request ids.
        self._width: np.ndarray | None = None
        self._width_for = -1
        self._width_request = -1

        # Controls (the main window puts them in its toolbar).
        self.model_picker = ModelPicker(registry, self)
        self.mode_combo = QComboBox(self)
        self.mode_combo.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.mode_combo.setToolTip("Compare mode")
        for mode in CompareMode:
            self.mode_combo.addItem(mode.value, mode)
        self.interp_combo = QComboBox(self)
        self.interp_combo.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.interp_combo.setToolTip("How the original's native grid is drawn")
        for interp in Interpolation:
            self.interp_combo.addItem(interp.value, interp)
        self.interp_combo.setCurrentIndex(list(Interpolation).index(self._interpolation))
        self.device_label = QLabel(self)
        self.device_label.setToolTip("Where the model runs")
        self.progress_bar = QProgressBar(self)
        self.progress_bar.setMaximumWidth(140)
        self.progress_bar.setFormat("SR %v/%m")
        self.progress_bar.setRange(0, 1)
        self.progress_bar.setValue(0)
        self._update_device()

        self.original_label = QLabel("Original", viewer)
        self.title = QLabel("SR", self)
        for label in (self.original_label, self.title):
            label.setAlignment(Qt.AlignmentFlag.AlignCenter)
            label.setStyleSheet("background:#202020; color:#e0e0e0; padding:2px;")
        self.original_label.setText(f"Original ({self._interpolation.value} display)")
        self.original_label.hide()
        #: The widget holding the original pane (hidden in swipe mode); the viewer by default.
        self.original_column: QWidget = viewer
        self.sr_view = SliceView(Orientation.AXIAL, self)
        self.sr_view.image_item.setVisible(False)
        self.sr_item = pg.ImageItem(axisOrder="row-major")
        self.sr_view.add_overlay(self.sr_item, 5.0)
        self.divider = pg.InfiniteLine(angle=90, movable=True, pen=pg.mkPen(DIVIDER_COLOR, width=2))
        self.divider.setVisible(False)
        self.sr_view.add_overlay(self.divider, 25.0)
        self.flag_item = pg.ImageItem(axisOrder="row-major")
        self.flag_item.setVisible(False)
        self.sr_view.add_overlay(self.flag_item, 6.0)

        # Map controls (shown in map modes) and the colour bar beside the pane.
        self.map_controls = QWidget(self)
        self.map_controls.setStyleSheet("background:#202020; color:#e0e0e0;")
        controls = QHBoxLayout(self.map_controls)
        controls.setContentsMargins(4, 1, 4, 1)
        self.map_info = QLabel(self.map_controls)
        # its text changes with every map: never let it resize the pane
        self.map_info.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        controls.addWidget(self.map_info, 1)
        self.k_label = QLabel("flag above", self.map_controls)
        self.k_spin = QDoubleSpinBox(self.map_controls)
        self.k_spin.setRange(0.5, 20.0)
        self.k_spin.setSingleStep(0.5)
        self.k_spin.setDecimals(1)
        self.k_spin.setValue(DEFAULT_K)
        self.k_spin.setSuffix(" σ")
        self.k_spin.setToolTip("Outline added detail whose magnitude exceeds k noise sigmas")
        self.percentile_spin = QDoubleSpinBox(self.map_controls)
        self.percentile_spin.setRange(50.0, 100.0)
        self.percentile_spin.setSingleStep(0.5)
        self.percentile_spin.setDecimals(1)
        self.percentile_spin.setValue(DEFAULT_PERCENTILE)
        self.percentile_spin.setSuffix(" %")
        self.percentile_spin.setToolTip(
            "Colour range: this percentile of |value| over the slice (100 = the maximum)")
        for widget in (self.k_label, self.k_spin, QLabel("range percentile", self),
                       self.percentile_spin):
            controls.addWidget(widget)
        for spin in (self.k_spin, self.percentile_spin):
            # arrow keys page through slices unless the user clicked into the box, and they
            # do again once the value is entered
            spin.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
            spin.editingFinished.connect(spin.clearFocus)
        self.map_controls.hide()
        self.through_controls = AdaptControls(self)
        self.through_controls.hide()
        self.colorbar = pg.ColorBarItem(values=(-1.0, 1.0), colorMap="CET-D1",
                                        interactive=False, width=16)
        self.colorbar_widget = pg.GraphicsLayoutWidget(self)
        self.colorbar_widget.setBackground("k")
        self.colorbar_widget.setFixedWidth(96)
        self.colorbar_widget.addItem(self.colorbar)
        self.colorbar_widget.hide()

        column = QVBoxLayout(self)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(0)
        column.addWidget(self.title)
        column.addWidget(self.map_controls)
        column.addWidget(self.through_controls)
        pane_row = QHBoxLayout()
        pane_row.setContentsMargins(0, 0, 0, 0)
        pane_row.setSpacing(0)
        pane_row.addWidget(self.sr_view, 1)
        pane_row.addWidget(self.colorbar_widget)
        column.addLayout(pane_row, 1)
        self.hide()

        self.mode_combo.currentIndexChanged.connect(
            lambda i: self.set_mode(self.mode_combo.itemData(i))
        )
        self.interp_combo.currentIndexChanged.connect(
            lambda i: self.set_interpolation(self.interp_combo.itemData(i))
        )
        self.model_picker.currentIndexChanged.connect(self._on_model_changed)
        self.through_controls.adaptRequested.connect(lambda: self.start_adaptation())
        self.through_controls.stopRequested.connect(self.stop_adaptation)
        self.k_spin.valueChanged.connect(lambda _v: self._refresh_image())
        self.percentile_spin.valueChanged.connect(lambda _v: self._refresh_image())
        self.map_worker.ready.connect(self._on_map_ready)
        self.map_worker.failed.connect(self._on_map_failed)
        self.sr_view.scene().sigMouseMoved.connect(self._on_sr_mouse_moved)
        self.divider.sigPositionChanged.connect(lambda _l: self._refresh_image())
        self.sr_view.wheelSteps.connect(lambda n: self.viewer.step_slice(n, self._orientation))
        self.sr_view.windowDragged.connect(self.viewer.drag_window)
        self.sr_view.pointClicked.connect(self._on_clicked)
        # Zoom/pan linked by copying the view rectangle (pyqtgraph's own Y link aligns panes
        # by their screen position, which offsets panes whose tops differ by a few pixels).
        self._syncing = False
        self.sr_view.view_box.sigRangeChanged.connect(
            lambda *_a: self._sync_range(self.sr_view, self.original_view)
        )
        for orientation, view in viewer.views.items():
            view.pointClicked.connect(
                lambda p, o=orientation: self._on_clicked(p) if o == self._orientation else None
            )
            view.view_box.sigRangeChanged.connect(
                lambda *_a, o=orientation: (
                    self._sync_range(self.original_view, self.sr_view)
                    if o == self._orientation
                    else None
                )
            )
        viewer.cursorChanged.connect(self._on_cursor)
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
        return self.viewer.views[self._orientation]

    @property
    def orientation(self) -> Orientation:
        """The plane compared (the viewer's single-layout plane when switched on)."""
        return self._orientation

    @property
    def enabled(self) -> bool:
        """Whether the comparison is on."""
        return self._enabled

    @property
    def mode(self) -> CompareMode:
        """The compare mode."""
        return self._mode

    @property
    def interpolation(self) -> Interpolation:
        """How the original is drawn."""
        return self._interpolation

    @property
    def scale(self) -> int:
        """The model's scale factor (1 for enhancement)."""
        return self._scale

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

    def sr_slice_volume(self) -> Volume | None:
        """The complete model result of the shown slice on its world grid, else ``None``.

        A one-slice :class:`Volume` lying exactly on the slice's plane (``scale`` times finer
        in plane), so ROIs drawn on any pane can be measured on it.
        """
        if not self.complete or self._buffer is None or self._display is None or self._slice < 0:
            return None
        name = self._entry.name if self._entry is not None else "model"
        return display_slice_volume(self._display, self._orientation, self._slice,
                                    self._buffer, self._grid_scales(), name=f"{name} result")

    def painted_fraction(self) -> float:
        """Share of the current slice's SR grid painted so far (1.0 when complete)."""
        return 0.0 if self._painted is None else float(np.mean(self._painted))

    def shown_image(self) -> np.ndarray | None:
        """The array drawn in the SR pane (SR, swipe composite or a map)."""
        image = self.sr_item.image
        return None if image is None else np.asarray(image)

    def shown_map(self) -> MapImage | None:
        """The map drawn in the SR pane now (``None`` while the SR image is shown)."""
        return self._shown_map

    def interval_level(self) -> float | None:
        """The level of the current model's calibrated interval (``None``: not calibrated)."""
        entry = self._entry if self._enabled else self.model_picker.current_entry()
        card = entry.card if entry is not None else None
        if card is None or not card.calibration:
            return None
        level = float(card.calibration.get("level", -1.0))
        return level if card.interval_factor(level) is not None else None

    def value_text(self, x_mm: float, y_mm: float) -> str:
        """What the SR pane shows at view point ``(x_mm, y_mm)``: ``"added detail 4.2
        (flagged)"``, ``"SR 118.5"``, or "" off the image (or where nothing is painted)."""
        if not self._enabled or self._buffer is None or self._painted is None:
            return ""
        row_mm, col_mm = self.sr_view.pixel_spacing
        row_scale, col_scale = self._grid_scales()
        row = int(np.floor(y_mm / row_mm * row_scale))
        col = int(np.floor(x_mm / col_mm * col_scale))
        units = self._units()
        shown = self._shown_map
        if shown is not None:
            value = shown.value_at(row, col)
            if value is None:
                return ""
            text = f"{shown.kind} {format_value(value, units)}"
            if shown.flagged is not None and shown.is_flagged(row, col):
                text += f" (flagged: > {shown.k:g} σ)"
            return text
        rows, cols = self._buffer.shape
        if not (0 <= row < rows and 0 <= col < cols) or not self._painted[row, col]:
            return ""
        if self._mode == CompareMode.SWIPE and col >= self.swipe_column():
            return ""
        return f"SR {format_value(float(self._buffer[row, col]), units)}"

    def _grid_scales(self) -> tuple[float, float]:
        """SR pixels per original pixel along the pane's rows and columns."""
        if self._buffer is None or self._display is None:
            return (float(self._scale), float(self._scale))
        rows, cols = self._display.slice_shape(self._orientation)
        return (self._buffer.shape[0] / rows, self._buffer.shape[1] / cols)

    def _units(self) -> str:
        return self._display.volume.units if self._display is not None else ""

    def original_upsampled(self, mode: Interpolation | str | None = None) -> np.ndarray | None:
        """The displayed original slice on the SR grid (``mode`` default: the pane's)."""
        if self._display is None:
            return None
        image = self._display.slice_array(
            self._orientation, self.viewer.slice_index(self._orientation)
        )
        if self._through:
            if self._buffer is None:
                return None
            return original_on_grid(image, self._buffer.shape,
                                    Interpolation(mode or self._interpolation).value)
        return upsample(image, self._scale, mode or self._interpolation)

    # ---------------------------------------------------------------- on / off

    def set_enabled(self, enabled: bool) -> str:
        """Switch the comparison on (the viewer must show a study) or off.

        Returns an empty string, or why it could not be switched on.
        """
        if not enabled:
            self._enabled = False
            self.worker.cancel(SR_PANE)
            self.worker.cancel(WIDTH_PANE)
            self.map_worker.cancel()
            self._width_for = -1
            self.hide()
            self.original_label.hide()
            self.original_column.show()
            self.original_view.set_crosshair_enabled(False)
            self._show_original(Interpolation.NEAREST)
            self.progress_bar.setValue(0)
            return ""
        display = self.viewer.display
        if display is None:
            return "Open a study before switching super-resolution on"
        entry = self.model_picker.current_entry()
        if entry is None or entry.card is None:
            return "No super-resolution model: add one to the models folder"
        self._enabled = True
        if self.viewer.orientation != self._orientation:
            self.original_view.set_crosshair_enabled(False)
            self._show_original(Interpolation.NEAREST)
            self._orientation = self.viewer.orientation
            self.sr_view.set_orientation(self._orientation)
            self._slice = -1
        self._set_display(display)
        self._set_entry(entry)
        self.show()
        self.original_label.show()
        self.fit_views()
        QTimer.singleShot(0, self, self.fit_views)  # again once the panes have their sizes
        self.original_view.set_crosshair_enabled(True)
        self.sr_view.set_crosshair_enabled(True)
        self._apply_mode()
        self._on_cursor(self.viewer.cursor_point)
        return ""

    def _sync_range(self, source: SliceView, target: SliceView) -> None:
        if self._syncing or not self._enabled:
            return
        self._syncing = True
        try:
            target.view_box.setRange(rect=source.view_box.viewRect(), padding=0.0)
        finally:
            self._syncing = False

    def fit_views(self) -> None:
        """Fit the slice in both panes with one shared range (they are linked)."""
        if not self._enabled:
            return
        self.original_view.reset_view()
        self.sr_view.view_box.setRange(rect=self.original_view.view_box.viewRect(), padding=0.0)

    def _set_display(self, display: DisplayVolume) -> None:
        self._use_display(display, keep_others=False)
        self.sr_view.set_display(
            display, self.viewer.display_window, self.viewer.slice_index(self._orientation)
        )
        self.sr_view.set_volume_caption(self.viewer.volume_caption)
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
        self._model_volume = display_volume_for_model(display)
        self._model_volumes[key] = (display.volume, self._model_volume)
        total = sum(v.voxels.nbytes for _source, v in self._model_volumes.values())
        while total > MODEL_VOLUMES_BYTES and len(self._model_volumes) > 1:
            _key, (_source, dropped) = self._model_volumes.popitem(last=False)
            total -= dropped.voxels.nbytes

    def _on_display_replaced(self, display: DisplayVolume) -> None:
        """Another volume of the 4-D study is shown: the SR pane follows it, in place."""
        if not self._enabled or self._display is None:
            return
        self._use_display(display)
        self.sr_view.replace_display(display)
        self.sr_view.image_item.setVisible(False)
        self.sr_view.set_volume_caption(self.viewer.volume_caption)
        self._on_cursor(self.viewer.cursor_point)

    def _set_entry(self, entry: ModelEntry) -> None:
        assert entry.card is not None
        self._entry = entry
        self._scale = max(int(entry.card.scale), 1)
        self._through = entry.card.task == THROUGH_PLANE_TASK
        self.through_controls.setVisible(self._through)
        self._slice = -1
        self._update_width_item()
        self._update_title()

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
        if self._mode == CompareMode.SWIPE:
            name = f"{name} ◂ divider ▸ original ({self._interpolation.value})"
        elif self._through:
            pass  # the maps are disabled for through-plane models
        elif self._mode == CompareMode.DIFFERENCE:
            name = f"{entry.name} − bicubic original (blue < 0 < red)"
        elif self._mode == CompareMode.CONSISTENCY:
            name = f"{entry.name}: block mean of SR − original (blue < 0 < red)"
        elif self._mode == CompareMode.ADDED_DETAIL:
            name = f"{entry.name}: added detail no original could confirm (green: flagged)"
        elif self._mode == CompareMode.INTERVAL_WIDTH:
            level = self.interval_level()
            name = (f"{entry.name}: width of the calibrated {level:.0%} interval"
                    if level is not None else f"{entry.name} has no calibrated interval")
        self.title.setText(name)

    def _on_model_changed(self, _index: int) -> None:
        entry = self.model_picker.current_entry()
        if self._enabled and entry is not None and entry.card is not None:
            self._set_entry(entry)
            self._on_cursor(self.viewer.cursor_point)
        else:
            self._update_width_item()

    # ---------------------------------------------------------------- modes

    def set_mode(self, mode: CompareMode | str) -> None:
        """Side by side, swipe, or one of the maps (:data:`MAP_MODES`)."""
        self._mode = CompareMode(mode)
        index = list(CompareMode).index(self._mode)
        if self.mode_combo.currentIndex() != index:
            self.mode_combo.setCurrentIndex(index)
        self._apply_mode()

    def set_interpolation(self, mode: Interpolation | str) -> None:
        """How the original pane draws the native grid."""
        self._interpolation = Interpolation(mode)
        index = list(Interpolation).index(self._interpolation)
        if self.interp_combo.currentIndex() != index:
            self.interp_combo.setCurrentIndex(index)
        self.original_label.setText(f"Original ({self._interpolation.value} display)")
        self._update_title()
        if self._enabled:
            self._show_original(self._interpolation)
            self._refresh_image()

    def set_divider(self, x_mm: float) -> None:
        """Put the swipe divider at ``x_mm`` (view millimetres)."""
        self.divider.setValue(x_mm)

    def _apply_mode(self) -> None:
        if not self._enabled:
            return
        swipe = self._mode == CompareMode.SWIPE
        self.original_column.setVisible(not swipe)
        self.divider.setVisible(swipe)
        if swipe:
            rect = self.sr_view.image_rect()
            value = float(self.divider.value())
            if not 0.0 < value < rect.width():
                self.divider.setValue(rect.width() / 2.0)
        self._update_title()
        self.map_controls.setVisible(self._mode in MAP_MODES)
        added = self._mode == CompareMode.ADDED_DETAIL
        self.k_label.setVisible(added)
        self.k_spin.setVisible(added)
        if self._mode != CompareMode.INTERVAL_WIDTH:
            self.worker.cancel(WIDTH_PANE)
            self._width_for = -1
        self._refresh_image()

    # ---------------------------------------------------------------- navigation

    def _on_cursor(self, cursor: np.ndarray) -> None:
        if not self._enabled or self._display is None:
            return
        try:
            index = self.viewer.slice_index(self._orientation)
            self.sr_view.set_slice(index)
            self.sr_view.set_crosshair(cursor)
            self.original_view.set_crosshair(cursor)
            self._show_original(self._interpolation)
            if index != self._slice:
                self._request(index)
        except Exception as exc:  # noqa: BLE001 - a drawing failure must reach the banner
            self._slice = -1
            self.complete = False
            self.progress_bar.setRange(0, 1)
            self.progress_bar.setValue(0)
            self.errorOccurred.emit(
                f"Super-resolution pane: {self._orientation.value} slice could not be shown "
                f"({type(exc).__name__}: {exc})")

    def _on_window(self, window: Window) -> None:
        self.sr_view.set_window(window)
        self._refresh_image()

    def _on_clicked(self, canonical: np.ndarray) -> None:
        if self._enabled:
            self.viewer.set_cursor(canonical)

    def _show_original(self, mode: Interpolation) -> None:
        """Draw the original pane's slice nearest (native) or interpolated on the SR grid."""
        view = self.original_view
        if view.display is None:
            return
        image = view.display.slice_array(self._orientation, view.slice_index)
        buffer = self._buffer
        if self._through:  # the fair comparison: the cubic B-spline along the slices
            native = mode == Interpolation.NEAREST or buffer is None
            shown = image if buffer is None or native else original_on_grid(
                image, (buffer.shape[0], buffer.shape[1]), Interpolation(mode).value)
        else:
            native = mode == Interpolation.NEAREST or self._scale == 1
            shown = image if native else upsample(image, self._scale, mode)
        view.image_item.setImage(
            np.ascontiguousarray(shown), autoLevels=False, levels=view.display_window.levels
        )
        view.image_item.setRect(view.image_rect())

    # ---------------------------------------------------------------- requests and results

    def _request(self, index: int) -> None:
        assert self._display is not None and self._entry is not None
        assert self._model_volume is not None and self._entry.card is not None
        rows, cols = self._display.slice_shape(self._orientation)
        self._slice = index
        shape = (rows * self._scale, cols * self._scale)
        if self._through:
            grid = reformat_grid(self._model_volume, PLANE_AXES[self._orientation].slice_axis)
            if isinstance(grid, str):  # nothing to compute in this view: say why
                self.worker.cancel(SR_PANE)
                self._buffer = self._painted = None
                self.complete = False
                self.sr_item.clear()
                self.progress_bar.setRange(0, 1)
                self.progress_bar.setValue(0)
                self.title.setText(grid)
                return
            shape = grid
        self._buffer = np.zeros(shape, np.float32)
        self._painted = np.zeros(self._buffer.shape, bool)
        self.complete = False
        self._width = None
        self.progress_bar.setRange(0, 1)
        self.progress_bar.setValue(0)
        self._update_title()
        if self._through:
            self._show_original(self._interpolation)  # on the reformat grid, now known
        self._request_id = self.worker.submit(
            SR_PANE,
            self._model_volume,
            index,
            str(self._entry.path),
            axis=PLANE_AXES[self._orientation].slice_axis,
            task=self._entry.card.task,
        )
        self._refresh_image()

    @property
    def _row_flip(self) -> bool:
        return PLANE_AXES[self._orientation].row_flip

    def _current(self, pane: str, request_id: int) -> bool:
        return self._enabled and pane == SR_PANE and request_id == self._request_id

    def _on_tile(self, pane: str, request_id: int, box: object, array: object) -> None:
        if not self._current(pane, request_id) or self._buffer is None:
            return
        assert self._painted is not None
        y0, x0, y1, x1 = (int(v) for v in box)  # type: ignore[attr-defined]
        tile = np.asarray(array, dtype=np.float32)
        if self._row_flip:  # the plane is drawn upside down relative to the array
            height = self._buffer.shape[0]
            y0, y1, tile = height - y1, height - y0, tile[::-1]
        self._buffer[y0:y1, x0:x1] = tile
        self._painted[y0:y1, x0:x1] = True
        self._refresh_image()

    def _on_slice(self, pane: str, request_id: int, array: object, _from_cache: bool) -> None:
        if pane == WIDTH_PANE:
            self._on_width(request_id, array)
            return
        if not self._current(pane, request_id):
            return
        result = np.asarray(array, dtype=np.float32)
        if self._row_flip:
            result = result[::-1]
        if self._buffer is None or result.shape != self._buffer.shape:
            self._on_failed(
                pane,
                request_id,
                f"model output {result.shape} does not match the expected "
                f"{None if self._buffer is None else self._buffer.shape}",
            )
            return
        self._buffer = result.copy()
        assert self._painted is not None
        self._painted[:] = True
        self.complete = True
        maximum = max(self.progress_bar.maximum(), 1)
        self.progress_bar.setRange(0, maximum)
        self.progress_bar.setValue(maximum)
        self._update_device()
        self._refresh_image()
        self.srReady.emit(self._slice)

    def _on_progress(self, pane: str, request_id: int, done: int, total: int) -> None:
        if pane == WIDTH_PANE and self._enabled and request_id == self._width_request:
            self.map_info.setText(f"interval width: model run {done}/{total} "
                                  "(flips and rotations of the slice)")
        if self._current(pane, request_id):
            self.progress_bar.setRange(0, max(total, 1))
            self.progress_bar.setValue(done)
            self.progressChanged.emit(done, total)

    def _on_failed(self, pane: str, request_id: int, message: str) -> None:
        if pane == WIDTH_PANE and request_id == self._width_request:
            self.map_info.setText("interval width failed")
            self.errorOccurred.emit(message)
            return
        if pane != SR_PANE or request_id != self._request_id:
            return
        self.progress_bar.setValue(0)
        self.errorOccurred.emit(message)

    def _update_device(self) -> None:
        try:
            device = self.worker.engine.active_device.type
        except Exception:  # noqa: BLE001 - the label is informative only
            device = "cpu"
        self.device_label.setText(f" {device.upper()} ")

    # ---------------------------------------------------------------- drawing

    def _refresh_image(self) -> None:
        if not self._enabled or self._buffer is None:
            return
        window = self.viewer.display_window
        if self._mode in MAP_MODES and not self._through:
            self._refresh_map()
            if self._shown_map is not None:
                self._draw_map(self._shown_map)
                return
        self._hide_map()
        if self._mode == CompareMode.SWIPE:
            original = self.original_upsampled()
            assert original is not None
            column = self.swipe_column()
            composite = original.copy()
            composite[:, :column] = self._buffer[:, :column]
            self.sr_item.setImage(composite, autoLevels=False, levels=window.levels)
        else:  # side by side, and a map mode while tiles stream or the map is computed
            self.sr_item.setImage(self._buffer, autoLevels=False, levels=window.levels)
        self.sr_item.setRect(self.sr_view.image_rect())

    # ---------------------------------------------------------------- maps

    def _wanted_key(self) -> tuple[object, ...]:
        """What the map of the current settings depends on."""
        k = self.k_spin.value() if self._mode == CompareMode.ADDED_DETAIL else 0.0
        width = self._width_request if self._mode == CompareMode.INTERVAL_WIDTH else 0
        return (self._mode, self._request_id, k, self.percentile_spin.value(), width)

    def _refresh_map(self) -> None:
        """Keep the map in step with the slice and settings: ask for it when it is out of date.

        The map of the same slice and mode stays drawn while a new one (another ``k`` or
        percentile) is computed; another slice or mode shows the SR image meanwhile.
        """
        key = self._wanted_key()
        if self._map_key != key:
            if self._map is not None and self._map_key is not None and (
                    self._map_key[:2] == key[:2]):
                self._shown_map = self._map
            else:
                self._shown_map = None
        else:
            self._shown_map = self._map
        if not self.complete or self._display is None or self._buffer is None:
            return
        if self._mode == CompareMode.INTERVAL_WIDTH:
            if self.interval_level() is None:
                self._shown_map = None
                self.map_info.setText("no calibrated interval: run medsr calibrate on the model")
                return
            if self._width_for != self._request_id:
                self._request_width()
            if self._width is None:
                return
            key = self._wanted_key()
        if key in (self._map_key, self._pending_key):
            return
        percentile = self.percentile_spin.value()
        lr = np.array(self._display.slice_array(self._orientation, self._slice), np.float32)
        sr, scale = self._buffer, self._scale
        if self._mode == CompareMode.DIFFERENCE:
            job = partial(difference_map, sr, lr, scale, percentile)
        elif self._mode == CompareMode.CONSISTENCY:
            job = partial(consistency_map, sr, lr, scale, percentile)
        elif self._mode == CompareMode.ADDED_DETAIL:
            job = partial(added_detail_image, sr, lr, scale, self.k_spin.value(), percentile)
        else:
            assert self._width is not None
            job = partial(width_map, self._width, percentile)
        self._pending_key = key
        self._map_job = self.map_worker.submit(job)

    def _request_width(self) -> None:
        assert self._entry is not None and self._entry.card is not None
        level = self.interval_level()
        if level is None or self._model_volume is None or self._slice < 0:
            return
        self._width = None
        self._width_for = self._request_id
        self.map_info.setText("interval width: running the model on 8 flips/rotations …")
        self._width_request = self.worker.submit(
            WIDTH_PANE,
            self._model_volume,
            self._slice,
            str(self._entry.path),
            axis=PLANE_AXES[self._orientation].slice_axis,
            task=self._entry.card.task,
            kind=WIDTH,
            level=level,
        )

    def _on_width(self, request_id: int, array: object) -> None:
        if not self._enabled or request_id != self._width_request:
            return
        width = np.asarray(array, dtype=np.float32)
        if self._row_flip:
            width = width[::-1]
        if self._buffer is None or width.shape != self._buffer.shape:
            self.errorOccurred.emit(f"interval width {width.shape} does not match the SR slice")
            return
        self._width = np.ascontiguousarray(width)
        self._refresh_image()

    def _on_map_ready(self, job_id: int, result: object) -> None:
        if job_id != self._map_job or not isinstance(result, MapImage):
            return
        self._map = result
        self._map_key = self._pending_key
        self._pending_key = None
        self._refresh_image()
        if self._shown_map is result:
            self.mapShown.emit(result.kind)

    def _on_map_failed(self, job_id: int, message: str) -> None:
        if job_id != self._map_job:
            return
        self._pending_key = None
        self.map_info.setText(f"map failed: {message}")
        self.errorOccurred.emit(f"Super-resolution pane: the {self._mode.value} map failed "
                                f"({message})")

    def _draw_map(self, shown: MapImage) -> None:
        self.sr_item.setImage(shown.values, autoLevels=False, levels=shown.levels)
        self.sr_item.setLookupTable(diverging_lut() if shown.signed else sequential_lut())
        rect = self.sr_view.image_rect()
        self.sr_item.setRect(rect)
        self.colorbar.setColorMap("CET-D1" if shown.signed else "viridis")
        self.colorbar.setLevels(shown.levels)
        units = self._units() or RAW_UNITS
        self.colorbar.getAxis("left").setLabel(f"{shown.kind} ({units})")
        self.colorbar_widget.show()
        if shown.flagged is not None:
            rgba = np.zeros((*shown.flagged.shape, 4), np.uint8)
            rgba[outline(shown.flagged)] = FLAG_COLOR
            self.flag_item.setImage(rgba, autoLevels=False)
            self.flag_item.setRect(rect)
            self.flag_item.setVisible(True)
        else:
            self.flag_item.setVisible(False)
        self.map_info.setText(self._map_summary(shown))
        self.map_info.setToolTip(self.map_info.text())

    def _map_summary(self, shown: MapImage) -> str:
        """One line over the pane: the colour range and what sets it (and the flags)."""
        def short(value: float) -> str:
            return format_value(float(f"{value:.4g}"))

        p = f"{shown.percentile:g}"
        if shown.signed:
            text = f"range ±{short(shown.limit)} (p{p} of |value|)"
        else:
            low, high = shown.levels
            text = (f"range {short(low)} – {short(high)} (p{100 - shown.percentile:g}–p{p}), "
                    f"max {short(float(np.max(shown.values)))}")
            level = self.interval_level()
            card = self._entry.card if self._entry is not None else None
            calibrated = card.interval_factor(level) if card and level is not None else None
            if calibrated is not None:  # which spread, times which factor
                text = f"2 × {calibrated[1]:.3g} × {calibrated[0]} spread  ·  {text}"
        if shown.flagged is not None:
            text = (f"noise σ {short(shown.sigma)} · {shown.flagged_fraction:.1%} > "
                    f"{shown.k:g} σ  ·  {text}")
        return text

    def _hide_map(self) -> None:
        self._shown_map = None
        self.sr_item.setLookupTable(None)
        self.flag_item.setVisible(False)
        self.colorbar_widget.hide()
        if self._mode in MAP_MODES and self._mode != CompareMode.INTERVAL_WIDTH:
            self.map_info.setText("computing the map …" if self.complete
                                  else "the map follows when the slice is complete")

    # ---------------------------------------------------------------- hover

    def _on_sr_mouse_moved(self, scene_pos: QPointF) -> None:
        view = self.sr_view
        if (not self._enabled or view.display is None
                or not view.view_box.sceneBoundingRect().contains(scene_pos)):
            self.hovered.emit(None, "")
            return
        point = view.view_box.mapSceneToView(scene_pos)
        self.hovered.emit(view.view_to_canonical(point.x(), point.y()),
                          self.value_text(point.x(), point.y()))

    def swipe_column(self) -> int:
        """Column of the SR grid where the swipe divider is (SR left, original right)."""
        if self._buffer is None:
            return 0
        rect = self.sr_view.image_rect()
        cols = self._buffer.shape[1]
        return int(
            np.clip(round(float(self.divider.value()) / max(rect.width(), 1e-9) * cols), 0, cols)
        )

    # ---------------------------------------------------------------- through-plane adaptation

    def start_adaptation(self, minutes: float = DEFAULT_ADAPT_MINUTES,
                         max_steps: int | None = None) -> str:
        """Adapt the through-plane model to the shown study in the background.

        Returns an empty string, or why it cannot start.
        """
        if not (self._enabled and self._through and self._entry is not None
                and self._model_volume is not None):
            return "Adaptation needs a through-plane model switched on"
        if self._adapt_worker is not None and self._adapt_worker.isRunning():
            return "An adaptation is already running"
        ref = self.worker.engine.resolve(str(self._entry.path))
        job = AdaptWorker(self.worker.engine, ref, self._model_volume, minutes, max_steps, self)
        job.progressed.connect(self.through_controls.show_progress)
        job.finishedAdapting.connect(self._on_adapted)
        job.failed.connect(self._on_adapt_failed)
        self._adapt_worker = job
        self.through_controls.set_running(True)
        job.start()
        return ""

    def stop_adaptation(self) -> None:
        """Stop a running adaptation (what it learnt so far is kept)."""
        if self._adapt_worker is not None:
            self._adapt_worker.request_stop()

    @property
    def adapting(self) -> bool:
        """Whether an adaptation is running."""
        return self._adapt_worker is not None and self._adapt_worker.isRunning()

    def _on_adapted(self, report: AdaptReport) -> None:
        self.through_controls.show_report(report)
        if report.steps and self._enabled:
            self._slice = -1  # the adapted model has its own results: compute this slice again
            self._on_cursor(self.viewer.cursor_point)

    def _on_adapt_failed(self, message: str) -> None:
        self.through_controls.set_running(False)
        self.through_controls.info.setText("adaptation failed")
        self.errorOccurred.emit(f"Adaptation failed: {message}")

    def shutdown(self) -> None:
        """Stop the inference and map threads (call before the window closes)."""
        self.stop_adaptation()
        if self._adapt_worker is not None:
            self._adapt_worker.wait(5000)
        self.worker.stop()
        self.map_worker.stop()
