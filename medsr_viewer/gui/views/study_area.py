"""The window's central area: banners, the placeholder or the study (original beside SR),
and the volume bar of a 4-D study."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QStackedWidget, QVBoxLayout, QWidget

from medsr_viewer.core.view_model import ViewModel
from medsr_viewer.gui.views.compare_panel import ComparePanel
from medsr_viewer.gui.views.study_viewer import StudyViewer

PLACEHOLDER_TEXT = ("Open a study: File ▸ Open (Ctrl+O), Open Folder (Ctrl+Shift+O), drop files "
                    "or a folder here, or File ▸ Open Demo Study.")


class StudyArea:
    """The placeholder until a study is shown, then the original column beside the SR pane.

    Parameters
    ----------
    viewer
        The study viewer (its view model says when a study is shown).
    compare
        The SR pane (shown beside the original when the comparison is on).
    parent
        Parent of the widgets.
    """

    def __init__(self, viewer: StudyViewer, compare: ComparePanel, parent: QWidget) -> None:
        self._parent = parent
        self.placeholder = QLabel(PLACEHOLDER_TEXT, parent)
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.placeholder.setWordWrap(True)
        self.stack = QStackedWidget(parent)
        self.stack.addWidget(self.placeholder)
        self.study_area = QWidget(parent)
        row = QHBoxLayout(self.study_area)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(2)
        original_column = QWidget(self.study_area)
        original_layout = QVBoxLayout(original_column)
        original_layout.setContentsMargins(0, 0, 0, 0)
        original_layout.setSpacing(0)
        original_layout.addWidget(compare.original_label)
        original_layout.addWidget(viewer, 1)
        compare.original_column = original_column
        row.addWidget(original_column, 1)
        row.addWidget(compare, 1)
        compare.model_panes.container = lambda pane: row.addWidget(pane, 1)
        self.stack.addWidget(self.study_area)
        self._model: ViewModel = viewer.model
        self._model.subscribe("study", self._show)

    def _show(self) -> None:
        shown = self.study_area if self._model.display is not None else self.placeholder
        self.stack.setCurrentWidget(shown)

    def central(self, bars: Sequence[QWidget], bottom: QWidget) -> QWidget:
        """The central widget: ``bars`` (banners) over the stack, ``bottom`` under it."""
        central = QWidget(self._parent)
        column = QVBoxLayout(central)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(0)
        for bar in bars:
            column.addWidget(bar)
        column.addWidget(self.stack, 1)
        column.addWidget(bottom)
        return central
