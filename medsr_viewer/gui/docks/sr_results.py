"""The model results computed so far, kept to measure ROIs on slices other than the one shown.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
from PySide6.QtCore import QObject, Signal

from medsr_viewer.core.geometry import Orientation
from medsr_viewer.core.roi import Roi, plane_slice_index
from medsr_viewer.core.volume import Volume
from medsr_viewer.gui.views.compare_panel import ComparePanel

#: Model results kept for measuring ROIs on slices other than the one shown.
SR_RESULTS_KEPT = 64


class SrResults(QObject):
    """The model results computed so far, by (orientation, slice), for the current model.

    Parameters
    ----------
    compare
        The before/after panel whose completed results are collected.
    """

    changed = Signal()

    def __init__(self, compare: ComparePanel) -> None:
        super().__init__(compare)
        self._compare = compare
        #: (model key, orientation, slice) -> result, oldest first.
        self._results: OrderedDict[tuple[str, Orientation, int], Volume] = OrderedDict()
        #: Interval widths (SR grid) computed for kept results, by the same keys.
        self._widths: dict[tuple[str, Orientation, int], np.ndarray] = {}
        compare.srReady.connect(self._on_ready)
        compare.widthReady.connect(self._on_width)

    def _model_key(self) -> str:
        entry = self._compare.current_entry
        if entry is None:
            return ""
        return (entry.card.sha256 if entry.card is not None else "") or str(entry.path)

    def _on_ready(self, _slice: int) -> None:
        volume = self._compare.sr_slice_volume()
        if volume is None:
            return
        key = (self._model_key(), self._compare.orientation, self._compare.shown_slice)
        self._results[key] = volume
        self._results.move_to_end(key)
        while len(self._results) > SR_RESULTS_KEPT:
            self._widths.pop(self._results.popitem(last=False)[0], None)
        self.changed.emit()

    def _on_width(self) -> None:
        width = self._compare.maps.width
        key = (self._model_key(), self._compare.orientation, self._compare.shown_slice)
        if width is not None and key in self._results:
            self._widths[key] = width
            self.changed.emit()

    def width_for(self, result: Volume) -> np.ndarray | None:
        """The interval width (SR grid) of a kept result, if it was computed."""
        for key, volume in self._results.items():
            if volume is result:
                return self._widths.get(key)
        return None

    def clear(self) -> None:
        """Forget every result (another study was opened)."""
        self._results.clear()
        self._widths.clear()
        self.changed.emit()

    def where(self, result: Volume) -> tuple[Orientation, int]:
        """The ``(orientation, slice)`` a kept result was computed for."""
        for (_model, orientation, index), volume in self._results.items():
            if volume is result:
                return orientation, index
        raise KeyError("not a kept model result")

    def latest(self) -> Volume | None:
        """The current model's most recent complete result (the slice in the pane)."""
        model = self._model_key()
        for (key_model, _o, _s), volume in reversed(self._results.items()):
            if key_model == model:
                return volume
        return None

    def for_roi(self, roi: Roi) -> Volume | None:
        """The current model's result of the slice ``roi`` lies on, if computed."""
        model = self._model_key()
        for (key_model, _o, _s), volume in reversed(self._results.items()):
            if key_model == model and plane_slice_index(roi.plane, volume) is not None:
                return volume
        return None
