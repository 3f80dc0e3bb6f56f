"""What the session controller needs from the window it saves and restores.

A protocol, so the session package does not import the main window (no import cycle): the
view state comes from the view model (:meth:`ViewModel.to_dict`), the rest (ROIs, label
layers, the model of the SR pane, the volume of a 4-D study) from the members below.
"""

from __future__ import annotations

from typing import Any, Protocol

from PySide6.QtWidgets import QStatusBar, QWidget

from medsr_viewer.core.history import History
from medsr_viewer.core.roi import RoiSet
from medsr_viewer.core.view_model import ViewModel


class SessionHost(Protocol):
    """The window as the session controller sees it (the main window implements it)."""

    view_model: ViewModel
    rois: RoiSet
    history: History
    compare: Any  # ComparePanel: current_entry
    label_overlay: Any  # LabelOverlay: layers
    metrics_panel: Any  # MetricsPanel: label_choice, set_label_choice
    references: Any  # ReferenceActions: simulate
    label_controls: Any  # LabelOverlayControls: toggle_action
    studies: Any  # StudyController: open_paths, volume_state, restore_volume_state
    models: Any  # ModelOpening: select_model

    def as_widget(self) -> QWidget:
        """The window as the parent of the session's widgets and actions."""
        ...

    def statusBar(self) -> QStatusBar:
        """The status bar."""
        ...

    def show_error(self, message: str) -> None:
        """Report a problem in the error banner."""
        ...

    def set_sr_enabled(self, enabled: bool) -> None:
        """Switch the comparison on or off."""
        ...
