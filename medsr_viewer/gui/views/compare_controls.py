"""The before/after comparison's controls: mode, interpolation, device, progress, map range.

Views of :attr:`ViewModel.compare <medsr_viewer.core.view_model.ViewModel.compare>`: the
combo boxes write the user's choice to the view model and show what it holds (a session
restore or a script changes them the same way). The map controls (colour range percentile,
the ``k`` of added detail) and the colour bar sit over and beside the SR pane.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QStandardItemModel
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QSizePolicy,
    QWidget,
)

from medsr_viewer.core.compare_maps import DEFAULT_PERCENTILE
from medsr_viewer.core.sr_maps import DEFAULT_K
from medsr_viewer.core.view_model import MAP_MODES, CompareMode, Interpolation, ViewModel
from medsr_viewer.models.card import ModelCard


@lru_cache(maxsize=1)
def diverging_lut() -> np.ndarray:
    """A 256-entry blue-white-red lookup table (CET-D1) for signed differences."""
    return pg.colormap.get("CET-D1").getLookupTable(nPts=256)


@lru_cache(maxsize=1)
def sequential_lut() -> np.ndarray:
    """A 256-entry sequential lookup table (viridis) for non-negative maps (interval width)."""
    return pg.colormap.get("viridis").getLookupTable(nPts=256)


class CompareControls:
    """The toolbar's compare widgets, bound to the view model.

    Parameters
    ----------
    model
        The view state whose ``compare`` part the combo boxes show and set.
    parent
        Qt parent of the widgets.
    """

    def __init__(self, model: ViewModel, parent: QWidget) -> None:
        self._model = model
        self.mode_combo = QComboBox(parent)
        self.mode_combo.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.mode_combo.setToolTip("Compare mode")
        for mode in CompareMode:
            self.mode_combo.addItem(mode.value, mode)
        self.interp_combo = QComboBox(parent)
        self.interp_combo.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.interp_combo.setToolTip("How the original's native grid is drawn")
        for interp in Interpolation:
            self.interp_combo.addItem(interp.value, interp)
        self.device_label = QLabel(parent)
        self.device_label.setToolTip("Where the model runs")
        self.progress_bar = QProgressBar(parent)
        self.progress_bar.setMaximumWidth(140)
        self.progress_bar.setFormat("SR %v/%m")
        self.progress_bar.setRange(0, 1)
        self.progress_bar.setValue(0)
        self._show()
        self.mode_combo.currentIndexChanged.connect(
            lambda i: model.set_compare(mode=self.mode_combo.itemData(i)))
        self.interp_combo.currentIndexChanged.connect(
            lambda i: model.set_compare(interpolation=self.interp_combo.itemData(i)))
        model.subscribe("compare", self._show)

    def _show(self) -> None:
        state = self._model.compare
        for combo, value, kind in ((self.mode_combo, state.mode, CompareMode),
                                   (self.interp_combo, state.interpolation, Interpolation)):
            index = list(kind).index(value)
            if combo.currentIndex() != index:
                combo.setCurrentIndex(index)

    def offer_maps(self, through_plane: bool, level: float | None) -> None:
        """Enable the map modes for in-plane SR models, and "interval width" only for a
        model whose card has a calibration (``level``)."""
        items = self.mode_combo.model()
        if not isinstance(items, QStandardItemModel):
            return
        for mode in MAP_MODES:  # the maps compare in-plane SR grids
            item = items.item(list(CompareMode).index(mode))
            item.setEnabled(not through_plane)
            if through_plane:
                item.setToolTip("Maps are for in-plane SR models")
        if through_plane:
            return
        item = items.item(list(CompareMode).index(CompareMode.INTERVAL_WIDTH))
        item.setEnabled(level is not None)
        item.setToolTip(
            f"Width of the calibrated {level:.0%} interval (8 more model runs per slice)"
            if level is not None else "The model's card has no calibration (medsr calibrate)")

    def set_progress(self, done: int, total: int) -> None:
        """Tiles done of ``total`` (repainted only when the numbers change)."""
        total = max(total, 1)
        if self.progress_bar.maximum() != total:
            self.progress_bar.setRange(0, total)
        if self.progress_bar.value() != done:
            self.progress_bar.setValue(done)


def pane_title(name: str, card: ModelCard, scale: int, through_plane: bool,
               grid: tuple[int, int] | None, mode: CompareMode, interpolation: Interpolation,
               level: float | None) -> str:
    """The SR pane's title: the model, what it is, and what the mode shows."""
    kind = "perceptual: may invent detail" if card.perceptual else card.task
    title = f"{name} (x{scale} {kind})"
    if through_plane:
        title = f"{name} (through-plane SR of this reformat" + (
            f", {grid[0]}x{grid[1]} px)" if grid is not None else ")")
    if mode == CompareMode.SWIPE:
        return f"{title} ◂ divider ▸ original ({interpolation.value})"
    if through_plane:  # the maps are disabled for through-plane models
        return title
    if mode == CompareMode.DIFFERENCE:
        return f"{name} − bicubic original (blue < 0 < red)"
    if mode == CompareMode.CONSISTENCY:
        return f"{name}: block mean of SR − original (blue < 0 < red)"
    if mode == CompareMode.ADDED_DETAIL:
        return f"{name}: added detail no original could confirm (green: flagged)"
    if mode == CompareMode.INTERVAL_WIDTH:
        return (f"{name}: width of the calibrated {level:.0%} interval" if level is not None
                else f"{name} has no calibrated interval")
    return title


class MapControls(QWidget):
    """The line over the SR pane in map modes: what sets the colour range, ``k``, percentile."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setStyleSheet("background:#202020; color:#e0e0e0;")
        controls = QHBoxLayout(self)
        controls.setContentsMargins(4, 1, 4, 1)
        self.map_info = QLabel(self)
        # its text changes with every map: never let it resize the pane
        self.map_info.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        controls.addWidget(self.map_info, 1)
        self.k_label = QLabel("flag above", self)
        self.k_spin = QDoubleSpinBox(self)
        self.k_spin.setRange(0.5, 20.0)
        self.k_spin.setSingleStep(0.5)
        self.k_spin.setDecimals(1)
        self.k_spin.setValue(DEFAULT_K)
        self.k_spin.setSuffix(" σ")
        self.k_spin.setToolTip("Outline added detail whose magnitude exceeds k noise sigmas")
        self.percentile_spin = QDoubleSpinBox(self)
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
        self.hide()

    def show_k(self, shown: bool) -> None:
        """Show the ``k`` box (added-detail mode only)."""
        self.k_label.setVisible(shown)
        self.k_spin.setVisible(shown)


def colorbar_widget(parent: QWidget) -> tuple[pg.ColorBarItem, pg.GraphicsLayoutWidget]:
    """The colour bar beside the SR pane (hidden until a map is drawn) and its widget."""
    colorbar = pg.ColorBarItem(values=(-1.0, 1.0), colorMap="CET-D1", interactive=False,
                               width=16)
    widget = pg.GraphicsLayoutWidget(parent)
    widget.setBackground("k")
    widget.setFixedWidth(96)
    widget.addItem(colorbar)
    widget.hide()
    return colorbar, widget
