"""What every part of the compare panel shares: its state, declared here for the type
checker (``ComparePanel.__init__`` sets it), and the reads of the view model's compare
state, defined once (:mod:`compare_switching`, :mod:`compare_results` and
:mod:`compare_readout` are the parts)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pyqtgraph as pg

from medsr_viewer.core.geometry import DisplayVolume, Orientation
from medsr_viewer.core.model_volumes import ModelVolumes
from medsr_viewer.core.view_model import CompareMode, CompareState, Interpolation, ViewModel
from medsr_viewer.gui.views.compare_controls import CompareControls
from medsr_viewer.gui.views.compare_maps_view import MapLayer
from medsr_viewer.gui.views.model_picker import ModelPicker
from medsr_viewer.gui.views.slice_view import SliceView
from medsr_viewer.gui.views.study_viewer import StudyViewer
from medsr_viewer.models.registry import ModelEntry


class ComparePanelBase:
    """The compare panel's state and view-model reads, shared by its parts."""

    model: ViewModel
    viewer: StudyViewer
    worker: Any  # InferenceWorker
    controls: CompareControls
    maps: MapLayer
    model_picker: ModelPicker
    sr_view: SliceView
    sr_item: pg.ImageItem
    swipe_item: pg.ImageItem
    divider: pg.InfiniteLine
    title: Any
    original_label: Any
    original_column: Any
    progress_bar: Any
    device_label: Any
    through_controls: Any
    hovered: Any  # Signal(object, str)
    errorOccurred: Any  # Signal(str)
    progressChanged: Any  # Signal(int, int)
    srReady: Any  # Signal(int)
    complete: bool
    _applied: CompareState
    _display: DisplayVolume | None
    _model_volume: Any
    _model_volumes: ModelVolumes
    _entry: ModelEntry | None
    _scale: int
    _through: bool
    _request_id: int
    _slice: int
    _buffer: np.ndarray | None
    _painted: np.ndarray | None
    _refresh_queued: bool
    _original: SliceView | None
    _syncing: bool

    @property
    def original_view(self) -> SliceView:
        """The viewer's pane of the compared plane, shown as "Original"."""
        return self.viewer.views[self.orientation]

    @property
    def orientation(self) -> Orientation:
        """The plane compared (the viewer's single-layout plane when switched on)."""
        return self.model.compare.orientation

    @property
    def enabled(self) -> bool:
        """Whether the comparison is on."""
        return self.model.compare.enabled

    @property
    def mode(self) -> CompareMode:
        """The compare mode."""
        return self.model.compare.mode

    @property
    def interpolation(self) -> Interpolation:
        """How the original is drawn."""
        return self.model.compare.interpolation

    if TYPE_CHECKING:  # methods of one part that another calls
        def interval_level(self) -> float | None: raise NotImplementedError
        def refresh_image(self) -> None: raise NotImplementedError
        def parent_widget(self) -> Any: raise NotImplementedError
        def _apply_mode(self) -> None: raise NotImplementedError
        def _on_cursor(self) -> None: raise NotImplementedError
        def _update_original_label(self) -> None: raise NotImplementedError
        def _update_original_grid(self) -> None: raise NotImplementedError
        def _update_title(self) -> None: raise NotImplementedError
