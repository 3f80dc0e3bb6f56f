"""The SR pane's maps: difference, consistency, added detail and interval width.

Each map shows where the model departs from what was measured
(:mod:`medsr_viewer.core.compare_maps`). A map is computed off the GUI thread once the slice
is complete (the SR image is shown while tiles stream), drawn with a colour bar in raw
intensity units over a robust range (the ``p``-th percentile of ``|value|``), diverging
(CET-D1) for signed maps, sequential for the width. The interval width needs 8 more model
runs per slice (flips and rotations) in the inference worker.
"""

from __future__ import annotations

from functools import partial
from typing import Any, Protocol

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QWidget

from medsr_viewer.core.compare_maps import (
    MapImage,
    added_detail_image,
    consistency_map,
    difference_map,
    outline,
    width_map,
)
from medsr_viewer.core.geometry import PLANE_AXES
from medsr_viewer.core.view_model import MAP_MODES, CompareMode
from medsr_viewer.gui.views.compare_controls import (
    MapControls,
    colorbar_widget,
    diverging_lut,
    sequential_lut,
)
from medsr_viewer.gui.views.readout import format_value
from medsr_viewer.gui.workers.inference_worker import WIDTH
from medsr_viewer.gui.workers.map_worker import MapWorker

#: Pane id of the SR pane's interval-width requests (they must not supersede its slices).
WIDTH_PANE = "sr-width"
#: Colour of the outline of added detail flagged above the noise.
FLAG_COLOR = (40, 255, 40, 255)
#: Units of every map (the study's own, when it has them).
RAW_UNITS = "raw intensity units"


class MapHost(Protocol):
    """What the map layer reads and draws into (the compare panel implements it)."""

    model: Any  # ViewModel
    worker: Any  # InferenceWorker
    sr_view: Any  # SliceView
    sr_item: pg.ImageItem
    complete: bool
    errorOccurred: Any  # Signal(str)
    mapShown: Any  # Signal(str)
    widthReady: Any  # Signal()

    @property
    def enabled(self) -> bool: ...
    @property
    def display(self) -> Any: ...
    @property
    def buffer(self) -> np.ndarray | None: ...
    @property
    def scale(self) -> int: ...
    @property
    def orientation(self) -> Any: ...
    @property
    def shown_slice(self) -> int: ...
    @property
    def request_id(self) -> int: ...
    @property
    def current_entry(self) -> Any: ...
    @property
    def model_volume(self) -> Any: ...
    def interval_level(self) -> float | None: ...
    def units(self) -> str: ...
    def refresh_image(self) -> None: ...
    def refresh_colours(self) -> None: ...
    def parent_widget(self) -> QWidget: ...


