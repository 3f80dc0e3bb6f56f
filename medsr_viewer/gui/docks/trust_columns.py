"""The ROI Metrics table's trust columns: an ROI's mean interval width and % flagged on SR.

Added to the ``sr`` row of an ROI whose slice has a complete model result: the share of its SR
pixels whose added detail stands above ``k`` noise sigmas (``k`` of the SR pane's added-detail
control), and the mean width of the calibrated interval once the SR pane has computed it for
that slice (interval-width mode). The definitions are :mod:`medsr_viewer.core.metrics.roi_trust`.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import replace

import numpy as np

from medsr_viewer.core.metrics.export import MetricRecord
from medsr_viewer.core.metrics.roi_trust import flagged_pixels, roi_trust
from medsr_viewer.core.roi import Roi, rasterize
from medsr_viewer.core.volume import Volume
from medsr_viewer.gui.docks.sr_results import SrResults
from medsr_viewer.gui.views.compare_panel import ComparePanel
from medsr_viewer.gui.views.study_viewer import StudyViewer

#: Flag maps kept (one per result and k).
FLAGS_KEPT = 16


class TrustColumns:
    """Adds ``interval_width`` and ``pct_flagged`` to an ROI's ``sr`` row.

    Parameters
    ----------
    viewer, compare, results
        The study shown, the SR pane (its scale and ``k``), the kept model results.
    """

    def __init__(self, viewer: StudyViewer, compare: ComparePanel, results: SrResults) -> None:
        self._viewer = viewer
        self._compare = compare
        self._results = results
        self._flags: OrderedDict[tuple[int, float], np.ndarray] = OrderedDict()

    def clear(self) -> None:
        """Forget the flag maps (another study, model or k)."""
        self._flags.clear()

    def add(self, rows: list[MetricRecord], roi: Roi, sr: Volume) -> list[MetricRecord]:
        """``rows`` (original, sr, delta) with the trust values in the ``sr`` row."""
        if len(rows) != 3 or rows[1].grid != "sr":
            return rows
        mask = rasterize(roi, sr)[0]
        values = roi_trust(mask, self._flagged(sr), self._results.width_for(sr))
        if not values:
            return rows
        return [rows[0], replace(rows[1], metrics={**rows[1].metrics, **values}), rows[2]]

    def _flagged(self, sr: Volume) -> np.ndarray | None:
        compare, display = self._compare, self._viewer.display
        if display is None or compare.through_plane or compare.scale < 2:
            return None
        k = float(compare.k_spin.value())
        key = (id(sr), k)
        if key not in self._flags:
            orientation, index = self._results.where(sr)
            lr = np.asarray(display.slice_array(orientation, index), np.float32)
            flags = flagged_pixels(sr.voxels[0], lr, compare.scale, k)
            if flags.shape != sr.voxels.shape[1:]:
                return None
            self._flags[key] = flags
            while len(self._flags) > FLAGS_KEPT:
                self._flags.popitem(last=False)
        return self._flags[key]
