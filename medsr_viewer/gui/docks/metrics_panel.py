"""The ROI metrics panel: statistics, overlap with a label and SR − original deltas, live.

Every ROI of the session is measured with :func:`medsr_viewer.core.metrics.export.measure_roi`
(Qt-free, tested against scipy/scikit-image) on the original study and, when the model's
result of the ROI's slice has been computed, on that result too, giving the paired
``original`` / ``sr`` / ``delta`` rows. With a reference volume (loaded, or the real study in
simulate mode) the ``sr`` row also holds PSNR/SSIM of the result against the reference inside
the ROI, and the ``original`` row those of the bicubic-upsampled original (the baseline), so
``delta`` is the model's gain. The rows the table shows are exactly the records the
CSV/JSON export writes, so the two can never disagree. Edits re-measure only the ROI that
changed; a new label choice, label layer or model result re-measures all.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QVBoxLayout,
    QWidget,
)

from medsr_viewer.core.labels import LabelMap
from medsr_viewer.core.metrics.export import (
    MetricRecord,
    measure_roi,
    write_metrics_csv,
    write_metrics_json,
)
from medsr_viewer.core.roi import Roi, RoiSet, is_measurement, rasterize
from medsr_viewer.core.volume import Volume
from medsr_viewer.gui.docks.metrics_table import COLUMNS, MetricsTable, format_cell
from medsr_viewer.gui.docks.reference_scoring import ReferenceScorer
from medsr_viewer.gui.docks.sr_results import SR_RESULTS_KEPT, SrResults
from medsr_viewer.gui.docks.trust_columns import TrustColumns
from medsr_viewer.gui.views.compare_panel import ComparePanel
from medsr_viewer.gui.views.study_viewer import StudyViewer

__all__ = ["AUTO_LABEL", "COLUMNS", "SR_RESULTS_KEPT", "MetricsPanel", "SrResults",
           "context_record", "dominant_label", "format_cell"]

#: Label choice meaning "the label the ROI overlaps most".
AUTO_LABEL = "auto"


def dominant_label(roi: Roi, grid: Volume, labels: np.ndarray) -> int | None:
    """The non-zero label value covering most of the ROI's voxels on ``grid``, or ``None``."""
    mask = rasterize(roi, grid)
    values = np.asarray(labels)[mask]
    values = values[values != 0]
    if values.size == 0:
        return None
    found, counts = np.unique(values, return_counts=True)
    return int(found[int(np.argmax(counts))])


