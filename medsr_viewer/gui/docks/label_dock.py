"""The "Labels" dock: label layers, the active layer's labels, and segmentation runs.

- Layer list: one checkable row per layer (check = visible), the selected row is the active
  layer; a style combo (fill / outline / both), an opacity slider, a Remove button and a
  "Colour Table…" button (File ▸ Open Colour Table…: names and colours from a FreeSurfer LUT
  or ITK-SNAP file) act on the active layer.
- Label table of the active layer's labels present: value, colour swatch (click to pick a
  colour), editable name, visibility checkbox. Every edit redraws the panes at once.
- Segmentation: the segment-model combo, "Segment Slice", "Segment Volume", "Cancel" and a
  progress bar; the same commands are in the Segmentation menu (:attr:`LabelDock.menu`).

The dock starts hidden (the study panes keep their width) and appears with the first layer or
segmentation run, or from Segmentation ▸ Labels.

Every action is also a public method (tests and scripts call them).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QColorDialog,
    QComboBox,
    QDockWidget,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMenu,
    QProgressBar,
    QPushButton,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from medsr_viewer.core.labels import LabelLayer, OverlayStyle
from medsr_viewer.gui.actions.registry import ActionRegistry
from medsr_viewer.gui.dialogs.trust_prompt import TrustPrompt
from medsr_viewer.gui.docks.label_table import (
    COLOUR_COLUMN,
    NAME_COLUMN,
    VALUE_COLUMN,
    VISIBLE_COLUMN,
    LabelTable,
)
from medsr_viewer.gui.layers.label_overlay import LabelOverlay
from medsr_viewer.gui.layers.segmentation import SegmentationRunner
from medsr_viewer.gui.workers.inference_worker import InferenceWorker
from medsr_viewer.models.registry import ModelRegistry

__all__ = ["COLOUR_COLUMN", "NAME_COLUMN", "VALUE_COLUMN", "VISIBLE_COLUMN", "LabelDock"]

#: Steps of the segmentation progress bar.
PROGRESS_STEPS = 1000


class LabelDock(QDockWidget):
    """Dock listing the label layers and the active layer's labels, with segmentation runs.

    Parameters
    ----------
    overlay
        The label layers shown.
    worker
        The inference thread segmentation runs use.
    registry
        Where segment models are listed.
    report_error
        Shows problems (model refused or failed) without blocking.
    parent
        The main window.

    Attributes
    ----------
    layer_list, style_combo, remove_button, colour_table_button, table
        The layer and label widgets.
    runner
        The :class:`SegmentationRunner`.
    segment_slice_action, segment_volume_action, cancel_segment_action, open_model_action
        The Segmentation menu's actions (:attr:`menu`).
    """

    def __init__(
        self,
        overlay: LabelOverlay,
        worker: InferenceWorker,
        registry: ModelRegistry | None,
        report_error: Callable[[str], None],
        parent: QMainWindow,
        trust_prompt: TrustPrompt | None = None,
    ) -> None:
        super().__init__("Labels", parent)
        parent.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self)
        self.trust_prompt = trust_prompt if trust_prompt is not None else TrustPrompt(parent)
        self.setObjectName("labelDock")
        self.overlay = overlay
        self._window = parent
        self._report_error = report_error
        self._updating = False
        self._keep_table = False
        self._table_key: tuple[int, int, int] | None = None
        self.runner = SegmentationRunner(overlay, worker, registry, self)

        body = QWidget(self)
        column = QVBoxLayout(body)
        column.setContentsMargins(4, 4, 4, 4)
        column.addWidget(QLabel("Layers (checked = shown, selected = active):", body))
        self.layer_list = QListWidget(body)
        self.layer_list.setMaximumHeight(110)
        self.layer_list.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        column.addWidget(self.layer_list)
        row = QHBoxLayout()
        row.addWidget(QLabel("Style:", body))
        self.style_combo = QComboBox(body)
        self.style_combo.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        for style in OverlayStyle:
            self.style_combo.addItem(style.value, style)
        row.addWidget(self.style_combo, 1)
        self.remove_button = QPushButton("Remove", body)
        self.remove_button.setToolTip("Remove the active layer")
        row.addWidget(self.remove_button)
        self.colour_table_button = QPushButton("Colour Table…", body)
        self.colour_table_button.setToolTip(
            "Names and colours of the active layer from a FreeSurfer LUT or ITK-SNAP label file")
        self.colour_table_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        row.addWidget(self.colour_table_button)
        column.addLayout(row)
        row = QHBoxLayout()
        row.addWidget(QLabel("Opacity:", body))
        self.opacity_slider = QSlider(Qt.Orientation.Horizontal, body)
        self.opacity_slider.setRange(0, 100)
        self.opacity_slider.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.opacity_slider.setToolTip("Opacity of the active layer")
        row.addWidget(self.opacity_slider, 1)
        column.addLayout(row)

        self.table = LabelTable(body)
        column.addWidget(self.table, 1)

        column.addWidget(QLabel("Segmentation model:", body))
        column.addWidget(self.runner.model_combo)
        buttons = QHBoxLayout()
        self.segment_slice_button = QPushButton("Segment Slice", body)
        self.segment_volume_button = QPushButton("Segment Volume", body)
        self.cancel_button = QPushButton("Cancel", body)
        for button in (self.segment_slice_button, self.segment_volume_button,
                       self.cancel_button):
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            buttons.addWidget(button)
        column.addLayout(buttons)
        self.progress_bar = QProgressBar(body)
        self.progress_bar.setRange(0, PROGRESS_STEPS)
        self.progress_bar.setValue(0)
        self.progress_bar.setFormat("%p%")
        column.addWidget(self.progress_bar)
        self.setWidget(body)

        actions = ActionRegistry.of(parent)
        self.segment_slice_action = actions.bind("segment.slice",
                                                 lambda: self.segment_current_slice())
        self.segment_volume_action = actions.bind("segment.volume", lambda: self.segment_volume())
        self.cancel_segment_action = actions.bind("segment.cancel", self.runner.cancel)
        self.open_model_action = actions.bind("segment.open_model", self.open_model_dialog)
        self.menu = QMenu("&Segmentation", parent)
        actions.fill_menu(self.menu, "Segmentation")
        self.menu.addSeparator()
        self.menu.addAction(self.toggleViewAction())

        self.layer_list.currentRowChanged.connect(self._on_row_changed)
        self.layer_list.itemChanged.connect(self._on_layer_item_changed)
        self.style_combo.currentIndexChanged.connect(self._on_style_chosen)
        self.opacity_slider.valueChanged.connect(self._on_opacity)
        self.remove_button.clicked.connect(self.remove_active_layer)
        self.colour_table_button.clicked.connect(actions.action("labels.open_table").trigger)
        self.table.nameEdited.connect(lambda value, name: self._edit_label(value, name=name))
        self.table.visibilityEdited.connect(
            lambda value, shown: self._edit_label(value, visible=shown))
        self.table.colourClicked.connect(self.choose_colour)
        self.segment_slice_button.clicked.connect(lambda: self.segment_current_slice())
        self.segment_volume_button.clicked.connect(lambda: self.segment_volume())
        self.cancel_button.clicked.connect(self.runner.cancel)
        self.runner.progressChanged.connect(
            lambda f: self.progress_bar.setValue(round(f * PROGRESS_STEPS)))
        self.runner.busyChanged.connect(self._on_busy)
        self.runner.failed.connect(report_error)
        self.runner.finished.connect(self._on_segmented)
        overlay.changed.connect(self.refresh)
        self._had_layers = False
        self._on_busy(False)
        self.refresh()
        # Hidden until there is something to show (a layer, a run), so the study panes keep
        # their full width; Segmentation ▸ Labels shows it at any time.
        self.hide()

    # ---------------------------------------------------------------- commands

    def segment_current_slice(self) -> bool:
        """Run the selected model on the active pane's slice (see the runner)."""
        return self.runner.segment_current_slice()

    def segment_volume(self) -> bool:
        """Run the selected model on every slice of the active pane's plane."""
        return self.runner.segment_volume()

    def open_model_dialog(self) -> None:
        """Ask for a segment model file and add it to the model combo."""
        path, _ = QFileDialog.getOpenFileName(
            self._window, "Open segmentation model", "",
            "Model files (*.safetensors *.pt *.pt2 *.ts);;All files (*)")
        if path:
            self.open_model(path)

    def open_model(self, path: str | Path) -> bool:
        """Add a segment model file (card checked, trust asked) and select it; reports a refusal.
        """
        problem = self.runner.add_model_path(path, self.trust_prompt.allow)
        if problem:
            self._report_error(problem)
            return False
        return True

    def remove_active_layer(self) -> None:
        """Remove the active layer."""
        self.overlay.remove_layer(self.overlay.active_index)

    def row_of(self, value: int) -> int:
        """Table row of a label value (-1 when it is not listed)."""
        return self.table.row_of(value)

    def listed_values(self) -> list[int]:
        """Label values listed in the table, top to bottom."""
        return self.table.listed_values()

    def set_label_colour(self, value: int, color: tuple[int, int, int]) -> None:
        """Give a label of the active layer another colour (what the colour dialog does)."""
        self.overlay.update_label(value, color=color)

    def choose_colour(self, value: int) -> None:
        """Pick a label's colour with a colour dialog."""
        layer = self.overlay.active_layer
        if layer is None:
            return
        current = QColor(*layer.table.entry(value).color)
        chosen = QColorDialog.getColor(current, self, f"Colour of {layer.table.name(value)}")
        if chosen.isValid():
            self.set_label_colour(value, (chosen.red(), chosen.green(), chosen.blue()))

    # ---------------------------------------------------------------- view of the overlay

    def refresh(self) -> None:
        """Rebuild the layer list and (when the active layer or its table changed) the table."""
        self._updating = True
        try:
            self._refresh_layers()
            layer = self.overlay.active_layer
            key = (id(layer), self.overlay.table_revision, len(self.overlay.layers))
            if key != self._table_key:
                self._table_key = key
                if not self._keep_table:
                    self.table.show_layer(layer)
            style_index = list(OverlayStyle).index(self.overlay.style)
            self.style_combo.setCurrentIndex(style_index)
            self.opacity_slider.setValue(round(self.overlay.opacity * 100))
            has_layer = layer is not None
            if has_layer and not self._had_layers:
                self.show()
            self._had_layers = has_layer
            for widget in (self.style_combo, self.remove_button, self.opacity_slider,
                           self.colour_table_button):
                widget.setEnabled(has_layer)
        finally:
            self._updating = False

    def _refresh_layers(self) -> None:
        layers = self.overlay.layers
        self.layer_list.blockSignals(True)
        try:
            if self.layer_list.count() != len(layers):
                self.layer_list.clear()
                for _layer in layers:
                    item = QListWidgetItem(self.layer_list)
                    item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            for row, layer in enumerate(layers):
                item = self.layer_list.item(row)
                label = layer.name + (" (model)" if layer.model else "")
                if item.text() != label:
                    item.setText(label)
                state = Qt.CheckState.Checked if layer.visible else Qt.CheckState.Unchecked
                if item.checkState() != state:
                    item.setCheckState(state)
                item.setToolTip(str(layer.source) if layer.source else f"model {layer.model}")
            self.layer_list.setCurrentRow(self.overlay.active_index)
        finally:
            self.layer_list.blockSignals(False)

    # ---------------------------------------------------------------- user edits

    def _on_row_changed(self, row: int) -> None:
        if not self._updating and row >= 0:
            self.overlay.set_active(row)

    def _on_layer_item_changed(self, item: QListWidgetItem) -> None:
        if self._updating:
            return
        row = self.layer_list.row(item)
        self.overlay.set_layer_visible(row, item.checkState() == Qt.CheckState.Checked)

    def _on_style_chosen(self, index: int) -> None:
        if not self._updating and index >= 0:
            self.overlay.set_style(self.style_combo.itemData(index))

    def _on_opacity(self, value: int) -> None:
        if not self._updating and self.overlay.active_layer is not None:
            self.overlay.set_opacity(value / 100.0)

    def _edit_label(self, value: int, *, name: str | None = None,
                    visible: bool | None = None) -> None:
        if self._updating:
            return
        # The table already shows the edit: keep it instead of rebuilding it under the item.
        self._keep_table = True
        try:
            self.overlay.update_label(value, name=name, visible=visible)
        finally:
            self._keep_table = False

    def _on_busy(self, busy: bool) -> None:
        if busy:
            self.show()
        self.cancel_button.setEnabled(busy)
        self.cancel_segment_action.setEnabled(busy)
        if not busy and self.progress_bar.value() < PROGRESS_STEPS:
            self.progress_bar.setValue(0)

    def _on_segmented(self, layer: LabelLayer) -> None:
        self.progress_bar.setValue(PROGRESS_STEPS)
        self._window.statusBar().showMessage(f"Segmentation done: layer {layer.name}", 8000)
