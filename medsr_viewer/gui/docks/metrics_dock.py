"""The ROI Metrics dock: the metrics panel with its layer-comparison section, hidden until
the first ROI (the images get the whole window until there is a table to show), then as tall
as its table's rows and controls need (at most :data:`MAX_HEIGHT_SHARE` of the window), so
the image panes keep most of the height."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QDockWidget, QMainWindow

from medsr_viewer.core.metrics.export import MetricRecord
from medsr_viewer.core.roi import RoiSet
from medsr_viewer.gui.actions.reference_actions import ReferenceActions
from medsr_viewer.gui.docks.layer_comparison import LayerComparison
from medsr_viewer.gui.docks.metrics_panel import MetricsPanel
from medsr_viewer.gui.layers.label_overlay import LabelOverlay
from medsr_viewer.gui.views.compare_panel import ComparePanel
from medsr_viewer.gui.views.study_viewer import StudyViewer

#: The largest share of the window's height the dock gives itself.
MAX_HEIGHT_SHARE = 0.4
#: Pixels the dock's height may differ from its last fit and still count as not resized by
#: the user (who then keeps the height they chose).
FIT_TOLERANCE = 3


class MetricsDock(QDockWidget):
    """The metrics panel (ROI statistics, SR and reference scores, label-layer comparison)
    docked at the bottom of ``window``; it shows itself at the first ROI (later the user
    decides: View ▸ ROI Metrics, Ctrl+Shift+M), sized to its content: it grows with the
    table's rows until the user resizes it.

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
            lambda: (model.active_orientation, model.slice_index()), context, self.panel)
        self.panel.add_section(self.layer_comparison, lambda: self.layer_comparison.rows)
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
        #: Height asked for by the last fit (``None``: not fitted; 0: the user resized it).
        self._fitted: int | None = None
        rois.subscribe(lambda _id: self._show_once())
        self.panel.updated.connect(self._refit)

    def content_height(self) -> int:
        """The height that shows the panel's controls and every table row (header, rows and
        a horizontal scroll bar if the columns do not fit), at most
        :data:`MAX_HEIGHT_SHARE` of the window's height."""
        table = self.panel.table
        rows = sum(table.rowHeight(r) for r in range(table.rowCount()))
        height = (table.horizontalHeader().sizeHint().height() + 2 * table.frameWidth()
                  + (rows or table.verticalHeader().defaultSectionSize()))
        if table.horizontalHeader().length() > table.viewport().width():
            height += table.horizontalScrollBar().sizeHint().height()
        controls = self.panel.sizeHint().height() - table.sizeHint().height()
        title = self.sizeHint().height() - self.panel.sizeHint().height()
        return min(controls + height + title, int(MAX_HEIGHT_SHARE * self._window.height()))

    def fit_to_content(self) -> None:
        """Give the dock its :meth:`content_height` (``QMainWindow.resizeDocks``)."""
        target = max(self.content_height(), self.minimumSizeHint().height())
        self._fitted = target
        if target != self.height():
            self._window.resizeDocks([self], [target], Qt.Orientation.Vertical)
            layout = self._window.layout()
            if layout is not None:
                layout.activate()  # apply it now: the next refit compares with it

    def _refit(self) -> None:
        """Follow the table's rows while the height is still the one the dock gave itself."""
        if self._fitted is None or not self.isVisible() or self.isFloating():
            return
        if self._fitted and abs(self.height() - self._fitted) > FIT_TOLERANCE:
            self._fitted = 0  # the user chose a height: keep it
        if self._fitted:
            self.fit_to_content()

    def _show_once(self) -> None:
        if not self._shown_once and len(self._rois):
            self._shown_once = True
            self.show()
            # once the window has laid the dock out (its first height is the layout's)
            QTimer.singleShot(0, self.fit_to_content)
