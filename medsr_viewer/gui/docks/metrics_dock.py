"""The ROI Metrics dock: the metrics panel with its layer-comparison section, hidden until
the first ROI with an area (the images get the whole window until there is a table to
show; a ruler or an angle alone does not open it). It appears
as tall as its controls and a few rows need (the table's size hint), once: it never resizes
itself as rows come, which would move the images under the mouse while the user draws."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDockWidget, QMainWindow

from medsr_viewer.core.metrics.export import MetricRecord
from medsr_viewer.core.roi import RoiSet, area_rois
from medsr_viewer.gui.actions.reference_actions import ReferenceActions
from medsr_viewer.gui.docks.instance_panel import InstancePanel
from medsr_viewer.gui.docks.layer_comparison import LayerComparison
from medsr_viewer.gui.docks.metrics_panel import MetricsPanel
from medsr_viewer.gui.layers.label_overlay import LabelOverlay
from medsr_viewer.gui.views.compare_panel import ComparePanel
from medsr_viewer.gui.views.study_viewer import StudyViewer


class MetricsDock(QDockWidget):
    """The metrics panel (ROI statistics, SR and reference scores, label-layer comparison)
    docked at the bottom of ``window``; it shows itself at the first ROI (later the user
    decides: View ▸ ROI Metrics, Ctrl+Shift+M), as tall as the table's size hint asks.
    It does not resize itself afterwards: a dock growing with each new row would move the
    image under the mouse while the user draws.

    Parameters
    ----------
    rois, viewer, compare, labels, references
        What the panel measures: the ROIs on the study, the SR pane's result, the active
        label layer, the reference volume.
    context
        The study's description for exported tables.
    window
        The main window it docks into.
    """

    def __init__(self, rois: RoiSet, viewer: StudyViewer, compare: ComparePanel,
                 labels: LabelOverlay, references: ReferenceActions,
                 context: Callable[[], MetricRecord], window: QMainWindow) -> None:
        super().__init__("ROI Metrics", window)
        model = viewer.model
        self.panel = MetricsPanel(rois, viewer, compare, labels.active_label_map, context,
                                  lambda: references.reference, self)
        self.layer_comparison = LayerComparison(
            lambda: [(layer.name, layer.label_map) for layer in labels.layers],
            lambda: (model.active_orientation, model.slice_index()), context, self.panel,
            lambda: [layer.instances for layer in labels.layers])
        self.panel.add_section(self.layer_comparison, lambda: self.layer_comparison.rows)
        self.instances = InstancePanel(labels, viewer, context, self.panel)
        self.panel.add_section(self.instances, self.instances.records)
        labels.changed.connect(self._show_for_instances)
        references.changed.connect(self.panel.reference_changed)
        labels.changed.connect(self.layer_comparison.refresh)
        labels.changed.connect(self.panel.rebuild_label_choices)
        self.setObjectName("metricsDock")
        self.setWidget(self.panel)
        window.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self)
        self.hide()
        self._rois = rois
        self._window = window
        self._shown_once = False
        rois.subscribe(lambda _id: self._show_once())

    def _show_for_instances(self) -> None:
        """An instance layer became active: show its objects (once, as for the first ROI)."""
        if self.instances.layer() is not None and not self._shown_once:
            self._shown_once = True
            self.show()
            self._window.resizeDocks([self], [self.sizeHint().height()],
                                     Qt.Orientation.Vertical)

    def _show_once(self) -> None:
        # Rulers and angles have no region to measure: their value is on the pane.
        if not self._shown_once and area_rois(self._rois):
            self._shown_once = True
            self.show()
            # The main window would share the height out by stretch; ask for the hint.
            self._window.resizeDocks([self], [self.sizeHint().height()],
                                     Qt.Orientation.Vertical)
