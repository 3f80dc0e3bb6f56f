"""What the session controller needs from the window it saves and restores.

A protocol, so the session package does not import the main window (no import cycle): the
view state comes from the view model (:meth:`ViewModel.to_dict`), the rest (ROIs, label
layers, the model of the SR pane, the volume of a 4-D study) from the members below.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from PySide6.QtWidgets import QStatusBar, QWidget

from medsr_viewer.core.geometry import Orientation
from medsr_viewer.core.history import History
from medsr_viewer.core.roi import RoiSet
from medsr_viewer.core.session import LabelMapRef
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

    def as_widget(self) -> QWidget:
        """The window as the parent of the session's widgets and actions."""
        ...

    def statusBar(self) -> QStatusBar:
        """The status bar."""
        ...

    def show_error(self, message: str) -> None:
        """Report a problem in the error banner."""
        ...

    def open_paths(self, paths: Sequence[str | Path], series_uid: str | None = None) -> None:
        """Open a study."""
        ...

    def label_layer_refs(self) -> list[LabelMapRef]:
        """The label layers as session entries."""
        ...

    def restore_label_layers(self, refs: Sequence[LabelMapRef]) -> list[str]:
        """Show a session's label layers; returns problems."""
        ...

    def volume_state(self) -> dict[str, object]:
        """Which volume of a 4-D series is shown."""
        ...

    def restore_volume_state(self, state: dict[str, object]) -> str:
        """Show the recorded volume; returns a problem or ""."""
        ...

    def set_orientation(self, orientation: Orientation) -> None:
        """Single layout showing ``orientation``."""
        ...

    def set_three_plane(self, enabled: bool) -> None:
        """Three-plane layout on or off."""
        ...

    def select_model(self, path: str | Path) -> bool:
        """Choose the SR pane's model by file."""
        ...

    def set_sr_enabled(self, enabled: bool) -> None:
        """Switch the comparison on or off."""
        ...