class MapLayer:
    """Computes and draws the maps of one compare panel (its :class:`MapHost`)."""

    def __init__(self, panel: MapHost) -> None:
        self.panel = panel
        widget = panel.parent_widget()
        self.worker = MapWorker(widget)
        self.controls = MapControls(widget)
        self.colorbar, self.colorbar_widget = colorbar_widget(widget)
        self.flag_item = pg.ImageItem(axisOrder="row-major")
        self.flag_item.setVisible(False)
        panel.sr_view.add_overlay(self.flag_item, 6.0)
        #: The map drawn last, the key it was computed for, and the key of the job running.
        self._map: MapImage | None = None
        self._map_key: tuple[object, ...] | None = None
        self._pending_key: tuple[object, ...] | None = None
        self._job = -1
        self.shown: MapImage | None = None
        #: Interval width of the current slice (display orientation), and its request ids.
        self._width: np.ndarray | None = None
        self._width_for = -1
        self._width_request = -1
        for spin in (self.controls.k_spin, self.controls.percentile_spin):
            spin.valueChanged.connect(lambda _v: panel.refresh_image())
        self.worker.ready.connect(self._on_ready)
        self.worker.failed.connect(self._on_failed)

    @property
    def mode(self) -> CompareMode:
        return self.panel.model.compare.mode

    def apply_mode(self) -> None:
        """Show the controls of the mode; leaving the width mode cancels its model runs."""
        self.controls.setVisible(self.mode in MAP_MODES)
        self.controls.show_k(self.mode == CompareMode.ADDED_DETAIL)
        if self.mode != CompareMode.INTERVAL_WIDTH:
            self.cancel_width()

    def cancel(self) -> None:
        """Stop computing (the comparison is off)."""
        self.worker.cancel()
        self.cancel_width()

    def cancel_width(self) -> None:
        self.panel.worker.cancel(WIDTH_PANE)
        self._width_for = -1

    @property
    def width(self) -> np.ndarray | None:
        """The interval width of the current slice on the SR grid, once computed."""
        return self._width

    def new_slice(self) -> None:
        """A new slice was requested: its width is not known yet."""
        self._width = None

    # ---------------------------------------------------------------- requests

    def _wanted_key(self) -> tuple[object, ...]:
        """What the map of the current settings depends on."""
        k = self.controls.k_spin.value() if self.mode == CompareMode.ADDED_DETAIL else 0.0
        width = self._width_request if self.mode == CompareMode.INTERVAL_WIDTH else 0
        return (self.mode, self.panel.request_id, k, self.controls.percentile_spin.value(),
                width)

    def refresh(self) -> MapImage | None:
        """Keep the map in step with the slice and settings (ask for it when it is out of
        date); returns the map to draw now, ``None`` to draw the SR image meanwhile.

        The map of the same slice and mode stays drawn while a new one (another ``k`` or
        percentile) is computed; another slice or mode shows the SR image meanwhile.
        """
        p = self.panel
        key = self._wanted_key()
        if self._map_key != key:
            same = self._map is not None and self._map_key is not None and (
                self._map_key[:2] == key[:2])
            self.shown = self._map if same else None
        else:
            self.shown = self._map
        if not p.complete or p.display is None or p.buffer is None:
            return self.shown
        if self.mode == CompareMode.INTERVAL_WIDTH:
            if p.interval_level() is None:
                self.shown = None
                self.controls.map_info.setText(
                    "no calibrated interval: run medsr calibrate on the model")
                return None
            if self._width_for != p.request_id:
                self._request_width()
            if self._width is None:
                return self.shown
            key = self._wanted_key()
        if key in (self._map_key, self._pending_key):
            return self.shown
        percentile = self.controls.percentile_spin.value()
        lr = np.array(p.display.slice_array(p.orientation, p.shown_slice), np.float32)
        sr, scale = p.buffer, p.scale
        if self.mode == CompareMode.DIFFERENCE:
            job = partial(difference_map, sr, lr, scale, percentile)
        elif self.mode == CompareMode.CONSISTENCY:
            job = partial(consistency_map, sr, lr, scale, percentile)
        elif self.mode == CompareMode.ADDED_DETAIL:
            job = partial(added_detail_image, sr, lr, scale, self.controls.k_spin.value(),
                          percentile)
        else:
            assert self._width is not None
            job = partial(width_map, self._width, percentile)
        self._pending_key = key
        self._job = self.worker.submit(job)
        return self.shown

    def _request_width(self) -> None:
        p = self.panel
        entry, level = p.current_entry, p.interval_level()
        if entry is None or entry.card is None or level is None or p.model_volume is None \
                or p.shown_slice < 0:
            return
        self._width = None
        self._width_for = p.request_id
        self.controls.map_info.setText("interval width: running the model on 8 flips/rotations …")
        self._width_request = p.worker.submit(
            WIDTH_PANE, p.model_volume, p.shown_slice, str(entry.path),
            axis=PLANE_AXES[p.orientation].slice_axis, task=entry.card.task, kind=WIDTH,
            level=level)

    # ---------------------------------------------------------------- results

    def on_width(self, request_id: int, array: np.ndarray) -> None:
        """An interval width arrived from the inference worker."""
        p = self.panel
        if not p.enabled or request_id != self._width_request:
            return
        width = np.asarray(array, dtype=np.float32)
        if PLANE_AXES[p.orientation].row_flip:
            width = width[::-1]
        if p.buffer is None or width.shape != p.buffer.shape:
            p.errorOccurred.emit(f"interval width {width.shape} does not match the SR slice")
            return
        self._width = np.ascontiguousarray(width)
        p.widthReady.emit()
        p.refresh_image()

    def on_width_progress(self, request_id: int, done: int, total: int) -> None:
        if self.panel.enabled and request_id == self._width_request:
            self.controls.map_info.setText(f"interval width: model run {done}/{total} "
                                           "(flips and rotations of the slice)")

    def on_width_failed(self, request_id: int, message: str) -> bool:
        """Whether the failure was this layer's width request (then it was reported)."""
        if request_id != self._width_request:
            return False
        self.controls.map_info.setText("interval width failed")
        self.panel.errorOccurred.emit(message)
        return True

    def _on_ready(self, job_id: int, result: object) -> None:
        if job_id != self._job or not isinstance(result, MapImage):
            return
        self._map = result
        self._map_key = self._pending_key
        self._pending_key = None
        self.panel.refresh_image()
        if self.shown is result:
            self.panel.mapShown.emit(result.kind)

    def _on_failed(self, job_id: int, message: str) -> None:
        if job_id != self._job:
            return
        self._pending_key = None
        self.controls.map_info.setText(f"map failed: {message}")
        self.panel.errorOccurred.emit(
            f"Super-resolution pane: the {self.mode.value} map failed ({message})")

    # ---------------------------------------------------------------- drawing

    def draw(self, shown: MapImage) -> None:
        """Draw ``shown`` in the SR pane with its colour bar, flags and summary line."""
        p = self.panel
        p.sr_item.setImage(shown.values, autoLevels=False, levels=shown.levels)
        p.sr_item.setLookupTable(diverging_lut() if shown.signed else sequential_lut())
        p.refresh_colours()  # the image's colour bar gives way to the map's
        rect = p.sr_view.image_rect()
        p.sr_item.setRect(rect)
        self.colorbar.setColorMap("CET-D1" if shown.signed else "viridis")
        self.colorbar.setLevels(shown.levels)
        units = p.units() or RAW_UNITS
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
        info = self.controls.map_info
        info.setText(self._summary(shown))
        info.setToolTip(info.text())

    def _summary(self, shown: MapImage) -> str:
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
            level = self.panel.interval_level()
            entry = self.panel.current_entry
            card = entry.card if entry is not None else None
            calibrated = card.interval_factor(level) if card and level is not None else None
            if calibrated is not None:  # which spread, times which factor
                text = f"2 × {calibrated[1]:.3g} × {calibrated[0]} spread  ·  {text}"
        if shown.flagged is not None:
            text = (f"noise σ {short(shown.sigma)} · {shown.flagged_fraction:.1%} > "
                    f"{shown.k:g} σ  ·  {text}")
        return text

    def hide(self) -> None:
        """Back to the SR image: its own colour map, no flags or map colour bar."""
        self.shown = None
        self.panel.refresh_colours()
        self.flag_item.setVisible(False)
        self.colorbar_widget.hide()
        if self.mode in MAP_MODES and self.mode != CompareMode.INTERVAL_WIDTH:
            self.controls.map_info.setText("computing the map …" if self.panel.complete
                                           else "the map follows when the slice is complete")