class MetricsPanel(QWidget):
    """Table of every ROI's metrics, updated as ROIs are drawn, edited or deleted.

    Parameters
    ----------
    rois
        The session's ROIs (the panel listens to their changes).
    viewer
        Gives the study the ROIs are measured on.
    compare
        The before/after panel (its results give the ``sr`` and ``delta`` rows).
    label_source
        Returns the label map ROIs are compared with (on the study grid), or ``None``.
    context
        Returns the export context (file, series) of the open study.
    reference_source
        Returns the reference volume for PSNR/SSIM (loaded, or the real study in simulate
        mode), or ``None``.

    Signals
    -------
    roiActivated(str)
        The user selected the rows of this ROI.
    updated()
        The records were recomputed.
    """

    roiActivated = Signal(str)
    updated = Signal()

    def __init__(
        self,
        rois: RoiSet,
        viewer: StudyViewer,
        compare: ComparePanel,
        label_source: Callable[[], LabelMap | None],
        context: Callable[[], MetricRecord],
        reference_source: Callable[[], Volume | None] = lambda: None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.rois = rois
        self._viewer = viewer
        self._compare = compare
        self._label_source = label_source
        self._context = context
        self._reference_source = reference_source
        self.sr_results = SrResults(compare)
        self._scorer = ReferenceScorer(viewer, compare, self.sr_results)
        self._trust = TrustColumns(viewer, compare, self.sr_results)
        compare.k_spin.valueChanged.connect(lambda _k: self.invalidate_all())
        self._records: dict[str, list[MetricRecord]] = {}
        self._dirty: set[str] = set()
        self._errors: dict[str, str] = {}
        self._label_choice: int | str | None = AUTO_LABEL
        self._selected = ""
        self._extra_records: list[Callable[[], list[MetricRecord]]] = []
        self._filling = False

        self.label_combo = QComboBox(self)
        self.label_combo.setToolTip("Label the ROIs are compared with (Dice, IoU, Hausdorff)")
        self.label_combo.currentIndexChanged.connect(self._on_label_combo)
        self.status = NoteLabel(self)
        self.quality_label = NoteLabel(self)
        self.quality_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.table = MetricsTable(self)
        self.table.itemSelectionChanged.connect(self._on_row_selected)
        top = QHBoxLayout()
        top.addWidget(QLabel("Compare with label:", self))
        top.addWidget(self.label_combo, 1)
        column = QVBoxLayout(self)
        column.setContentsMargins(2, 2, 2, 2)
        column.addLayout(top)
        column.addWidget(self.quality_label)
        column.addWidget(self.table, 1)
        column.addWidget(self.status)
        # fixed two-line notes: text appearing must not resize the dock (and so the panes)
        lines = 2 * self.fontMetrics().lineSpacing() + 4
        for label in (self.quality_label, self.status):
            label.setFixedHeight(lines)

        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(0)
        self._timer.timeout.connect(self._recompute)
        self._unsubscribe = rois.subscribe(self._on_roi_changed)
        self.sr_results.changed.connect(self.invalidate_all)
        self.sr_results.changed.connect(self._update_quality)
        self.rebuild_label_choices()

    # ---------------------------------------------------------------- public API

    @property
    def label_choice(self) -> int | str | None:
        """``"auto"``, a label value, or ``None`` (no overlap metrics)."""
        return self._label_choice

    def set_label_choice(self, choice: int | str | None) -> None:
        """Compare ROIs with label ``choice`` (``"auto"``: the label each ROI overlaps most)."""
        index = self.label_combo.findData(choice)
        if index < 0:
            raise ValueError(f"label {choice!r} is not in the label map")
        self.label_combo.setCurrentIndex(index)
        self._label_choice = choice
        self.invalidate_all()

    def rebuild_label_choices(self) -> None:
        """Refill the label choices from the current label map (keeps the choice if present)."""
        label_map = self._label_source()
        self._filling = True
        self.label_combo.clear()
        self.label_combo.addItem("Auto (label the ROI overlaps most)", AUTO_LABEL)
        self.label_combo.addItem("None", None)
        if label_map is not None:
            for value in label_map.present_values():
                if value != 0:
                    self.label_combo.addItem(f"{value} {label_map.table.name(value)}", value)
        index = self.label_combo.findData(self._label_choice)
        if index < 0:
            self._label_choice = AUTO_LABEL
            index = 0
        self.label_combo.setCurrentIndex(index)
        self.label_combo.setEnabled(label_map is not None)
        self._filling = False
        self.invalidate_all()

    def reset(self) -> None:
        """Forget cached results and records (another study was opened)."""
        self.sr_results.clear()
        self._scorer.clear()
        self._trust.clear()
        self._records.clear()
        self._errors.clear()
        self.rebuild_label_choices()

    def invalidate_all(self) -> None:
        """Re-measure every ROI soon (label, model result, reference or study changed)."""
        self._dirty.update(self.rois.ids())
        self._timer.start()

    def reference_changed(self) -> None:
        """The reference volume was loaded, replaced or removed: re-measure everything."""
        self._scorer.clear()
        self.invalidate_all()
        self._update_quality()

    def slice_quality(self) -> dict[str, dict[str, float]] | None:
        """Whole-slice PSNR/SSIM against the reference of the result in the pane and of the
        bicubic-upsampled original (``{"sr": ..., "bicubic": ...}``), or ``None``."""
        reference = self._reference_source()
        sr = self.sr_results.latest()
        if reference is None or sr is None:
            return None
        return self._scorer.slice_quality(sr, reference)

    def add_section(self, widget: QWidget, records: Callable[[], list[MetricRecord]]) -> None:
        """Add a widget below the table whose ``records()`` join the export."""
        layout = self.layout()
        assert layout is not None
        layout.addWidget(widget)
        self._extra_records.append(records)

    def records(self) -> list[MetricRecord]:
        """All ROI rows in drawing order (measured now if anything is pending)."""
        self._recompute()
        return [row for roi_id in self.rois.ids() for row in self._records.get(roi_id, [])]

    def all_records(self) -> list[MetricRecord]:
        """What the export writes: the ROI rows, then the rows of added sections."""
        return self.records() + [row for extra in self._extra_records for row in extra()]

    def export(self, path: str | Path) -> Path:
        """Write every ROI's metrics to ``path`` atomically: ``.json`` as JSON, else CSV."""
        path = Path(path)
        rows = self.all_records()
        if path.suffix.lower() == ".json":
            return write_metrics_json(rows, path)
        return write_metrics_csv(rows, path)

    def select_roi(self, roi_id: str) -> None:
        """Highlight the rows of ``roi_id`` ("" clears the selection)."""
        self._selected = roi_id
        self._recompute()
        self.table.show_selection(self._selected)

    def shutdown(self) -> None:
        """Stop listening to the ROI set (the window is closing)."""
        self._unsubscribe()
        self._timer.stop()

    # ---------------------------------------------------------------- measuring

    def _on_roi_changed(self, roi_id: str) -> None:
        self._dirty.add(roi_id)
        self._timer.start()

    def _on_label_combo(self, index: int) -> None:
        if self._filling or index < 0:
            return
        self._label_choice = self.label_combo.itemData(index)
        self.invalidate_all()

    def _recompute(self) -> None:
        self._timer.stop()
        if not self._dirty:
            return
        dirty, self._dirty = self._dirty, set()
        study = self._viewer.volume
        label_map = self._label_source()
        for roi_id in dirty:
            self._records.pop(roi_id, None)
            self._errors.pop(roi_id, None)
            if roi_id not in self.rois or study is None or is_measurement(self.rois[roi_id]):
                continue  # a ruler or angle encloses no region: its value is on the pane
            try:
                self._records[roi_id] = self._measure(self.rois[roi_id], study, label_map)
            except (ValueError, MemoryError) as exc:
                self._errors[roi_id] = f"{self.rois[roi_id].name or roi_id}: {exc}"
        self._fill_table()
        self.updated.emit()

    def _measure(self, roi: Roi, study: Volume, label_map: LabelMap | None) -> list[MetricRecord]:
        value: int | None = None
        if label_map is not None:
            if self._label_choice == AUTO_LABEL:
                value = dominant_label(roi, study, label_map.labels)
            elif isinstance(self._label_choice, int):
                value = self._label_choice
        sr = self.sr_results.for_roi(roi)
        base = self._context()
        if sr is not None and self._compare.current_entry is not None:
            entry = self._compare.current_entry
            sha = entry.card.sha256 if entry.card is not None else ""
            base = replace(base, model=entry.name, sha256=sha)
        rows = measure_roi(roi, study, sr, label_map if value is not None else None, value,
                           base)
        reference = self._reference_source()
        if sr is not None and reference is not None and len(rows) == 3:
            rows = self._scorer.with_reference_quality(rows, roi, sr, reference)
        if sr is not None:
            rows = self._trust.add(rows, roi, sr)
        if value is None and label_map is not None:
            rows = [replace(r, label="(no label under the ROI)") for r in rows]
        return rows

    def _update_quality(self) -> None:
        quality = self.slice_quality()
        reference = self._reference_source()
        if quality is None or reference is None:
            self.quality_label.setText(
                "" if reference is None else
                f"Reference: {reference.name}. Switch super-resolution on (S) for PSNR/SSIM.")
            return
        sr, bicubic = quality["sr"], quality["bicubic"]
        self.quality_label.setText(
            f"Slice vs reference ({reference.name}), border {2 * self._compare.scale} px "
            f"removed: model PSNR {sr['psnr_db']:.2f} dB, SSIM {sr['ssim']:.4f} · bicubic "
            f"{bicubic['psnr_db']:.2f} dB, {bicubic['ssim']:.4f} · gain "
            f"{sr['psnr_db'] - bicubic['psnr_db']:+.2f} dB")

    # ---------------------------------------------------------------- table

    def _fill_table(self) -> None:
        rows = [row for roi_id in self.rois.ids() for row in self._records.get(roi_id, [])]
        self.table.show_records(rows)
        self.table.show_selection(self._selected)
        notes = list(self._errors.values())
        if rows and not any(r.grid == "sr" for r in rows):
            notes.append("Switch super-resolution on (S) over an ROI's slice for SR rows "
                         "and SR − original deltas.")
        self.status.setText("\n".join(notes))

    def _on_row_selected(self) -> None:
        roi_id = self.table.selected_roi_id()
        if roi_id:
            self.roiActivated.emit(roi_id)


def context_record(paths: Sequence[Path], study: Volume | None) -> MetricRecord:
    """Export context of a study: its source path(s) and series (never patient data)."""
    files = ";".join(str(p) for p in paths)
    series = ""
    if study is not None:
        series = str(study.metadata.get("series_uid") or study.name or "")
    return MetricRecord(file=files, series=series)


class NoteLabel(QLabel):
    """A wrapped line of notes that takes no room while it says nothing (the table gets it)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWordWrap(True)
        self.setVisible(False)

    def setText(self, text: str) -> None:
        """Show ``text`` (hidden when empty)."""
        super().setText(text)
        self.setVisible(bool(text))
