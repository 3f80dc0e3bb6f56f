"""Label layer against label layer: Dice, IoU and Hausdorff of one label, slice and volume.

Two instance maps (both layers instance layers, or "instances" ticked for files) are
compared object by object instead: DSB mAP@[.5:.95], COCO AP50/AP75, Rand error and VI
(:func:`medsr_viewer.core.metrics.instances.instance_metrics`), on the slice and the volume.

A researcher checks a segmentation model's layer against a manual label map (or two models
against each other): pick the reference layer, the test layer and a label value, and the
overlap is measured on the slice shown and over the whole volume with
:func:`medsr_viewer.core.metrics.overlap.overlap_metrics` (tested against SciPy). Both layers
are already on the study grid, so the comparison is voxel by voxel in world-aligned space.
The rows join the metrics export.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

import numpy as np
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QCheckBox, QComboBox, QHBoxLayout, QLabel, QPushButton, QWidget

from medsr_viewer.core.geometry import DisplayVolume, Orientation
from medsr_viewer.core.labels import LabelMap
from medsr_viewer.core.metrics.export import MetricRecord, records_from_overlap
from medsr_viewer.core.metrics.instances import instance_metrics
from medsr_viewer.core.metrics.overlap import overlap_metrics

#: (layer name, label map on the study grid)
Layers = Sequence[tuple[str, LabelMap]]


def compare_layers(reference: LabelMap, test: LabelMap, value: int, orientation: Orientation,
                   index: int, base: MetricRecord) -> list[MetricRecord]:
    """Overlap of label ``value`` of ``test`` against ``reference``: displayed slice, volume.

    Both maps must be on the same grid (the study's). The slice row is the plane slice
    ``index`` in display ``orientation`` (2-D, mm²); the volume row is 3-D (mm³).
    """
    if reference.labels.shape != test.labels.shape:
        raise ValueError(f"layers are on different grids: {reference.labels.shape} vs "
                         f"{test.labels.shape}")
    ref_display = DisplayVolume(reference.volume)
    test_display = DisplayVolume(test.volume)
    ref_slice = np.asarray(ref_display.slice_array(orientation, index)) == value
    test_slice = np.asarray(test_display.slice_array(orientation, index)) == value
    slice_row = records_from_overlap(
        overlap_metrics(ref_slice, test_slice, ref_display.pixel_spacing(orientation)),
        replace(base, slice=f"{orientation.value} {index + 1}"))  # as the pane numbers it
    volume_row = records_from_overlap(
        overlap_metrics(reference.labels == value, test.labels == value,
                        reference.volume.spacing),
        replace(base, slice="volume"))
    return [slice_row, volume_row]


def compare_instance_layers(reference: LabelMap, test: LabelMap, orientation: Orientation,
                            index: int, base: MetricRecord) -> list[MetricRecord]:
    """Instance metrics of ``test`` against ``reference`` (both instance maps on the study
    grid): the displayed slice and the whole volume."""
    if reference.labels.shape != test.labels.shape:
        raise ValueError(f"layers are on different grids: {reference.labels.shape} vs "
                         f"{test.labels.shape}")
    pairs = ((np.asarray(DisplayVolume(reference.volume).slice_array(orientation, index)),
              np.asarray(DisplayVolume(test.volume).slice_array(orientation, index)),
              f"{orientation.value} {index + 1}"),
             (reference.labels, test.labels, "volume"))
    rows = []
    for ref, tst, where in pairs:
        m = instance_metrics(ref, tst)
        values = {"dsb_map": m.dsb_map, "ap50": m.ap50, "ap75": m.ap75,
                  "rand_error": m.rand_error, "vi_split": m.vi_split, "vi_merge": m.vi_merge,
                  "ref_objects": m.n_ref, "test_objects": m.n_test}
        rows.append(replace(base, slice=where, metrics=values))
    return rows


class LayerComparison(QWidget):
    """Reference layer, test layer and label pickers, a Compare button and the result.

    Parameters
    ----------
    layers
        Returns the label layers (name, label map on the study grid), bottom to top.
    where
        Returns the displayed ``(orientation, slice index)`` to compare on.
    context
        Returns the export context (file, series).

    Signals
    -------
    compared()
        New rows are available in :attr:`rows`.
    """

    compared = Signal()

    def __init__(self, layers: Callable[[], Layers],
                 where: Callable[[], tuple[Orientation, int]],
                 context: Callable[[], MetricRecord], parent: QWidget | None = None,
                 instance_layers: Callable[[], list[bool]] | None = None) -> None:
        super().__init__(parent)
        self._layers = layers
        self._instance_layers = instance_layers or (list)
        self._where = where
        self._context = context
        self.rows: list[MetricRecord] = []
        self._count = 0
        self.reference_combo = QComboBox(self)
        self.test_combo = QComboBox(self)
        self.label_combo = QComboBox(self)
        self.compare_button = QPushButton("Compare", self)
        self.compare_button.setToolTip("Dice, IoU and Hausdorff of the label: slice and volume")
        self.compare_button.clicked.connect(self.compare)
        self.result = QLabel(self)
        self.instances_check = QCheckBox("instances", self)
        self.instances_check.setToolTip("Compare as instance maps (one id per object): "
                                        "DSB mAP, AP50/AP75, Rand error, VI")
        self.instances_check.toggled.connect(lambda on: self.label_combo.setEnabled(not on))
        self.reference_combo.currentIndexChanged.connect(self._fill_labels)
        self.reference_combo.currentIndexChanged.connect(self._auto_instances)
        self.test_combo.currentIndexChanged.connect(self._auto_instances)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(QLabel("Layer overlap: reference", self))
        row.addWidget(self.reference_combo)
        row.addWidget(QLabel("test", self))
        row.addWidget(self.test_combo)
        row.addWidget(QLabel("label", self))
        row.addWidget(self.label_combo)
        row.addWidget(self.instances_check)
        row.addWidget(self.compare_button)
        row.addWidget(self.result, 1)
        self.refresh()

    def refresh(self) -> None:
        """Refill the layer choices (layers were added, removed or renamed)."""
        names = [name for name, _ in self._layers()]
        grown = len(names) > self._count
        self._count = len(names)
        for combo, default in ((self.reference_combo, 0), (self.test_combo, len(names) - 1)):
            # a new layer (a model run, a file) is what one wants to test
            current = "" if grown and combo is self.test_combo else combo.currentText()
            combo.blockSignals(True)
            combo.clear()
            combo.addItems(names)
            index = names.index(current) if current in names else default
            combo.setCurrentIndex(max(index, -1 if not names else 0))
            combo.blockSignals(False)
        self._fill_labels()
        self._auto_instances()
        self.setEnabled(len(names) >= 2)

    def _auto_instances(self, *_args: object) -> None:
        """Tick "instances" when both chosen layers are instance layers."""
        flags = list(self._instance_layers())
        r, t = self.reference_combo.currentIndex(), self.test_combo.currentIndex()
        both = 0 <= r < len(flags) and 0 <= t < len(flags) and flags[r] and flags[t]
        self.instances_check.setChecked(bool(both))

    def set_choice(self, reference: int, test: int, value: int) -> None:
        """Choose layers by index and the label value (programmatic form of the pickers)."""
        self.reference_combo.setCurrentIndex(reference)
        self.test_combo.setCurrentIndex(test)
        index = self.label_combo.findData(value)
        if index < 0:
            raise ValueError(f"label {value} is not in the reference layer")
        self.label_combo.setCurrentIndex(index)

    def compare(self) -> list[MetricRecord]:
        """Measure the chosen pair; the rows are kept in :attr:`rows` for export."""
        layers = list(self._layers())
        r, t = self.reference_combo.currentIndex(), self.test_combo.currentIndex()
        value = self.label_combo.currentData()
        if self.instances_check.isChecked() and 0 <= r < len(layers) and 0 <= t < len(layers):
            return self._compare_instances(layers[r], layers[t])
        if not (0 <= r < len(layers) and 0 <= t < len(layers)) or value is None:
            self.result.setText("Choose two layers and a label")
            return []
        (ref_name, reference), (test_name, test) = layers[r], layers[t]
        orientation, index = self._where()
        base = replace(self._context(), label=f"{value} {reference.table.name(value)}",
                       grid=f"layers: {test_name} vs {ref_name}")
        try:
            self.rows = compare_layers(reference, test, int(value), orientation, index, base)
        except ValueError as exc:
            self.result.setText(str(exc))
            return []
        on_slice, volume = (row.metrics for row in self.rows)
        self.result.setText(
            f"slice: Dice {on_slice['dice']:.3f}, IoU {on_slice['iou']:.3f}, "
            f"HD95 {on_slice['hd95_mm']:.2f} mm · volume: Dice {volume['dice']:.3f}, "
            f"IoU {volume['iou']:.3f}, HD95 {volume['hd95_mm']:.2f} mm")
        self.compared.emit()
        return self.rows

    def _compare_instances(self, reference: tuple[str, LabelMap],
                           test: tuple[str, LabelMap]) -> list[MetricRecord]:
        orientation, index = self._where()
        base = replace(self._context(), label="instances",
                       grid=f"layers: {test[0]} vs {reference[0]}")
        try:
            self.rows = compare_instance_layers(reference[1], test[1], orientation, index, base)
        except ValueError as exc:
            self.result.setText(str(exc))
            return []
        on_slice, volume = (row.metrics for row in self.rows)
        self.result.setText(
            f"slice: mAP {on_slice['dsb_map']:.3f}, AP50 {on_slice['ap50']:.3f}, "
            f"AP75 {on_slice['ap75']:.3f} ({on_slice['test_objects']} vs "
            f"{on_slice['ref_objects']} objects) · volume: mAP {volume['dsb_map']:.3f}, "
            f"AP50 {volume['ap50']:.3f}, Rand error {volume['rand_error']:.3f}")
        self.compared.emit()
        return self.rows

    def clear(self) -> None:
        """Forget the last result (another study)."""
        self.rows = []
        self.result.setText("")
        self.refresh()

    def _fill_labels(self, *_args: object) -> None:
        layers = list(self._layers())
        current = self.label_combo.currentData()
        self.label_combo.clear()
        r = self.reference_combo.currentIndex()
        if 0 <= r < len(layers):
            reference = layers[r][1]
            for value in reference.present_values():
                if value != 0:
                    self.label_combo.addItem(f"{value} {reference.table.name(value)}", value)
        index = self.label_combo.findData(current)
        self.label_combo.setCurrentIndex(max(index, 0) if self.label_combo.count() else -1)
